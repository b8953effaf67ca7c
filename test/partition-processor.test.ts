import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPatternDir, PatternSet } from '../src/cep/index.js';
import { PartitionProcessor, type InputMessage, type Output, type ProcessorOptions } from '../src/runtime/partition-processor.js';
import { ActorHost, type SnapshotSource } from '../src/runtime/actor-host.js';
import { partitionOf } from '../src/nats/subjects.js';
import { SESSION_GAP_MS } from '../actors/index.js';
import type { Action } from '../src/actions/index.js';

const PARTITIONS = 8;
const P = 3;
const MAX_OOO = 5000;
const T0 = Date.UTC(2019, 9, 1, 8, 0, 0);
const MIN = 60_000;

/** The first n user ids u<i> that live on partition `p`. */
function usersOn(p: number, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (partitionOf(`u${i}`, PARTITIONS) === p) out.push(`u${i}`);
  return out;
}
const [A, B, C, D, E] = usersOn(P, 5) as [string, string, string, string, string];
const STRANGER = usersOn((P + 1) % PARTITIONS, 1)[0]!;

const noStore: SnapshotSource = { loadActor: () => undefined };
// These cases are about sessions, timers and the coupon: of the shipped patterns only
// repeat-category runs here (a week-long churn watch would keep every viewer's actor alive).
const PATTERNS = new PatternSet(loadPatternDir(new URL('../patterns', import.meta.url).pathname).set.patterns.filter((p) => p.id === 'repeat-category'));

interface EventBody {
  eventTime: number | string;
  eventType: string;
  productId: string;
  categoryId?: string;
  categoryCode?: string;
  price: number;
  userId: string;
  userSession?: string;
}

class Harness {
  readonly host: ActorHost;
  readonly proc: PartitionProcessor;
  readonly outputs: Output[] = [];
  seq = 0;

  constructor(over: Partial<ProcessorOptions> = {}, liveCap = 1000, store: SnapshotSource = noStore) {
    this.host = new ActorHost(store, liveCap, PATTERNS);
    this.proc = new PartitionProcessor(
      { partition: P, partitions: PARTITIONS, maxOutOfOrderMs: MAX_OOO, latePolicy: 'process', maxEventBytes: 16384, now: () => 0, ...over },
      this.host,
    );
  }

  /** Processes one message and returns the outputs it produced. */
  send(msg: InputMessage): Output[] {
    const out: Output[] = [];
    this.proc.process(msg, out);
    this.outputs.push(...out);
    return out;
  }

  raw(subject: string, data: Uint8Array | string, seq = ++this.seq): Output[] {
    this.seq = Math.max(this.seq, seq);
    return this.send({ seq, subject, data: typeof data === 'string' ? Buffer.from(data) : data });
  }

  event(userId: string, eventTime: number | string, over: Partial<EventBody> = {}): Output[] {
    const body: EventBody = { eventTime, eventType: 'view', productId: `p${this.seq + 1}`, categoryId: 'c1', price: 10, userId, ...over };
    return this.raw(`events.${body.eventType}.${userId}.${partitionOf(userId, PARTITIONS)}`, JSON.stringify(body));
  }

  tick(eventTime: number): Output[] {
    return this.raw(`events._tick.x.${P}`, JSON.stringify({ eventTime }));
  }
}

const actions = (outs: Output[]) => outs.filter((o): o is Extract<Output, { kind: 'action' }> => o.kind === 'action');
const analytics = (outs: Output[]) => outs.filter((o): o is Extract<Output, { kind: 'analytics' }> => o.kind === 'analytics');
const dlqs = (outs: Output[]) => outs.filter((o): o is Extract<Output, { kind: 'dlq' }> => o.kind === 'dlq');

describe('PartitionProcessor', () => {
  test('the test users live on the partition under test', () => {
    for (const u of [A, B, C, D, E]) assert.equal(partitionOf(u, PARTITIONS), P);
    assert.notEqual(partitionOf(STRANGER, PARTITIONS), P);
  });

  test('3 views of a category → one coupon action with an idempotent msgId', () => {
    const h = new Harness();
    assert.deepEqual(h.event(A, T0, { userSession: 'sess-1' }), []);
    assert.deepEqual(h.event(A, T0 + MIN, { productId: 'p-x' }), []);
    const out = h.event(A, T0 + 2 * MIN);
    assert.equal(out.length, 1);
    const [o] = actions(out);
    assert.ok(o);
    assert.equal(o.subject, `actions.coupon.${A}`);
    assert.equal(o.msgId, `repeat-category:1:${A}:3`);
    const body: Action = o.body;
    assert.equal(body.actionId, o.msgId);
    assert.equal(body.type, 'coupon');
    assert.equal(body.patternId, 'repeat-category');
    assert.equal(body.patternVersion, 1);
    assert.equal(body.userId, A);
    assert.equal(body.userSession, undefined, 'the completing view carried no userSession');
    assert.equal(body.eventTime, T0 + 2 * MIN);
    assert.equal(body.emittedAt, 0);
    assert.deepEqual([...body.match.view!, ...body.match.again!].map((v) => v.seq), [1, 2, 3]);
    assert.deepEqual([...body.match.view!, ...body.match.again!].map((v) => v.eventTime), [T0, T0 + MIN, T0 + 2 * MIN]);
    assert.deepEqual(body.payload, { category: 'c1', categoryCode: '', productIds: ['p1', 'p-x', 'p3'], views: 3 });
    assert.equal(h.proc.counters.actions, 1);
    assert.equal(h.proc.counters.events, 3);
    assert.equal(h.proc.seq, 3);
  });

  test('eventTime in REES46 or ISO form works the same as epoch ms', () => {
    const h = new Harness();
    h.event(A, T0);
    h.event(A, '2019-10-01T08:01:00Z');
    const out = h.event(A, '2019-10-01 08:02:00 UTC');
    const [o] = actions(out);
    assert.ok(o);
    assert.equal(o.body.eventTime, T0 + 2 * MIN);
  });

  test('invalid JSON is dead-lettered with a reason, keyed by its seq', () => {
    const h = new Harness();
    const data = Buffer.from('{"eventType":"view",');
    const out = h.raw(`events.view.${A}.${P}`, data, 7);
    assert.equal(out.length, 1);
    const [d] = dlqs(out);
    assert.ok(d);
    assert.equal(d.subject, 'dlq.events');
    assert.equal(d.msgId, 'dlq:7');
    assert.match(d.reason, /invalid JSON/);
    assert.equal(d.sourceSubject, `events.view.${A}.${P}`);
    assert.equal(d.sourceSeq, 7);
    assert.deepEqual(Buffer.from(d.data), data);
    assert.equal(h.proc.counters.dlq, 1);
    assert.equal(h.proc.counters.events, 0);
    assert.equal(h.proc.seq, 7);
  });

  test('schema failures and subject/body mismatches are dead-lettered', () => {
    const h = new Harness();
    const [bad] = dlqs(h.event(A, T0, { price: -1 }));
    assert.match(bad!.reason, /price/);
    const body = JSON.stringify({ eventTime: T0, eventType: 'cart', productId: '1', price: 1, userId: A });
    const [mismatch] = dlqs(h.raw(`events.view.${A}.${P}`, body));
    assert.match(mismatch!.reason, /mismatch/);
    const [big] = dlqs(h.raw(`events.view.${A}.${P}`, Buffer.alloc(16385, 0x20)));
    assert.match(big!.reason, /too large/);
    assert.equal(h.proc.counters.dlq, 3);
  });

  test('a user on the wrong partition is dead-lettered', () => {
    const h = new Harness();
    const body = JSON.stringify({ eventTime: T0, eventType: 'view', productId: '1', price: 1, userId: STRANGER });
    const out = h.raw(`events.view.${STRANGER}.${P}`, body);
    const [d] = dlqs(out);
    assert.ok(d);
    assert.match(d.reason, /wrong partition/);
    assert.match(d.reason, new RegExp(STRANGER));
    assert.equal(h.host.liveCount, 0);
    assert.equal(h.proc.maxEventTime, -1, 'a rejected event does not move event time');
  });

  test('subjects of another partition or of the wrong shape are dead-lettered', () => {
    const h = new Harness();
    assert.match(dlqs(h.raw(`events.view.${A}.${(P + 1) % PARTITIONS}`, '{}'))[0]!.reason, /is not events/);
    assert.match(dlqs(h.raw(`events.view.${A}`, '{}'))[0]!.reason, /is not events/);
    assert.match(dlqs(h.raw(`orders.view.${A}.${P}`, '{}'))[0]!.reason, /is not events/);
  });

  test('the engine\'s mapping probes are skipped silently', () => {
    const h = new Harness();
    assert.deepEqual(h.raw(`events._probe.nonce.${P}`, 'not json'), []);
    assert.equal(h.proc.seq, 1);
    assert.equal(h.proc.counters.dlq, 0);
  });

  test('any other `_` event type (a shop can publish events._admin.<user>) is dead-lettered, not dropped silently', () => {
    const h = new Harness();
    const body = JSON.stringify({ eventTime: T0, eventType: '_admin', productId: 'p1', price: 1, userId: A });
    const [d] = dlqs(h.raw(`events._admin.${A}.${P}`, body));
    assert.ok(d);
    assert.match(d.reason, /unknown internal event type "_admin"/);
    assert.equal(h.proc.counters.dlq, 1);
    assert.equal(h.proc.maxEventTime, -1, 'it does not move event time');
    assert.equal(h.host.liveCount, 0);
  });

  test('a tick advances the watermark and fires the session timer → analytics summary', () => {
    const h = new Harness();
    h.event(A, T0, { userSession: 'sess-A' });
    h.event(A, T0 + MIN, { eventType: 'cart' });
    h.event(A, T0 + 2 * MIN, { eventType: 'purchase', price: 99.5 });
    assert.equal(h.host.liveCount, 1);
    // The earliest deadline first: the coupon pattern's partial match of the view expires at +30m.
    assert.equal(h.proc.timers.get(A), T0 + 30 * MIN);
    assert.equal(h.proc.watermark, T0 + 2 * MIN - MAX_OOO);

    const deadline = T0 + 2 * MIN + SESSION_GAP_MS;
    assert.deepEqual(h.tick(deadline + MAX_OOO - 1), []);
    assert.equal(h.proc.watermark, deadline - 1);
    const out = h.tick(deadline + MAX_OOO);
    assert.equal(h.proc.watermark, deadline);
    assert.equal(out.length, 1);
    const [s] = analytics(out);
    assert.ok(s);
    assert.equal(s.subject, 'analytics.sessions');
    assert.equal(s.msgId, `session:${A}:1`);
    assert.deepEqual(s.body, {
      summaryId: `session:${A}:1`,
      userId: A,
      userSession: 'sess-A',
      sessionStart: T0,
      sessionEnd: T0 + 2 * MIN,
      durationMs: 2 * MIN,
      views: 1,
      carts: 1,
      removes: 0,
      purchases: 1,
      others: 0,
      revenue: 99.5,
      converted: true,
      finalPhase: 'purchased',
      emittedAt: 0,
    });
    assert.equal(h.proc.counters.ticks, 2);
    assert.equal(h.proc.counters.summaries, 1);
    assert.equal(h.proc.timers.size, 0);
    assert.equal(h.host.liveCount, 0, 'the ended session is dropped from the live cache');
    // A later tick does not fire it again
    assert.deepEqual(h.tick(deadline + 10 * MIN), []);
  });

  test('ticks never move event time backwards; a tick without a numeric eventTime is dead-lettered', () => {
    const h = new Harness();
    h.tick(T0);
    h.tick(T0 - MIN);
    assert.equal(h.proc.maxEventTime, T0);
    assert.match(dlqs(h.raw(`events._tick.x.${P}`, '{"eventTime":"soon"}'))[0]!.reason, /tick/);
    assert.match(dlqs(h.raw(`events._tick.x.${P}`, 'garbage'))[0]!.reason, /tick/);
    assert.equal(h.proc.counters.ticks, 2);
  });

  test('an event far enough ahead fires its own user\'s timer first, then starts a new session', () => {
    const h = new Harness();
    h.event(A, T0);
    const out = h.event(A, T0 + 2 * 60 * MIN);
    assert.equal(out.length, 1);
    assert.equal(analytics(out)[0]!.msgId, `session:${A}:1`);
    assert.equal(h.host.liveCount, 1);
    assert.equal(h.proc.timers.get(A), T0 + 2 * 60 * MIN + SESSION_GAP_MS);
    const out2 = h.tick(T0 + 2 * 60 * MIN + SESSION_GAP_MS + MAX_OOO);
    assert.equal(analytics(out2)[0]!.msgId, `session:${A}:2`);
  });

  test('timers of several users fire in (deadline, user) order and empty the live cache', () => {
    const h = new Harness();
    h.event(C, T0 + MIN);
    h.event(B, T0);
    h.event(A, T0 + MIN);
    assert.equal(h.host.liveCount, 3);
    const out = h.tick(T0 + 2 * MIN + SESSION_GAP_MS + MAX_OOO);
    const expected = [
      `session:${B}:2`,
      ...[
        [A, 3],
        [C, 1],
      ]
        .sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1))
        .map(([u, s]) => `session:${u}:${s}`),
    ];
    assert.deepEqual(out.map((o) => o.msgId), expected);
    assert.equal(h.host.liveCount, 0);
  });

  test('late events: counted and processed under "process"', () => {
    const h = new Harness();
    h.event(B, T0);
    h.event(B, T0 + MIN);
    h.event(A, T0 + 10 * MIN); // watermark = T0 + 10m - 5s
    assert.equal(h.proc.counters.late, 0);
    h.event(B, T0 + 10 * MIN - MAX_OOO); // exactly at the watermark: not late
    assert.equal(h.proc.counters.late, 0);
    const out = h.event(B, T0 + 2 * MIN); // behind the watermark
    assert.equal(h.proc.counters.late, 1);
    assert.equal(h.proc.counters.events, 5);
    assert.equal(h.proc.maxEventTime, T0 + 10 * MIN, 'a late event does not move event time');
    assert.equal(dlqs(out).length, 0);
    // B's 3rd view was the boundary one, the 4th the late one: the late one is in B's state
    assert.equal(actions(h.outputs).length, 1);
    assert.equal(h.host.peek(B)!.session!.ledger!.views, 4);
  });

  test('late events: dead-lettered under "dlq"', () => {
    const h = new Harness({ latePolicy: 'dlq' });
    h.event(B, T0);
    h.event(B, T0 + MIN);
    h.event(A, T0 + 10 * MIN);
    const out = h.event(B, T0 + 2 * MIN, {}); // would have completed a coupon
    assert.equal(out.length, 1);
    const [d] = dlqs(out);
    assert.ok(d);
    assert.match(d.reason, /late event/);
    assert.equal(d.msgId, 'dlq:4');
    assert.equal(h.proc.counters.late, 1);
    assert.equal(h.proc.counters.events, 3);
    assert.equal(h.proc.counters.dlq, 1);
    assert.equal(actions(h.outputs).length, 0);
  });

  test('a duplicate or older seq is ignored', () => {
    const h = new Harness();
    const body = (t: number) => JSON.stringify({ eventTime: t, eventType: 'view', productId: '1', categoryId: 'c1', price: 1, userId: A });
    const subject = `events.view.${A}.${P}`;
    h.raw(subject, body(T0), 10);
    h.raw(subject, body(T0 + MIN), 11);
    const first = h.raw(subject, body(T0 + 2 * MIN), 12);
    assert.equal(actions(first).length, 1);
    const before = h.proc.checkpointState();
    assert.deepEqual(h.raw(subject, body(T0 + 2 * MIN), 12), []);
    assert.deepEqual(h.raw(subject, body(T0 + 3 * MIN), 11), []);
    assert.deepEqual(h.raw(subject, 'not even json', 5), []);
    assert.deepEqual(h.proc.checkpointState(), before);
    assert.equal(h.proc.seq, 12);
  });

  /** Five interleaved users: coupons, gap splits, late events, ticks and a dead letter. */
  function script(h: Harness): void {
    const users = [A, B, C, D, E];
    let t = T0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < users.length; i++) {
        const u = users[(round + i) % users.length]!;
        t += 20_000;
        const type = (round + i) % 7 === 3 ? 'cart' : (round + i) % 11 === 5 ? 'purchase' : 'view';
        h.event(u, t, { eventType: type, categoryId: `c${(i + round) % 2}`, userSession: `${u}-s` });
      }
      if (round === 4) h.event(C, t - 10 * MIN); // late
      if (round === 6) h.raw(`events.view.${D}.${P}`, '{oops');
      if (round === 7) {
        h.tick(t + SESSION_GAP_MS / 2);
        t += SESSION_GAP_MS / 2;
      }
      if (round === 9) {
        t += SESSION_GAP_MS + MIN; // everyone's next event starts a new session
      }
    }
    h.tick(t + SESSION_GAP_MS + MAX_OOO);
  }

  test('the five-user script exercises coupons, summaries and dead letters', () => {
    const h = new Harness();
    script(h);
    assert.ok(actions(h.outputs).length >= 5, `${actions(h.outputs).length} actions`);
    assert.ok(analytics(h.outputs).length >= 10, `${analytics(h.outputs).length} summaries`);
    assert.equal(dlqs(h.outputs).length, 1);
    assert.equal(h.proc.counters.late, 1);
    assert.equal(h.host.liveCount, 0);
    assert.equal(h.proc.timers.size, 0);
  });

  test('liveActorCap 2 with 5 users produces the same outputs as cap 1000 (passivation without a store)', () => {
    const big = new Harness({}, 1000);
    const small = new Harness({}, 2);
    script(big);
    script(small);
    assert.ok(small.host.evictions > 0, 'actors were passivated');
    assert.equal(big.host.evictions, 0);
    assert.deepEqual(small.outputs, big.outputs);
    assert.deepEqual(small.proc.checkpointState(), big.proc.checkpointState());
    assert.ok(small.host.liveCount <= 2);
  });

  test('liveActorCap 1 with checkpoints to an in-memory store still matches', () => {
    const big = new Harness({}, 1000);
    script(big);

    const saved = new Map<string, Uint8Array>();
    const store: SnapshotSource = { loadActor: (u) => saved.get(u) };
    const small = new Harness({}, 1, store);
    const realSend = small.send.bind(small);
    let n = 0;
    small.send = (msg) => {
      const out = realSend(msg);
      if (++n % 4 === 0) {
        const captured = small.host.captureDirty();
        for (const [u, text] of captured) {
          if (text === null) saved.delete(u);
          else saved.set(u, text);
        }
        small.host.committed();
      }
      return out;
    };
    script(small);
    assert.ok(small.host.evictions > 0);
    assert.deepEqual(small.outputs, big.outputs);
  });
});
