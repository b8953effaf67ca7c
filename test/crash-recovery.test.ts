import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startTestNats, tempDir, spawnEngine, engineStarted, waitFor, type TestNats } from './support/harness.js';
import { committedSeqs, publishSample, outputsById, outputStreams } from './support/engine-runs.js';

// Same events, same stream sequences: an uninterrupted run is the reference for every crashed one.
const USERS = 1200;
const SEED = 11;
// No wall-clock idle ticks in these runs, so both streams hold exactly the same messages.
const quietEnv = { NUDGE_IDLE_TICK_MS: '3600000', NUDGE_CHECKPOINT_EVENTS: '100', NUDGE_CHECKPOINT_MS: '50', NUDGE_LIVE_ACTORS: '64' };

type Outputs = Record<string, Awaited<ReturnType<typeof outputsById>>>;
let reference: Outputs;
const dirs: string[] = [];
const servers: TestNats[] = [];

async function collect(nats: TestNats): Promise<Outputs> {
  const out: Outputs = {};
  for (const s of outputStreams) out[s] = await outputsById(nats.nc, s);
  return out;
}

function assertSameOutputs(got: Outputs, label: string): void {
  for (const s of outputStreams) {
    const g = got[s]!;
    const r = reference[s]!;
    assert.equal(g.messages, g.byId.size, `${label}: ${s} holds ${g.messages - g.byId.size} duplicates`);
    const missing = [...r.byId.keys()].filter((k) => !g.byId.has(k));
    const extra = [...g.byId.keys()].filter((k) => !r.byId.has(k));
    assert.deepEqual({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }, { missing: [], extra: [] }, `${label}: ${s} differs (${missing.length} missing, ${extra.length} extra)`);
    for (const [id, body] of r.byId) assert.deepEqual(g.byId.get(id), body, `${label}: ${s} ${id} differs`);
  }
}

async function runUntilApplied(nats: TestNats, dataDir: string, target: Map<number, number>, env: Record<string, string> = {}): Promise<void> {
  const engine = spawnEngine({ NATS_URL: nats.url, NUDGE_DATA_DIR: dataDir, ...quietEnv, ...env });
  await engineStarted(engine);
  await waitFor('checkpoint covering the stream', async () => {
    const seqs = await committedSeqs(dataDir);
    return [...target].every(([p, seq]) => seqs[p]! >= seq);
  }, 60_000);
  assert.equal(await engine.stop(), 0, engine.stderr());
}

before(async () => {
  const nats = await startTestNats();
  servers.push(nats);
  const dataDir = tempDir('ref');
  dirs.push(dataDir);
  const report = await publishSample(nats.nc, USERS, SEED, true);
  await runUntilApplied(nats, dataDir, report.flushSeqs);
  reference = await collect(nats);
  assert.ok(reference['ACTIONS']!.byId.size > 20, 'the sample produces coupons');
  assert.ok(reference['ANALYTICS']!.byId.size > 100, 'the sample closes sessions');
});

after(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('SIGKILL at several points (right after an acked action, and at random moments): the actions equal an uninterrupted run, none missing, none twice', async () => {
  const nats = await startTestNats();
  servers.push(nats);
  const dataDir = tempDir('crash');
  dirs.push(dataDir);
  const report = await publishSample(nats.nc, USERS, SEED, true);
  const done = async () => {
    const seqs = await committedSeqs(dataDir);
    return [...report.flushSeqs].every(([p, seq]) => seqs[p]! >= seq);
  };
  // Deterministic kill points first: the process dies right after the N-th output is acked,
  // before any checkpoint can cover it. Then kills at seeded pseudo-random moments.
  const kills: Array<{ afterOutputs?: number; afterMs?: number }> = [{ afterOutputs: 1 }, { afterOutputs: 37 }, { afterMs: 150 }, { afterOutputs: 250 }, { afterMs: 400 }, { afterMs: 30 }];
  let killed = 0;
  for (const k of kills) {
    if (await done()) break;
    const env: Record<string, string> = { NATS_URL: nats.url, NUDGE_DATA_DIR: dataDir, ...quietEnv };
    if (k.afterOutputs) env.NUDGE_FAULT_KILL_AFTER_OUTPUTS = String(k.afterOutputs);
    const engine = spawnEngine(env);
    await engineStarted(engine, 20_000, true);
    if (k.afterMs !== undefined) {
      await new Promise((r) => setTimeout(r, k.afterMs));
      await engine.kill();
    }
    // Fault-injected runs die on their own; one that finished the stream first is stopped normally.
    const ended = await waitFor('the run to die or finish', async () => (engine.child.signalCode ? 'killed' : (await done()) ? 'finished' : undefined), 60_000);
    if (ended === 'killed') killed++;
    else await engine.stop();
  }
  // Six kill points; on a loaded machine a run can finish the stream before its kill comes.
  assert.ok(killed >= 3, `the engine was killed only ${killed} times before finishing`);
  await runUntilApplied(nats, dataDir, report.flushSeqs);
  assertSameOutputs(await collect(nats), 'after kills');
});

test('timers pending at the kill still fire after restart', async () => {
  const nats = await startTestNats();
  servers.push(nats);
  const dataDir = tempDir('timers');
  dirs.push(dataDir);
  // The events only: sessions stay open, their end timers pending in the checkpoint.
  const report = await publishSample(nats.nc, USERS, SEED, false);
  const lastSeq = report.published;
  const engine = spawnEngine({ NATS_URL: nats.url, NUDGE_DATA_DIR: dataDir, ...quietEnv });
  await engineStarted(engine);
  await waitFor('all events checkpointed', async () => (await committedSeqs(dataDir)).reduce((a, b) => Math.max(a, b), 0) >= lastSeq - 5 && (await committedSeqs(dataDir)).every((s) => s > 0));
  await new Promise((r) => setTimeout(r, 300));
  await engine.kill();
  // Now the flush ticks arrive while nobody runs; the restarted worker must still close every session.
  const { produceEvents } = await import('../src/events/index.js');
  const ticks = await produceEvents(nats.nc, (async function* () {})(), { partitions: 8 });
  assert.equal(ticks.published, 0);
  const { jetstream } = await import('@nats-io/jetstream');
  const js = jetstream(nats.nc);
  const flushSeqs = new Map<number, number>();
  for (let p = 0; p < 8; p++) flushSeqs.set(p, (await js.publish(`events._tick.producer.${p}`, JSON.stringify({ eventTime: report.maxEventTime! + 86_400_000 }))).seq);
  await runUntilApplied(nats, dataDir, flushSeqs);
  const got = await collect(nats);
  assertSameOutputs(got, 'after restart with pending timers');
  // The absences (cart-abandonment) were open timers in the checkpoint at the kill: their
  // deadlines passed only after the restart, and each fired once, with the same action.
  const absences = [...got['ACTIONS']!.byId.values()].filter((a) => (a as { timeout?: boolean }).timeout === true);
  assert.ok(absences.length > 0, 'the sample leaves cart-abandonment absences open at the kill');
});

/** Killed right after its 50th acknowledged output (mid-stream whatever the machine's speed), restarted with `extra`: the outputs of one uninterrupted main-thread engine. */
async function killedAndRestarted(name: string, extra: Record<string, string>): Promise<void> {
  const nats = await startTestNats();
  servers.push(nats);
  const dataDir = tempDir(name.replace(/ /g, '-'));
  dirs.push(dataDir);
  const report = await publishSample(nats.nc, USERS, SEED, true);
  const first = spawnEngine({ NATS_URL: nats.url, NUDGE_DATA_DIR: dataDir, ...quietEnv, ...extra, NUDGE_FAULT_KILL_AFTER_OUTPUTS: '50' });
  await first.exited;
  assert.equal(first.child.signalCode, 'SIGKILL', first.stderr());
  const seqs = await committedSeqs(dataDir);
  assert.ok(seqs.some((s, p) => s < report.flushSeqs.get(p)!), 'the kill came before the stream was done');
  await runUntilApplied(nats, dataDir, report.flushSeqs, extra);
  assertSameOutputs(await collect(nats), name);
}

test('two engine threads in one process (NUDGE_WORKERS=2), killed and restarted, give the outputs of one uninterrupted thread', () => killedAndRestarted('two threads', { NUDGE_WORKERS: '2' }));

test('one engine in a worker thread of its own (NUDGE_YOUNG_GEN_MB=64), killed and restarted, gives the outputs of the main-thread engine', () =>
  killedAndRestarted('one engine thread', { NUDGE_YOUNG_GEN_MB: '64' }));
