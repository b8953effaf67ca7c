/**
 * Where the engine's per-event time goes, without NATS: the same seeded sample as `npm run bench`,
 * fed in stream order straight into PartitionProcessors (one per partition, one shared ActorHost),
 * next to cheaper passes over the same bytes.
 *
 *   npx tsx bench/micro.ts [--users 100000] [--checkpoint-every 10000] [--live-cap 50000] [--snapshot-every N]
 *
 * Passes: JSON.parse only; the stored-subject parse + decodeEvent (UTF-8, JSON.parse, validation);
 * PartitionProcessor.process with no checkpoints (nothing is stored: evicted actors wait in
 * memory); the same with a checkpoint every N events committed to a real LMDB store in a temp dir,
 * as the engine does (about one second of engine input at the default); and, for reference,
 * XState's floor (a trivial one-assign machine, one live actor per user). Each is µs/event and
 * events/s, one thread, no NATS. Both processor passes must give the same outputs.
 */
import { parseArgs } from 'node:util';
import { generateSample } from '../src/events/sample-generator.js';
import { sampleRowToEvent } from '../src/events/sources.js';
import { decodeEvent } from '../src/events/decode.js';
import { partitionOf, parseStoredEventSubject } from '../src/nats/subjects.js';
import { ActorHost } from '../src/runtime/actor-host.js';
import { loadPatternDir } from '../src/cep/index.js';
import { loadConfig } from '../src/config/index.js';
import { PartitionProcessor, type InputMessage, type Output } from '../src/runtime/partition-processor.js';
import { captureCheckpoint, checkpointCommitted, restoreProcessors } from '../src/runtime/checkpoint.js';
import { openCheckpointStore } from '../src/store/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor, setup, assign, type Actor } from 'xstate';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    'checkpoint-every': { type: 'string', default: '10000' },
    'live-cap': { type: 'string', default: '50000' },
    // The engine's own setting unless given: live actors written at most once per N checkpoints.
    'snapshot-every': { type: 'string', default: String(loadConfig({}).snapshotEvery) },
  },
});
const SNAPSHOT_EVERY = Number(values['snapshot-every']);
const USERS = Number(values.users);
const EVERY = Number(values['checkpoint-every']);
const CAP = Number(values['live-cap']);
const P = 8;
const log = (s: string) => process.stderr.write(`${s}\n`);
// The patterns the engine runs, as Engine.start loads them.
const PATTERNS = loadPatternDir(loadConfig({}).patternsDir).set;

log(`building ${USERS} users' sample...`);
const msgs: InputMessage[] = [];
for (const r of generateSample({ users: USERS, seed: 1 })) {
  const event = sampleRowToEvent(r);
  const p = partitionOf(r.user_id, P);
  msgs.push({ seq: msgs.length + 1, subject: `events.${r.event_type}.${r.user_id}.${p}`, data: Buffer.from(JSON.stringify(event)) });
}
log(`${msgs.length} messages`);

async function pass(name: string, fn: () => void | Promise<void>): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  process.stdout.write(`${name.padEnd(46)} ${((ms * 1000) / msgs.length).toFixed(2).padStart(7)} µs/event ${Math.round(msgs.length / (ms / 1000)).toLocaleString('en-US').padStart(10)} events/s\n`);
}

const td = new TextDecoder();
await pass('JSON.parse only (what RAW does)', () => {
  let n = 0;
  for (const m of msgs) if ((JSON.parse(td.decode(m.data)) as { price: number }).price >= 0) n++;
  if (n < 0) throw new Error();
});

await pass('subject + decodeEvent (UTF-8, JSON.parse, validation)', () => {
  for (const m of msgs) {
    const where = parseStoredEventSubject(m.subject)!;
    const d = decodeEvent(m.data, { maxBytes: 16 * 1024, eventType: where.eventType, userId: where.userId });
    if (!d.ok) throw new Error(d.reason);
  }
});

async function processorPass(checkpointEvery: number | null): Promise<{ outputs: number; captured: number }> {
  // With checkpoints, a real LMDB store in a temp dir, committed as the engine does: evicted
  // actors come back from it, and timers past the span are read back from it.
  const dir = checkpointEvery === null ? null : mkdtempSync(join(tmpdir(), 'nudge-micro-'));
  const store = dir === null ? null : openCheckpointStore(dir);
  const every = checkpointEvery ?? Number.POSITIVE_INFINITY;
  const host = new ActorHost(store ?? { loadActor: () => undefined }, CAP, PATTERNS);
  const popts = { partitions: P, maxOutOfOrderMs: 5_000, latePolicy: 'process' as const, maxEventBytes: 16 * 1024 };
  const owned = Array.from({ length: P }, (_, p) => p);
  const procs = store ? restoreProcessors(store, host, owned, popts) : owned.map((p) => new PartitionProcessor({ ...popts, partition: p }, host));
  let outputs = 0;
  let captured = 0;
  let since = 0;
  const out: Output[] = [];
  try {
    for (const m of msgs) {
      out.length = 0;
      procs[Number(m.subject.slice(m.subject.lastIndexOf('.') + 1))]!.process(m, out);
      outputs += out.length;
      if (store && ++since >= every) {
        since = 0;
        const write = captureCheckpoint(procs, host, SNAPSHOT_EVERY);
        captured += write.actors.size;
        await store.commit(write);
        checkpointCommitted(procs, host);
      }
    }
  } finally {
    await store?.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
  return { outputs, captured };
}

let r = { outputs: 0, captured: 0 };
await pass('PartitionProcessor.process, no checkpoints', async () => {
  r = await processorPass(null);
});
log(`  outputs ${r.outputs}`);
const straight = r.outputs;
await pass(`  + checkpoints every ${EVERY} events (LMDB), snapshots every ${SNAPSHOT_EVERY}`, async () => {
  r = await processorPass(EVERY);
});
log(`  outputs ${r.outputs}, actor snapshots captured ${r.captured} (${(r.captured / msgs.length).toFixed(2)} per event)`);
if (r.outputs !== straight) {
  log(`micro: checkpointing changed the outputs (${r.outputs} against ${straight})`);
  process.exitCode = 1;
}

// ---------------------------------------------------------------- reference: XState's own floor

// A one-state machine whose only action is one assign, as one live actor per user, fed the same
// user sequence: what any XState step costs before the machine does anything of its own.
const trivial = setup({ types: { context: {} as { n: number }, events: {} as { type: 'e' } } }).createMachine({
  context: { n: 0 },
  on: { e: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
});
const users = msgs.map((m) => m.subject.split('.')[2]!);
await pass('XState floor: 1-state machine, 1 assign, live', () => {
  const live = new Map<string, Actor<typeof trivial>>();
  for (const u of users) {
    let a = live.get(u);
    if (!a) {
      a = createActor(trivial);
      a.start();
      live.set(u, a);
    }
    a.send({ type: 'e' });
    a.getSnapshot();
  }
});
