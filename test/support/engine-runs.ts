import type { NatsConnection } from '@nats-io/transport-node';
import { openCheckpointStore } from '../../src/store/index.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { Streams, ensureStreams } from '../../src/nats/index.js';
import { loadConfig } from '../../src/config/index.js';
import { sampleSource, produceEvents, type ProduceReport } from '../../src/events/index.js';
import { readStream } from './harness.js';

/** Offsets committed by a worker, read from its LMDB file by another process (LMDB allows it). */
export async function committedSeqs(dataDir: string, partitions = 8): Promise<number[]> {
  const store = openCheckpointStore(dataDir);
  try {
    return Array.from({ length: partitions }, (_, p) => store.loadPartition(p)?.seq ?? 0);
  } finally {
    await store.close();
  }
}

export async function publishSample(nc: NatsConnection, users: number, seed: number, flush: boolean): Promise<ProduceReport> {
  await ensureStreams(await jetstreamManager(nc), loadConfig({}, {}));
  return produceEvents(nc, sampleSource({ users, seed }), { partitions: 8, ...(flush ? { flushMs: 86_400_000 } : {}) });
}

/** Outputs of a stream keyed by Msg-Id, minus the wall-clock field; also the raw message count. */
export async function outputsById(nc: NatsConnection, stream: string): Promise<{ byId: Map<string, unknown>; messages: number }> {
  const msgs = await readStream(nc, stream);
  const byId = new Map<string, unknown>();
  for (const m of msgs) {
    const body = m.json<Record<string, unknown>>();
    delete body.emittedAt;
    byId.set(m.headers!.get('Nats-Msg-Id'), body);
  }
  return { byId, messages: msgs.length };
}

export const outputStreams = [Streams.actions, Streams.analytics] as const;
