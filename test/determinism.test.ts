import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPatternDir } from '../src/cep/index.js';
import { rmSync } from 'node:fs';
import { generateSample, sampleRowToEvent } from '../src/events/index.js';
import { partitionOf } from '../src/nats/index.js';
import { openCheckpointStore } from '../src/store/index.js';
import { ActorHost, PartitionProcessor, captureCheckpoint, checkpointCommitted, restoreProcessors, type InputMessage, type Output } from '../src/runtime/index.js';
import { tempDir } from './support/harness.js';

// "Snapshot at N + replay N+1…M equals straight 0…M", through the real LMDB codec and the same
// capture/restore code the engine uses. No NATS: the stream is a recorded list of messages.
const P = 8;
const opts = { partitions: P, maxOutOfOrderMs: 5_000, latePolicy: 'process' as const, maxEventBytes: 16_384, now: () => 0 };

function recordedStream(): InputMessage[] {
  const msgs: InputMessage[] = [];
  let seq = 0;
  for (const r of generateSample({ users: 250, seed: 5 })) {
    const event = sampleRowToEvent(r);
    const p = partitionOf(r.user_id, P);
    msgs.push({ seq: ++seq, subject: `events.${r.event_type}.${r.user_id}.${p}`, data: Buffer.from(JSON.stringify(event)) });
    if (seq % 997 === 0) msgs.push({ seq: ++seq, subject: `events.view.${r.user_id}.${p}`, data: Buffer.from('{"not":"an event"}') });
  }
  const last = Date.parse(msgs.length ? '2019-11-03T00:00:00Z' : '');
  for (let p = 0; p < P; p++) msgs.push({ seq: ++seq, subject: `events._tick.t.${p}`, data: Buffer.from(JSON.stringify({ eventTime: last })) });
  return msgs;
}

const partitionOfMsg = (m: InputMessage) => Number(m.subject.split('.')[3]);

/** The shipped patterns: determinism is checked with every rule running, absences included. */
const PATTERNS = loadPatternDir(new URL('../patterns', import.meta.url).pathname).set;

function run(processors: PartitionProcessor[], msgs: InputMessage[]): Output[] {
  const out: Output[] = [];
  const byP = new Map(processors.map((p) => [p.partition, p]));
  for (const m of msgs) byP.get(partitionOfMsg(m))!.process(m, out);
  return out;
}

const comparable = (outs: Output[]) => outs.map((o) => (o.kind === 'dlq' ? { ...o, data: Buffer.from(o.data).toString('base64') } : o));

function straight(msgs: InputMessage[], liveCap: number): Output[] {
  const host = new ActorHost({ loadActor: () => undefined }, liveCap, PATTERNS);
  return run(Array.from({ length: P }, (_, p) => new PartitionProcessor({ ...opts, partition: p }, host)), msgs);
}

/**
 * `checkpointEvery`: within a segment, a checkpoint every so many messages whose commit is awaited
 * only after the next ones are processed, as the engine goes on while LMDB commits.
 * `timerSpanMs`: how far past the watermark timers stay in memory (the rest are read back from LMDB).
 */
async function withRestartAt(msgs: InputMessage[], cuts: number[], liveCap: number, { timerSpanMs = 60 * 60_000, checkpointEvery = 0 } = {}): Promise<Output[]> {
  const dir = tempDir('determinism');
  try {
    const out: Output[] = [];
    let from = 0;
    for (const cut of [...cuts, msgs.length]) {
      // A new worker each segment: everything it knows comes from the LMDB checkpoint.
      const store = openCheckpointStore(dir);
      const host = new ActorHost(store, liveCap, PATTERNS);
      const processors = restoreProcessors(store, host, Array.from({ length: P }, (_, p) => p), { ...opts, timerSpanMs });
      const segment = msgs.slice(from, cut);
      const step = checkpointEvery || segment.length || 1;
      let inFlight: Promise<void> | null = null;
      for (let i = 0; i < segment.length; i += step) {
        out.push(...run(processors, segment.slice(i, i + step)));
        if (inFlight) {
          await inFlight;
          checkpointCommitted(processors, host);
        }
        inFlight = checkpointEvery ? store.commit(captureCheckpoint(processors, host)) : null;
      }
      if (inFlight) {
        await inFlight;
        checkpointCommitted(processors, host);
      }
      await store.commit(captureCheckpoint(processors, host));
      checkpointCommitted(processors, host);
      host.stopAll();
      await store.close();
      from = cut;
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const msgs = recordedStream();
const reference = straight(msgs, 100_000);

test('the recorded stream exercises coupons, session ends, timers and dead letters', () => {
  const kinds = new Map<string, number>();
  for (const o of reference) kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1);
  assert.ok((kinds.get('action') ?? 0) > 20, `actions: ${kinds.get('action')}`);
  assert.ok((kinds.get('analytics') ?? 0) > 200, `session summaries: ${kinds.get('analytics')}`);
  assert.ok((kinds.get('dlq') ?? 0) >= 2);
});

test('the live-actor cap changes nothing but memory: passivated actors come back identical', () => {
  assert.deepEqual(comparable(straight(msgs, 3)), comparable(reference));
});

for (const cuts of [[1], [Math.floor(msgs.length / 2)], [msgs.length - 9], [500, 1_200, 2_000, 2_001, 3_000]]) {
  test(`snapshot at ${cuts.join(', ')} then replay equals straight processing`, async () => {
    assert.deepEqual(comparable(await withRestartAt(msgs, cuts, 50)), comparable(reference));
  });
}

// Timers held in memory only a minute of event time ahead: session ends, abandoned carts and the
// 7-day churn watches all go to LMDB and come back as event time reaches them, with commits in
// flight while processing goes on. What fires, and in what order, must not change.
for (const cuts of [[], [Math.floor(msgs.length / 3)], [400, 1_500, 2_600]]) {
  test(`timers spilled to LMDB a minute past the watermark, checkpoints every 97 messages, restarts at [${cuts.join(', ')}]: equals straight processing`, async () => {
    assert.deepEqual(comparable(await withRestartAt(msgs, cuts, 50, { timerSpanMs: 60_000, checkpointEvery: 97 })), comparable(reference));
  });
}

test('a restart inside every open session window still fires every summary once', async () => {
  const got = await withRestartAt(msgs, [msgs.length - P], 50);
  const ids = got.filter((o) => o.kind === 'analytics').map((o) => o.msgId);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(ids.length, reference.filter((o) => o.kind === 'analytics').length);
});

// Crashes: the worker dies at each cut with no final checkpoint, and live actors' changes are
// written only every `writeEvery` checkpoints, so a restart replays from each partition's replay
// point and actors skip what their stored snapshots already hold. Replayed outputs repeat with
// the same msgId and body (the streams drop them); after dedupe, the outputs and the partitions'
// counters must be exactly those of one straight run.
async function withCrashesAt(msgs: InputMessage[], cuts: number[], liveCap: number, { writeEvery = 4, checkpointEvery = 53, timerSpanMs = 60 * 60_000 } = {}) {
  const dir = tempDir('determinism-crash');
  try {
    const out: Output[] = [];
    let processors: PartitionProcessor[] = [];
    let replayed = 0;
    let reached = 0;
    for (const cut of [...cuts, msgs.length]) {
      const store = openCheckpointStore(dir);
      const host = new ActorHost(store, liveCap, PATTERNS);
      processors = restoreProcessors(store, host, Array.from({ length: P }, (_, p) => p), { ...opts, timerSpanMs });
      // Every partition's consumer starts after its own replay point; the earliest decides where the recorded stream resumes.
      const from = Math.min(...processors.map((p) => p.seq));
      let i = msgs.findIndex((m) => m.seq > from);
      if (i < 0) i = msgs.length;
      replayed += Math.max(0, reached - i);
      reached = cut;
      while (i < cut) {
        const end = Math.min(i + checkpointEvery, cut);
        out.push(...run(processors, msgs.slice(i, end)));
        i = end;
        if (i < cut || cut === msgs.length) {
          await store.commit(captureCheckpoint(processors, host, writeEvery));
          checkpointCommitted(processors, host);
        }
      }
      host.stopAll();
      await store.close();
    }
    return { out, processors, replayed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One output per msgId; a repeated msgId must carry the same output. */
function deduped(outs: Output[]): Map<string, unknown> {
  const byId = new Map<string, unknown>();
  for (const o of comparable(outs)) {
    const seen = byId.get(o.msgId);
    if (seen === undefined) byId.set(o.msgId, o);
    else assert.deepEqual(o, seen, `replayed ${o.msgId} differs from the first`);
  }
  return byId;
}

function totals(processors: PartitionProcessor[]) {
  const t: Record<string, number> = {};
  for (const p of processors) for (const [k, v] of Object.entries(p.counters)) t[k] = (t[k] ?? 0) + v;
  return t;
}

const referenceHost = new ActorHost({ loadActor: () => undefined }, 100_000, PATTERNS);
const referenceProcessors = Array.from({ length: P }, (_, p) => new PartitionProcessor({ ...opts, partition: p }, referenceHost));
const referenceById = deduped(run(referenceProcessors, msgs));

test('the reference run has one output per msgId', () => {
  assert.equal(referenceById.size, reference.length);
});

for (const [writeEvery, cuts, liveCap, timerSpanMs] of [
  [4, [Math.floor(msgs.length / 2)], 50, 60 * 60_000],
  [4, [300, 301, 1_100, 2_050, 2_900], 50, 60 * 60_000],
  [7, [700, 1_900, 3_100], 5, 60_000],
  [40, [1_000, 2_500], 50, 60 * 60_000],
  [25, [900, 1_800, 2_700], 5, 60_000],
  [1, [900, 2_000], 50, 60 * 60_000],
] as const) {
  test(`actors written every ${writeEvery} checkpoints, crashes at [${cuts.join(', ')}], live cap ${liveCap}: after dedupe, outputs and counters equal straight processing`, async () => {
    const { out, processors, replayed } = await withCrashesAt(msgs, [...cuts], liveCap, { writeEvery, timerSpanMs });
    if (writeEvery > 1) assert.ok(replayed > 0, 'the crashes made the worker replay messages');
    const got = deduped(out);
    assert.deepEqual([...got.keys()].sort(), [...referenceById.keys()].sort());
    for (const [id, o] of got) assert.deepEqual(o, referenceById.get(id), id);
    assert.deepEqual(totals(processors), totals(referenceProcessors));
  });
}
