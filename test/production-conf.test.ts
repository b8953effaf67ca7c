import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startEmbeddedServer, natsTarget, partitionOf, PROJECT_ROOT, Streams, Headers, type EmbeddedServer } from '../src/nats/index.js';
import type { Action } from '../src/actions/index.js';
import { tempDir, readStream, waitFor, spawnEngine, engineStarted, runCli, type EngineProcess } from './support/harness.js';

// nats.production.conf as an operator runs it: the engine as its `nudge` user (credentials in
// NATS_URL), shops as `shop`, downstream services as `reader`. The engine must be able to do all
// it does (streams, consumers, outputs, ticks, pattern markers, the inspection service); a shop
// must not be able to write the engine's internal event types or a stored partition subject.

let dir: string;
let server: EmbeddedServer;
let engine: EngineProcess;
let shop: NatsConnection;
let reader: NatsConnection;
let engineUrl: string;

const T0 = Date.UTC(2019, 9, 1, 10, 0, 0);
const view = (userId: string, minute: number) => ({ eventTime: T0 + minute * 60_000, eventType: 'view', productId: `p${minute}`, categoryId: 'c-7', price: 10, userId });
const withCredentials = (url: string, user: string, pass: string) => url.replace('nats://', `nats://${user}:${pass}@`);

before(async () => {
  dir = tempDir('prodconf');
  server = await startEmbeddedServer({ dir: join(dir, 'nats'), configFile: join(PROJECT_ROOT, 'nats.production.conf') });
  engineUrl = withCredentials(server.url, 'nudge', 'change-me-engine');
  engine = spawnEngine({ NATS_URL: engineUrl, NUDGE_DATA_DIR: join(dir, 'state'), NUDGE_WORKER_ID: 'wprod', NUDGE_CHECKPOINT_MS: '100', NUDGE_IDLE_TICK_MS: '200' });
  await engineStarted(engine);
  shop = await connect({ servers: server.url, user: 'shop', pass: 'change-me-shop' });
  reader = await connect({ servers: server.url, user: 'reader', pass: 'change-me-reader' });
});

after(async () => {
  await engine.stop();
  await shop.close();
  await reader.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('NATS_URL credentials are split off the URL and never shown', () => {
  const t = natsTarget('nats://nudge:s%40cret@10.0.0.5:7422');
  assert.equal(t.servers, 'nats://10.0.0.5:7422');
  assert.equal(t.user, 'nudge');
  assert.equal(t.pass, 's@cret');
  assert.equal(t.display, 'nats://nudge:***@10.0.0.5:7422');
  assert.deepEqual(natsTarget('nats://127.0.0.1:7422'), { servers: 'nats://127.0.0.1:7422', display: 'nats://127.0.0.1:7422' });
});

test('a shop publishes events, the engine (as its own user) acts on them, a reader reads the action', async () => {
  for (const m of [0, 4, 8]) shop.publish('events.view.ann', JSON.stringify(view('ann', m)));
  await shop.flush();
  const actions = await waitFor('a coupon for ann', async () => {
    const msgs = await readStream(reader, Streams.actions, 'actions.coupon.ann');
    return msgs.length ? msgs : undefined;
  });
  assert.equal(actions.length, 1);
  assert.equal(actions[0]!.json<Action>().patternId, 'repeat-category');
});

test('the inspection service answers through the engine user', async () => {
  const r = await runCli(['stats', '--json'], { NATS_URL: engineUrl });
  assert.equal(r.code, 0, r.stderr);
  const stats = JSON.parse(r.stdout) as { workers: Array<{ worker: string }> };
  assert.ok(JSON.stringify(stats).includes('wprod'), r.stdout);
});

test("a shop cannot write the engine's internal types; a stored subject of the wrong partition is dead-lettered", async () => {
  const errors: string[] = [];
  void (async () => {
    for await (const s of shop.status()) if (s.type === 'error') errors.push(String((s as { error?: unknown }).error ?? s.type));
  })();
  shop.publish('events._tick.x', JSON.stringify({ eventTime: T0 + 10 * 86_400_000 }));
  shop.publish('events._patterns.x', JSON.stringify({ revision: 99, patterns: [] }));
  const wrong = (partitionOf('ann', 8) + 1) % 8;
  shop.publish(`events.view.ann.${wrong}`, JSON.stringify(view('ann', 20)));
  shop.publish('events.view.bea', JSON.stringify(view('bea', 1)));
  await shop.flush();
  const engineConn = await connect(natsTarget(engineUrl) as { servers: string; user: string; pass: string });
  try {
    // The allowed one lands; the three refused ones never reach the stream.
    await waitFor('bea stored', async () => (await readStream(engineConn, Streams.events)).some((m) => m.subject.startsWith('events.view.bea.')) || undefined);
    const stored = await readStream(engineConn, Streams.events);
    const subjects = stored.map((m) => m.subject);
    assert.ok(subjects.some((s) => s.startsWith('events.view.bea.')), `bea's view is stored: ${subjects.join(' ')}`);
    assert.ok(!subjects.some((s) => s.startsWith('events._tick.x.')), 'a spoofed tick is refused');
    assert.ok(!subjects.some((s) => s.startsWith('events._patterns.x.')), 'a spoofed pattern marker is refused');
    const dead = await waitFor('the wrong-partition event in the DLQ', async () => {
      const msgs = await readStream(engineConn, Streams.dlq);
      return msgs.find((m) => m.headers?.get(Headers.sourceSubject) === `events.view.ann.${wrong}`);
    });
    assert.match(dead.headers!.get(Headers.reason), /wrong partition/);
    // And the engine's own markers and ticks are allowed: it wrote its ticks while idle.
    await waitFor('an engine tick', async () => (await readStream(engineConn, Streams.events)).some((m) => m.subject.startsWith('events._tick.wprod.')) || undefined, 10_000);
  } finally {
    await engineConn.close();
  }
  assert.ok(errors.some((e) => /permissions violation/i.test(e)), `the shop's connection reports the refusals: ${errors.join('; ')}`);
});
