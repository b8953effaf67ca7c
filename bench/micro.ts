/**
 * Where the engine's per-event time goes, without NATS: the same seeded sample as `npm run bench`,
 * fed in stream order straight into PartitionProcessors (one per partition, one shared ActorHost),
 * next to cheaper passes over the same bytes.
 *
 *   npx tsx bench/micro.ts [--users 100000] [--checkpoint-every 10000]
 *
 * Passes: JSON.parse only; the stored-subject parse + decodeEvent (UTF-8, JSON.parse, validation);
 * PartitionProcessor.process with no checkpoints; the same with a checkpoint capture (captureDirty +
 * timers) every N events, the engine's default cadence; and, for reference, XState's floor (a
 * trivial one-assign machine, one live actor per user). Each is µs/event and events/s, one
 * thread, no I/O.
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
import { createActor, setup, assign, type Actor } from 'xstate';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    'checkpoint-every': { type: 'string', default: '10000' },
    'live-cap': { type: 'string', default: '50000' },
  },
});
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

function pass(name: string, fn: () => void): void {
  (globalThis as { gc?: () => void }).gc?.();
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  process.stdout.write(`${name.padEnd(46)} ${((ms * 1000) / msgs.length).toFixed(2).padStart(7)} µs/event ${Math.round(msgs.length / (ms / 1000)).toLocaleString('en-US').padStart(10)} events/s\n`);
}

const td = new TextDecoder();
pass('JSON.parse only (what RAW does)', () => {
  let n = 0;
  for (const m of msgs) if ((JSON.parse(td.decode(m.data)) as { price: number }).price >= 0) n++;
  if (n < 0) throw new Error();
});

pass('subject + decodeEvent (UTF-8, JSON.parse, validation)', () => {
  for (const m of msgs) {
    const where = parseStoredEventSubject(m.subject)!;
    const d = decodeEvent(m.data, { maxBytes: 16 * 1024, eventType: where.eventType, userId: where.userId });
    if (!d.ok) throw new Error(d.reason);
  }
});

function processorPass(checkpointEvery: number | null): { outputs: number; captured: number } {
  const host = new ActorHost({ loadActor: () => undefined }, CAP, PATTERNS);
  const procs = Array.from({ length: P }, (_, p) => new PartitionProcessor({ partition: p, partitions: P, maxOutOfOrderMs: 5_000, latePolicy: 'process', maxEventBytes: 16 * 1024 }, host));
  let outputs = 0;
  let captured = 0;
  let since = 0;
  const out: Output[] = [];
  for (const m of msgs) {
    out.length = 0;
    procs[Number(m.subject.slice(m.subject.lastIndexOf('.') + 1))]!.process(m, out);
    outputs += out.length;
    if (checkpointEvery !== null && ++since >= checkpointEvery) {
      since = 0;
      for (const pr of procs) {
        pr.checkpointState();

      }
      captured += host.captureDirty().size;
      host.committed();
    }
  }
  return { outputs, captured };
}

let r = { outputs: 0, captured: 0 };
pass('PartitionProcessor.process, no checkpoints', () => {
  r = processorPass(null);
});
log(`  outputs ${r.outputs}`);
pass(`  + checkpoint capture every ${EVERY} events`, () => {
  r = processorPass(EVERY);
});
log(`  outputs ${r.outputs}, actor snapshots captured ${r.captured} (${(r.captured / msgs.length).toFixed(2)} per event)`);

// ---------------------------------------------------------------- reference: XState's own floor

// A one-state machine whose only action is one assign, as one live actor per user, fed the same
// user sequence: what any XState step costs before the machine does anything of its own.
const trivial = setup({ types: { context: {} as { n: number }, events: {} as { type: 'e' } } }).createMachine({
  context: { n: 0 },
  on: { e: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
});
const users = msgs.map((m) => m.subject.split('.')[2]!);
pass('XState floor: 1-state machine, 1 assign, live', () => {
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
