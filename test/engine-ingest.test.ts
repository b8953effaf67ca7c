import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { headers } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/index.js';
import { Engine } from '../src/runtime/index.js';
import { Streams, Headers } from '../src/nats/index.js';
import type { Action } from '../src/actions/index.js';
import { startTestNats, tempDir, readStream, waitFor, type TestNats } from './support/harness.js';

let nats: TestNats;
let engine: Engine;
let dataDir: string;

const T0 = Date.UTC(2019, 9, 1, 10, 0, 0);
const view = (userId: string, minute: number, categoryId = 'c-42', extra: Record<string, unknown> = {}) => ({
  eventTime: T0 + minute * 60_000,
  eventType: 'view',
  productId: `p${minute}`,
  categoryId,
  categoryCode: 'electronics.smartphone',
  price: 100,
  userId,
  ...extra,
});

before(async () => {
  nats = await startTestNats();
  dataDir = tempDir('lmdb');
  engine = await Engine.start(loadConfig({ natsUrl: nats.url, dataDir, checkpointIntervalMs: 50, idleTickMs: 100, workerId: 'wtest', logLevel: 'silent' }), createLogger('silent'));
});

after(async () => {
  await engine.stop();
  await nats.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('three views of one category within 30 minutes publish one coupon with a deterministic Msg-Id', async () => {
  const js = jetstream(nats.nc);
  const acks = [];
  for (const m of [0, 5, 9]) acks.push(await js.publish(`events.view.alice`, JSON.stringify(view('alice', m))));
  const actions = await waitFor('a coupon', async () => {
    const msgs = await readStream(nats.nc, Streams.actions, 'actions.coupon.alice');
    return msgs.length >= 1 ? msgs : undefined;
  });
  assert.equal(actions.length, 1);
  const a = actions[0]!.json<Action>();
  assert.equal(a.type, 'coupon');
  assert.equal(a.patternId, 'repeat-category');
  assert.equal(a.userId, 'alice');
  assert.equal(a.eventTime, T0 + 9 * 60_000);
  assert.equal(a.actionId, `repeat-category:1:alice:${acks[2]!.seq}`);
  assert.equal(actions[0]!.headers?.get(Headers.msgId), a.actionId);
  assert.deepEqual([...a.match.view!, ...a.match.again!].map((v) => v.seq), acks.map((x) => x.seq));
  assert.equal(a.payload.category, 'c-42');
});

test('a fourth view inside the same 30 minutes does not send a second coupon', async () => {
  const js = jetstream(nats.nc);
  for (const m of [0, 1, 2, 3]) await js.publish(`events.view.bob`, JSON.stringify(view('bob', m)));
  await js.publish(`events.view.bob`, JSON.stringify(view('bob', 4, 'other')));
  await waitFor('bob processed', () => engine.totals().events >= 8);
  await engine.checkpoint();
  const msgs = await readStream(nats.nc, Streams.actions, 'actions.coupon.bob');
  assert.equal(msgs.length, 1);
});

const bad: Array<[string, string | Uint8Array, RegExp]> = [
  ['malformed JSON', '{"eventType": "view", ', /invalid JSON/],
  ['wrong types', JSON.stringify({ ...view('carol', 1), price: 'cheap' }), /price/],
  ['unknown fields', JSON.stringify({ ...view('carol', 1), coupon: 'FREE' }), /unknown field\(s\) coupon/],
  ['1 MB payload', JSON.stringify({ ...view('carol', 1), brand: 'x'.repeat(1024 * 1024) }), /payload too large/],
  ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), /UTF-8/],
  ['subject/body mismatch', JSON.stringify(view('mallory', 1)), /mismatch/],
  ['unreadable eventTime', JSON.stringify({ ...view('carol', 1), eventTime: 'yesterday' }), /eventTime/],
];

test('bad input goes to dlq.events with its reason and the worker keeps going', async () => {
  const js = jetstream(nats.nc);
  const dlqBefore = (await readStream(nats.nc, Streams.dlq)).length;
  const seqs = new Map<number, RegExp>();
  for (const [, body, reason] of bad) {
    const ack = await js.publish('events.view.carol', body);
    seqs.set(ack.seq, reason);
  }
  // The worker is still alive: a good user after the garbage still gets a coupon.
  for (const m of [0, 1, 2]) await js.publish('events.view.dave', JSON.stringify(view('dave', m)));
  await waitFor('dave coupon', async () => (await readStream(nats.nc, Streams.actions, 'actions.coupon.dave')).length === 1);
  const dlq = await waitFor('dead letters', async () => {
    const msgs = await readStream(nats.nc, Streams.dlq);
    return msgs.length - dlqBefore >= bad.length ? msgs : undefined;
  });
  for (const [seq, reason] of seqs) {
    const m = dlq.find((d) => d.headers?.get(Headers.sourceSeq) === String(seq));
    assert.ok(m, `seq ${seq} is in the DLQ`);
    assert.match(m.headers!.get(Headers.reason), reason);
    assert.equal(m.headers!.get(Headers.sourceSubject).startsWith('events.view.carol.'), true);
  }
  const small = dlq.find((d) => d.headers?.get(Headers.reason).startsWith('invalid JSON'));
  assert.equal(Buffer.from(small!.data).toString(), '{"eventType": "view", ', 'original bytes are kept');
  assert.equal(engine.totals().dlq >= bad.length, true);
});

test('a message published straight to another partition is refused, not misordered', async () => {
  const js = jetstream(nats.nc);
  const { partitionOf } = await import('../src/nats/index.js');
  const wrong = (partitionOf('erin', 8) + 1) % 8;
  const ack = await js.publish(`events.view.erin.${wrong}`, JSON.stringify(view('erin', 1)));
  const m = await waitFor('dead letter', async () => (await readStream(nats.nc, Streams.dlq)).find((d) => d.headers?.get(Headers.sourceSeq) === String(ack.seq)));
  assert.match(m.headers!.get(Headers.reason), /wrong partition/);
});

test('an idle partition still closes sessions: the engine writes watermark ticks into the stream', async () => {
  // Sessions close 30 event-time minutes after the last event; push one partition's event time on
  // with a tick (as a quiet partition would get from the engine) and the summary appears.
  const js = jetstream(nats.nc);
  await js.publish('events.cart.frank', JSON.stringify({ ...view('frank', 0), eventType: 'cart' }));
  const { partitionOf } = await import('../src/nats/index.js');
  const p = partitionOf('frank', 8);
  // The engine notices the quiet partition with a pending timer and writes its own tick, a little past the cart.
  const tick = await waitFor('an engine tick', async () =>
    (await readStream(nats.nc, Streams.events, `events._tick.wtest.${p}`)).map((m) => m.json<{ eventTime: number }>()).find((t) => t.eventTime > T0),
  );
  assert.ok(tick.eventTime < T0 + 60_000, 'idle ticks advance event time by wall time, not by jumps');
  await js.publish(`events._tick.test.${p}`, JSON.stringify({ eventTime: T0 + 40 * 60_000 }), { headers: headers() });
  const summary = await waitFor('frank session summary', async () =>
    (await readStream(nats.nc, Streams.analytics, 'analytics.sessions')).map((m) => m.json<{ userId: string; carts: number; converted: boolean }>()).find((s) => s.userId === 'frank'),
  );
  assert.equal(summary.carts, 1);
  assert.equal(summary.converted, false);
});
