// OutputSink after its per-output cost cuts (pre-encoded header block and body in a shared slab,
// acks read from their bytes): the same messages reach the streams, acks and failures are read
// as JSON.parse read them, and an output that is not stored stays in flight until it is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { headers } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import { jetstreamManager } from '@nats-io/jetstream';
import { OutputSink, msgIdHeaderBlock, parsePubAck } from '../src/runtime/output-sink.js';
import type { Output } from '../src/runtime/partition-processor.js';
import { ensureStreams, Streams, Headers } from '../src/nats/index.js';
import { createLogger } from '../src/log/index.js';
import { startTestNats, readStream, waitFor, type TestNats } from './support/harness.js';
import { prng } from './support/prng.js';

// ------------------------------------------------------------------ pure parts

test('the Msg-Id header block is byte for byte what headers().set(...).encode() gives', () => {
  const te = new TextEncoder();
  for (const id of ['repeat-category:1:510013492:12345', 'session:u-1:7', 'dlq:1', 'x', 'ü-ß-€-😀', 'a b', 'tab\tinside', '0']) {
    const h = headers();
    h.set(Headers.msgId, id);
    const block = msgIdHeaderBlock(id);
    assert.ok(block !== undefined, id);
    assert.deepEqual(te.encode(block), (h as unknown as { encode(): Uint8Array }).encode(), id);
  }
  // nats.js would trim these or refuse them: left to nats.js.
  for (const id of ['', ' lead', 'trail ', 'cr\rx', 'lf\nx', '\u00a0nbsp', 'x\u2028']) assert.equal(msgIdHeaderBlock(id), undefined, JSON.stringify(id));
});

function referenceAck(data: Uint8Array): { failure?: string; duplicate?: boolean } {
  try {
    const ack = JSON.parse(new TextDecoder().decode(data)) as { error?: { description?: string }; duplicate?: boolean };
    if (ack.error) return { failure: ack.error.description ?? 'error' };
    return ack.duplicate ? { duplicate: true } : {};
  } catch {
    return { failure: 'unreadable ack' };
  }
}

test('publish acks: the byte reading agrees with JSON.parse on real, odd and broken acks', () => {
  const te = new TextEncoder();
  const acks = [
    '{"stream":"ACTIONS","seq":1}',
    '{"stream":"ANALYTICS","seq":18446744073709551615}',
    '{"stream":"ACTIONS","seq":12,"duplicate":true}',
    '{"stream":"ACTIONS","seq":12,"duplicate":false}',
    '{"stream":"ACTIONS","seq":12,"domain":"hub"}',
    '{"stream":"ACTIONS","seq":12,"domain":"error","duplicate":true}',
    '{"stream":"error","seq":3}',
    '{"stream":"A\\"B","seq":3}',
    '{"stream":"ACTIONS","seq":}',
    '{"stream":"ACTIONS","seq":-1}',
    '{"stream":"ACTIONS","seq":1}x',
    '{"stream":"ACTIONS","seq":1} ',
    '{"stream":"ACTIONS","seq":1,"duplicate":true}}',
    '{"stream":"ACTIONS","seq":1.5}',
    '{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"ACTIONS","seq":0}',
    '{"error":{"code":400,"description":"expected stream does not match"}}',
    '{"error":{"code":500}}',
    '{"error":null,"stream":"ACTIONS","seq":4}',
    '{"stream":"ACTIONS"',
    '',
    'null',
    '[]',
    '{}',
    '{"stream":"ACTIONS","seq":1,"duplicate":true,"error":{"description":"late"}}',
    '{"stream":"ÄCTIONS","seq":2}',
  ];
  const rnd = prng(3);
  const base = '{"stream":"ACTIONS","seq":12345,"duplicate":true}';
  const alphabet = ['"', '}', '{', ',', ':', '1', 'e', '\\', ' ', ''];
  for (let i = 0; i < 20_000; i++) {
    const chars = [...base];
    chars[Math.floor(rnd() * chars.length)] = alphabet[Math.floor(rnd() * alphabet.length)]!;
    acks.push(chars.join(''));
  }
  for (const a of acks) {
    // As a JsMsg hands it over: a view into a larger buffer.
    const bytes = te.encode(a);
    const framed = new Uint8Array(bytes.length + 8);
    framed.set(bytes, 4);
    const view = framed.subarray(4, 4 + bytes.length);
    const got = parsePubAck(view);
    assert.deepEqual({ failure: got.failure, duplicate: got.duplicate === true }, { failure: referenceAck(bytes).failure, duplicate: referenceAck(bytes).duplicate === true }, a);
  }
});

// ------------------------------------------------------------------ against a server

let nats: TestNats;
const log = createLogger('silent');

before(async () => {
  nats = await startTestNats();
});
after(async () => {
  await nats?.stop();
});

const action = (n: number, extra: Record<string, unknown> = {}): Output => {
  const actionId = `repeat-category:1:u${n}:${n}`;
  return {
    kind: 'action',
    subject: `actions.coupon.u${n}`,
    msgId: actionId,
    body: {
      actionId,
      type: 'coupon',
      patternId: 'repeat-category',
      patternVersion: 1,
      userId: `u${n}`,
      eventTime: 1_572_566_400_000 + n,
      emittedAt: Date.now(),
      match: { views: [{ seq: n, eventTime: 1_572_566_400_000 + n, eventType: 'view', productId: `p${n}`, categoryCode: 'kids.toys', price: 13.63 }] },
      payload: { categoryId: null, categoryCode: 'kids.toys', productIds: [`p${n}`], views: 3, ...extra },
    },
  };
};

test('an output with no stream to take it stays in flight, and is stored once the stream exists', async () => {
  // Before ensureStreams: the publish gets a 503 no-responders status instead of an ack.
  const sink = new OutputSink(nats.nc, log, 1 << 20);
  try {
    sink.send(action(0));
    let flushed = false;
    const done = sink.flush().then(() => (flushed = true));
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(flushed, false, 'flush waits for the ack');
    assert.equal(sink.pending, 1);
    await ensureStreams(await jetstreamManager(nats.nc), { eventsMaxAgeMs: 86_400_000, actionsDedupeMs: 7_200_000 });
    await waitFor('the resend to be acknowledged', () => flushed, 15_000);
    await done;
    assert.equal(sink.pending, 0);
    assert.equal(sink.acked, 1);
    const stored = await readStream(nats.nc, Streams.actions);
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.headers?.get(Headers.msgId), 'repeat-category:1:u0:0');
  } finally {
    sink.close();
  }
});

test('outputs reach their streams with their Msg-Id and exactly JSON.stringify of their body', async () => {
  const outputs: Output[] = [];
  // Enough to fill several slabs, odd characters, and a body too large for a slab share.
  for (let n = 1; n <= 3_000; n++) outputs.push(action(n, n % 7 === 0 ? { note: `ü€😀 "quoted" \\ \n line ${n}` } : {}));
  outputs.push(action(3_001, { big: 'x'.repeat(100_000), wide: 'é'.repeat(30_000) }));
  outputs.push({ kind: 'analytics', subject: 'analytics.sessions', msgId: 'session:u1:1', body: { summaryId: 'session:u1:1', userId: 'u1', converted: false, revenue: 0.1 } });
  const longReason = `bad\r\nline ${'r'.repeat(2_000)}`;
  outputs.push({ kind: 'dlq', subject: 'dlq.events', msgId: 'dlq:9', data: new TextEncoder().encode('{"x":'.padEnd(5_000, ' ')), reason: longReason, sourceSubject: 'events.view.u1.3', sourceSeq: 9 });

  const sink = new OutputSink(nats.nc, log, 4_096);
  try {
    for (const o of outputs) sink.send(o);
    await sink.flush();
    assert.equal(sink.pending, 0);
    assert.equal(sink.acked, outputs.length);
    assert.equal(sink.duplicates, 0);
  } finally {
    sink.close();
  }

  const byId = new Map<string, JsMsg>();
  for (const stream of [Streams.actions, Streams.analytics, Streams.dlq]) for (const m of await readStream(nats.nc, stream)) byId.set(m.headers!.get(Headers.msgId), m);
  for (const o of outputs) {
    const m = byId.get(o.msgId);
    assert.ok(m, `stored: ${o.msgId}`);
    assert.equal(m.subject, o.subject);
    if (o.kind === 'dlq') {
      assert.equal(m.headers!.get(Headers.reason), longReason.replace(/[\r\n]+/g, ' ').slice(0, 1_000));
      assert.equal(m.headers!.get(Headers.sourceSubject), o.sourceSubject);
      assert.equal(m.headers!.get(Headers.sourceSeq), '9');
      assert.equal(m.headers!.get('Nudge-Truncated'), '5000');
      assert.deepEqual(Buffer.from(m.data), Buffer.from(o.data.subarray(0, 4_096)));
    } else {
      assert.deepEqual(Buffer.from(m.data), Buffer.from(JSON.stringify(o.body)), o.msgId);
      assert.deepEqual([...m.headers!.keys()], [Headers.msgId]);
    }
  }

  // The same Msg-Ids again: JetStream drops them, and the sink counts the duplicates.
  const again = new OutputSink(nats.nc, log, 4_096);
  try {
    for (const o of outputs.slice(0, 500)) again.send(o);
    await again.flush();
    assert.equal(again.acked, 500);
    assert.equal(again.duplicates, 500);
  } finally {
    again.close();
  }
});
