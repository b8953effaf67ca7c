/**
 * Publishing for the chaos runs: the seeded sample (the same bodies `nudge publish` sends), in the
 * same order on every server, so two servers hold the same events at the same stream sequences.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { ensureStreams, Streams, Subjects } from '../src/nats/index.js';
import { loadConfig } from '../src/config/index.js';
import { generateSample } from '../src/events/sample-generator.js';
import { sampleRowToEvent } from '../src/events/sources.js';
import { parseEventTime } from '../src/events/event-time.js';
import { PARTITIONS, log, sleep } from './chaos-nats.js';

/** One day past the last event: closes every session and window (what `nudge publish --flush` does). */
export const FLUSH_MS = 86_400_000;

export interface SampleItem {
  subject: string;
  body: string;
  eventTime: number;
}

/** The sample's events as a shop publishes them; `startTime` moves the sample's 6 hours of event time (default 2019-11-01). */
export function* sampleItems(users: number, seed: number, startTime?: number): Generator<SampleItem> {
  for (const r of generateSample({ users, seed, ...(startTime !== undefined ? { startTime } : {}) })) {
    const e = sampleRowToEvent(r);
    yield { subject: Subjects.event(r.event_type, r.user_id), body: JSON.stringify(e), eventTime: parseEventTime(e.eventTime as string)! };
  }
}

export interface PublishedSample {
  events: number;
  /** Stream sequence of each partition's flush tick. */
  flushSeqs: number[];
  lastSeq: number;
  maxEventTime: number;
  method: 'core' | 'jetstream';
  seconds: number;
}

export async function prepareStreams(nc: NatsConnection): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, loadConfig({}, {}));
  return jsm;
}

export const streamCount = async (jsm: JetStreamManager) => (await jsm.streams.info(Streams.events)).state.messages;

/** Waits until EVENTS holds `want` messages, or its count stops growing. */
export async function settledCount(jsm: JetStreamManager, want: number): Promise<number> {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = await streamCount(jsm);
    if (n >= want) return n;
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since > 3_000) return n;
    await sleep(20);
  }
}

/**
 * Publishes the sample into an empty EVENTS stream: core publish with a flush every 5,000 (fast),
 * checked against the stream's count; if the server dropped any, the stream is purged and the
 * sample goes again with JetStream acks. Then one flush tick per partition.
 */
export async function publishSample(nc: NatsConnection, users: number, seed: number): Promise<PublishedSample> {
  const jsm = await prepareStreams(nc);
  const t0 = performance.now();
  let n = 0;
  let maxEventTime = -Infinity;
  for (const it of sampleItems(users, seed)) {
    nc.publish(it.subject, it.body);
    if (it.eventTime > maxEventTime) maxEventTime = it.eventTime;
    if (++n % 5_000 === 0) {
      await nc.flush();
      if (n % 250_000 === 0) log(`  published ${n.toLocaleString('en-US')}`);
    }
  }
  await nc.flush();
  let method: PublishedSample['method'] = 'core';
  const stored = await settledCount(jsm, n);
  if (stored !== n) {
    log(`  core publish stored ${stored} of ${n}: purging, publishing again with acks`);
    await jsm.streams.purge(Streams.events);
    method = 'jetstream';
    const js = jetstream(nc);
    let batch: Promise<unknown>[] = [];
    for (const it of sampleItems(users, seed)) {
      batch.push(js.publish(it.subject, it.body));
      if (batch.length >= 1_000) {
        await Promise.all(batch);
        batch = [];
      }
    }
    await Promise.all(batch);
    if ((await settledCount(jsm, n)) !== n) throw new Error(`EVENTS holds ${await streamCount(jsm)} messages after publishing ${n} with acks`);
  }
  const flushSeqs = await publishFlushTicks(nc, maxEventTime + FLUSH_MS);
  return { events: n, flushSeqs, lastSeq: Math.max(...flushSeqs), maxEventTime, method, seconds: (performance.now() - t0) / 1000 };
}

/** One tick per partition at `eventTime`; returns their stream sequences. */
export async function publishFlushTicks(nc: NatsConnection, eventTime: number): Promise<number[]> {
  const js = jetstream(nc);
  const seqs: number[] = [];
  for (let p = 0; p < PARTITIONS; p++) seqs.push((await js.publish(Subjects.tick('producer', p), JSON.stringify({ eventTime }))).seq);
  return seqs;
}
