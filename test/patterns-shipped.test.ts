import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPatternDir } from '../src/cep/index.js';
import { runOffline, type OfflineReport } from '../src/runtime/index.js';
import type { SourceItem } from '../src/events/index.js';
import type { Action } from '../src/actions/index.js';

/**
 * The six shipped patterns (patterns/*.json), each with hand-written streams that must and must
 * not fire, run through runOffline: the engine's own partitions, watermarks (max event time − 5 s
 * per partition), actors and matcher. Every case is its own run with its own user, so no other
 * user moves the watermark. Events are numbered 1, 2, … in the order given (their seq).
 *
 * Matching is per key in ARRIVAL order; time limits compare event times (a match's events span
 * less than `within`, latest − earliest, whatever order they came in). So an event that arrives
 * late but within the 5 s lateness bound is matched as the event after the ones before it in the
 * stream, and can widen a match's span backwards.
 */

const { set: PATTERNS, rejected } = loadPatternDir(new URL('../patterns', import.meta.url).pathname);

const T = Date.UTC(2024, 2, 1, 12, 0, 0);
const S = 1_000;
const MIN = 60_000;
const H = 60 * MIN;
const DAY = 24 * H;
/** Past every shipped time limit (churn-risk's is 7 days). */
const FLUSH = 8 * DAY;

let users = 0;
/** A fresh user id per case. */
const newUser = (tag: string) => `${tag}-${++users}`;

interface Fields {
  product?: string;
  price?: number;
  category?: string;
  code?: string;
  session?: string;
}

/** One event of `user` at T + at; view of p1 at 50, session s1, no category unless told. */
function ev(type: string, user: string, at: number, f: Fields = {}): Record<string, unknown> {
  const e: Record<string, unknown> = {
    eventTime: T + at,
    eventType: type,
    productId: f.product ?? 'p1',
    price: f.price ?? 50,
    userId: user,
    userSession: f.session ?? 's1',
    categoryCode: f.code ?? '',
  };
  if (f.category !== undefined) e.categoryId = f.category;
  return e;
}
const view = (user: string, at: number, f?: Fields) => ev('view', user, at, f);
const cart = (user: string, at: number, f?: Fields) => ev('cart', user, at, f);
const purchase = (user: string, at: number, f?: Fields) => ev('purchase', user, at, f);

async function* source(events: Array<Record<string, unknown>>): AsyncGenerator<SourceItem> {
  let n = 0;
  for (const event of events) yield { ok: true, where: `case:${++n}`, event };
}

async function run(events: Array<Record<string, unknown>>, flushMs: number | null = FLUSH): Promise<OfflineReport> {
  const r = await runOffline(source(events), { patterns: PATTERNS, partitions: 8, maxOutOfOrderMs: 5_000, latePolicy: 'process', maxEventBytes: 16_384, flushMs });
  assert.deepEqual(r.rejected, []);
  assert.equal(r.counters.events, events.length);
  return r;
}

/** The actions of one pattern for the stream. */
async function fired(patternId: string, events: Array<Record<string, unknown>>, flushMs: number | null = FLUSH): Promise<Action[]> {
  return (await run(events, flushMs)).actions.filter((a) => a.patternId === patternId);
}

const seqs = (a: Action, stage: string) => (a.match[stage] ?? []).map((e) => e.seq);
const allSeqs = (a: Action) => Object.values(a.match).flatMap((list) => list.map((e) => e.seq));

test('all six shipped patterns load', () => {
  assert.deepEqual(rejected, []);
  assert.deepEqual(
    PATTERNS.patterns.map((p) => [p.id, p.version]),
    [
      ['cart-abandonment', 1],
      ['churn-risk', 1],
      ['cross-sell', 1],
      ['high-intent', 1],
      ['price-sensitive', 1],
      ['repeat-category', 1],
    ],
  );
});

describe('high-intent: the same product viewed 3+ times within 15 min (key: user + product)', () => {
  test('3rd view at +14:59 fires; the action contract', async () => {
    const u = newUser('hi');
    const a = await fired('high-intent', [view(u, 0, { price: 10 }), view(u, 7 * MIN, { price: 11 }), view(u, 14 * MIN + 59 * S, { price: 12 })]);
    assert.equal(a.length, 1);
    const x = a[0]!;
    assert.equal(x.actionId, `high-intent:1:${u}:3`);
    assert.equal(x.type, 'purchase_intent');
    assert.equal(x.patternId, 'high-intent');
    assert.equal(x.patternVersion, 1);
    assert.equal(x.userId, u);
    assert.equal(x.userSession, 's1');
    assert.equal(x.eventTime, T + 14 * MIN + 59 * S);
    assert.equal(x.timeout, undefined);
    assert.deepEqual(Object.keys(x.match), ['views']);
    assert.deepEqual(seqs(x, 'views'), [1, 2, 3]);
    assert.deepEqual(x.payload, { productId: 'p1', views: 3, price: 12 });
  });

  test('3rd view at +15:01 (or exactly +15:00) does not fire', async () => {
    for (const third of [15 * MIN + 1 * S, 15 * MIN]) {
      const u = newUser('hi');
      assert.deepEqual(await fired('high-intent', [view(u, 0), view(u, 7 * MIN), view(u, third)]), [], `third view at +${third / S}s`);
    }
  });

  test('views of different products, or of different users, do not add up', async () => {
    const u = newUser('hi');
    assert.equal((await fired('high-intent', [view(u, 0), view(u, MIN, { product: 'p2' }), view(u, 2 * MIN)])).length, 0);
    const v = newUser('hi');
    const w = newUser('hi');
    assert.equal((await fired('high-intent', [view(v, 0), view(w, MIN), view(v, 2 * MIN)])).length, 0);
  });

  test('interleaved products are counted apart: two actions, one per product', async () => {
    const u = newUser('hi');
    const p1 = { product: 'p1' };
    const p2 = { product: 'p2' };
    const a = await fired('high-intent', [view(u, 0, p1), view(u, MIN, p2), view(u, 2 * MIN, p1), view(u, 3 * MIN, p2), view(u, 4 * MIN, p1), view(u, 5 * MIN, p2)]);
    assert.deepEqual(
      a.map((x) => [x.actionId, x.payload.productId, allSeqs(x)]),
      [
        [`high-intent:1:${u}:5`, 'p1', [1, 3, 5]],
        [`high-intent:1:${u}:6`, 'p2', [2, 4, 6]],
      ],
    );
  });

  test('other event types of the product in between do not break the count (relaxed contiguity)', async () => {
    const u = newUser('hi');
    const a = await fired('high-intent', [view(u, 0), cart(u, MIN), view(u, 2 * MIN), purchase(u, 3 * MIN), view(u, 4 * MIN)]);
    assert.deepEqual(a.map(allSeqs), [[1, 3, 5]]);
  });

  test('skipPastLastEvent: 5 views give one action, 6 give two (views 1-3 and 4-6), never overlapping', async () => {
    const u = newUser('hi');
    const five = await fired('high-intent', [0, 1, 2, 3, 4].map((m) => view(u, m * MIN)));
    assert.deepEqual(five.map(allSeqs), [[1, 2, 3]]);
    const v = newUser('hi');
    const six = await fired('high-intent', [0, 1, 2, 3, 4, 5].map((m) => view(v, m * MIN)));
    assert.deepEqual(six.map(allSeqs), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  test('views that fall out of the window stop counting: 0, 1m, 16m, 17m, 18m fires once with the last three', async () => {
    const u = newUser('hi');
    const a = await fired('high-intent', [0, 1, 16, 17, 18].map((m) => view(u, m * MIN)));
    assert.deepEqual(a.map((x) => [allSeqs(x), x.payload.views]), [[[3, 4, 5], 3]]);
  });

  test('out of order within 5 s: the span is measured from the earliest event time, not the first arrival', async () => {
    // Arrivals: +3s, then +0s (3 s behind, within the lateness bound), then the third view.
    // +14:59 after the earliest: fires; +15:01 (only 14:58 after the first arrival) does not.
    const u = newUser('hi');
    const r = await run([view(u, 3 * S), view(u, 0), view(u, 14 * MIN + 59 * S)]);
    assert.equal(r.counters.late, 0);
    const a = r.actions.filter((x) => x.patternId === 'high-intent');
    assert.deepEqual(a.map((x) => [seqs(x, 'views'), x.eventTime]), [[[1, 2, 3], T + 14 * MIN + 59 * S]]);
    const v = newUser('hi');
    assert.deepEqual(await fired('high-intent', [view(v, 3 * S), view(v, 0), view(v, 15 * MIN + 1 * S)]), []);
  });
});

describe('cart-abandonment: a cart above 200, no purchase in the session within 30 min (absence, key: session)', () => {
  test('no purchase: fires at cart + 30 min with timeout: true; the action contract', async () => {
    const u = newUser('ca');
    const a = await fired('cart-abandonment', [view(u, 0, { product: 'p9', price: 250 }), cart(u, MIN, { product: 'p9', price: 250 })]);
    assert.equal(a.length, 1);
    const x = a[0]!;
    // An absence is completed by no message of its own: its id is built from its matched events.
    assert.equal(x.actionId, `cart-abandonment:1:${u}:2-2`);
    assert.equal(x.type, 'cart_recovery');
    assert.equal(x.patternVersion, 1);
    assert.equal(x.timeout, true);
    assert.equal(x.eventTime, T + MIN + 30 * MIN);
    assert.equal(x.userSession, 's1');
    assert.deepEqual(Object.keys(x.match), ['cart']);
    assert.deepEqual(seqs(x, 'cart'), [2]);
    assert.deepEqual(x.payload, { productId: 'p9', price: 250, cartedAt: T + MIN });
  });

  test('purchase at +29:59 prevents it; at +30:01 (or exactly +30:00, the deadline) it does not', async () => {
    const big = { price: 300 };
    const u = newUser('ca');
    assert.deepEqual(await fired('cart-abandonment', [cart(u, 0, big), purchase(u, 29 * MIN + 59 * S, big)]), []);
    for (const at of [30 * MIN + 1 * S, 30 * MIN]) {
      const v = newUser('ca');
      const a = await fired('cart-abandonment', [cart(v, 0, big), purchase(v, at, big)]);
      assert.deepEqual(
        a.map((x) => [x.eventTime, x.timeout]),
        [[T + 30 * MIN, true]],
        `purchase at +${at / S}s`,
      );
    }
  });

  test('a cart priced exactly 200 does not qualify, 200.01 does', async () => {
    const u = newUser('ca');
    assert.deepEqual(await fired('cart-abandonment', [cart(u, 0, { price: 200 })]), []);
    const v = newUser('ca');
    const a = await fired('cart-abandonment', [cart(v, 0, { price: 200.01 })]);
    assert.deepEqual(a.map((x) => x.payload.price), [200.01]);
  });

  test('only a purchase of the same session counts; any product', async () => {
    const big = { price: 250 };
    const u = newUser('ca');
    const other = await fired('cart-abandonment', [cart(u, 0, big), purchase(u, MIN, { ...big, session: 's2' })]);
    assert.equal(other.length, 1, 'a purchase in another session does not prevent it');
    const v = newUser('ca');
    assert.deepEqual(await fired('cart-abandonment', [cart(v, 0, { ...big, product: 'p1' }), purchase(v, MIN, { product: 'p2', price: 5 })]), []);
  });

  test('a purchase before the cart does not prevent it', async () => {
    const u = newUser('ca');
    assert.equal((await fired('cart-abandonment', [purchase(u, 0), cart(u, MIN, { price: 250 })])).length, 1);
  });

  test('two qualifying carts and no purchase: two actions, each at its own deadline; a purchase after the first cart only saves that one', async () => {
    const big = { price: 250 };
    const u = newUser('ca');
    const both = await fired('cart-abandonment', [cart(u, 0, big), cart(u, 5 * MIN, big)]);
    assert.deepEqual(both.map((x) => [seqs(x, 'cart'), x.eventTime]), [
      [[1], T + 30 * MIN],
      [[2], T + 35 * MIN],
    ]);
    const v = newUser('ca');
    const second = await fired('cart-abandonment', [cart(v, 0, big), purchase(v, MIN), cart(v, 2 * MIN, big)]);
    assert.deepEqual(second.map((x) => [seqs(x, 'cart'), x.eventTime]), [[[3], T + 32 * MIN]]);
  });

  test('without a flush it fires when the watermark (max event time − 5 s) reaches the deadline, not before', async () => {
    const big = { price: 250 };
    const u = newUser('ca');
    assert.deepEqual(await fired('cart-abandonment', [cart(u, 0, big)], null), [], 'nothing moved event time past the deadline');
    const v = newUser('ca');
    assert.deepEqual(await fired('cart-abandonment', [cart(v, 0, big), view(v, 30 * MIN + 4_999)], null), []);
    const w = newUser('ca');
    const a = await fired('cart-abandonment', [cart(w, 0, big), view(w, 30 * MIN + 5 * S)], null);
    assert.deepEqual(a.map((x) => [x.actionId, x.eventTime, x.timeout]), [[`cart-abandonment:1:${w}:1-1`, T + 30 * MIN, true]]);
  });

  test('out of order within 5 s: a purchase before the deadline that arrives after a later event still prevents it', async () => {
    // The purchase at +30:02 is past the deadline and does not count; the one at +29:58 arrives
    // after it, 4 s behind the partition's max event time (not late), and is inside the window.
    const big = { price: 250 };
    const u = newUser('ca');
    const r = await run([cart(u, 0, big), purchase(u, 30 * MIN + 2 * S), purchase(u, 29 * MIN + 58 * S)]);
    assert.equal(r.counters.late, 0);
    assert.deepEqual(r.actions.filter((x) => x.patternId === 'cart-abandonment'), []);
  });

  test('out of order within 5 s: a purchase arriving after the cart but stamped 3 s before it prevents it (arrival order)', async () => {
    // Matching is in arrival order, so this purchase follows the cart; a forbidden event counts
    // when its event time is before the deadline (patterns/README.md), and the span of cart and
    // purchase (3 s) is inside the 30 min. Flink, which sorts by event time first, would put the
    // purchase before the cart and fire.
    const u = newUser('ca');
    const r = await run([cart(u, 3 * S, { price: 250 }), purchase(u, 0)]);
    assert.equal(r.counters.late, 0);
    assert.deepEqual(r.actions.filter((x) => x.patternId === 'cart-abandonment'), []);
  });

  test('a purchase behind the watermark after the deadline fired is processed (late) but cannot take the action back', async () => {
    const u = newUser('ca');
    const r = await run([cart(u, 0, { price: 250 }), view(u, 30 * MIN + 5 * S), purchase(u, 29 * MIN)], null);
    assert.equal(r.counters.late, 1);
    assert.equal(r.actions.filter((x) => x.patternId === 'cart-abandonment').length, 1);
  });
});

describe('cross-sell: a view, then as the very next session event a view of another non-empty category, within 5 min (key: session)', () => {
  const A = { code: 'electronics.smartphone', category: '100', product: 'pa' };
  const B = { code: 'electronics.audio.headphone', category: '200', product: 'pb' };
  const C = { code: 'appliances.kitchen.kettle', category: '300', product: 'pc' };
  const D = { code: 'apparel.shoes', category: '400', product: 'pd' };

  test('fires at the second view; the action contract', async () => {
    const u = newUser('xs');
    const a = await fired('cross-sell', [view(u, 0, A), view(u, MIN, B)]);
    assert.equal(a.length, 1);
    const x = a[0]!;
    assert.equal(x.actionId, `cross-sell:1:${u}:2`);
    assert.equal(x.type, 'cross_sell');
    assert.equal(x.eventTime, T + MIN);
    assert.equal(x.timeout, undefined);
    assert.equal(x.userSession, 's1');
    assert.deepEqual(Object.keys(x.match).sort(), ['other', 'view']);
    assert.deepEqual([seqs(x, 'view'), seqs(x, 'other')], [[1], [2]]);
    assert.deepEqual(x.payload, { fromProductId: 'pa', fromCategory: A.code, toProductId: 'pb', toCategory: B.code });
  });

  test('the same category does not fire', async () => {
    const u = newUser('xs');
    assert.deepEqual(await fired('cross-sell', [view(u, 0, A), view(u, MIN, { ...A, product: 'pa2' })]), []);
  });

  test('an empty category code never counts, on either side, whatever the category id', async () => {
    const empty = { code: '', category: '999', product: 'pe' };
    const u = newUser('xs');
    assert.deepEqual(await fired('cross-sell', [view(u, 0, empty), view(u, MIN, B)]), [], 'from an empty category');
    const v = newUser('xs');
    assert.deepEqual(await fired('cross-sell', [view(v, 0, A), view(v, MIN, empty)]), [], 'to an empty category');
  });

  test('any event in between breaks "very next": a cart, a purchase, a remove_from_cart, a view with no category', async () => {
    for (const between of [
      (u: string) => cart(u, 30 * S, A),
      (u: string) => purchase(u, 30 * S, A),
      (u: string) => ev('remove_from_cart', u, 30 * S, A),
      (u: string) => view(u, 30 * S, { code: '' }),
    ]) {
      const u = newUser('xs');
      const events = [view(u, 0, A), between(u), view(u, MIN, B)];
      assert.deepEqual(await fired('cross-sell', events), [], String(events[1]!.eventType));
    }
  });

  test('a view of the same category in between: the pair is that view and the next', async () => {
    const u = newUser('xs');
    const a = await fired('cross-sell', [view(u, 0, A), view(u, 30 * S, { ...A, product: 'pa2' }), view(u, MIN, B)]);
    assert.deepEqual(a.map((x) => [x.payload.fromProductId, x.payload.toProductId]), [['pa2', 'pb']]);
  });

  test('different sessions do not combine; interleaved sessions are matched apart', async () => {
    const u = newUser('xs');
    assert.deepEqual(await fired('cross-sell', [view(u, 0, A), view(u, MIN, { ...B, session: 's2' })]), []);
    const v = newUser('xs');
    const a = await fired('cross-sell', [view(v, 0, A), view(v, 20 * S, { ...B, session: 's2' }), view(v, 40 * S, C)]);
    assert.deepEqual(a.map((x) => [x.userSession, x.payload.fromProductId, x.payload.toProductId]), [['s1', 'pa', 'pc']]);
  });

  test('within 5 min: second view at +4:59 fires, at +5:00 or +5:01 does not', async () => {
    const u = newUser('xs');
    assert.equal((await fired('cross-sell', [view(u, 0, A), view(u, 4 * MIN + 59 * S, B)])).length, 1);
    for (const at of [5 * MIN, 5 * MIN + 1 * S]) {
      const v = newUser('xs');
      assert.deepEqual(await fired('cross-sell', [view(v, 0, A), view(v, at, B)]), [], `+${at / S}s`);
    }
  });

  test('skipPastLastEvent: A B C gives one pair (the B view is used up), A B C D gives two', async () => {
    const u = newUser('xs');
    const three = await fired('cross-sell', [view(u, 0, A), view(u, MIN, B), view(u, 2 * MIN, C)]);
    assert.deepEqual(three.map((x) => [seqs(x, 'view'), seqs(x, 'other')]), [[[1], [2]]]);
    const v = newUser('xs');
    const four = await fired('cross-sell', [view(v, 0, A), view(v, MIN, B), view(v, 2 * MIN, C), view(v, 3 * MIN, D)]);
    assert.deepEqual(four.map((x) => [seqs(x, 'view'), seqs(x, 'other')]), [
      [[1], [2]],
      [[3], [4]],
    ]);
  });

  test('out of order within 5 s: the pair follows arrival order (from the first arrival to the second)', async () => {
    const u = newUser('xs');
    const r = await run([view(u, 3 * S, A), view(u, 0, B)]);
    assert.equal(r.counters.late, 0);
    const a = r.actions.filter((x) => x.patternId === 'cross-sell');
    assert.deepEqual(a.map((x) => [x.payload.fromProductId, x.payload.toProductId, x.eventTime]), [['pa', 'pb', T]]);
  });
});

describe('price-sensitive: view, later view of the same product cheaper, then a cart of it, within 10 min (key: user)', () => {
  test('fires at the cart at +9:59; the action contract', async () => {
    const u = newUser('ps');
    const a = await fired('price-sensitive', [view(u, 0, { price: 100 }), view(u, 2 * MIN, { price: 90 }), cart(u, 9 * MIN + 59 * S, { price: 89 })]);
    assert.equal(a.length, 1);
    const x = a[0]!;
    assert.equal(x.actionId, `price-sensitive:1:${u}:3`);
    assert.equal(x.type, 'price_drop');
    assert.equal(x.eventTime, T + 9 * MIN + 59 * S);
    assert.equal(x.timeout, undefined);
    assert.deepEqual(Object.keys(x.match).sort(), ['carted', 'cheaper', 'seen']);
    assert.deepEqual([seqs(x, 'seen'), seqs(x, 'cheaper'), seqs(x, 'carted')], [[1], [2], [3]]);
    assert.deepEqual(x.payload, { productId: 'p1', firstPrice: 100, lowerPrice: 90, cartPrice: 89 });
  });

  test('the cart at +10:00 or +10:01 is too late', async () => {
    for (const at of [10 * MIN, 10 * MIN + 1 * S]) {
      const u = newUser('ps');
      assert.deepEqual(await fired('price-sensitive', [view(u, 0, { price: 100 }), view(u, 2 * MIN, { price: 90 }), cart(u, at)]), [], `+${at / S}s`);
    }
  });

  test('the same price, or a higher one, does not fire', async () => {
    for (const second of [100, 110]) {
      const u = newUser('ps');
      assert.deepEqual(await fired('price-sensitive', [view(u, 0, { price: 100 }), view(u, MIN, { price: second }), cart(u, 2 * MIN)]), [], `second price ${second}`);
    }
  });

  test('a price that went down then up: only a later view can be the cheaper one', async () => {
    const u = newUser('ps');
    assert.deepEqual(await fired('price-sensitive', [view(u, 0, { price: 90 }), view(u, MIN, { price: 100 }), cart(u, 2 * MIN)]), []);
  });

  test('a cart of another product does not fire; a cart of the product after it does', async () => {
    const u = newUser('ps');
    assert.deepEqual(await fired('price-sensitive', [view(u, 0, { price: 100 }), view(u, MIN, { price: 90 }), cart(u, 2 * MIN, { product: 'p2' })]), []);
    const v = newUser('ps');
    const a = await fired('price-sensitive', [view(v, 0, { price: 100 }), view(v, MIN, { price: 90 }), cart(v, 2 * MIN, { product: 'p2' }), cart(v, 3 * MIN)]);
    assert.deepEqual(a.map((x) => seqs(x, 'carted')), [[4]]);
  });

  test('a cheaper view of another product does not count', async () => {
    const u = newUser('ps');
    assert.deepEqual(await fired('price-sensitive', [view(u, 0, { price: 100 }), view(u, MIN, { product: 'p2', price: 50 }), cart(u, 2 * MIN)]), []);
  });

  test('the cart must come after the cheaper view', async () => {
    const u = newUser('ps');
    assert.deepEqual(await fired('price-sensitive', [view(u, 0, { price: 100 }), cart(u, MIN), view(u, 2 * MIN, { price: 90 })]), []);
  });

  test('other products viewed in between do not matter; one action per match, the second cart finds nothing left', async () => {
    const u = newUser('ps');
    const a = await fired('price-sensitive', [
      view(u, 0, { price: 100 }),
      view(u, 30 * S, { product: 'p2', price: 7 }),
      view(u, MIN, { price: 90 }),
      view(u, 90 * S, { product: 'p3', price: 7 }),
      cart(u, 2 * MIN),
      cart(u, 3 * MIN),
    ]);
    assert.deepEqual(a.map(allSeqs), [[1, 3, 5]]);
  });

  test('out of order within 5 s: the cheaper view may carry an earlier event time (it arrived later); the window runs from the earliest', async () => {
    const u = newUser('ps');
    const r = await run([view(u, 3 * S, { price: 100 }), view(u, 0, { price: 90 }), cart(u, 9 * MIN + 59 * S)]);
    assert.equal(r.counters.late, 0);
    assert.deepEqual(r.actions.filter((x) => x.patternId === 'price-sensitive').map(allSeqs), [[1, 2, 3]]);
    const v = newUser('ps');
    // +10:01 after the earliest event (the second arrival), only +9:58 after the first.
    assert.deepEqual(await fired('price-sensitive', [view(v, 3 * S, { price: 100 }), view(v, 0, { price: 90 }), cart(v, 10 * MIN + 1 * S)]), []);
  });
});

describe('churn-risk: 10+ views and no purchase within 7 days of the first (absence, key: user, one watch at a time)', () => {
  /** n views of products v1..vn, 12 h apart from `from`. */
  const views = (u: string, n: number, from = 0, step = 12 * H) => Array.from({ length: n }, (_, i) => view(u, from + i * step, { product: `v${i + 1}` }));

  test('10 views fire at first view + 7 days with timeout: true; the action contract', async () => {
    const u = newUser('ch');
    const a = await fired('churn-risk', views(u, 10));
    assert.equal(a.length, 1);
    const x = a[0]!;
    assert.equal(x.actionId, `churn-risk:1:${u}:1-10`);
    assert.equal(x.type, 'churn_winback');
    assert.equal(x.timeout, true);
    assert.equal(x.eventTime, T + 7 * DAY);
    assert.deepEqual(Object.keys(x.match), ['views']);
    assert.deepEqual(seqs(x, 'views'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(x.payload, { views: 10, firstViewAt: T, lastProductId: 'v10' });
  });

  test('9 views do not fire', async () => {
    const u = newUser('ch');
    assert.deepEqual(await fired('churn-risk', views(u, 9)), []);
  });

  test('a purchase on day 6 prevents it; one on day 8 (after the deadline) does not', async () => {
    const u = newUser('ch');
    assert.deepEqual(await fired('churn-risk', [...views(u, 10), purchase(u, 6 * DAY)]), []);
    const v = newUser('ch');
    const a = await fired('churn-risk', [...views(v, 10), purchase(v, 8 * DAY)]);
    assert.deepEqual(a.map((x) => x.eventTime), [T + 7 * DAY]);
  });

  test('the 10 views must fall within the 7 days: a 10th view after the deadline starts a new watch instead', async () => {
    const u = newUser('ch');
    assert.deepEqual(await fired('churn-risk', [...views(u, 9, 0, H), view(u, 7 * DAY + MIN)]), []);
  });

  test('one watch per user: 20 views give one action counting all 20', async () => {
    const u = newUser('ch');
    const a = await fired('churn-risk', views(u, 20, 0, 6 * H));
    assert.deepEqual(a.map((x) => [x.payload.views, x.payload.firstViewAt, x.payload.lastProductId, x.eventTime]), [[20, T, 'v20', T + 7 * DAY]]);
  });

  test('a purchase ends the watch; the next view opens a new one', async () => {
    const u = newUser('ch');
    const a = await fired('churn-risk', [...views(u, 5, 0, H), purchase(u, DAY), ...views(u, 10, 2 * DAY, H)]);
    assert.deepEqual(a.map((x) => [x.payload.views, x.payload.firstViewAt, x.eventTime, seqs(x, 'views')[0]]), [[10, T + 2 * DAY, T + 9 * DAY, 7]]);
  });

  test('a watch that ends with 9 views is dropped; a view after its deadline opens the next', async () => {
    const u = newUser('ch');
    const a = await fired('churn-risk', [...views(u, 9, 0, H), ...views(u, 10, 8 * DAY, H)]);
    assert.deepEqual(a.map((x) => [x.payload.views, x.eventTime]), [[10, T + 15 * DAY]]);
  });

  test('without a flush it fires when the watermark reaches the deadline: an event 7 d + 5 s after the first view', async () => {
    const u = newUser('ch');
    assert.deepEqual(await fired('churn-risk', [...views(u, 10), cart(u, 7 * DAY + 4_999)], null), []);
    const v = newUser('ch');
    const a = await fired('churn-risk', [...views(v, 10), cart(v, 7 * DAY + 5 * S)], null);
    assert.deepEqual(a.map((x) => [x.actionId, x.eventTime, x.timeout]), [[`churn-risk:1:${v}:1-10`, T + 7 * DAY, true]]);
  });

  test('out of order within 5 s: a purchase arriving after the 10th view, stamped before it, still ends the watch', async () => {
    const u = newUser('ch');
    const r = await run([...views(u, 10), purchase(u, 9 * 12 * H - 2 * S)]);
    assert.equal(r.counters.late, 0);
    assert.deepEqual(r.actions.filter((x) => x.patternId === 'churn-risk'), []);
  });
});

describe('repeat-category: 3 views of one category (id, else code) within 30 min, one coupon per category per 30 min (key: user)', () => {
  const A = { category: 'c-a', code: 'kids.toys' };
  const B = { category: 'c-b', code: 'sport.bicycle' };
  const pv = (u: string, at: number, product: string, cat = A) => view(u, at, { ...cat, product });

  test('the 3rd view at +29:59 fires; the action contract', async () => {
    const u = newUser('rc');
    const a = await fired('repeat-category', [pv(u, 0, 'p1'), pv(u, 10 * MIN, 'p2'), pv(u, 29 * MIN + 59 * S, 'p3')]);
    assert.equal(a.length, 1);
    const x = a[0]!;
    assert.equal(x.actionId, `repeat-category:1:${u}:3`);
    assert.equal(x.type, 'coupon');
    assert.equal(x.eventTime, T + 29 * MIN + 59 * S);
    assert.equal(x.timeout, undefined);
    assert.deepEqual(Object.keys(x.match).sort(), ['again', 'view']);
    assert.deepEqual([seqs(x, 'view'), seqs(x, 'again')], [[1], [2, 3]]);
    assert.deepEqual(x.payload, { category: 'c-a', categoryCode: 'kids.toys', productIds: ['p1', 'p2', 'p3'], views: 3 });
  });

  test('the 3rd view at +30:00 or +30:01 does not fire', async () => {
    for (const at of [30 * MIN, 30 * MIN + 1 * S]) {
      const u = newUser('rc');
      assert.deepEqual(await fired('repeat-category', [pv(u, 0, 'p1'), pv(u, 10 * MIN, 'p2'), pv(u, at, 'p3')]), [], `+${at / S}s`);
    }
  });

  test('the category is the id, else the code; with neither, a view never counts', async () => {
    const byCode = { code: 'kids.toys' };
    const u = newUser('rc');
    const a = await fired('repeat-category', [view(u, 0, byCode), view(u, MIN, byCode), view(u, 2 * MIN, byCode)]);
    assert.deepEqual(a.map((x) => x.payload.category), ['kids.toys']);
    const v = newUser('rc');
    const sameCodeOtherIds = [1, 2, 3].map((i) => view(v, i * MIN, { category: `id-${i}`, code: 'kids.toys' }));
    assert.deepEqual(await fired('repeat-category', sameCodeOtherIds), [], 'the id decides, not the shared code');
    const w = newUser('rc');
    assert.deepEqual(await fired('repeat-category', [view(w, 0), view(w, MIN), view(w, 2 * MIN)]), [], 'no category at all');
  });

  test('other categories in between are skipped', async () => {
    const u = newUser('rc');
    const a = await fired('repeat-category', [pv(u, 0, 'a1'), pv(u, MIN, 'b1', B), pv(u, 2 * MIN, 'a2'), pv(u, 3 * MIN, 'b2', B), pv(u, 4 * MIN, 'a3')]);
    assert.deepEqual(a.map((x) => [x.actionId, x.payload.productIds]), [[`repeat-category:1:${u}:5`, ['a1', 'a2', 'a3']]]);
  });

  test('the cap: 6 views of a category in 10 min give one coupon; another category has its own', async () => {
    const u = newUser('rc');
    const events = [0, 2, 4, 6, 8, 10].flatMap((m, i) => [pv(u, m * MIN, `a${i}`), pv(u, m * MIN + S, `b${i}`, B)]);
    const a = await fired('repeat-category', events);
    assert.deepEqual(a.map((x) => [x.payload.category, allSeqs(x)]), [
      ['c-a', [1, 3, 5]],
      ['c-b', [2, 4, 6]],
    ]);
  });

  test('the cap window is 30 min of event time: a match 29:30 after the coupon is held back, one 30:00 after is sent', async () => {
    const u = newUser('rc');
    const a = await fired('repeat-category', [0, 1, 2, 31, 31.5, 32].map((m, i) => pv(u, m * MIN, `p${i + 1}`)));
    assert.deepEqual(a.map((x) => [x.eventTime, allSeqs(x)]), [
      [T + 2 * MIN, [1, 2, 3]],
      [T + 32 * MIN, [4, 5, 6]],
    ]);
  });

  test('out of order within 5 s: the span runs from the earliest event time, not the first arrival', async () => {
    const u = newUser('rc');
    const r = await run([pv(u, 3 * S, 'p1'), pv(u, 0, 'p2'), pv(u, 29 * MIN + 59 * S, 'p3')]);
    assert.equal(r.counters.late, 0);
    assert.deepEqual(r.actions.filter((x) => x.patternId === 'repeat-category').map((x) => x.payload.productIds), [['p1', 'p2', 'p3']]);
    const v = newUser('rc');
    assert.deepEqual(await fired('repeat-category', [pv(v, 3 * S, 'p1'), pv(v, 0, 'p2'), pv(v, 30 * MIN + 1 * S, 'p3')]), []);
  });
});

test('every action id is <patternId>:<version>:<userId>:<seq> (an absence: <firstSeq>-<lastSeq> of its events)', async () => {
  const u = newUser('all');
  const A = { category: 'c-a', code: 'kids.toys', product: 'pa' };
  const B = { category: 'c-b', code: 'sport.bicycle', product: 'pb' };
  const r = await run([
    view(u, 0, { ...A, price: 100 }),
    view(u, MIN, B),
    view(u, 2 * MIN, { ...A, price: 90 }),
    view(u, 3 * MIN, A),
    cart(u, 4 * MIN, { ...A, price: 300 }),
    ...Array.from({ length: 8 }, (_, i) => view(u, (5 + i) * MIN, { product: `x${i}` })),
  ]);
  const ids = new Set(r.actions.map((a) => a.patternId));
  assert.deepEqual([...ids].sort(), ['cart-abandonment', 'churn-risk', 'cross-sell', 'high-intent', 'price-sensitive', 'repeat-category']);
  for (const a of r.actions) {
    const s = allSeqs(a);
    const expected = a.timeout ? `${a.patternId}:1:${u}:${Math.min(...s)}-${Math.max(...s)}` : `${a.patternId}:1:${u}:${Math.max(...s)}`;
    assert.equal(a.actionId, expected);
    assert.equal(a.patternVersion, 1);
    assert.equal(a.type, { 'cart-abandonment': 'cart_recovery', 'churn-risk': 'churn_winback', 'cross-sell': 'cross_sell', 'high-intent': 'purchase_intent', 'price-sensitive': 'price_drop', 'repeat-category': 'coupon' }[a.patternId]);
    assert.equal(a.timeout === true, a.patternId === 'cart-abandonment' || a.patternId === 'churn-risk');
  }
});
