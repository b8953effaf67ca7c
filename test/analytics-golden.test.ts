import { test, before } from 'node:test';
import { SHARED_SAMPLE } from './support/shared-sample.js';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import { parseEventTime, readRees46Csv } from '../src/events/index.js';
import {
  eventItem,
  funnel,
  FunnelJob,
  hotProducts,
  HotProductsJob,
  userActivity,
  UserActivityJob,
  type AnalyticsEvent,
  type JobOutput,
  type StreamItem,
  type WindowJob,
} from '../src/analytics/index.js';

/**
 * The three jobs over the shared REES46 sample, fed in file order with a watermark 60 s behind the
 * latest event and a final watermark of +Infinity, against the same numbers computed here with
 * plain loops over the rows (grouping by window and key, nothing from src/analytics). The file is
 * in time order, so nothing is late and nothing is updated: every window comes out once.
 */

const SAMPLE = SHARED_SAMPLE;
const MIN = 60_000;

const events: AnalyticsEvent[] = [];
const skipped: string[] = [];
const input: StreamItem<AnalyticsEvent>[] = [];

before(async () => {
  let seq = 0;
  for await (const row of readRees46Csv(SAMPLE)) {
    const t = row.ok ? parseEventTime(row.event.eventTime) : null;
    if (!row.ok || t === null) {
      skipped.push(row.ok ? `line ${row.line}: bad time` : row.reason);
      continue;
    }
    const ev = row.event;
    events.push({ seq: ++seq, eventTime: t, eventType: String(ev.eventType), userId: String(ev.userId), productId: String(ev.productId), categoryCode: ev.categoryCode ?? '', price: Number(ev.price) });
  }
  let max = -Infinity;
  for (const ev of events) {
    input.push(eventItem(ev));
    if (ev.eventTime > max) {
      max = ev.eventTime;
      input.push({ kind: 'watermark', time: max - MIN });
    }
  }
  input.push({ kind: 'watermark', time: Infinity });
});

/** What a job publishes, reduced to what the reference computes: id, window, key, record. */
interface Row {
  id: string;
  windowStart: number;
  windowEnd: number;
  key: string;
  record: unknown;
}

function runJob<R>(job: WindowJob<any, any, R>): { rows: Row[]; outs: JobOutput<R>[] } {
  const outs: JobOutput<R>[] = [];
  for (const item of input) job.process(item, outs);
  assert.equal(job.stats.late, 0);
  assert.equal(job.stats.updates, 0);
  assert.equal(job.windowCount, 0, 'everything released after the final watermark');
  const rows = outs.map((o) => {
    assert.equal(o.kind, 'result');
    if (o.kind !== 'result') throw new Error('unreachable');
    assert.equal(o.revision, 0);
    assert.equal(o.update, false);
    return { id: o.id, windowStart: o.windowStart, windowEnd: o.windowEnd, key: o.key, record: o.record };
  });
  return { rows, outs };
}

/** (window end, key) order, keys compared as plain strings. */
const byEndThenKey = (a: Row, b: Row) => a.windowEnd - b.windowEnd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

function firstDiff(got: Row[], want: Row[]): string {
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (JSON.stringify(got[i]) !== JSON.stringify(want[i])) return `#${i}: got ${JSON.stringify(got[i])}\n want ${JSON.stringify(want[i])}`;
  }
  return 'none';
}

test('the sample reads as expected: one cut-off last row skipped, the rest in time order', () => {
  assert.equal(skipped.length, 1, skipped.join('; '));
  assert.match(skipped[0]!, /cut off/);
  assert.ok(events.length > 17_000);
  for (let i = 1; i < events.length; i++) assert.ok(events[i]!.eventTime >= events[i - 1]!.eventTime);
});

test('funnel over the sample equals a plain per-(minute, category) count', async () => {
  const size = MIN;
  const groups = new Map<string, { start: number; cat: string; n: Record<string, number>; users: Record<string, Set<string>> }>();
  for (const ev of events) {
    if (ev.eventType !== 'view' && ev.eventType !== 'cart' && ev.eventType !== 'purchase') continue;
    const start = ev.eventTime - (ev.eventTime % size);
    const first = ev.categoryCode.split('.')[0];
    const cat = first === undefined || first === '' ? 'unknown' : first;
    const k = `${start} ${cat}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { start, cat, n: { view: 0, cart: 0, purchase: 0 }, users: { view: new Set(), cart: new Set(), purchase: new Set() } }));
    g.n[ev.eventType]!++;
    g.users[ev.eventType]!.add(ev.userId);
  }
  const div = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const want: Row[] = [...groups.values()]
    .map((g) => {
      const [viewers, carters, purchasers] = [g.users.view!.size, g.users.cart!.size, g.users.purchase!.size];
      return {
        id: `funnel:${g.start}:${g.cat}:r0`,
        windowStart: g.start,
        windowEnd: g.start + size,
        key: g.cat,
        record: {
          category: g.cat,
          views: g.n.view,
          carts: g.n.cart,
          purchases: g.n.purchase,
          viewers,
          carters,
          purchasers,
          viewToCart: div(carters, viewers),
          cartToPurchase: div(purchasers, carters),
          viewToPurchase: div(purchasers, viewers),
        },
      };
    })
    .sort(byEndThenKey);
  const { rows, outs } = runJob(new FunnelJob());
  assert.ok(want.length > 100);
  assert.equal(rows.length, want.length, firstDiff(rows, want));
  assert.deepEqual(rows, want, firstDiff(rows, want));
  assert.deepEqual(await lastValueFrom(from(input).pipe(funnel(), toArray())), outs, 'RxJS form');
});

test('hot_products over the sample equals counting each 10-minute window (every minute) row by row', async () => {
  const size = 10 * MIN;
  const slide = MIN;
  const times = events.map((ev) => ev.eventTime);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const want: Row[] = [];
  // Every window start (a multiple of the slide) whose window can hold a row; rows checked one by one.
  for (let start = first - (first % slide) - size + slide; start <= last; start += slide) {
    const views = new Map<string, number>();
    const purchases = new Map<string, number>();
    let any = false;
    for (const ev of events) {
      if (ev.eventTime < start || ev.eventTime >= start + size) continue;
      if (ev.eventType === 'view') views.set(ev.productId, (views.get(ev.productId) ?? 0) + 1);
      else if (ev.eventType === 'purchase') purchases.set(ev.productId, (purchases.get(ev.productId) ?? 0) + 1);
      else continue;
      any = true;
    }
    if (!any) continue;
    const top = (m: Map<string, number>) =>
      [...m]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, 10)
        .map(([productId, count]) => ({ productId, count }));
    want.push({ id: `hot_products:${start}:all:r0`, windowStart: start, windowEnd: start + size, key: 'all', record: { views: top(views), purchases: top(purchases) } });
  }
  const { rows, outs } = runJob(new HotProductsJob());
  assert.ok(want.length > 150);
  assert.ok(want.some((r) => (r.record as { purchases: unknown[] }).purchases.length === 10));
  assert.equal(rows.length, want.length, firstDiff(rows, want));
  assert.deepEqual(rows, want, firstDiff(rows, want));
  assert.deepEqual(await lastValueFrom(from(input).pipe(hotProducts(), toArray())), outs, 'RxJS form');
});

test('user_activity over the sample equals a plain per-(hour, user) tally of views, purchases and revenue', async () => {
  const size = 60 * MIN;
  const groups = new Map<string, { start: number; user: string; views: number; purchases: number; cents: number }>();
  for (const ev of events) {
    if (ev.eventType !== 'view' && ev.eventType !== 'purchase') continue;
    const start = ev.eventTime - (ev.eventTime % size);
    const k = `${start} ${ev.userId}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { start, user: ev.userId, views: 0, purchases: 0, cents: 0 }));
    if (ev.eventType === 'view') g.views++;
    else {
      g.purchases++;
      g.cents += Math.round(ev.price * 100);
    }
  }
  const want: Row[] = [...groups.values()]
    .map((g) => ({
      id: `user_activity:${g.start}:${g.user}:r0`,
      windowStart: g.start,
      windowEnd: g.start + size,
      key: g.user,
      record: { userId: g.user, views: g.views, purchases: g.purchases, revenue: g.cents / 100, converted: g.views > 0 && g.purchases > 0 },
    }))
    .sort(byEndThenKey);
  const { rows, outs } = runJob(new UserActivityJob());
  assert.ok(want.length > 4_000);
  assert.ok(want.some((r) => (r.record as { converted: boolean }).converted));
  assert.equal(rows.length, want.length, firstDiff(rows, want));
  assert.deepEqual(rows, want, firstDiff(rows, want));
  assert.deepEqual(await lastValueFrom(from(input).pipe(userActivity(), toArray())), outs, 'RxJS form');
});
