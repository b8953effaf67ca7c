import type { OperatorFunction } from 'rxjs';
import { combine, count, distinctCount, filtered } from './aggregations.js';
import { createWindows } from './create.js';
import { topCategory, type AnalyticsEvent } from './event.js';
import { AnalyticsJobNames, DEFAULT_JOB_LATENESS, jobOperator, WindowJob, type JobOutput } from './job.js';
import type { StreamItem } from './types.js';
import { checkLateness, tumbling } from './windows.js';

export interface FunnelOptions {
  /** Window size, ms. Default 1 minute. */
  size?: number;
  /** Default 60 s. */
  allowedLateness?: number;
}

/**
 * One category's funnel in one window. Conversions are ratios of the distinct-user counts of two
 * steps (not of users who did both, which a window cannot see in order), 0 when the earlier step
 * has no users; so they can exceed 1 when buyers in a minute did not browse in it.
 */
export interface FunnelRecord {
  category: string;
  views: number;
  carts: number;
  purchases: number;
  viewers: number;
  carters: number;
  purchasers: number;
  viewToCart: number;
  cartToPurchase: number;
  viewToPurchase: number;
}

const is = (type: string) => (e: AnalyticsEvent) => e.eventType === type;
const user = (e: AnalyticsEvent) => e.userId;

const funnelAggregate = () =>
  combine({
    views: filtered(is('view'), count<AnalyticsEvent>()),
    carts: filtered(is('cart'), count<AnalyticsEvent>()),
    purchases: filtered(is('purchase'), count<AnalyticsEvent>()),
    viewers: filtered(is('view'), distinctCount(user)),
    carters: filtered(is('cart'), distinctCount(user)),
    purchasers: filtered(is('purchase'), distinctCount(user)),
  });
/** The per-step counts one window holds: { views, carts, purchases, viewers, carters, purchasers }. */
type StepCounts = ReturnType<ReturnType<typeof funnelAggregate>['result']>;

/** n / d, and 0 when d is 0 (no users at the earlier step: nothing to convert). */
export const ratio = (n: number, d: number): number => (d === 0 ? 0 : n / d);

/** `funnel`: per top-level category, per tumbling window: view → cart → purchase counts, users and conversions. */
export class FunnelJob extends WindowJob<AnalyticsEvent, StepCounts, FunnelRecord> {
  constructor(opts: FunnelOptions = {}) {
    const size = opts.size ?? 60_000;
    const allowedLateness = checkLateness(opts.allowedLateness ?? DEFAULT_JOB_LATENESS);
    const op = createWindows(tumbling(size), { key: (e: AnalyticsEvent) => topCategory(e.categoryCode), aggregate: funnelAggregate(), allowedLateness });
    super(AnalyticsJobNames.funnel, { size, allowedLateness }, op);
  }

  protected select(e: AnalyticsEvent): AnalyticsEvent | undefined {
    const t = e.eventType;
    return t === 'view' || t === 'cart' || t === 'purchase' ? e : undefined;
  }

  protected unwrap(v: AnalyticsEvent): AnalyticsEvent {
    return v;
  }

  protected toRecord(category: string, r: StepCounts): FunnelRecord {
    return {
      category,
      views: r.views,
      carts: r.carts,
      purchases: r.purchases,
      viewers: r.viewers,
      carters: r.carters,
      purchasers: r.purchasers,
      viewToCart: ratio(r.carters, r.viewers),
      cartToPurchase: ratio(r.purchasers, r.carters),
      viewToPurchase: ratio(r.purchasers, r.viewers),
    };
  }
}

/** The funnel job as an RxJS operator (a fresh job per subscription, or the instance given). */
export function funnel(opts: FunnelOptions | FunnelJob = {}): OperatorFunction<StreamItem<AnalyticsEvent>, JobOutput<FunnelRecord>> {
  if (opts instanceof FunnelJob) return jobOperator(opts);
  new FunnelJob(opts);
  return jobOperator(() => new FunnelJob(opts));
}

/**
 * Merges the records of one (window, category) from several partitions into the record one
 * process would have computed. Exact only because partitions are by user: each user's events
 * are in one partition, so distinct-user counts of partitions add up. Ratios are recomputed.
 */
export function mergeFunnelRecords(parts: readonly FunnelRecord[]): FunnelRecord {
  const first = parts[0];
  if (first === undefined) throw new RangeError('mergeFunnelRecords: nothing to merge');
  const total = (f: (r: FunnelRecord) => number) => parts.reduce((n, r) => n + f(r), 0);
  const viewers = total((r) => r.viewers);
  const carters = total((r) => r.carters);
  const purchasers = total((r) => r.purchasers);
  return {
    category: first.category,
    views: total((r) => r.views),
    carts: total((r) => r.carts),
    purchases: total((r) => r.purchases),
    viewers,
    carters,
    purchasers,
    viewToCart: ratio(carters, viewers),
    cartToPurchase: ratio(purchasers, carters),
    viewToPurchase: ratio(purchasers, viewers),
  };
}
