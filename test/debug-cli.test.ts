import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNats, tempDir, spawnEngine, engineStarted, waitFor, readStream, streamCount, runCli, type CliResult, type TestNats, type EngineProcess } from './support/harness.js';
import { PROJECT_ROOT, Streams, partitionOf } from '../src/nats/index.js';
import { InspectClient } from '../src/service/index.js';

// The debug CLI end to end: a real nats-server, `nudge run` as a child process, and each command
// run as a user would, human and --json, for scripted users: alice (price-sensitive almost fires:
// her second view is not cheaper; she carts, then stays passivated), bob (repeat-category fires).

const T0 = Date.parse('2019-10-01T00:00:00Z');
const MIN = 60_000;
const P = 8;

type Cli = CliResult;
type TestEnv = Record<string, string> & { NATS_URL: string };
const cli = runCli;

/** A CLI child that keeps running (tail): resolves once it has said it is following. */
function follow(args: string[], env: Record<string, string>): { ready: Promise<void>; done: Promise<Cli> } {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'nudge.js'), ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes('following ')) markReady();
  });
  const done = new Promise<Cli>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void done.then(() => clearTimeout(timer));
  return { ready: Promise.race([ready, done.then((r) => Promise.reject(new Error(`tail exited early (${r.code}): ${r.stderr}`)))]), done };
}

interface Ev {
  type: string;
  user: string;
  product: string;
  minute: number;
  price?: number;
  category?: string;
}

function publish(nats: TestNats, events: Ev[]): Promise<void> {
  for (const e of events) {
    nats.nc.publish(
      `events.${e.type}.${e.user}`,
      JSON.stringify({ eventTime: T0 + e.minute * MIN, eventType: e.type, productId: e.product, categoryId: e.category ?? 'c1', price: e.price ?? 100, userId: e.user, userSession: `${e.user}-s1` }),
    );
  }
  return nats.nc.flush();
}

const json = <T>(r: Cli): T => {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
const ndjson = <T>(r: Cli): T[] => {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
};

describe('one worker: a scripted user through every command', () => {
  let nats: TestNats;
  let dir: string;
  let env: TestEnv;
  let engine: EngineProcess;
  let client: InspectClient;

  before(async () => {
    nats = await startTestNats();
    dir = tempDir('debugcli');
    env = { NATS_URL: nats.url, NUDGE_DATA_DIR: join(dir, 'state'), NUDGE_LIVE_ACTORS: '1', NUDGE_CHECKPOINT_MS: '200', NUDGE_IDLE_TICK_MS: '3600000', NUDGE_WORKER_ID: 'w1', NUDGE_LOG_LEVEL: 'info' };
    engine = spawnEngine(env);
    await engineStarted(engine);
    client = new InspectClient(nats.nc, P);

    await publish(nats, [
      { type: 'view', user: 'alice', product: 'p1', minute: 0, price: 100 },
      { type: 'view', user: 'alice', product: 'p1', minute: 1, price: 120 },
      { type: 'cart', user: 'alice', product: 'p1', minute: 2, price: 120 },
    ]);
    await waitFor('alice carted', async () => (await client.show('alice')).session?.carts === 1 || undefined);
    // bob comes after alice: with one live actor allowed, his first event passivates alice.
    await publish(nats, [
      { type: 'view', user: 'bob', product: 'p9', minute: 0, category: 'c9' },
      { type: 'view', user: 'bob', product: 'p8', minute: 1, category: 'c9' },
      { type: 'view', user: 'bob', product: 'p7', minute: 2, category: 'c9' },
    ]);
    await waitFor('bob\'s coupon', async () => ((await streamCount(nats.nc, Streams.actions)) >= 1 ? true : undefined));
    await waitFor('bob live, alice checkpointed', async () => {
      const a = await client.show('alice');
      return (await client.show('bob')).status === 'live' && a.partitionState.checkpointedSeq === a.partitionState.seq ? true : undefined;
    });
  });

  after(async () => {
    await engine.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('actor show: a passivated actor, inspected twice, stays passivated (human and --json)', async () => {
    const human = await cli(['actor', 'show', 'alice'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /user alice {2}partition 7 \(worker w1\) {2}actor: passivated/);
    assert.match(human.stdout, /machine {3}carting/);
    assert.match(human.stdout, /checkpointed seq \d+/);
    assert.match(human.stdout, /price-sensitive +1 +- +seen 1\/1 +#\d+ view→seen/);
    assert.match(human.stdout, /timer: wakes at 2019-10-01T00:32:00Z/);

    const view = json<{
      status: string;
      machine: { value: string; context: unknown };
      session: { views: number; carts: number; endsAt: number };
      timer: number;
      deadlines: Array<{ at: number; what: string }>;
      patterns: Array<{ patternId: string; runs: Array<{ stage: string; count: number; events: Array<{ seq: number; stage: string }>; deadline: number; next: string }> }>;
      partitionState: { partition: number; seq: number; checkpointedSeq: number; worker: string };
    }>(await cli(['actor', 'show', 'alice', '--json'], env));
    assert.equal(view.status, 'passivated');
    assert.equal(view.machine.value, 'carting');
    assert.deepEqual({ views: view.session.views, carts: view.session.carts }, { views: 2, carts: 1 });
    assert.equal(view.session.endsAt, T0 + 32 * MIN);
    assert.equal(view.timer, T0 + 32 * MIN);
    assert.ok(view.deadlines.some((d) => d.at === T0 + 32 * MIN && /session ends/.test(d.what)));
    assert.equal(view.partitionState.partition, partitionOf('alice', P));
    assert.equal(view.partitionState.worker, 'w1');
    assert.equal(view.partitionState.checkpointedSeq, view.partitionState.seq);
    const ps = view.patterns.find((p) => p.patternId === 'price-sensitive')!;
    assert.equal(ps.runs.length, 2, 'each view opened a run at "seen"; neither went on');
    for (const r of ps.runs) {
      assert.equal(r.stage, 'seen');
      assert.equal(r.events.length, 1);
      assert.equal(r.events[0]!.stage, 'seen');
      assert.match(r.next, /stage "cheaper"/);
    }
    assert.equal(ps.runs[0]!.deadline, T0 + 10 * MIN);

    // Looked at twice (and listed): never activated.
    assert.equal((await client.show('alice')).status, 'passivated');
    const listed = ndjson<{ userId: string; live: boolean; state: string }>(await cli(['actors', 'list', '--json'], env));
    assert.deepEqual(
      listed.map((a) => [a.userId, a.state, a.live]),
      [
        ['alice', 'carting', false],
        ['bob', 'browsing', true],
      ],
    );
    assert.equal((await client.show('alice')).status, 'passivated');
    assert.equal((await client.show('bob')).status, 'live');
  });

  test('an unknown user: exit 3 from show, events, actions and why', async () => {
    for (const args of [['actor', 'show', 'nobody'], ['actor', 'events', 'nobody'], ['actor', 'actions', 'nobody'], ['actor', 'why', 'nobody', 'price-sensitive'], ['actor', 'show', 'nobody', '--json']]) {
      const r = await cli(args, env);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /unknown user nobody/);
      assert.equal(r.stdout, '');
    }
    const bad = await cli(['actor', 'show', 'no.such'], env);
    assert.equal(bad.code, 2, 'a user id must be a subject token');
    const noPattern = await cli(['actor', 'why', 'alice', 'no-such-pattern'], env);
    assert.equal(noPattern.code, 3);
    assert.match(noPattern.stderr, /no pattern "no-such-pattern"/);
  });

  test('actor events: the user\'s events from EVENTS with stream sequences', async () => {
    const stored = (await readStream(nats.nc, Streams.events, `events.*.alice.${partitionOf('alice', P)}`)).map((m) => m.seq);
    assert.equal(stored.length, 3);
    const human = await cli(['actor', 'events', 'alice'], env);
    assert.equal(human.code, 0, human.stderr);
    const lines = human.stdout.trim().split('\n');
    assert.match(lines[0]!, /^SEQ +EVENT TIME +TYPE +PRODUCT/);
    assert.match(lines[1]!, new RegExp(`^${stored[0]} +2019-10-01T00:00:00Z +view +p1 +c1 +100 +alice-s1`));
    assert.match(lines[3]!, new RegExp(`^${stored[2]} +2019-10-01T00:02:00Z +cart +p1`));

    const rows = ndjson<{ seq: number; subject: string; event: { eventType: string; price: number } }>(await cli(['actor', 'events', 'alice', '--json'], env));
    assert.deepEqual(rows.map((r) => r.seq), stored);
    assert.deepEqual(rows.map((r) => [r.event.eventType, r.event.price]), [['view', 100], ['view', 120], ['cart', 120]]);
    const last = ndjson<{ seq: number }>(await cli(['actor', 'events', 'alice', '--json', '--limit', '1'], env));
    assert.deepEqual(last.map((r) => r.seq), [stored[2]]);
  });

  test('actor actions: what ACTIONS holds for the user', async () => {
    const human = await cli(['actor', 'actions', 'bob'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /coupon +repeat-category@1 +repeat-category:1:bob:\d+ +\{"category":"c9"/);
    const rows = ndjson<{ seq: number; type: string; patternId: string; userId: string; match: Record<string, unknown[]> }>(await cli(['actor', 'actions', 'bob', '--json'], env));
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.type, 'coupon');
    assert.equal(rows[0]!.userId, 'bob');
    assert.equal(rows[0]!.match.again!.length, 2);
    // A known user without actions is not an error.
    const none = await cli(['actor', 'actions', 'alice'], env);
    assert.equal(none.code, 0);
    assert.match(none.stderr, /no actions for alice/);
  });

  test('actor why: a pattern that almost fired names the condition that failed, with its values', async () => {
    const human = await cli(['actor', 'why', 'alice', 'price-sensitive'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /pattern v1 from bucket nudge_patterns revision \d+/);
    assert.match(human.stdout, /start: started a partial match at stage "seen"/);
    assert.match(human.stdout, /not taken, still waiting: stage "cheaper" condition event\.price < first\.seen\.price is false \(event\.price = 120, first\.seen\.price = 100\)/);
    assert.match(human.stdout, /verdict: did not fire: the closest partial match \(#\d+\) stopped at stage "seen"/);
    assert.match(human.stdout, /did not continue it: stage "cheaper" condition event\.price < first\.seen\.price is false/);

    const r = json<{
      verdict: { completed: boolean; summary: string; details: string[] };
      steps: Array<{ seq: number; read: boolean; runs: Array<{ outcome: string; failed: Array<{ stage: string; condition: string; failedPart: string; values: Record<string, unknown> }> }>; start: { outcome: string } }>;
      completions: unknown[];
      pattern: { id: string; version: number; source: string };
    }>(await cli(['actor', 'why', 'alice', 'price-sensitive', '--json'], env));
    assert.equal(r.verdict.completed, false);
    assert.equal(r.completions.length, 0);
    assert.equal(r.steps.length, 3);
    assert.equal(r.steps[0]!.start.outcome, 'started');
    const second = r.steps[1]!.runs[0]!;
    assert.equal(second.outcome, 'kept');
    assert.deepEqual(second.failed[0], { stage: 'cheaper', condition: second.failed[0]!.condition, holds: false, failedPart: 'event.price < first.seen.price', values: { 'event.price': 120, 'first.seen.price': 100 } });
    assert.match(r.pattern.source, /^bucket nudge_patterns revision \d+$/);

    // The same question where the pattern did fire: which events, which action, and that it was sent.
    const fired = json<{ verdict: { completed: boolean; summary: string }; completions: Array<{ seq: number; actionId: string; sent: boolean; events: number[] }> }>(
      await cli(['actor', 'why', 'bob', 'repeat-category', '--json'], env),
    );
    assert.equal(fired.verdict.completed, true);
    assert.match(fired.verdict.summary, /^fired once: action coupon/);
    assert.equal(fired.completions.length, 1);
    assert.equal(fired.completions[0]!.sent, true);
    assert.equal(fired.completions[0]!.events.length, 3);
    const firedHuman = await cli(['actor', 'why', 'bob', 'repeat-category'], env);
    assert.match(firedHuman.stdout, /took it as stage "again": the match is complete/);
    assert.match(firedHuman.stdout, /→ completed: action repeat-category:1:bob:\d+ \(in ACTIONS\)/);

    // A pattern whose first stage never held says so.
    const never = await cli(['actor', 'why', 'alice', 'cart-abandonment'], env);
    assert.equal(never.code, 0, never.stderr);
    assert.match(never.stdout, /no event started it — stage "cart" needs eventType == cart && event\.price > 200\.0/);
    assert.match(never.stdout, /event\.price > 200\.0 is false \(event\.price = 120\)/);
  });

  test('actors list: by state and partition', async () => {
    const human = await cli(['actors', 'list'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^USER +PARTITION +STATE +ACTOR/);
    assert.match(human.stdout, /\nalice +7 +carting +passivated +/);
    assert.match(human.stdout, /\nbob +4 +browsing +live +/);
    assert.match(human.stderr, /2 of 2 actor\(s\)/);
    const carting = ndjson<{ userId: string }>(await cli(['actors', 'list', '--state', 'carting', '--json'], env));
    assert.deepEqual(carting.map((a) => a.userId), ['alice']);
    const p4 = ndjson<{ userId: string }>(await cli(['actors', 'list', '--partition', String(partitionOf('bob', P)), '--json'], env));
    assert.deepEqual(p4.map((a) => a.userId), ['bob']);
    const one = ndjson<{ userId: string }>(await cli(['actors', 'list', '--limit', '1', '--json'], env));
    assert.deepEqual(one.map((a) => a.userId), ['alice']);
  });

  test('stats: every partition with its owner, sequences, lag, watermark and actors', async () => {
    const human = await cli(['stats'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^P +OWNER +APPLIED +CHECKPOINT +STREAM LAST +LAG +WATERMARK +BEHIND WALL +LIVE +PASSIVATED +EVENTS\/S +ACTIONS\/S +DLQ/);
    assert.match(human.stdout, /\n7 +w1 +(\d+) +\1 +\1 +0 +2019-10-01T00:01:55Z +\d/);
    assert.match(human.stdout, /worker w1: partitions 0,1,2,3,4,5,6,7/);

    const s = json<{ partitions: Array<{ partition: number; owner: string; seq: number; checkpointedSeq: number; streamLastSeq: number; lag: number; watermark: number; live: number; passivated: number; eventsPerSec: number }>; workers: Array<{ worker: string }>; unowned: number[] }>(
      await cli(['stats', '--json'], env),
    );
    assert.equal(s.partitions.length, P);
    assert.deepEqual(s.unowned, []);
    assert.deepEqual(s.workers.map((w) => w.worker), ['w1']);
    const p7 = s.partitions[7]!;
    assert.equal(p7.owner, 'w1');
    assert.equal(p7.lag, 0);
    assert.equal(p7.seq, p7.streamLastSeq);
    assert.equal(p7.watermark, T0 + 2 * MIN - 5_000);
    assert.deepEqual([p7.live, p7.passivated], [0, 1]);
    assert.deepEqual([s.partitions[4]!.live, s.partitions[4]!.passivated], [1, 0]);
    assert.equal(typeof p7.eventsPerSec, 'number');
  });

  test('tail: actions as they are stored (NDJSON), dead letters with their reason', async () => {
    const actions = follow(['tail', 'actions', 'coupon.*', '--count', '1', '--json'], env);
    await actions.ready;
    await publish(nats, [0, 1, 2].map((m) => ({ type: 'view', user: 'carol', product: `q${m}`, minute: m, category: 'c5' })));
    const got = await actions.done;
    assert.equal(got.code, 0, got.stderr);
    const lines = ndjson<{ seq: number; subject: string; body: { type: string; userId: string } }>(got);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.subject, 'actions.coupon.carol');
    assert.deepEqual([lines[0]!.body.type, lines[0]!.body.userId], ['coupon', 'carol']);

    const dlq = follow(['tail', 'dlq', '--count', '1'], env);
    await dlq.ready;
    nats.nc.publish('events.view.zed', 'this is not json');
    await nats.nc.flush();
    const dead = await dlq.done;
    assert.equal(dead.code, 0, dead.stderr);
    assert.match(dead.stdout, /^#\d+ +\S+ +events\.view\.zed\.\d \(#\d+\) +invalid JSON/);

    const usage = await cli(['tail', 'everything'], env);
    assert.equal(usage.code, 2);
  });

  test('the service is a NATS micro service: $SRV discovery lists its endpoints', async () => {
    const info = (await nats.nc.request('$SRV.INFO.nudge', '', { timeout: 2_000 })).json<{ name: string; metadata: Record<string, string>; endpoints: Array<{ name: string; subject: string }> }>();
    assert.equal(info.name, 'nudge');
    assert.equal(info.metadata.worker, 'w1');
    const subjects = info.endpoints.map((e) => e.subject).sort();
    for (let p = 0; p < P; p++) {
      assert.ok(subjects.includes(`nudge.actor.show.${p}`));
      assert.ok(subjects.includes(`nudge.actors.list.${p}`));
    }
    assert.ok(subjects.includes('nudge.stats'));
    const ping = (await nats.nc.request('$SRV.PING.nudge', '', { timeout: 2_000 })).json<{ type: string }>();
    assert.equal(ping.type, 'io.nats.micro.v1.ping_response');
  });

  test('doctor: all green against a running deployment', async () => {
    const human = await cli(['doctor'], env);
    assert.equal(human.code, 0, human.stdout + human.stderr);
    assert.match(human.stdout, /ok {4}mapping/);
    assert.match(human.stdout, /ok {4}workers +1 worker\(s\) \(w1\) own partitions 0-7/);
    assert.match(human.stdout, /all checks passed/);
    const r = json<{ ok: boolean; checks: Array<{ name: string; status: string }> }>(await cli(['doctor', '--json'], env));
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.checks.map((c) => [c.name, c.status]),
      ['server', 'version', 'jetstream', 'mapping', 'streams', 'patterns bucket', 'consumers', 'workers'].map((n) => [n, 'ok']),
    );
  });
});

describe('two workers, each owning half the partitions', () => {
  let nats: TestNats;
  let dir: string;
  let env: TestEnv;
  let a: EngineProcess;
  let b: EngineProcess;

  before(async () => {
    nats = await startTestNats();
    dir = tempDir('debugcli2');
    env = { NATS_URL: nats.url, NUDGE_CHECKPOINT_MS: '200', NUDGE_IDLE_TICK_MS: '3600000', NUDGE_LOG_LEVEL: 'info' };
    a = spawnEngine({ ...env, NUDGE_DATA_DIR: join(dir, 'a'), NUDGE_OWNED_PARTITIONS: '0-3', NUDGE_WORKER_ID: 'wa' });
    b = spawnEngine({ ...env, NUDGE_DATA_DIR: join(dir, 'b'), NUDGE_OWNED_PARTITIONS: '4-7', NUDGE_WORKER_ID: 'wb' });
    await Promise.all([engineStarted(a), engineStarted(b)]);
  });

  after(async () => {
    await a.stop();
    await b.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a request for a user is answered by the owner of the user\'s partition; stats gathers both', async () => {
    assert.equal(partitionOf('erin', P), 1);
    assert.equal(partitionOf('bob', P), 4);
    await publish(nats, [
      { type: 'view', user: 'erin', product: 'p1', minute: 0 },
      { type: 'view', user: 'bob', product: 'p1', minute: 0 },
    ]);
    const client = new InspectClient(nats.nc, P);
    await waitFor('both users seen', async () => ((await client.show('erin')).status !== 'none' && (await client.show('bob')).status !== 'none') || undefined);
    const erin = json<{ status: string; partitionState: { worker: string } }>(await cli(['actor', 'show', 'erin', '--json'], env));
    const bob = json<{ status: string; partitionState: { worker: string } }>(await cli(['actor', 'show', 'bob', '--json'], env));
    assert.deepEqual([erin.status, erin.partitionState.worker], ['live', 'wa']);
    assert.deepEqual([bob.status, bob.partitionState.worker], ['live', 'wb']);

    const s = json<{ partitions: Array<{ owner: string }>; workers: Array<{ worker: string }> }>(await cli(['stats', '--json'], env));
    assert.deepEqual(s.partitions.map((p) => p.owner), ['wa', 'wa', 'wa', 'wa', 'wb', 'wb', 'wb', 'wb']);
    assert.deepEqual(s.workers.map((w) => w.worker), ['wa', 'wb']);
    const list = ndjson<{ userId: string; partition: number }>(await cli(['actors', 'list', '--json'], env));
    assert.deepEqual(list.map((x) => [x.userId, x.partition]), [['bob', 4], ['erin', 1]]);
    const doctor = await cli(['doctor'], env);
    assert.match(doctor.stdout, /ok {4}workers +2 worker\(s\) \(wa, wb\) own partitions 0-7, one each/);

    // Worker b gone: its users cannot be inspected live, and stats says its partitions have no owner.
    await b.stop();
    const gone = await cli(['actor', 'show', 'bob'], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no worker answers on nudge\.actor\.show\.4/);
    const half = await cli(['stats', '--json'], env);
    assert.equal(half.code, 1);
    assert.deepEqual((JSON.parse(half.stdout) as { unowned: number[] }).unowned, [4, 5, 6, 7]);
    assert.match(half.stderr, /partition\(s\) 4,5,6,7 have no owner/);
    const sick = await cli(['doctor', '--json'], env);
    assert.equal(sick.code, 1);
    const workers = (JSON.parse(sick.stdout) as { checks: Array<{ name: string; status: string; detail: string; fix?: string }> }).checks.find((c) => c.name === 'workers')!;
    assert.equal(workers.status, 'fail');
    assert.match(workers.detail, /partition\(s\) 4,5,6,7 have no owner/);
    assert.match(workers.fix!, /NUDGE_OWNED_PARTITIONS/);
  });
});
