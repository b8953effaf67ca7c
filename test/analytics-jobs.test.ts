import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import {
  AnalyticsError,
  AnalyticsErrorCodes,
  eventItem,
  FunnelJob,
  funnel,
  HotProductsJob,
  hotProducts,
  interleaveWatermarks,
  mergeFunnelRecords,
  mergeHotProductsRecords,
  toAnalyticsEvent,
  topCategory,
  UserActivityJob,
  userActivity,
  type AnalyticsEvent,
  type FunnelRecord,
  type HotProductsRecord,
  type JobOutput,
  type JobResult,
  type StreamItem,
  type WindowJob,
} from '../src/analytics/index.js';
import { eventSchema } from '../src/events/index.js';
import { partitionOf } from '../src/nats/subjects.js';
import { prng } from './support/prng.js';

/** The three marketing jobs on hand-written streams, under controlled time. */

const T0 = Date.UTC(2019, 10, 1); // 1572566400000
const SEC = 1_000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

let seq = 0;
function e(at: number, eventType: string, userId: string, productId = 'p1', categoryCode = 'electronics.smartphone', price = 10): AnalyticsEvent {
  return { seq: ++seq, eventTime: T0 + at, eventType, userId, productId, categoryCode, price };
}
const wm = (at: number): StreamItem<AnalyticsEvent> => ({ kind: 'watermark', time: T0 + at });
const items = (xs: Array<AnalyticsEvent | StreamItem<AnalyticsEvent>>): StreamItem<AnalyticsEvent>[] => xs.map((x) => ('kind' in x ? x : eventItem(x)));

function run<R>(job: WindowJob<any, any, R>, xs: Array<AnalyticsEvent | StreamItem<AnalyticsEvent>>): JobOutput<R>[] {
  const out: JobOutput<R>[] = [];
  for (const item of items(xs)) job.process(item, out);
  return out;
}

const results = <R>(outs: JobOutput<R>[]): JobResult<R>[] => outs.filter((o): o is JobResult<R> => o.kind === 'result');

describe('funnel', () => {
  test('per top-level category per minute: counts, distinct users per step, conversions; ids as Nats-Msg-Ids', () => {
    const job = new FunnelJob();
    const out = run(job, [
      e(1 * SEC, 'view', 'u1'),
      e(2 * SEC, 'view', 'u1', 'p2', 'electronics.audio.headphone'),
      e(3 * SEC, 'view', 'u2'),
      e(4 * SEC, 'view', 'u3'),
      e(5 * SEC, 'cart', 'u1'),
      e(6 * SEC, 'cart', 'u1'),
      e(7 * SEC, 'cart', 'u2'),
      e(8 * SEC, 'purchase', 'u1'),
      e(9 * SEC, 'remove_from_cart', 'u2'),
      e(10 * SEC, 'view', 'u4', 'p9', ''),
      e(11 * SEC, 'purchase', 'u5', 'p8', 'appliances.kitchen.kettle'),
      e(MIN, 'view', 'u1'), // exactly at the end: next minute
      wm(MIN),
    ]);
    assert.deepEqual(out, [
      {
        kind: 'result',
        job: 'funnel',
        id: 'funnel:1572566400000:appliances:r0',
        key: 'appliances',
        windowStart: T0,
        windowEnd: T0 + MIN,
        revision: 0,
        update: false,
        // Purchasers without viewers: the ratio of an empty step is 0, not NaN or Infinity.
        record: { category: 'appliances', views: 0, carts: 0, purchases: 1, viewers: 0, carters: 0, purchasers: 1, viewToCart: 0, cartToPurchase: 0, viewToPurchase: 0 },
      },
      {
        kind: 'result',
        job: 'funnel',
        id: 'funnel:1572566400000:electronics:r0',
        key: 'electronics',
        windowStart: T0,
        windowEnd: T0 + MIN,
        revision: 0,
        update: false,
        record: { category: 'electronics', views: 4, carts: 3, purchases: 1, viewers: 3, carters: 2, purchasers: 1, viewToCart: 2 / 3, cartToPurchase: 1 / 2, viewToPurchase: 1 / 3 },
      },
      {
        kind: 'result',
        job: 'funnel',
        id: 'funnel:1572566400000:unknown:r0',
        key: 'unknown',
        windowStart: T0,
        windowEnd: T0 + MIN,
        revision: 0,
        update: false,
        record: { category: 'unknown', views: 1, carts: 0, purchases: 0, viewers: 1, carters: 0, purchasers: 0, viewToCart: 0, cartToPurchase: 0, viewToPurchase: 0 },
      },
    ]);
    assert.equal(job.stats.ignored, 1, 'remove_from_cart is not a funnel step');
    assert.deepEqual(
      results(run(job, [wm(2 * MIN)])).map((r) => [r.id, r.record.views]),
      [['funnel:1572566460000:electronics:r0', 1]],
    );
  });

  test('top-level category: first dotted segment, empty → unknown', () => {
    assert.equal(topCategory('electronics.smartphone'), 'electronics');
    assert.equal(topCategory('kids'), 'kids');
    assert.equal(topCategory(''), 'unknown');
    assert.equal(topCategory('.odd'), 'unknown');
  });

  test('a late event within a minute updates its window (revision 1); later, it goes out as late with its reason', () => {
    const job = new FunnelJob();
    run(job, [e(5 * SEC, 'view', 'u1'), wm(MIN + 30 * SEC)]);
    const update = run(job, [e(50 * SEC, 'cart', 'u1')]);
    assert.deepEqual(
      update.map((o) => (o.kind === 'result' ? [o.id, o.update, o.record.carts, o.record.viewToCart] : o.kind)),
      [['funnel:1572566400000:electronics:r1', true, 1, 1]],
    );
    assert.deepEqual(run(job, [wm(2 * MIN)]), [], 'released at end + 60 s');
    const late = e(55 * SEC, 'purchase', 'u1');
    const out = run(job, [late]);
    assert.equal(out.length, 1);
    const l = out[0]!;
    assert.ok(l.kind === 'late');
    assert.equal(l.id, `funnel:late:${late.seq}`);
    assert.deepEqual(l.event, late);
    assert.equal(l.watermark, T0 + 2 * MIN);
    assert.match(l.reason, /allowed lateness of 60000 ms/);
    assert.equal(job.stats.late, 1);
    assert.equal(job.windowCount, 0);
  });
});

describe('hot_products', () => {
  test('top products by views and by purchases over 10 minutes, every minute; ties by productId', () => {
    const job = new HotProductsJob({ top: 2 });
    const out = run(job, [
      e(0, 'view', 'u1', 'p3'),
      e(1 * SEC, 'view', 'u2', 'p1'),
      e(2 * SEC, 'view', 'u3', 'p2'),
      e(3 * SEC, 'view', 'u4', 'p3'),
      e(4 * SEC, 'view', 'u5', 'p1'),
      e(5 * SEC, 'purchase', 'u5', 'p1'),
      e(6 * SEC, 'cart', 'u5', 'p9'),
      e(9 * MIN, 'view', 'u1', 'p2'),
      e(9 * MIN + 1, 'view', 'u1', 'p2'),
      wm(Infinity),
    ]);
    const byWindow = results(out).map((r) => [r.id, (r.windowStart - T0) / MIN, (r.windowEnd - T0) / MIN, JSON.stringify(r.record)]);
    const early = '{"views":[{"productId":"p1","count":2},{"productId":"p3","count":2}],"purchases":[{"productId":"p1","count":1}]}';
    const withLate = '{"views":[{"productId":"p2","count":3},{"productId":"p1","count":2}],"purchases":[{"productId":"p1","count":1}]}';
    const lateOnly = '{"views":[{"productId":"p2","count":2}],"purchases":[]}';
    const want: unknown[] = [];
    // Windows [m-9, m+1) for m = 0..8 hold only the first events; m = 9 adds the two views of p2;
    // from [1, 11) to [9, 19) only p2's views at minute 9 are left.
    for (let m = -9; m <= 9; m++) {
      const record = m <= -1 ? early : m === 0 ? withLate : lateOnly;
      want.push([`hot_products:${T0 + m * MIN}:all:r0`, m, m + 10, record]);
    }
    assert.deepEqual(byWindow, want);
    assert.equal(job.stats.ignored, 1);
  });

  test('ten entries by default, the rest cut', () => {
    const job = new HotProductsJob();
    const xs: AnalyticsEvent[] = [];
    for (let p = 0; p < 15; p++) for (let k = 0; k <= p % 4; k++) xs.push(e(p * SEC + k, 'view', 'u', `p${String(p).padStart(2, '0')}`));
    const first = results(run(job, [...xs, wm(MIN)]))[0]!;
    assert.equal(first.record.views.length, 10);
    assert.deepEqual(first.record.views.map((x) => `${x.productId}:${x.count}`), ['p03:4', 'p07:4', 'p11:4', 'p02:3', 'p06:3', 'p10:3', 'p14:3', 'p01:2', 'p05:2', 'p09:2']);
  });
});

describe('user_activity', () => {
  test('per user per hour: views joined with purchases and revenue; only users with activity', () => {
    const job = new UserActivityJob();
    const out = run(job, [
      e(1 * MIN, 'view', 'alice'),
      e(2 * MIN, 'view', 'alice', 'p2'),
      e(3 * MIN, 'purchase', 'alice', 'p2', 'x', 0.1),
      e(4 * MIN, 'purchase', 'alice', 'p3', 'x', 0.2),
      e(5 * MIN, 'view', 'bob'),
      e(6 * MIN, 'purchase', 'carol', 'p1', 'x', 19.99),
      e(7 * MIN, 'cart', 'dave'),
      e(HOUR, 'view', 'alice'),
      wm(Infinity),
    ]);
    assert.deepEqual(
      results(out).map((r) => [r.id, r.record]),
      [
        ['user_activity:1572566400000:alice:r0', { userId: 'alice', views: 2, purchases: 2, revenue: 0.3, converted: true }],
        ['user_activity:1572566400000:bob:r0', { userId: 'bob', views: 1, purchases: 0, revenue: 0, converted: false }],
        ['user_activity:1572566400000:carol:r0', { userId: 'carol', views: 0, purchases: 1, revenue: 19.99, converted: false }],
        ['user_activity:1572570000000:alice:r0', { userId: 'alice', views: 1, purchases: 0, revenue: 0, converted: false }],
      ],
    );
    assert.equal(job.stats.ignored, 1, "dave only carted: no activity this job reads");
  });

  test('a late purchase within lateness re-emits the user’s hour; a late item carries the original event', () => {
    const job = new UserActivityJob({ allowedLateness: 10 * MIN });
    run(job, [e(59 * MIN, 'view', 'alice'), wm(HOUR + 5 * MIN)]);
    const out = run(job, [e(59 * MIN + 30 * SEC, 'purchase', 'alice', 'p1', 'x', 5)]);
    assert.deepEqual(results(out).map((r) => [r.id, r.update, r.record.converted]), [['user_activity:1572566400000:alice:r1', true, true]]);
    run(job, [wm(HOUR + 10 * MIN)]);
    const lateEvent = e(10 * MIN, 'view', 'alice');
    const late = run(job, [lateEvent]);
    assert.ok(late[0]?.kind === 'late');
    assert.deepEqual(late[0].event, lateEvent);
  });
});

describe('all jobs', () => {
  const makers: Array<[string, () => WindowJob<any, any, unknown>]> = [
    ['funnel', () => new FunnelJob()],
    ['hot_products', () => new HotProductsJob({ top: 3 })],
    ['user_activity', () => new UserActivityJob({ size: 5 * MIN, allowedLateness: 20 * SEC })],
  ];

  /** Three hours of mostly-ordered traffic with stragglers, watermark 30 s behind. */
  function traffic(seed: number): StreamItem<AnalyticsEvent>[] {
    const rnd = prng(seed);
    const types = ['view', 'view', 'view', 'view', 'cart', 'purchase', 'remove_from_cart'];
    const cats = ['electronics.smartphone', 'appliances.kitchen', '', 'kids.toys'];
    const evs: AnalyticsEvent[] = [];
    let clock = 0;
    for (let i = 0; i < 1500; i++) {
      clock += Math.floor(rnd() * 7 * SEC);
      const lag = rnd() < 0.05 ? 40 * SEC + Math.floor(rnd() * 3 * MIN) : Math.floor(rnd() * 20 * SEC);
      evs.push(e(clock - lag, types[Math.floor(rnd() * types.length)]!, `u${Math.floor(rnd() * 30)}`, `p${Math.floor(rnd() * 12)}`, cats[Math.floor(rnd() * cats.length)]!, Math.floor(rnd() * 10_000) / 100));
    }
    return [...interleaveWatermarks(evs.map(eventItem), 30 * SEC), { kind: 'watermark', time: Infinity }];
  }

  for (const [name, make] of makers) {
    test(`${name}: snapshot mid-stream, through JSON, restored and continued, equals straight processing`, () => {
      const xs = traffic(7);
      const straight = make();
      const want = run(straight, xs);
      assert.ok(straight.stats.late > 0 && straight.stats.updates > 0, JSON.stringify(straight.stats));
      for (const cut of [1, 100, 777, 1200, 2000, xs.length - 1]) {
        const a = make();
        const before = run(a, xs.slice(0, cut));
        const b = make();
        b.restore(JSON.parse(JSON.stringify(a.snapshot())));
        assert.deepEqual([...before, ...run(b, xs.slice(cut))], want, `cut at ${cut}`);
        assert.deepEqual(b.stats, straight.stats);
      }
      assert.equal(straight.windowCount, 0);
      // Ids are unique: each is a distinct Nats-Msg-Id.
      const ids = want.map((o) => o.id);
      assert.equal(new Set(ids).size, ids.length);
    });

    test(`${name}: the RxJS operator form emits what the class returns`, async () => {
      const xs = traffic(9);
      const want = run(make(), xs);
      const op = name === 'funnel' ? funnel() : name === 'hot_products' ? hotProducts({ top: 3 }) : userActivity({ size: 5 * MIN, allowedLateness: 20 * SEC });
      const got = await lastValueFrom(from(xs).pipe(op as ReturnType<typeof funnel>, toArray()));
      assert.deepEqual(got, want);
    });
  }

  test('restore refuses a snapshot of another job or of other options', () => {
    const snap = JSON.parse(JSON.stringify(new FunnelJob().snapshot()));
    assert.throws(() => new FunnelJob({ size: 2 * MIN }).restore(snap), (err: unknown) => err instanceof AnalyticsError && err.code === AnalyticsErrorCodes.badSnapshot);
    assert.throws(() => new UserActivityJob().restore(snap), /not a user_activity job snapshot/);
  });

  test('bad job options throw at construction', () => {
    for (const f of [() => new FunnelJob({ size: 0 }), () => new HotProductsJob({ slide: 11 * MIN }), () => new HotProductsJob({ top: 0 }), () => new UserActivityJob({ allowedLateness: -1 }), () => funnel({ size: -5 })]) {
      assert.throws(f, (err: unknown) => err instanceof AnalyticsError && err.code === AnalyticsErrorCodes.invalidOptions);
    }
  });

  test('toAnalyticsEvent reads a validated event at its stream sequence', () => {
    const parsed = eventSchema.parse({ eventTime: '2019-11-01 00:00:05 UTC', eventType: 'view', productId: 42, price: 1.5, userId: 7 });
    assert.deepEqual(toAnalyticsEvent(99, parsed), { seq: 99, eventTime: T0 + 5 * SEC, eventType: 'view', userId: '7', productId: '42', categoryCode: '', price: 1.5 });
  });
});

describe('scaling past one process', () => {
  /** In-order traffic (nothing late), so each window is emitted once by each side. */
  function ordered(seed: number): AnalyticsEvent[] {
    const rnd = prng(seed);
    const types = ['view', 'view', 'view', 'cart', 'purchase'];
    const cats = ['electronics.smartphone', 'appliances.kitchen', '', 'kids.toys'];
    const evs: AnalyticsEvent[] = [];
    let clock = 0;
    for (let i = 0; i < 3000; i++) {
      clock += Math.floor(rnd() * 5 * SEC);
      evs.push(e(clock, types[Math.floor(rnd() * types.length)]!, `u${Math.floor(rnd() * 40)}`, `p${Math.floor(rnd() * 25)}`, cats[Math.floor(rnd() * cats.length)]!, Math.floor(rnd() * 10_000) / 100));
    }
    return evs;
  }
  const stream = (evs: AnalyticsEvent[]) => [...interleaveWatermarks(evs.map(eventItem), 30 * SEC), { kind: 'watermark' as const, time: Infinity }];
  const byEndThenKey = <R>(a: JobResult<R>, b: JobResult<R>) => a.windowEnd - b.windowEnd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

  /** Runs one job per partition (users spread as nats.conf's mapping spreads them) and groups results by id. */
  function perPartition<R>(evs: AnalyticsEvent[], make: () => WindowJob<any, any, R>, partitions: number): Map<string, JobResult<R>[]> {
    const byId = new Map<string, JobResult<R>[]>();
    for (let p = 0; p < partitions; p++) {
      for (const r of results(run(make(), stream(evs.filter((x) => partitionOf(x.userId, partitions) === p))))) {
        byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
      }
    }
    return byId;
  }

  function merged<R>(byId: Map<string, JobResult<R>[]>, merge: (records: R[]) => R): JobResult<R>[] {
    return [...byId.values()].map((parts) => ({ ...parts[0]!, record: merge(parts.map((x) => x.record)) })).sort(byEndThenKey);
  }

  test('funnel: per-partition records summed per (window, category) equal one process (distinct users add up: a user is in one partition)', () => {
    const evs = ordered(21);
    const single = results(run(new FunnelJob(), stream(evs)));
    const byId = perPartition(evs, () => new FunnelJob(), 4);
    assert.ok([...byId.values()].some((parts) => parts.length > 1), 'windows are really split across partitions');
    assert.deepEqual(merged<FunnelRecord>(byId, mergeFunnelRecords), single);
  });

  test('hot_products: partitions emit full counts (top = all), the merger sums and ranks again', () => {
    const evs = ordered(22);
    const single = results(run(new HotProductsJob({ top: 5 }), stream(evs)));
    const byId = perPartition(evs, () => new HotProductsJob({ top: Number.MAX_SAFE_INTEGER }), 4);
    assert.deepEqual(merged<HotProductsRecord>(byId, (parts) => mergeHotProductsRecords(parts, 5)), single);
  });

  test('user_activity: a user lives in one partition, so the partitions\' results are the final ones', () => {
    const evs = ordered(23);
    const single = results(run(new UserActivityJob(), stream(evs)));
    const byId = perPartition(evs, () => new UserActivityJob(), 4);
    assert.ok([...byId.values()].every((parts) => parts.length === 1));
    assert.deepEqual([...byId.values()].map((parts) => parts[0]!).sort(byEndThenKey), single);
  });
});
