/**
 * The naive baseline for `npm run bench`: what a Node team would reach for instead of Nudge's
 * engine. It reads the same EVENTS stream the same way the RAW pass does (one ordered consumer
 * per partition on one connection, `JSON.parse` of every body), keeps per-user state in a plain
 * `Map`, and for every event computes a handful of facts from that state and runs a
 * json-rules-engine `Engine` holding six rules with the intent of the six patterns in
 * `patterns/` (`await engine.run(facts)` per event).
 *
 * Per user it keeps: the user's events of the last 30 minutes of event time (the longest window
 * the rules scan), the previous event, the open carts above 200 awaiting their 30-minute
 * deadline, one churn watch (first view time + view count since the last purchase), and what the
 * rules fired last (per product for high-intent, per category for the coupon cap, the last
 * price-drop, whether the previous event completed a cross-sell) so a rule does not fire again
 * on the same events, as the patterns' skip strategies and cap prevent.
 *
 * What it simplifies (all in its favour, so the comparison flatters it):
 * - no validation (a body is trusted once it parses), no dead letters, no watermark or late
 *   handling: event time is `Date.parse(eventTime)` in arrival order;
 * - the two absence rules (cart-abandonment, churn-risk) are checked lazily, when a later event
 *   of the same user arrives: a deadline that passes with no further event of that user never
 *   fires (the engine fires it when the partition's watermark passes it);
 * - patterns are reduced to counts and scans over the recent-events list (a view count in a
 *   window, "a cheaper view of this product before this cart"), not general partial matches:
 *   no maxRunsPerKey, no per-run contiguity bookkeeping;
 * - nothing is published (no actions, no session summaries), nothing is persisted or
 *   checkpointed, no exactly-once, and the per-user Map is never evicted.
 */
import { Engine as RulesEngine, type RuleProperties } from 'json-rules-engine';
import { jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import { connectNats, Streams, Subjects } from '../src/nats/index.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

/** Action type per baseline rule, the same types the patterns emit (rule name = pattern id). */
export const BASELINE_RULE_TYPES = {
  'cart-abandonment': 'cart_recovery',
  'churn-risk': 'churn_winback',
  'cross-sell': 'cross_sell',
  'high-intent': 'purchase_intent',
  'price-sensitive': 'price_drop',
  'repeat-category': 'coupon',
} as const;
export type BaselineRuleId = keyof typeof BASELINE_RULE_TYPES;

const rule = (name: BaselineRuleId, all: Array<{ fact: string; operator: string; value: unknown }>): RuleProperties => ({
  name,
  conditions: { all },
  event: { type: BASELINE_RULE_TYPES[name], params: { patternId: name } },
});

/** The six rules, as a team would write them for json-rules-engine: thresholds over precomputed facts. */
export const BASELINE_RULES: RuleProperties[] = [
  // A cart above 200 and no purchase in its session within 30 minutes (checked when the user's next event arrives).
  rule('cart-abandonment', [{ fact: 'abandonedCarts', operator: 'greaterThan', value: 0 }]),
  // 10 or more views and no purchase within 7 days of the first of them (checked lazily, as above).
  rule('churn-risk', [{ fact: 'churnExpiredViews', operator: 'greaterThanInclusive', value: 10 }]),
  // A view, then the very next event of the session a view of another non-empty category, within 5 minutes.
  rule('cross-sell', [
    { fact: 'eventType', operator: 'equal', value: 'view' },
    { fact: 'categoryCode', operator: 'notEqual', value: '' },
    { fact: 'prevInSession', operator: 'equal', value: true },
    { fact: 'prevEventType', operator: 'equal', value: 'view' },
    { fact: 'prevCategoryCode', operator: 'notEqual', value: '' },
    { fact: 'prevCategoryCode', operator: 'notEqual', value: { fact: 'categoryCode' } },
    { fact: 'msSincePrev', operator: 'lessThan', value: 5 * MIN },
    { fact: 'prevCompletedCrossSell', operator: 'equal', value: false },
  ]),
  // The same product viewed at least 3 times within 15 minutes (counting views after its last firing).
  rule('high-intent', [
    { fact: 'eventType', operator: 'equal', value: 'view' },
    { fact: 'productViews15m', operator: 'greaterThanInclusive', value: 3 },
  ]),
  // A view of a product, a later cheaper view of it, then a cart of it, within 10 minutes.
  rule('price-sensitive', [
    { fact: 'eventType', operator: 'equal', value: 'cart' },
    { fact: 'cheaperViewBeforeCart', operator: 'equal', value: true },
  ]),
  // 3 views of one category (id, else code) within 30 minutes; at most one coupon per category per 30 minutes.
  rule('repeat-category', [
    { fact: 'eventType', operator: 'equal', value: 'view' },
    { fact: 'category', operator: 'notEqual', value: '' },
    { fact: 'categoryViews30m', operator: 'greaterThanInclusive', value: 3 },
    { fact: 'couponForCategoryWithin30m', operator: 'equal', value: false },
  ]),
];

interface Ev {
  /** Ordinal of the event among this user's events. */
  i: number;
  t: number;
  type: string;
  productId: string;
  category: string;
  categoryCode: string;
  price: number;
  session: string;
  completedCrossSell: boolean;
}

interface UserState {
  n: number;
  /** This user's events of the last 30 minutes of event time, oldest first. */
  recent: Ev[];
  prev: Ev | null;
  pendingCarts: Array<{ session: string; deadline: number }>;
  churn: { start: number; views: number } | null;
  highIntentFiredAt: Map<string, number>;
  priceDropFiredAt: number;
  couponAt: Map<string, number>;
}

export type BaselineFacts = {
  eventType: string;
  productId: string;
  category: string;
  categoryCode: string;
  price: number;
  prevInSession: boolean;
  prevEventType: string;
  prevCategoryCode: string;
  msSincePrev: number;
  prevCompletedCrossSell: boolean;
  productViews15m: number;
  cheaperViewBeforeCart: boolean;
  categoryViews30m: number;
  couponForCategoryWithin30m: boolean;
  abandonedCarts: number;
  churnExpiredViews: number;
};

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** Per-user state and the facts of each event; one instance per partition lane (a user lives in one partition). */
export class BaselineState {
  readonly users = new Map<string, UserState>();

  /** Updates the user's state with the event and returns the facts the rules see. */
  facts(body: Record<string, unknown>): { user: UserState; ev: Ev; facts: BaselineFacts } {
    const userId = str(body.userId);
    let u = this.users.get(userId);
    if (!u) {
      u = { n: 0, recent: [], prev: null, pendingCarts: [], churn: null, highIntentFiredAt: new Map(), priceDropFiredAt: -1, couponAt: new Map() };
      this.users.set(userId, u);
    }
    const t = typeof body.eventTime === 'number' ? body.eventTime : Date.parse(str(body.eventTime));
    const categoryCode = str(body.categoryCode);
    const ev: Ev = {
      i: u.n++,
      t,
      type: str(body.eventType),
      productId: str(body.productId),
      category: str(body.categoryId) || categoryCode,
      categoryCode,
      price: Number(body.price),
      session: str(body.userSession),
      completedCrossSell: false,
    };

    // The 30-minute window, this event included.
    while (u.recent.length > 0 && u.recent[0]!.t <= t - 30 * MIN) u.recent.shift();
    u.recent.push(ev);

    // cart-abandonment, lazily: carts whose deadline has passed without a purchase in their session.
    let abandonedCarts = 0;
    if (u.pendingCarts.length > 0) {
      u.pendingCarts = u.pendingCarts.filter((c) => {
        if (c.deadline > t) return true;
        abandonedCarts++;
        return false;
      });
      if (ev.type === 'purchase') u.pendingCarts = u.pendingCarts.filter((c) => c.session !== ev.session);
    }
    if (ev.type === 'cart' && ev.price > 200) u.pendingCarts.push({ session: ev.session, deadline: t + 30 * MIN });

    // churn-risk, lazily: one watch per user from its first view; a purchase ends it.
    let churnExpiredViews = 0;
    if (u.churn && t - u.churn.start >= 7 * DAY) {
      churnExpiredViews = u.churn.views;
      u.churn = null;
    }
    if (ev.type === 'purchase') u.churn = null;
    else if (ev.type === 'view') {
      if (u.churn) u.churn.views++;
      else u.churn = { start: t, views: 1 };
    }

    // Scans of the recent events for the windowed rules.
    let productViews15m = 0;
    let categoryViews30m = 0;
    let cheaperViewBeforeCart = false;
    const highIntentAfter = u.highIntentFiredAt.get(ev.productId) ?? -1;
    let maxPriceSeen = -Infinity;
    for (const r of u.recent) {
      if (r.type === 'view') {
        if (ev.category !== '' && r.category === ev.category) categoryViews30m++;
        if (r.productId === ev.productId) {
          if (r.t > t - 15 * MIN && r.i > highIntentAfter) productViews15m++;
          if (ev.type === 'cart' && r.t > t - 10 * MIN && r.i > u.priceDropFiredAt) {
            if (r.price < maxPriceSeen) cheaperViewBeforeCart = true;
            if (r.price > maxPriceSeen) maxPriceSeen = r.price;
          }
        }
      }
    }

    const prev = u.prev;
    const prevInSession = prev !== null && prev.session === ev.session;
    const facts: BaselineFacts = {
      eventType: ev.type,
      productId: ev.productId,
      category: ev.category,
      categoryCode,
      price: ev.price,
      prevInSession,
      prevEventType: prev?.type ?? '',
      prevCategoryCode: prev?.categoryCode ?? '',
      msSincePrev: prev ? t - prev.t : Infinity,
      prevCompletedCrossSell: prev?.completedCrossSell ?? false,
      productViews15m,
      cheaperViewBeforeCart,
      categoryViews30m,
      couponForCategoryWithin30m: ev.category !== '' && (u.couponAt.get(ev.category) ?? -Infinity) > t - 30 * MIN,
      abandonedCarts,
      churnExpiredViews,
    };
    u.prev = ev;
    return { user: u, ev, facts };
  }

  /** What a fired rule changes, so it does not fire again on the same events. */
  fired(u: UserState, ev: Ev, id: BaselineRuleId): void {
    switch (id) {
      case 'cross-sell':
        ev.completedCrossSell = true;
        break;
      case 'high-intent':
        u.highIntentFiredAt.set(ev.productId, ev.i);
        break;
      case 'price-sensitive':
        u.priceDropFiredAt = ev.i;
        break;
      case 'repeat-category':
        u.couponAt.set(ev.category, ev.t);
        break;
      default:
        break;
    }
  }
}

export interface BaselineResult {
  messages: number;
  ms: number;
  rate: number;
  perPartition: number[];
  /** ms until every partition's consumer was created and consuming, and until the first message. */
  setupMs?: number;
  firstMsgMs?: number;
  /** Per rule: actions it would send (cart-abandonment: one per abandoned cart, as the pattern does). */
  fired: Record<BaselineRuleId, number>;
  /** engine.run calls (one per event). */
  runs: number;
  users: number;
}

const newFired = (): Record<BaselineRuleId, number> =>
  Object.fromEntries(Object.keys(BASELINE_RULE_TYPES).map((k) => [k, 0])) as Record<BaselineRuleId, number>;

/**
 * One pass over the stream: per partition an ordered consumer read with `for await` (so each
 * event's `await engine.run` finishes before the next event of that partition, keeping a user's
 * events in order) and its own rules engine (json-rules-engine's `run` is not safe to overlap on
 * one instance: a finishing run marks the engine FINISHED and a concurrent one skips its
 * remaining rules). Ends when every partition has seen its last sequence.
 */
export async function rulesBaselinePass(url: string, lastSeq: number[], timeoutMs: number, progress?: (msg: string) => void): Promise<BaselineResult> {
  const nc = await connectNats(url, 'nudge-bench-rules');
  const js = jetstream(nc);
  const running: ConsumerMessages[] = [];
  const perPartition = lastSeq.map(() => 0);
  const fired = newFired();
  const states: BaselineState[] = [];
  let seen = 0;
  let runs = 0;
  let ready = 0;
  let setupMs: number | undefined;
  let firstMsgMs: number | undefined;
  let stopped = false;
  const active = lastSeq.filter((l) => l > 0).length;
  const t0 = performance.now();
  const report = progress
    ? setInterval(() => progress(`    rules ${seen.toLocaleString('en-US')} (${Math.round(seen / ((performance.now() - t0) / 1000)).toLocaleString('en-US')}/s)`), 5_000)
    : undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const lanes = lastSeq.map(async (last, p) => {
      if (last === 0) return;
      const engine = new RulesEngine(BASELINE_RULES);
      const state = new BaselineState();
      states.push(state);
      const consumer = await js.consumers.get(Streams.events, { filter_subjects: Subjects.partitionFilter(p) });
      const messages = await consumer.consume();
      running.push(messages);
      if (++ready === active) setupMs = performance.now() - t0;
      for await (const m of messages) {
        if (stopped) break;
        firstMsgMs ??= performance.now() - t0;
        const body = JSON.parse(m.string()) as Record<string, unknown>;
        // Engine watermark ticks (events._tick.…) are not clickstream; they only follow the last event anyway.
        if (!m.subject.startsWith('events._')) {
          const { user, ev, facts } = state.facts(body);
          const result = await engine.run(facts);
          runs++;
          for (const e of result.events) {
            const id = (e.params as { patternId: BaselineRuleId }).patternId;
            fired[id] += id === 'cart-abandonment' ? facts.abandonedCarts : 1;
            state.fired(user, ev, id);
          }
          seen++;
          perPartition[p]!++;
        }
        if (m.seq >= last) {
          messages.stop();
          break;
        }
      }
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s: rules pass (${seen} messages seen)`)), timeoutMs);
    });
    await Promise.race([Promise.all(lanes), timeout]);
    const ms = performance.now() - t0;
    return {
      messages: seen,
      ms,
      rate: seen / (ms / 1000),
      perPartition,
      ...(setupMs !== undefined ? { setupMs } : {}),
      ...(firstMsgMs !== undefined ? { firstMsgMs } : {}),
      fired,
      runs,
      users: states.reduce((a, s) => a + s.users.size, 0),
    };
  } finally {
    stopped = true;
    clearTimeout(timer);
    clearInterval(report);
    for (const m of running) m.stop();
    await nc.close().catch(() => undefined);
  }
}
