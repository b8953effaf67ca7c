import type { OperatorFunction } from 'rxjs';
import { rankTop, topN, type Aggregation, type Ranked } from './aggregations.js';
import { badSnapshot, invalidOptions } from './errors.js';
import { createWindows } from './create.js';
import type { AnalyticsEvent } from './event.js';
import { AnalyticsJobNames, DEFAULT_JOB_LATENESS, jobOperator, WindowJob, type JobOutput } from './job.js';
import type { StreamItem } from './types.js';
import { checkLateness, sliding } from './windows.js';

export interface HotProductsOptions {
  /** Window size, ms. Default 10 minutes. */
  size?: number;
  /** Default 1 minute. */
  slide?: number;
  /** How many products per list. Default 10. */
  top?: number;
  /** Default 60 s. */
  allowedLateness?: number;
}

export interface HotProduct {
  productId: string;
  count: number;
}

/** The most viewed and the most purchased products of one window, count desc then productId asc. */
export interface HotProductsRecord {
  views: HotProduct[];
  purchases: HotProduct[];
}

interface HotAcc {
  views: Map<string, number>;
  purchases: Map<string, number>;
}
type Tops = { views: Ranked[]; purchases: Ranked[] };

/**
 * Both rankings in one accumulator: one branch on the event type per window instead of a combine()
 * of two filtered topN()s (this job adds each event to size/slide windows, so it is the hot path;
 * same results, about 1.5x faster).
 */
function hotAggregate(top: number): Aggregation<AnalyticsEvent, HotAcc, Tops> {
  const counts = topN(top, (e: AnalyticsEvent) => e.productId);
  return {
    create: () => ({ views: new Map(), purchases: new Map() }),
    add: (acc, e) => {
      const m = e.eventType === 'view' ? acc.views : e.eventType === 'purchase' ? acc.purchases : null;
      m?.set(e.productId, (m.get(e.productId) ?? 0) + 1);
      return acc;
    },
    merge: (a, b) => ({ views: counts.merge(a.views, b.views), purchases: counts.merge(a.purchases, b.purchases) }),
    result: (acc) => ({ views: counts.result(acc.views), purchases: counts.result(acc.purchases) }),
    save: (acc) => ({ views: counts.save(acc.views), purchases: counts.save(acc.purchases) }),
    load: (json) => {
      const j = json as { views?: unknown; purchases?: unknown } | null;
      if (typeof j !== 'object' || j === null) throw badSnapshot('hot_products accumulator is not an object');
      return { views: counts.load(j.views), purchases: counts.load(j.purchases) };
    },
  };
}

const asProducts = (r: Ranked[]): HotProduct[] => r.map((x) => ({ productId: x.key, count: x.count }));

/** `hot_products`: top products by views and by purchases over a sliding window, one result per window (key `all`). */
export class HotProductsJob extends WindowJob<AnalyticsEvent, Tops, HotProductsRecord> {
  constructor(opts: HotProductsOptions = {}) {
    const size = opts.size ?? 600_000;
    const slide = opts.slide ?? 60_000;
    const top = opts.top ?? 10;
    if (!Number.isSafeInteger(top) || top < 1) throw invalidOptions(`hot_products: top must be a positive integer, got ${top}`);
    const allowedLateness = checkLateness(opts.allowedLateness ?? DEFAULT_JOB_LATENESS);
    const op = createWindows(sliding(size, slide), { aggregate: hotAggregate(top), allowedLateness });
    super(AnalyticsJobNames.hotProducts, { size, slide, top, allowedLateness }, op);
  }

  protected select(e: AnalyticsEvent): AnalyticsEvent | undefined {
    return e.eventType === 'view' || e.eventType === 'purchase' ? e : undefined;
  }

  protected unwrap(v: AnalyticsEvent): AnalyticsEvent {
    return v;
  }

  protected toRecord(_key: string, r: Tops): HotProductsRecord {
    return { views: asProducts(r.views), purchases: asProducts(r.purchases) };
  }
}

/** The hot-products job as an RxJS operator (a fresh job per subscription, or the instance given). */
export function hotProducts(opts: HotProductsOptions | HotProductsJob = {}): OperatorFunction<StreamItem<AnalyticsEvent>, JobOutput<HotProductsRecord>> {
  if (opts instanceof HotProductsJob) return jobOperator(opts);
  new HotProductsJob(opts);
  return jobOperator(() => new HotProductsJob(opts));
}

/**
 * Merges one window's records from several partitions. A product's views are spread over the
 * user partitions, so a partition's top 10 is not enough: run the partition jobs with `top` at
 * least the number of products (their lists are then the full counts), sum here and rank again.
 */
export function mergeHotProductsRecords(parts: readonly HotProductsRecord[], top = 10): HotProductsRecord {
  const sumUp = (lists: HotProduct[][]) => {
    const m = new Map<string, number>();
    for (const list of lists) for (const p of list) m.set(p.productId, (m.get(p.productId) ?? 0) + p.count);
    return asProducts(rankTop(m, top));
  };
  return { views: sumUp(parts.map((p) => p.views)), purchases: sumUp(parts.map((p) => p.purchases)) };
}
