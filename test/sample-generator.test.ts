import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSample, toCsvLine, REES46_HEADER, type SampleRow } from '../src/events/sample-generator.js';

const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TYPES = new Set(['view', 'cart', 'remove_from_cart', 'purchase']);
const toMs = (t: string) => Date.parse(t.replace(' UTC', 'Z').replace(' ', 'T'));

const small = [...generateSample({ seed: 42, users: 500 })];

function byKey<K>(rows: SampleRow[], key: (r: SampleRow) => K): Map<K, SampleRow[]> {
  const out = new Map<K, SampleRow[]>();
  for (const r of rows) {
    const list = out.get(key(r));
    if (list) list.push(r); else out.set(key(r), [r]);
  }
  return out;
}

test('same seed gives identical rows, a different seed different ones', () => {
  const a = [...generateSample({ seed: 7, users: 50 })];
  const b = [...generateSample({ seed: 7, users: 50 })];
  const c = [...generateSample({ seed: 8, users: 50 })];
  assert.ok(a.length > 0);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('defaults start on 2019-11-01 and stay within a plausible window', () => {
  const rows = [...generateSample()];
  assert.ok(rows.length > 1000, `only ${rows.length} rows for 200 users`);
  assert.ok(rows[0]!.event_time >= '2019-11-01 00:00:00 UTC');
  assert.ok(rows.at(-1)!.event_time < '2019-11-02 00:00:00 UTC');
  assert.equal(new Set(rows.map((r) => r.user_id)).size, 200);
});

test('rows are sorted by event_time', () => {
  for (let i = 1; i < small.length; i++) {
    assert.ok(small[i - 1]!.event_time <= small[i]!.event_time, `row ${i} goes back in time`);
  }
});

test('every field is well-formed and CSV-safe', () => {
  const header = REES46_HEADER.split(',');
  assert.equal(header.length, 9);
  for (const row of small) {
    assert.deepEqual(Object.keys(row), header);
    assert.match(row.event_time, TIME);
    assert.ok(TYPES.has(row.event_type), row.event_type);
    assert.match(row.product_id, /^\d+$/);
    assert.match(row.category_id, /^\d{19}$/);
    assert.match(row.category_code, /^([a-z_]+(\.[a-z_]+)+)?$/);
    assert.match(row.price, /^\d+\.\d{2}$/);
    const price = Number(row.price);
    assert.ok(price >= 0 && price <= 2000, row.price);
    assert.match(row.user_id, /^\d+$/);
    assert.match(row.user_session, UUID);
    for (const v of Object.values(row)) assert.doesNotMatch(v, /[,"\r\n]/);
    assert.equal(toCsvLine(row).split(',').length, 9);
  }
  assert.equal(toCsvLine(small[0]!), Object.values(small[0]!).join(','));
});

test('catalog looks like REES46: ~1/3 products without code, prices spread, stable per product', () => {
  const products = new Map<string, SampleRow>();
  for (const r of small) {
    const seen = products.get(r.product_id);
    if (seen) assert.deepEqual([seen.category_id, seen.category_code, seen.brand, seen.price], [r.category_id, r.category_code, r.brand, r.price]);
    else products.set(r.product_id, r);
  }
  const list = [...products.values()];
  const uncoded = list.filter((p) => p.category_code === '').length / list.length;
  assert.ok(uncoded > 0.15 && uncoded < 0.5, `uncoded share ${uncoded}`);
  assert.ok(list.some((p) => Number(p.price) > 200));
  assert.ok(list.some((p) => Number(p.price) < 20));
  assert.ok(list.some((p) => p.brand === ''));
  const categories = new Set(list.map((p) => p.category_id)).size;
  assert.ok(categories >= 15 && categories <= 25, `${categories} categories`);
});

test('event-type mix for 500 users is roughly right', () => {
  const counts = new Map<string, number>();
  for (const r of small) counts.set(r.event_type, (counts.get(r.event_type) ?? 0) + 1);
  const view = counts.get('view') ?? 0, cart = counts.get('cart') ?? 0;
  const remove = counts.get('remove_from_cart') ?? 0, purchase = counts.get('purchase') ?? 0;
  assert.ok(view > cart && cart > purchase && purchase > 0 && remove > 0, JSON.stringify(Object.fromEntries(counts)));

  const sessions = [...byKey(small, (r) => r.user_session).values()];
  const share = (type: string) => sessions.filter((s) => s.some((r) => r.event_type === type)).length / sessions.length;
  const carted = share('cart'), bought = share('purchase');
  assert.ok(carted > 0.35 && carted < 0.55, `sessions with a cart: ${carted}`);
  assert.ok(bought > 0.12 && bought < 0.28, `sessions with a purchase: ${bought}`);
});

test('purchases are of carted items at the product price', () => {
  const prices = new Map(small.map((r) => [r.product_id, r.price]));
  for (const session of byKey(small, (r) => r.user_session).values()) {
    const carted = new Set<string>();
    for (const r of session) {
      if (r.event_type === 'cart') carted.add(r.product_id);
      if (r.event_type === 'remove_from_cart' || r.event_type === 'purchase') assert.ok(carted.has(r.product_id), `${r.event_type} of an uncarted product`);
      if (r.event_type === 'purchase') assert.equal(r.price, prices.get(r.product_id));
    }
  }
});

test('sessions belong to one user, and a user\'s sessions are more than 30 minutes apart', () => {
  for (const rows of byKey(small, (r) => r.user_session).values()) {
    assert.equal(new Set(rows.map((r) => r.user_id)).size, 1);
  }
  let longGapInside = 0;
  for (const rows of byKey(small, (r) => r.user_id).values()) {
    for (let i = 1; i < rows.length; i++) {
      const gap = toMs(rows[i]!.event_time) - toMs(rows[i - 1]!.event_time);
      if (rows[i]!.user_session !== rows[i - 1]!.user_session) assert.ok(gap > 30 * 60_000, `sessions only ${gap / 1000}s apart`);
      else {
        assert.ok(gap >= 5000 && gap <= 25 * 60_000, `in-session gap ${gap / 1000}s`);
        if (gap >= 10 * 60_000) longGapInside++;
      }
    }
  }
  assert.ok(longGapInside > 0, 'no rare 10-25 minute pause inside a session');
});

test('users view the same category 3+ times within 30 minutes', () => {
  let users = 0;
  for (const rows of byKey(small, (r) => r.user_id).values()) {
    const views = byKey(rows.filter((r) => r.event_type === 'view'), (r) => r.category_id);
    const hit = [...views.values()].some((v) =>
      v.some((r, i) => i + 2 < v.length && toMs(v[i + 2]!.event_time) - toMs(r.event_time) <= 30 * 60_000));
    if (hit) users++;
  }
  assert.ok(users > 50, `only ${users} of 500 users`);
});

test('100000 users stream without holding every row', () => {
  const started = performance.now();
  let rows = 0;
  let last = '';
  let peakHeap = 0;
  for (const row of generateSample({ seed: 3, users: 100_000 })) {
    assert.ok(row.event_time >= last);
    last = row.event_time;
    if (++rows % 200_000 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`100000 users: ${rows} rows in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s, peak heap ~${Math.round(peakHeap / 2 ** 20)} MiB)`);
  assert.ok(rows > 500_000);
});
