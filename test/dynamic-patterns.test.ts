import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { startTestNats, tempDir, spawnEngine, engineStarted, waitFor, readStream, streamCount, runCli, type TestNats, type EngineProcess } from './support/harness.js';
import { PROJECT_ROOT, Streams } from '../src/nats/index.js';

// Patterns in the nudge_patterns bucket, changed while a real engine process runs against a real
// nats-server: puts, rejections, shadow mode, a crash between rule changes, the Flink import, and
// a type cap across a crash.

const T0 = Date.parse('2019-10-01T00:00:00Z');
const MIN = 60_000;
const quiet = { NUDGE_LOG_LEVEL: 'info', NUDGE_IDLE_TICK_MS: '3600000', NUDGE_CHECKPOINT_MS: '200' };

function views(n: number, version: number, extra: Record<string, unknown> = {}) {
  return {
    id: 'hot-view',
    version,
    key: 'product',
    within: '30m',
    skip: 'skipPastLastEvent',
    stages: [{ name: 'v', eventType: 'view', times: n }],
    action: { type: 'hot_view', payload: { productId: '${first.v.productId}', views: n } },
    ...extra,
  };
}

const cli = runCli;

interface Setup {
  nats: TestNats;
  dir: string;
  env: Record<string, string> & { NATS_URL: string };
  file(name: string, doc: unknown): string;
  engine(extra?: Record<string, string>): Promise<EngineProcess>;
  send(events: Array<{ type: string; user: string; product: string; t: number; price?: number }>): Promise<void>;
  /** Waits until `n` pattern markers (one per partition per change) are in EVENTS. */
  markers(n: number): Promise<void>;
  actions(filter?: string): Promise<Array<Record<string, unknown> & { subject: string }>>;
  done(): Promise<void>;
}

async function setup(seed: unknown[]): Promise<Setup> {
  const nats = await startTestNats();
  const dir = tempDir('dynpat');
  const seedDir = join(dir, 'seed');
  mkdirSync(seedDir);
  for (const doc of seed) writeFileSync(join(seedDir, `${(doc as { id: string }).id}.json`), JSON.stringify(doc));
  const env = { NATS_URL: nats.url, NUDGE_DATA_DIR: join(dir, 'state'), NUDGE_PATTERNS_DIR: seedDir, ...quiet };
  const engines: EngineProcess[] = [];
  return {
    nats,
    dir,
    env,
    file(name, doc) {
      const f = join(dir, name);
      writeFileSync(f, JSON.stringify(doc));
      return f;
    },
    async engine(extra = {}) {
      const e = spawnEngine({ ...env, ...extra });
      engines.push(e);
      await engineStarted(e, 20_000, extra.NUDGE_FAULT_KILL_AFTER_OUTPUTS !== undefined);
      return e;
    },
    async send(events) {
      for (const e of events) {
        nats.nc.publish(`events.${e.type}.${e.user}`, JSON.stringify({ eventTime: T0 + e.t, eventType: e.type, productId: e.product, price: e.price ?? 10, userId: e.user, userSession: `${e.user}-s` }));
      }
      await nats.nc.flush();
    },
    async markers(n) {
      await waitFor(`${n} pattern markers`, async () => (await readStream(nats.nc, Streams.events, 'events._patterns.*.*')).length >= n || undefined, 15_000);
    },
    async actions(filter) {
      if ((await streamCount(nats.nc, Streams.actions)) === 0) return [];
      return (await readStream(nats.nc, Streams.actions, filter)).map((m) => ({ ...m.json<Record<string, unknown>>(), subject: m.subject }));
    },
    async done() {
      for (const e of engines) await e.kill();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const viewsOf = (user: string, product: string, times: number[]) => times.map((t) => ({ type: 'view', user, product, t }));

test('put v1, see its actions; put v2 while running: the next events follow v2; history shows both', async () => {
  const s = await setup([views(2, 1)]);
  try {
    const engine = await s.engine();
    await s.send(viewsOf('u1', 'p1', [0, MIN]));
    const first = await waitFor('a v1 action', async () => ((await s.actions()).length >= 1 ? s.actions() : undefined));
    assert.equal(first.length, 1);
    assert.equal(first[0]!.patternVersion, 1);

    const put = await cli(['patterns', 'put', s.file('v2.json', views(3, 2)), '--json'], s.env);
    assert.equal(put.code, 0, put.stderr);
    const { revision } = JSON.parse(put.stdout) as { revision: number };
    await s.markers(8);
    assert.match(engine.stderr(), /"msg":"pattern change"/);

    await s.send(viewsOf('u2', 'p2', [2 * MIN, 3 * MIN]));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await s.actions()).length, 1, 'two views no longer fire under v2');
    await s.send(viewsOf('u2', 'p2', [4 * MIN]));
    const after = await waitFor('a v2 action', async () => ((await s.actions()).length >= 2 ? s.actions() : undefined));
    assert.deepEqual(
      after.map((a) => [a.userId, a.patternVersion]),
      [
        ['u1', 1],
        ['u2', 2],
      ],
    );

    const history = await cli(['patterns', 'history', 'hot-view', '--json'], s.env);
    assert.equal(history.code, 0, history.stderr);
    const revs = history.stdout.trim().split('\n').map((l) => JSON.parse(l) as { revision: number; version: number; status: string });
    assert.deepEqual(revs.map((r) => [r.version, r.status]), [
      [1, 'valid'],
      [2, 'valid'],
    ]);
    assert.equal(revs[1]!.revision, revision);

    const sameVersion = await cli(['patterns', 'put', s.file('v2b.json', views(4, 2))], s.env);
    assert.equal(sameVersion.code, 1, 'a changed rule under the same version is refused');
    assert.match(sameVersion.stderr, /needs a higher version/);
    const disabled = await cli(['patterns', 'disable', 'hot-view'], s.env);
    assert.equal(disabled.code, 0, disabled.stderr);

    const show = await cli(['patterns', 'show', 'hot-view', '--json'], s.env);
    assert.deepEqual(
      (({ version, enabled }) => ({ version, enabled }))(JSON.parse(show.stdout) as { version: number; enabled: boolean }),
      { version: 2, enabled: false },
    );
    assert.equal((await cli(['patterns', 'show', 'nope'], s.env)).code, 3);
  } finally {
    await s.done();
  }
});

test('an invalid pattern is refused by put; one written by another client is rejected by the engine and v1 stays in force', async () => {
  const s = await setup([views(2, 1)]);
  try {
    const engine = await s.engine();
    const bad = { ...views(2, 2), stages: [{ name: 'v', eventType: 'view', times: 2, where: 'event.nope == 1' }] };
    const put = await cli(['patterns', 'put', s.file('bad.json', bad)], s.env);
    assert.equal(put.code, 1);
    assert.match(put.stderr, /stages\.0\.where/);

    // Straight into KV, as any other client could.
    const kv = await new Kvm(s.nats.nc).open('nudge_patterns');
    const v1Revision = (await kv.get('hot-view'))!.revision;
    await kv.put('hot-view', JSON.stringify(bad));
    await waitFor('the rejection in the engine log', () => /"msg":"pattern rejected; revision \d+ stays in force"/.test(engine.stderr()) || undefined);
    assert.match(engine.stderr(), /event\.nope|nope/);

    await s.send(viewsOf('u1', 'p1', [0, MIN]));
    const acts = await waitFor('a v1 action', async () => ((await s.actions()).length >= 1 ? s.actions() : undefined));
    assert.equal(acts[0]!.patternVersion, 1);

    const list = await cli(['patterns', 'list', '--json'], s.env);
    const row = JSON.parse(list.stdout.trim()) as { id: string; status: string; reason: string; inForceRevision: number };
    assert.equal(row.status, 'rejected');
    assert.equal(row.inForceRevision, v1Revision);
    assert.match(row.reason, /nope/);
    assert.equal(engine.child.exitCode, null, 'the engine keeps running');
  } finally {
    await s.done();
  }
});

test('shadow beside live on the same events: live actions on actions.<type>.<user>, shadow ones on actions.shadow.<type>.<user>', async () => {
  const s = await setup([views(2, 1)]);
  try {
    await s.engine();
    const shadow = { ...views(3, 1), id: 'hot-view-next', mode: 'shadow' };
    assert.equal((await cli(['patterns', 'put', s.file('shadow.json', shadow)], s.env)).code, 0);
    await s.markers(8);
    await s.send(viewsOf('u1', 'p1', [0, MIN, 2 * MIN, 3 * MIN, 4 * MIN, 5 * MIN]));
    const acts = await waitFor('live and shadow actions', async () => {
      const a = await s.actions();
      return a.length >= 5 ? a : undefined;
    });
    const live = acts.filter((a) => a.subject === 'actions.hot_view.u1');
    const sh = acts.filter((a) => a.subject === 'actions.shadow.hot_view.u1');
    assert.equal(live.length, 3, 'v1: every 2 views');
    assert.equal(sh.length, 2, 'the shadow rule: every 3 views');
    assert.ok(sh.every((a) => a.patternId === 'hot-view-next'));
    assert.equal(acts.length, 5);
  } finally {
    await s.done();
  }
});

/** One scripted run: three batches with two rule changes between them; optionally a SIGKILL after the first change. */
async function scripted(kill: boolean): Promise<Map<string, unknown>> {
  const s = await setup([views(2, 1)]);
  try {
    // The engine that dies never checkpoints after its first (pattern revision 1): its restart
    // must replay the first change from the stream with revision 1's patterns out of LMDB.
    let engine = await s.engine(kill ? { NUDGE_CHECKPOINT_MS: '600000' } : {});
    await s.send(viewsOf('u1', 'p1', [0, MIN, 2 * MIN]).concat(viewsOf('u2', 'p2', [0])));
    await cli(['patterns', 'put', s.file('v2.json', views(3, 2))], s.env);
    await s.markers(8);
    await s.send(viewsOf('u2', 'p2', [3 * MIN, 4 * MIN, 5 * MIN]).concat(viewsOf('u3', 'p3', [4 * MIN, 5 * MIN])));
    if (kill) {
      await new Promise((r) => setTimeout(r, 300));
      await engine.kill();
      engine = await s.engine();
    }
    await cli(['patterns', 'put', s.file('v3.json', views(2, 3))], s.env);
    await s.markers(16);
    await s.send(viewsOf('u3', 'p3', [6 * MIN, 7 * MIN]).concat(viewsOf('u4', 'p4', [6 * MIN, 7 * MIN])));
    // u1 under v1; u2 under v2 (three views after the switch: its v1 run was dropped); u3's two
    // views under v2 were dropped at v3, which then needs two more; u4 under v3.
    const expected = 4;
    const acts = await waitFor('all actions', async () => {
      const a = await s.actions();
      return a.length >= expected ? a : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    const all = await s.actions();
    const ids = new Set(all.map((a) => a.actionId));
    assert.equal(ids.size, all.length, 'no action twice in the stream');
    // A restart adds its own messages to EVENTS (the partition-mapping probe), so stream sequences
    // — and the action ids built from them — differ between the two runs; what the actions say
    // must not.
    const byId = new Map<string, unknown>();
    for (const a of all) {
      const { emittedAt: _e, actionId: _i, match, ...rest } = a;
      const events = Object.values(match as Record<string, Array<Record<string, unknown>>>).flat().map(({ seq: _s, ...e }) => e);
      byId.set(`${a.patternId}@${a.patternVersion}:${a.userId}:${events.map((e) => e.eventTime).join(',')}`, { ...rest, events });
    }
    assert.ok(acts.length >= expected);
    return byId;
  } finally {
    await s.done();
  }
}

test('a kill between two rule changes, then a restart, gives exactly the actions of an uninterrupted run', async () => {
  const reference = await scripted(false);
  const crashed = await scripted(true);
  assert.deepEqual([...crashed.keys()].sort(), [...reference.keys()].sort());
  for (const [id, body] of reference) assert.deepEqual(crashed.get(id), body, id);
  assert.deepEqual(
    [...reference.values()].map((a) => (a as { userId: string; patternVersion: number }).userId + '@' + (a as { patternVersion: number }).patternVersion).sort(),
    ['u1@1', 'u2@2', 'u3@3', 'u4@3'],
  );
});

test('Flink dynamic-CEP import: the quick-start rule put while running, then its v2 with a 15-minute window', async () => {
  const s = await setup([views(2, 1)]);
  try {
    await s.engine();
    const map = ['--field', 'action=eventType', '--value', 'action:0=view', '--value', 'action:1=cart', '--value', 'action:2=purchase'];
    const v1 = await cli(['patterns', 'import', '--from', 'flink', join(PROJECT_ROOT, 'test/fixtures/flink/quickstart-v1.json'), '--id', 'flink-qs', ...map, '--put'], s.env);
    assert.equal(v1.code, 0, v1.stderr);
    assert.equal((JSON.parse(v1.stdout) as { id: string }).id, 'flink-qs');
    await s.markers(8);
    // Three views then a purchase (action != 1): a match, whatever the gaps.
    await s.send([...viewsOf('f1', 'a', [0, 20 * MIN, 40 * MIN]).map((e, i) => ({ ...e, product: `a${i}` })), { type: 'purchase', user: 'f1', product: 'z', t: 41 * MIN }]);
    await waitFor('a flink-qs v1 action', async () => (await s.actions()).some((a) => a.patternId === 'flink-qs') || undefined);

    const v2 = await cli(['patterns', 'import', '--from', 'flink', join(PROJECT_ROOT, 'test/fixtures/flink/quickstart-v2.json'), '--id', 'flink-qs', '--version', '2', ...map, '--put'], s.env);
    assert.equal(v2.code, 0, v2.stderr);
    await s.markers(16);
    // Gaps of 20 minutes between the views: over v2's 15-minute window, no match.
    await s.send([...viewsOf('f2', 'b', [50 * MIN, 70 * MIN, 90 * MIN]).map((e, i) => ({ ...e, product: `b${i}` })), { type: 'purchase', user: 'f2', product: 'z', t: 91 * MIN }]);
    // Gaps of 5 minutes: a match.
    await s.send([...viewsOf('f3', 'c', [100 * MIN, 105 * MIN, 110 * MIN]).map((e, i) => ({ ...e, product: `c${i}` })), { type: 'purchase', user: 'f3', product: 'z', t: 111 * MIN }]);
    const acts = await waitFor('the f3 match', async () => {
      const a = (await s.actions()).filter((x) => x.patternId === 'flink-qs');
      return a.some((x) => x.userId === 'f3') ? a : undefined;
    });
    assert.deepEqual(acts.map((a) => [a.userId, a.patternVersion]), [
      ['f1', 1],
      ['f3', 2],
    ]);

    const bad = await cli(['patterns', 'import', '--from', 'flink', s.file('class.json', { name: 'x', type: 'COMPOSITE', nodes: [{ name: 'x', type: 'ATOMIC', condition: { type: 'CLASS', className: 'com.acme.Cond' }, quantifier: { consumingStrategy: 'SKIP_TILL_NEXT', properties: ['SINGLE'] } }], edges: [] })], s.env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /CLASS condition com\.acme\.Cond/);
  } finally {
    await s.done();
  }
});

test('a type cap (one coupon per user per 24 h of event time) holds across a crash right after the first coupon', async () => {
  const capped = { ...views(2, 1), action: { type: 'hot_view', payload: {}, typeCap: { max: 1, within: '24h' } } };
  const s = await setup([capped]);
  try {
    // Killed right after the first action is acknowledged, before any checkpoint can cover it.
    const dying = await s.engine({ NUDGE_FAULT_KILL_AFTER_OUTPUTS: '1', NUDGE_CHECKPOINT_MS: '60000' });
    await s.send(viewsOf('u1', 'p1', [0, MIN]).concat(viewsOf('u1', 'p2', [2 * MIN, 3 * MIN])));
    await dying.exited;
    await s.engine();
    await s.send(viewsOf('u1', 'p3', [4 * MIN, 5 * MIN]).concat(viewsOf('u1', 'p4', [25 * 60 * MIN, 25 * 60 * MIN + MIN])));
    const acts = await waitFor('the coupon after the window', async () => {
      const a = await s.actions();
      return a.length >= 2 ? a : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    const all = await s.actions();
    assert.equal(all.length, 2, 'one in the first 24 h, one after');
    assert.deepEqual(all.map((a) => (a.match as { v: Array<{ productId: string }> }).v[0]!.productId), ['p1', 'p4']);
    assert.equal(acts[0]!.actionId, all[0]!.actionId);
  } finally {
    await s.done();
  }
});
