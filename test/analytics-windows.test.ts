import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray, Subject } from 'rxjs';
import {
  AnalyticsError,
  AnalyticsErrorCodes,
  combine,
  count,
  createWindowJoin,
  createWindows,
  distinctCount,
  interleaveWatermarks,
  left,
  rankTop,
  right,
  session,
  SessionWindows,
  sliding,
  sum,
  topN,
  tumbling,
  windowed,
  windowJoin,
  withWatermarks,
  type JoinSide,
  type Ranked,
  type StreamItem,
  type WindowOperator,
  type WindowOutput,
  type WindowSpec,
} from '../src/analytics/index.js';
import { prng } from './support/prng.js';

/**
 * The window operators under controlled time: every item is written out, watermarks included,
 * and outputs are compared as one-line summaries so a failure shows the whole sequence.
 */

interface Ev {
  user: string;
  n: number;
}

let nextSeq = 1;
const ev = (time: number, user = 'a', n = 1): StreamItem<Ev> => ({ kind: 'event', time, seq: nextSeq++, value: { user, n } });
const wm = (time: number): StreamItem<never> => ({ kind: 'watermark', time });

function feed<T, R>(op: WindowOperator<T, R>, items: Iterable<StreamItem<T>>): WindowOutput<T, R>[] {
  const out: WindowOutput<T, R>[] = [];
  for (const item of items) op.process(item, out);
  return out;
}

/** `key@[start,end) rN[u] result`, or `late key@time missed N`. */
function brief<T, R>(o: WindowOutput<T, R>): string {
  if (o.kind === 'late') return `late ${o.key}@${o.time} missed ${o.missedWindows}`;
  const absorbed = o.absorbed ? ` absorbed ${o.absorbed.join(',')}` : '';
  return `${o.key}@[${o.start},${o.end}) r${o.revision}${o.update ? 'u' : ''} ${JSON.stringify(o.result)}${absorbed}`;
}

const briefs = <T, R>(outs: WindowOutput<T, R>[]) => outs.map(brief);

const counting = (spec: WindowSpec, allowedLateness = 0) => createWindows<Ev, number, number>(spec, { key: 'user', aggregate: count(), allowedLateness });

describe('tumbling windows', () => {
  test('an event exactly at a window end belongs to the next window; a window fires when the watermark reaches its end', () => {
    const op = counting(tumbling(10));
    assert.deepEqual(briefs(feed(op, [ev(0), ev(9), ev(10), ev(19, 'b'), ev(20, 'b'), wm(9)])), []);
    assert.deepEqual(briefs(feed(op, [wm(10)])), ['a@[0,10) r0 2']);
    assert.deepEqual(briefs(feed(op, [wm(19)])), []);
    assert.deepEqual(briefs(feed(op, [wm(20)])), ['a@[10,20) r0 1', 'b@[10,20) r0 1']);
    assert.deepEqual(briefs(feed(op, [wm(Number.POSITIVE_INFINITY)])), ['b@[20,30) r0 1']);
    assert.equal(op.windowCount, 0);
  });

  test('windows are epoch-aligned, negative times included', () => {
    const op = counting(tumbling(10));
    assert.deepEqual(briefs(feed(op, [ev(-1), ev(-10), ev(-11), wm(Infinity)])), ['a@[-20,-10) r0 1', 'a@[-10,0) r0 2']);
  });

  test('out-of-order input within the watermark bound gives what sorted input gives', () => {
    const sorted = feed(counting(tumbling(10)), [ev(1), ev(3, 'b'), ev(5), ev(8, 'b'), ev(12), wm(10), wm(Infinity)]);
    const shuffled = feed(counting(tumbling(10)), [ev(8, 'b'), ev(3, 'b'), ev(12), ev(5), wm(2), ev(1), wm(10), wm(Infinity)]);
    assert.deepEqual(briefs(shuffled), briefs(sorted));
    assert.deepEqual(briefs(sorted), ['a@[0,10) r0 2', 'b@[0,10) r0 2', 'a@[10,20) r0 1']);
  });

  test('closed windows come out in (end, key) order, whatever order keys arrived in', () => {
    const op = counting(tumbling(10));
    const out = feed(op, [ev(15, 'z'), ev(5, 'm'), ev(14, 'a'), ev(1, 'z'), ev(2, 'a'), ev(16, 'm'), wm(30)]);
    assert.deepEqual(briefs(out), ['a@[0,10) r0 1', 'm@[0,10) r0 1', 'z@[0,10) r0 1', 'a@[10,20) r0 1', 'm@[10,20) r0 1', 'z@[10,20) r0 1']);
  });

  test('late within the allowed lateness re-emits the window as an update; beyond it, a late item and a counter', () => {
    const op = counting(tumbling(10), 5);
    assert.deepEqual(briefs(feed(op, [ev(1), ev(11), wm(10)])), ['a@[0,10) r0 1']);
    // Behind the watermark, window fired but not released (10 <= 12 < 15): updated at once.
    assert.deepEqual(briefs(feed(op, [wm(12), ev(2)])), ['a@[0,10) r1u 2']);
    assert.deepEqual(briefs(feed(op, [ev(9)])), ['a@[0,10) r2u 3']);
    // A key the window had not seen yet: its first emission, not an update.
    assert.deepEqual(briefs(feed(op, [ev(3, 'b')])), ['b@[0,10) r0 1']);
    assert.equal(op.stats.updates, 2);
    // 15 = end + lateness: released; anything for [0, 10) is late from now on.
    assert.deepEqual(briefs(feed(op, [wm(15)])), []);
    const late = feed(op, [ev(4)]);
    assert.deepEqual(briefs(late), ['late a@4 missed 1']);
    const item = late[0]!;
    assert.ok(item.kind === 'late');
    assert.equal(item.watermark, 15);
    assert.deepEqual(item.value, { user: 'a', n: 1 });
    assert.match(item.reason, /behind the watermark .* allowed lateness of 5 ms; its window \(ending 1970-01-01T00:00:00\.010Z\) was already released/);
    assert.equal(op.stats.late, 1);
    // A late event never fires anything else: [10, 20) is still open and counts only what it had.
    assert.deepEqual(briefs(feed(op, [wm(Infinity)])), ['a@[10,20) r0 1']);
    assert.deepEqual({ ...op.stats }, { events: 6, late: 1, emitted: 5, updates: 2, released: 3 });
  });

  test('a late event within lateness for a window no event had opened emits it at once, at revision 0', () => {
    const op = counting(tumbling(10), 30);
    feed(op, [ev(25), wm(25)]);
    assert.deepEqual(briefs(feed(op, [ev(7)])), ['a@[0,10) r0 1']);
    assert.deepEqual(briefs(feed(op, [ev(8)])), ['a@[0,10) r1u 2']);
  });

  test('state is released at watermark >= end + allowedLateness, not before', () => {
    const op = counting(tumbling(10), 5);
    feed(op, [ev(1), ev(2, 'b'), ev(3, 'c'), ev(12), ev(13, 'b')]);
    assert.equal(op.windowCount, 5);
    feed(op, [wm(10)]);
    assert.equal(op.windowCount, 5, 'fired, kept for late events');
    feed(op, [wm(14)]);
    assert.equal(op.windowCount, 5);
    feed(op, [wm(15)]);
    assert.equal(op.windowCount, 2, '[0,10) released for its three keys');
    feed(op, [wm(25)]);
    assert.equal(op.windowCount, 0);
    assert.equal(op.stats.released, 5);
  });

  test('memory stays bounded on a long stream: windows held never exceed what the watermark keeps open', () => {
    const op = counting(tumbling(1_000), 2_000);
    const rnd = prng(3);
    let maxHeld = 0;
    let maxT = 0;
    for (let i = 0; i < 20_000; i++) {
      const t = i * 10 + Math.floor(rnd() * 500);
      maxT = Math.max(maxT, t);
      op.process({ kind: 'event', time: t, seq: i, value: { user: `u${Math.floor(rnd() * 50)}`, n: 1 } });
      op.process(wm(maxT - 500));
      maxHeld = Math.max(maxHeld, op.windowCount);
    }
    // Open: up to (500 out-of-order + 2000 lateness + 1000 size) / 1000 + 1 windows of 50 keys.
    assert.ok(maxHeld <= 5 * 50, `held ${maxHeld}`);
    op.process(wm(Infinity));
    assert.equal(op.windowCount, 0);
    assert.equal(op.stats.late, 0);
  });
});

describe('sliding windows', () => {
  test('an event is in every window whose [start, end) holds it; one exactly at an end is in the next ones', () => {
    const op = counting(sliding(10, 5));
    const out = feed(op, [ev(5), ev(10), ev(4), ev(14, 'b'), wm(10)]);
    // 4 is in [-5,5) and [0,10); 5 in [0,10) and [5,15); 10 in [5,15) and [10,20).
    assert.deepEqual(briefs(out), ['a@[-5,5) r0 1', 'a@[0,10) r0 2']);
    assert.deepEqual(briefs(feed(op, [wm(Infinity)])), ['a@[5,15) r0 2', 'b@[5,15) r0 1', 'a@[10,20) r0 1', 'b@[10,20) r0 1']);
  });

  test('slide that does not divide size', () => {
    const op = counting(sliding(10, 4));
    // 9 is in windows starting 0, 4, 8; 12 in 4, 8, 12.
    const out = feed(op, [ev(9), ev(12), wm(Infinity)]);
    assert.deepEqual(briefs(out), ['a@[0,10) r0 1', 'a@[4,14) r0 2', 'a@[8,18) r0 2', 'a@[12,22) r0 1']);
  });

  test('a late event counts in the windows still held and reports the ones it missed', () => {
    const op = counting(sliding(10, 5), 2);
    feed(op, [ev(6), ev(13), wm(12)]);
    // 8 belongs to [0,10) (released at 12) and [5,15) (not fired yet).
    const out = feed(op, [ev(8)]);
    assert.deepEqual(briefs(out), ['late a@8 missed 1']);
    assert.ok(out[0]!.kind === 'late' && /1 of its 2 windows/.test(out[0]!.reason));
    assert.deepEqual(briefs(feed(op, [wm(Infinity)])), ['a@[5,15) r0 3', 'a@[10,20) r0 1']);
  });

  test('updates of several windows from one late event come out in window-end order', () => {
    const op = counting(sliding(10, 5), 10);
    feed(op, [ev(7), ev(11), wm(16)]);
    assert.deepEqual(briefs(feed(op, [ev(9)])), ['a@[0,10) r1u 2', 'a@[5,15) r1u 3']);
  });
});

describe('session windows', () => {
  test('events less than gap apart share a session; one exactly gap after the last starts a new one', () => {
    const op = counting(session(10));
    assert.deepEqual(briefs(feed(op, [ev(0), ev(5), ev(15), ev(3, 'b'), wm(14)])), ['b@[3,13) r0 1']);
    assert.deepEqual(briefs(feed(op, [wm(15)])), ['a@[0,15) r0 2']);
    assert.deepEqual(briefs(feed(op, [ev(24), wm(Infinity)])), ['a@[15,34) r0 2']);
    assert.equal(op.windowCount, 0);
  });

  test('an out-of-order event that bridges two open sessions merges them', () => {
    const op = counting(session(12));
    const out = feed(op, [ev(0), ev(20), ev(10), wm(Infinity)]);
    assert.deepEqual(briefs(out), ['a@[0,32) r0 3']);
  });

  test('a late event within lateness merges emitted sessions into one update that names what it absorbed', () => {
    const op = counting(session(10), 100);
    assert.deepEqual(briefs(feed(op, [ev(0), ev(15), wm(30)])), ['a@[0,10) r0 1', 'a@[15,25) r0 1']);
    assert.deepEqual(briefs(feed(op, [ev(8)])), ['a@[0,25) r1u 3 absorbed 15']);
    // Extending backwards moves the start: the old start is superseded too.
    const op2 = counting(session(10), 100);
    feed(op2, [ev(20), wm(32)]);
    assert.deepEqual(briefs(feed(op2, [ev(12)])), ['a@[12,30) r1u 2 absorbed 20']);
    // Extending past the watermark: the update waits for the watermark like any open session.
    assert.deepEqual(briefs(feed(op2, [ev(25)])), []);
    assert.deepEqual(briefs(feed(op2, [wm(35)])), ['a@[12,35) r2u 3']);
  });

  test('a released session leaves a tombstone: an event that would touch it is late, not a new overlapping session', () => {
    const op = counting(session(10), 5) as SessionWindows<Ev, number, number>;
    assert.deepEqual(briefs(feed(op, [ev(0), ev(8), wm(23)])), ['a@[0,18) r0 2']);
    assert.equal(op.windowCount, 0, 'released at 18 + 5');
    assert.equal(op.tombstoneCount, 1);
    // 12 + 10 + 5 > 23, so only the tombstone knows it belongs to the released session.
    const late = feed(op, [ev(12)]);
    assert.deepEqual(briefs(late), ['late a@12 missed 1']);
    assert.ok(late[0]!.kind === 'late' && /before the end .* already released/.test(late[0]!.reason));
    // At or after the released end it is a session of its own.
    assert.deepEqual(briefs(feed(op, [ev(18), wm(28)])), ['a@[18,28) r0 1']);
    feed(op, [wm(33)]);
    assert.equal(op.windowCount, 0);
    assert.equal(op.tombstoneCount, 1, 'the newer session\'s');
    feed(op, [wm(43)]);
    assert.equal(op.tombstoneCount, 0, 'forgotten gap + lateness after the end');
    assert.deepEqual(briefs(feed(op, [ev(1)])), ['late a@1 missed 1']);
    assert.equal(op.stats.late, 2);
  });
});

describe('aggregations', () => {
  test('top-N breaks count ties by key ascending, and only keeps N', () => {
    const agg = topN<string>(3, (s) => s);
    let acc = agg.create();
    for (const k of ['x', 'b', 'a', 'c', 'd', 'x', 'a', 'b', 'd', 'd', 'B']) acc = agg.add(acc, k);
    assert.deepEqual(agg.result(acc), [
      { key: 'd', count: 3 },
      { key: 'a', count: 2 },
      { key: 'b', count: 2 },
    ]);
    // Code-unit order: upper case before lower, '10' before '9'.
    const t = topN<string>(4, (s) => s);
    let a2 = t.create();
    for (const k of ['9', '10', 'b', 'B']) a2 = t.add(a2, k);
    assert.deepEqual(t.result(a2).map((r) => r.key), ['10', '9', 'B', 'b']);
  });

  test('rankTop equals a full sort by (count desc, key asc), for any insertion order', () => {
    const rnd = prng(11);
    for (let round = 0; round < 200; round++) {
      const m = new Map<string, number>();
      const n = 1 + Math.floor(rnd() * 40);
      for (let i = 0; i < n; i++) m.set(`k${Math.floor(rnd() * 60)}`, 1 + Math.floor(rnd() * 4));
      const want: Ranked[] = [...m].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
      const top = 1 + Math.floor(rnd() * 12);
      assert.deepEqual(rankTop(m, top), want.slice(0, top));
    }
  });

  test('count, sum, distinct count and combine; every accumulator survives JSON and merges', () => {
    const agg = combine({ n: count<Ev>(), total: sum((e: Ev) => e.n), users: distinctCount((e: Ev) => e.user), top: topN(2, (e: Ev) => e.user) });
    const a = [{ user: 'a', n: 2 }, { user: 'b', n: 3 }, { user: 'a', n: 4 }].reduce((acc, e) => agg.add(acc, e), agg.create());
    const b = [{ user: 'c', n: 1 }, { user: 'b', n: 1 }].reduce((acc, e) => agg.add(acc, e), agg.create());
    assert.deepEqual(agg.result(a), { n: 3, total: 9, users: 2, top: [{ key: 'a', count: 2 }, { key: 'b', count: 1 }] });
    const restored = agg.load(JSON.parse(JSON.stringify(agg.save(a))));
    assert.deepEqual(agg.result(restored), agg.result(a));
    assert.deepEqual(agg.result(agg.merge(restored, b)), { n: 5, total: 11, users: 3, top: [{ key: 'a', count: 2 }, { key: 'b', count: 2 }] });
  });

  test('top-N through a window: ties in a window come out by key', () => {
    const op = createWindows(tumbling(10), { aggregate: topN(2, (e: Ev) => e.user) });
    const out = feed(op, [ev(1, 'p3'), ev(2, 'p1'), ev(3, 'p2'), ev(4, 'p2'), ev(5, 'p3'), ev(6, 'p1'), wm(10)]);
    assert.deepEqual(briefs(out), ['all@[0,10) r0 [{"key":"p1","count":2},{"key":"p2","count":2}]']);
  });
});

describe('window join', () => {
  interface View {
    user: string;
    product: string;
  }
  interface Purchase {
    buyer: string;
    price: number;
  }
  const HOUR = 3_600_000;
  const items = (): StreamItem<JoinSide<View, Purchase>>[] => [
    { kind: 'event', time: 10, seq: 1, value: left({ user: 'a', product: 'p1' }) },
    { kind: 'event', time: 20, seq: 2, value: left({ user: 'b', product: 'p1' }) },
    { kind: 'event', time: 30, seq: 3, value: right({ buyer: 'a', price: 5 }) },
    { kind: 'event', time: 40, seq: 4, value: left({ user: 'a', product: 'p2' }) },
    { kind: 'event', time: 50, seq: 5, value: right({ buyer: 'c', price: 7 }) },
    // Next hour: a purchase by a, whose views were in the previous hour.
    { kind: 'event', time: HOUR, seq: 6, value: right({ buyer: 'a', price: 1 }) },
    { kind: 'watermark', time: Infinity },
  ];
  const join = (type: 'inner' | 'left' | 'right' | 'full') =>
    createWindowJoin(tumbling(HOUR), {
      leftKey: 'user',
      rightKey: (p: Purchase) => p.buyer,
      left: combine({ views: count<View>(), products: distinctCount((v: View) => v.product) }),
      right: sum((p: Purchase) => p.price),
      type,
    });

  test('views ⋈ purchases per user per hour, inner: only users with both in the same window', () => {
    assert.deepEqual(briefs(feed(join('inner'), items())), ['a@[0,3600000) r0 {"left":{"views":2,"products":2},"right":5}']);
  });

  test('left, right and full joins keep one side alone, with null for the other', () => {
    assert.deepEqual(briefs(feed(join('left'), items())), ['a@[0,3600000) r0 {"left":{"views":2,"products":2},"right":5}', 'b@[0,3600000) r0 {"left":{"views":1,"products":1},"right":null}']);
    assert.deepEqual(briefs(feed(join('full'), items())), [
      'a@[0,3600000) r0 {"left":{"views":2,"products":2},"right":5}',
      'b@[0,3600000) r0 {"left":{"views":1,"products":1},"right":null}',
      'c@[0,3600000) r0 {"left":null,"right":7}',
      'a@[3600000,7200000) r0 {"left":null,"right":1}',
    ]);
    assert.equal(feed(join('right'), items()).length, 3);
  });

  test('windowJoin over two observables takes the lower watermark of the sides', async () => {
    const views = new Subject<StreamItem<View>>();
    const buys = new Subject<StreamItem<Purchase>>();
    const got: string[] = [];
    windowJoin(views, buys, tumbling(HOUR), { leftKey: 'user', rightKey: 'buyer', left: count<View>(), right: count<Purchase>(), type: 'inner' }).subscribe((o) => got.push(brief(o)));
    views.next({ kind: 'event', time: 10, seq: 1, value: { user: 'a', product: 'p' } });
    views.next({ kind: 'watermark', time: 2 * HOUR });
    assert.deepEqual(got, [], 'the purchase side has not passed the hour yet');
    buys.next({ kind: 'event', time: 20, seq: 2, value: { buyer: 'a', price: 1 } });
    buys.next({ kind: 'watermark', time: HOUR });
    assert.deepEqual(got, ['a@[0,3600000) r0 {"left":1,"right":1}']);
    views.complete();
    buys.complete();
  });
});

describe('determinism and snapshots', () => {
  type Kind = 'tumbling' | 'sliding' | 'session' | 'join';
  const make = (kind: Kind): WindowOperator<any, unknown> => {
    const aggregate = combine({ n: count<Ev>(), total: sum((e: Ev) => e.n), users: distinctCount((e: Ev) => `${e.n % 3}`), top: topN(2, (e: Ev) => String(e.n)) });
    switch (kind) {
      case 'tumbling':
        return createWindows(tumbling(100), { key: 'user', aggregate, allowedLateness: 60 });
      case 'sliding':
        return createWindows(sliding(100, 30), { key: 'user', aggregate, allowedLateness: 40 });
      case 'session':
        return createWindows(session(50), { key: 'user', aggregate, allowedLateness: 70 });
      case 'join':
        return createWindowJoin(tumbling(100), { leftKey: 'user', rightKey: 'user', left: count<Ev>(), right: sum((e: Ev) => e.n), type: 'full', allowedLateness: 30 });
    }
  };

  /** Mostly-ordered events over a few keys, some far behind (late), watermarks lagging by 40. */
  function stream(kind: Kind, seed: number, n: number): StreamItem<unknown>[] {
    const rnd = prng(seed);
    const items: StreamItem<unknown>[] = [];
    let clock = 0;
    let maxT = -Infinity;
    for (let i = 0; i < n; i++) {
      clock += Math.floor(rnd() * 12);
      const r = rnd();
      const t = r < 0.1 ? clock - 60 - Math.floor(rnd() * 150) : clock - Math.floor(rnd() * 40);
      const value: Ev = { user: `u${Math.floor(rnd() * 4)}`, n: Math.floor(rnd() * 9) };
      items.push({ kind: 'event', time: t, seq: i + 1, value: kind === 'join' ? (rnd() < 0.5 ? left(value) : right(value)) : value });
      maxT = Math.max(maxT, t);
      if (rnd() < 0.5) items.push({ kind: 'watermark', time: maxT - 40 });
    }
    items.push({ kind: 'watermark', time: Infinity });
    return items;
  }

  for (const kind of ['tumbling', 'sliding', 'session', 'join'] as const) {
    test(`${kind}: snapshot at any point, through JSON, restored and continued, equals straight processing`, () => {
      for (const seed of [1, 2, 3]) {
        const items = stream(kind, seed, 250);
        const straight = make(kind);
        const want = feed(straight, items);
        assert.ok(straight.stats.late > 0 && straight.stats.updates > 0, `the stream exercises late paths (${JSON.stringify(straight.stats)})`);
        for (let cut = 0; cut <= items.length; cut += 7) {
          const a = make(kind);
          const before = feed(a, items.slice(0, cut));
          const b = make(kind);
          b.restore(JSON.parse(JSON.stringify(a.snapshot())));
          assert.equal(b.windowCount, a.windowCount);
          const after = feed(b, items.slice(cut));
          assert.deepEqual([...before, ...after], want, `seed ${seed}, cut at ${cut}`);
          assert.deepEqual(b.stats, straight.stats);
        }
        assert.equal(straight.windowCount, 0);
      }
    });
  }

  test('output does not depend on the order keys were first seen in (nor on Map order after a restore)', () => {
    const rnd = prng(5);
    const base: Array<[number, string]> = [];
    for (let i = 0; i < 60; i++) base.push([Math.floor(rnd() * 50), `k${Math.floor(rnd() * 9)}`]);
    const run = (pairs: Array<[number, string]>) => briefs(feed(counting(tumbling(10)), [...pairs.map(([t, k]) => ev(t, k)), wm(Infinity)]));
    const want = run(base);
    for (let round = 0; round < 20; round++) {
      const shuffled = [...base].sort(() => rnd() - 0.5);
      assert.deepEqual(run(shuffled), want);
    }
  });

  test('restore refuses a snapshot of another spec or lateness, with a typed error', () => {
    const a = counting(tumbling(10));
    feed(a, [ev(1)]);
    const snap = JSON.parse(JSON.stringify(a.snapshot()));
    for (const other of [counting(tumbling(20)), counting(tumbling(10), 5), counting(sliding(10, 5)), counting(session(10))]) {
      assert.throws(() => other.restore(snap), (e: unknown) => e instanceof AnalyticsError && e.code === AnalyticsErrorCodes.badSnapshot);
    }
    assert.throws(() => counting(tumbling(10)).restore({ v: 2 }), /cannot restore/);
  });

  test('a watermark of +Infinity survives a snapshot', () => {
    const a = counting(tumbling(10));
    feed(a, [ev(1), wm(Infinity)]);
    const b = counting(tumbling(10));
    b.restore(JSON.parse(JSON.stringify(a.snapshot())));
    assert.equal(b.watermark, Infinity);
    assert.deepEqual(briefs(feed(b, [ev(5)])), ['late a@5 missed 1']);
  });
});

describe('options and items', () => {
  test('bad window options throw an AnalyticsError at construction', () => {
    const bad = [() => tumbling(0), () => tumbling(1.5), () => sliding(10, 20), () => sliding(10, 0), () => session(-1), () => counting(tumbling(10), -1), () => topN(0, String)];
    for (const f of bad) assert.throws(f, (e: unknown) => e instanceof AnalyticsError && e.code === AnalyticsErrorCodes.invalidOptions);
  });

  test('an item without a numeric time is a caller bug and throws', () => {
    const op = counting(tumbling(10));
    assert.throws(() => op.process({ kind: 'event', time: Number.NaN, seq: 1, value: { user: 'a', n: 1 } }), (e: unknown) => e instanceof AnalyticsError && e.code === AnalyticsErrorCodes.invalidItem);
    assert.throws(() => op.process({ kind: 'event', time: Infinity, seq: 1, value: { user: 'a', n: 1 } }), AnalyticsError);
  });

  test('a watermark that goes backwards is ignored', () => {
    const op = counting(tumbling(10));
    feed(op, [ev(1), wm(5), wm(-Infinity), wm(3)]);
    assert.equal(op.watermark, 5);
  });
});

describe('RxJS operators', () => {
  test('windowed() emits exactly what the pure operator returns; withWatermarks adds the watermark items', async () => {
    const events: StreamItem<Ev>[] = [ev(3), ev(12, 'b'), ev(8), ev(25), ev(14), ev(31, 'b')];
    const withWm = [...interleaveWatermarks(events, 5)];
    const want = feed(counting(tumbling(10)), withWm);
    const got = await lastValueFrom(from(events).pipe(withWatermarks<Ev>(5), windowed(tumbling(10), { key: 'user', aggregate: count<Ev>() }), toArray()));
    assert.deepEqual(got, want);
    // 25 moves the watermark to 20, so 14 arrives after [10, 20) was released.
    assert.deepEqual(briefs(got), ['a@[0,10) r0 2', 'b@[10,20) r0 1', 'late a@14 missed 1']);
    const flushed = await lastValueFrom(from(withWm).pipe(windowed(tumbling(10), { key: 'user', aggregate: count<Ev>(), flushOnComplete: true }), toArray()));
    assert.deepEqual(briefs(flushed).slice(3), ['a@[20,30) r0 1', 'b@[30,40) r0 1']);
  });

  test('windowed() over a restored operator continues it', async () => {
    const a = counting(tumbling(10));
    feed(a, [ev(1), ev(2)]);
    const b = counting(tumbling(10));
    b.restore(JSON.parse(JSON.stringify(a.snapshot())));
    const got = await lastValueFrom(from([ev(4), wm(10)]).pipe(windowed(b), toArray()));
    assert.deepEqual(briefs(got), ['a@[0,10) r0 3']);
  });
});
