import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/index.js';
import { Engine } from '../src/runtime/index.js';
import { readAnalyticsCheckpoint } from '../src/runtime/analytics-runner.js';
import { SessionFunnelJob } from '../src/runtime/analytics-session-funnel.js';
import { decodeEvent } from '../src/events/index.js';
import { FunnelJob, HotProductsJob, UserActivityJob, toAnalyticsEvent, type JobOutput } from '../src/analytics/index.js';
import { Streams, Headers, PROJECT_ROOT, parseStoredEventSubject, partitionOf, ensureStreams } from '../src/nats/index.js';
import { startTestNats, tempDir, readStream, spawnEngine, engineStarted, waitFor, runCli, type TestNats } from './support/harness.js';
import { committedSeqs, publishSample, outputsById } from './support/engine-runs.js';

// One seeded sample, the same stream sequences on every server: the uninterrupted run is the
// reference for the crashed one, and the pure jobs over the stored stream are the reference for both.
const USERS = 800;
const SEED = 23;
const WINDOW_JOBS = ['funnel', 'hot_products', 'user_activity', 'session_funnel'] as const;
// No wall-clock idle ticks: both runs read exactly the same stream. Frequent checkpoints, so a
// kill lands between two of them with outputs already sent that the next run sends again.
const quietEnv = { NUDGE_IDLE_TICK_MS: '3600000', NUDGE_CHECKPOINT_EVENTS: '200', NUDGE_CHECKPOINT_MS: '50' };

interface Published {
  kind: 'result' | 'late';
  id: string;
  job: string;
  key: string;
  windowStart: number;
  windowEnd: number;
  revision: number;
  record: Record<string, unknown>;
}

const servers: TestNats[] = [];
const dirs: string[] = [];
let ref: TestNats;
let refDir: string;
let report: Awaited<ReturnType<typeof publishSample>>;
let lastSeq: number;
let reference: Awaited<ReturnType<typeof outputsById>>;

const done = async (dataDir: string) => {
  const a = await readAnalyticsCheckpoint(dataDir);
  const seqs = await committedSeqs(dataDir);
  return a !== undefined && a.seq >= lastSeq && [...report.flushSeqs].every(([p, seq]) => seqs[p]! >= seq);
};

/** `nudge run` until both the partitions and the analytics have checkpointed the whole sample, then SIGTERM. */
async function runToEnd(nats: TestNats, dataDir: string): Promise<void> {
  const engine = spawnEngine({ NATS_URL: nats.url, NUDGE_DATA_DIR: dataDir, ...quietEnv });
  await engineStarted(engine);
  await waitFor('analytics checkpoint covering the stream', () => done(dataDir), 90_000);
  assert.equal(await engine.stop(), 0, engine.stderr());
}

function bySubject(msgs: JsMsg[]): Map<string, JsMsg[]> {
  const m = new Map<string, JsMsg[]>();
  for (const x of msgs) m.set(x.subject, [...(m.get(x.subject) ?? []), x]);
  return m;
}

/** The jobs from src/analytics run directly over the stored EVENTS stream, in stream order. */
async function pureJobs(nats: TestNats): Promise<Map<string, unknown>> {
  const jobs = [new FunnelJob(), new HotProductsJob(), new UserActivityJob(), new SessionFunnelJob()];
  const out: JobOutput<unknown>[] = [];
  let max = -1;
  const advance = (t: number) => {
    if (t <= max) return;
    max = t;
    for (const j of jobs) j.advance(t - 5_000, out as never);
  };
  for (const m of await readStream(nats.nc, Streams.events)) {
    const where = parseStoredEventSubject(m.subject)!;
    if (where.eventType === '_tick') {
      advance(m.json<{ eventTime: number }>().eventTime);
      continue;
    }
    if (where.eventType.startsWith('_')) continue;
    const d = decodeEvent(m.data, { maxBytes: 16 * 1024, eventType: where.eventType, userId: where.userId });
    if (!d.ok || partitionOf(d.event.userId, 8) !== where.partition) continue;
    const e = toAnalyticsEvent(m.seq, d.event);
    for (const j of jobs) j.processEvent(e, out as never);
    advance(e.eventTime);
  }
  return new Map(out.map((o) => [o.id, JSON.parse(JSON.stringify(o))]));
}

before(async () => {
  ref = await startTestNats();
  servers.push(ref);
  refDir = tempDir('analytics-ref');
  dirs.push(refDir);
  report = await publishSample(ref.nc, USERS, SEED, true);
  lastSeq = Math.max(...report.flushSeqs.values());
  await runToEnd(ref, refDir);
  reference = await outputsById(ref.nc, Streams.analytics);
});

after(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the running engine publishes analytics.funnel / hot_products / user_activity / session_funnel, equal to the pure jobs over the stream in stream order', async (t) => {
  const msgs = await readStream(ref.nc, Streams.analytics);
  const subjects = bySubject(msgs);
  for (const job of WINDOW_JOBS) assert.ok((subjects.get(`analytics.${job}`)?.length ?? 0) > 0, `results on analytics.${job}`);
  assert.ok((subjects.get('analytics.funnel')?.length ?? 0) > 50, 'the sample spans many 1-minute windows');

  const expected = await pureJobs(ref);
  t.diagnostic(`${lastSeq} stream messages; ANALYTICS: ${[...subjects].map(([k, v]) => `${k} ${v.length}`).join(', ')}`);
  const got = new Map<string, unknown>();
  for (const m of msgs) {
    if (m.subject === 'analytics.sessions') continue;
    const body = m.json<Published>();
    assert.equal(m.headers?.get(Headers.msgId), body.id, 'Nats-Msg-Id is the result id');
    assert.equal(m.subject, body.kind === 'late' ? 'analytics.late' : `analytics.${body.job}`);
    assert.ok(!got.has(body.id), `${body.id} published twice`);
    got.set(body.id, body);
  }
  const missing = [...expected.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !expected.has(k));
  assert.deepEqual({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }, { missing: [], extra: [] }, `${missing.length} missing, ${extra.length} extra`);
  for (const [id, body] of expected) assert.deepEqual(got.get(id), body, id);

  // Spot checks of the contracts: a funnel record, a hot_products ranking, a user's revenue.
  const funnel = [...got.values()].find((r) => (r as Published).job === 'funnel') as Published;
  assert.match(funnel.id, /^funnel:\d+:[^:]+:r\d+$/);
  assert.equal(funnel.windowEnd - funnel.windowStart, 60_000);
  assert.deepEqual(Object.keys(funnel.record).sort(), ['cartToPurchase', 'carters', 'carts', 'category', 'purchasers', 'purchases', 'viewToCart', 'viewToPurchase', 'viewers', 'views']);
  const hot = [...got.values()].find((r) => (r as Published).job === 'hot_products' && ((r as Published).record.views as unknown[]).length === 10) as Published;
  assert.ok(hot, 'a full top-10 window');
  assert.equal(hot.windowEnd - hot.windowStart, 600_000);
  const buyer = [...got.values()].find((r) => (r as Published).job === 'user_activity' && (r as Published).record.purchases !== 0) as Published;
  assert.ok(buyer && (buyer.record.revenue as number) > 0, 'a user window with revenue');
});

test('SIGKILL mid-window (after acked results, before the checkpoint covering them) and restart: the same windows as an uninterrupted run, none twice, none missing', async (t) => {
  const nats = await startTestNats();
  servers.push(nats);
  const dataDir = tempDir('analytics-crash');
  dirs.push(dataDir);
  const again = await publishSample(nats.nc, USERS, SEED, true);
  assert.deepEqual([...again.flushSeqs], [...report.flushSeqs], 'the same stream sequences as the reference');

  // Deterministic points first (right after the N-th acked analytics output), then seeded moments.
  const kills: Array<{ afterOutputs?: number; afterMs?: number }> = [{ afterOutputs: 1 }, { afterOutputs: 120 }, { afterMs: 250 }, { afterOutputs: 400 }, { afterMs: 600 }];
  const killedAt: number[] = [];
  for (const k of kills) {
    if (await done(dataDir)) break;
    const env: Record<string, string> = { NATS_URL: nats.url, NUDGE_DATA_DIR: dataDir, ...quietEnv };
    if (k.afterOutputs) env.NUDGE_FAULT_KILL_AFTER_ANALYTICS = String(k.afterOutputs);
    const engine = spawnEngine(env);
    await engineStarted(engine, 20_000, true);
    if (k.afterMs !== undefined) {
      await new Promise((r) => setTimeout(r, k.afterMs));
      await engine.kill();
    }
    const ended = await waitFor('the run to die or finish', async () => (engine.child.signalCode ? 'killed' : (await done(dataDir)) ? 'finished' : undefined), 90_000);
    if (ended === 'killed') killedAt.push((await readAnalyticsCheckpoint(dataDir))?.seq ?? 0);
    else await engine.stop();
  }
  t.diagnostic(`killed ${killedAt.length} times; analytics checkpoint at each kill: ${killedAt.join(', ')} of ${lastSeq}`);
  assert.ok(killedAt.length >= 3, `killed only ${killedAt.length} times before the end`);
  // Killed before the flush ticks were checkpointed: windows were open (user_activity's hour at least).
  assert.ok(killedAt.every((s) => s < lastSeq), `checkpoints at the kills: ${killedAt.join(', ')}`);
  await runToEnd(nats, dataDir);

  const got = await outputsById(nats.nc, Streams.analytics);
  assert.equal(got.messages, got.byId.size, `${got.messages - got.byId.size} duplicates in ANALYTICS`);
  const missing = [...reference.byId.keys()].filter((k) => !got.byId.has(k));
  const extra = [...got.byId.keys()].filter((k) => !reference.byId.has(k));
  assert.deepEqual({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }, { missing: [], extra: [] }, `${missing.length} missing, ${extra.length} extra`);
  for (const [id, body] of reference.byId) assert.deepEqual(got.byId.get(id), body, id);
  for (const job of WINDOW_JOBS) assert.ok([...got.byId.keys()].some((id) => id.startsWith(`${job}:`)), job);
});

// ------------------------------------------------------------------ CLI

const cli = (args: string[], url: string) => runCli(args, { NATS_URL: url });

test('nudge analytics show <job>: the latest closed window, every key, as a table or JSON', async () => {
  const funnel = [...reference.byId.values()].filter((b) => (b as Published).job === 'funnel' && (b as Published).kind === 'result') as Published[];
  const end = Math.max(...funnel.map((r) => r.windowEnd));
  const latest = new Map<string, Published>();
  for (const r of funnel) if (r.windowEnd === end && (latest.get(r.key)?.revision ?? -1) < r.revision) latest.set(r.key, r);

  const json = await cli(['analytics', 'show', 'funnel', '--json'], ref.url);
  assert.equal(json.code, 0, json.stderr);
  const shown = JSON.parse(json.stdout) as { job: string; windowStart: number; windowEnd: number; results: Published[] };
  assert.equal(shown.job, 'funnel');
  assert.equal(shown.windowEnd, end);
  assert.deepEqual(shown.results.map((r) => r.key), [...latest.keys()].sort());
  for (const r of shown.results) assert.deepEqual(r, latest.get(r.key));

  const table = await cli(['analytics', 'show', 'funnel'], ref.url);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, new RegExp(`^funnel  window .* – ${new Date(end).toISOString().slice(0, 16)}`));
  assert.match(lines[2]!, /^category\s+views\s+carts\s+purchases\s+viewers\s+carters\s+purchasers\s+viewToCart/);
  for (const key of latest.keys()) assert.ok(lines.some((l) => l.startsWith(`${key} `)), `row for ${key}`);
  assert.equal(lines.length, 4 + latest.size);

  const hot = await cli(['analytics', 'show', 'hot_products'], ref.url);
  assert.equal(hot.code, 0, hot.stderr);
  assert.match(hot.stdout, /rank\s+viewed\s+views\s+purchased\s+purchases/);

  const bad = await cli(['analytics', 'show', 'nope'], ref.url);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown analytics job "nope"; one of: funnel, hot_products, user_activity, session_funnel/);

  // A server where nothing ran: no stream; then the stream but no results.
  const empty = await startTestNats();
  servers.push(empty);
  const none = await cli(['analytics', 'show', 'funnel'], empty.url);
  assert.equal(none.code, 3, none.stderr);
  await ensureStreams(await jetstreamManager(empty.nc), loadConfig({}, {}));
  const noResults = await cli(['analytics', 'show', 'user_activity'], empty.url);
  assert.equal(noResults.code, 3, noResults.stderr);
  assert.match(noResults.stderr, /no results on analytics\.user_activity yet/);
});

test('nudge analytics tail <job> --json prints new results as a running engine (in process) closes windows', async () => {
  // The reference run's state: the in-process engine resumes after the sample.
  const engine = await Engine.start(loadConfig({ natsUrl: ref.url, dataDir: refDir, checkpointIntervalMs: 50, idleTickMs: 3_600_000, workerId: 'wtail', logLevel: 'silent' }), createLogger('silent'));
  try {
    assert.equal(engine.status().analytics?.seq !== undefined, true, 'the analytics runner runs in the engine owning partition 0');
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli', 'main.ts'), 'analytics', 'tail', 'funnel', '--json', '--count', '2'], {
      env: { ...process.env, NATS_URL: ref.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    await waitFor('tail to follow', () => stderr.includes('following analytics.funnel'), 20_000);

    // New events a day and more after the sample (past the flush ticks), then a tick that closes their minute.
    const t0 = Math.ceil((report.maxEventTime! + 86_400_000 + 120_000) / 60_000) * 60_000;
    const js = jetstream(ref.nc);
    const ev = (userId: string, eventType: string, cat: string, s: number) => ({ eventTime: t0 + s * 1000, eventType, productId: `p-${cat}`, categoryCode: `${cat}.thing`, price: 10, userId });
    const sent = [ev('tail1', 'view', 'garden', 1), ev('tail2', 'view', 'garden', 2), ev('tail2', 'cart', 'garden', 3), ev('tail3', 'view', 'toys', 4), ev('tail3', 'purchase', 'toys', 5)];
    for (const e of sent) await js.publish(`events.${e.eventType}.${e.userId}`, JSON.stringify(e));
    await js.publish('events._tick.test.0', JSON.stringify({ eventTime: t0 + 10 * 60_000 }));

    assert.equal(await exited, 0, stderr);
    const lines = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Published);
    assert.deepEqual(lines.map((r) => [r.id, r.record.views, r.record.carts, r.record.purchases]), [
      [`funnel:${t0}:garden:r0`, 2, 1, 0],
      [`funnel:${t0}:toys:r0`, 1, 0, 1],
    ]);
    assert.equal(lines[0]!.record.viewToCart, 0.5);

    // Later than the allowed minute: analytics.late, with the reason, and counted.
    const lateAck = await js.publish('events.view.tail1', JSON.stringify(ev('tail1', 'view', 'garden', 30)));
    const late = await waitFor('the late item', async () => (await readStream(ref.nc, Streams.analytics, 'analytics.late')).map((m) => m.json<{ id: string; reason: string; missedWindows: number }>()).find((l) => l.id === `funnel:late:${lateAck.seq}`));
    assert.match(late.reason, /released|late/i);
    assert.equal(late.missedWindows, 1);
    await waitFor('the late count', () => (engine.status().analytics?.counters.late ?? 0) >= 1);

    const human = await cli(['analytics', 'show', 'funnel'], ref.url);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^garden\s+2\s+1\s+0\s+2\s+1\s+0\s+50\.0%/m);
  } finally {
    await engine.stop();
  }
  const s = engine.status().analytics!;
  assert.ok(s.counters.results > 0 && s.checkpointedSeq === s.seq, JSON.stringify(s));
});
