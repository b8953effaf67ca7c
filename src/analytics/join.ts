import type { Aggregation } from './aggregations.js';
import { badSnapshot, invalidOptions } from './errors.js';
import { createWindows } from './create.js';
import type { KeySelector, WindowOperator } from './types.js';
import { keyFunction, type WindowSpec } from './windows.js';

/** One item of a two-sided stream: which side it came from, and the value. */
export type JoinSide<L, R> = { side: 'left'; value: L } | { side: 'right'; value: R };

export const left = <L>(value: L): { side: 'left'; value: L } => ({ side: 'left', value });
export const right = <R>(value: R): { side: 'right'; value: R } => ({ side: 'right', value });

/** Per (window, key): each side's aggregate, or null when that side had no event in the window. */
export interface Joined<LR, RR> {
  left: LR | null;
  right: RR | null;
}

/**
 * `inner`: keys with events on both sides; `left`/`right`: every key of that side; `full`: every
 * key with an event on either side.
 */
export type JoinType = 'inner' | 'left' | 'right' | 'full';

export interface JoinOptions<L, R, LA, RA, LR, RR> {
  leftKey: KeySelector<NoInfer<L>>;
  rightKey: KeySelector<NoInfer<R>>;
  left: Aggregation<L, LA, LR>;
  right: Aggregation<R, RA, RR>;
  /** Default `inner`. */
  type?: JoinType;
  allowedLateness?: number;
}

interface JoinAcc<LA, RA> {
  l: LA | null;
  r: RA | null;
}

/** Folds a two-sided stream into one accumulator per side; a side stays null until it sees an event. */
export function joinAggregation<L, R, LA, RA, LR, RR>(la: Aggregation<L, LA, LR>, ra: Aggregation<R, RA, RR>): Aggregation<JoinSide<L, R>, JoinAcc<LA, RA>, Joined<LR, RR>> {
  const mergeSide = <X>(agg: { merge(a: X, b: X): X }, a: X | null, b: X | null): X | null => (a === null ? b : b === null ? a : agg.merge(a, b));
  return {
    create: () => ({ l: null, r: null }),
    add: (acc, v) => {
      if (v.side === 'left') acc.l = la.add(acc.l ?? la.create(), v.value);
      else acc.r = ra.add(acc.r ?? ra.create(), v.value);
      return acc;
    },
    merge: (a, b) => ({ l: mergeSide(la, a.l, b.l), r: mergeSide(ra, a.r, b.r) }),
    result: (acc) => ({ left: acc.l === null ? null : la.result(acc.l), right: acc.r === null ? null : ra.result(acc.r) }),
    save: (acc) => ({ l: acc.l === null ? null : la.save(acc.l), r: acc.r === null ? null : ra.save(acc.r) }),
    load: (json) => {
      if (typeof json !== 'object' || json === null || !('l' in json) || !('r' in json)) throw badSnapshot('join accumulator is not {l, r}');
      const j = json as { l: unknown; r: unknown };
      return { l: j.l === null ? null : la.load(j.l), r: j.r === null ? null : ra.load(j.r) };
    },
  };
}

const KEEP: Record<JoinType, (j: Joined<unknown, unknown>) => boolean> = {
  inner: (j) => j.left !== null && j.right !== null,
  left: (j) => j.left !== null,
  right: (j) => j.right !== null,
  full: () => true,
};

/**
 * A window join of two keyed streams on the same windows (e.g. views ⋈ purchases per user per
 * hour): one window operator over the tagged union of both, keyed by each side's own key, each
 * side folded by its own aggregation. The caller interleaves the sides in stream order (in a
 * partition both come from one stream); `windowJoin` in rx.ts does it for two observables.
 */
export function createWindowJoin<L, R, LA, RA, LR, RR>(spec: WindowSpec, opts: JoinOptions<L, R, LA, RA, LR, RR>): WindowOperator<JoinSide<L, R>, Joined<LR, RR>> {
  const type = opts.type ?? 'inner';
  if (!(type in KEEP)) throw invalidOptions(`join type must be inner, left, right or full, got ${String(type)}`);
  const lk = keyFunction(opts.leftKey);
  const rk = keyFunction(opts.rightKey);
  return createWindows<JoinSide<L, R>, JoinAcc<LA, RA>, Joined<LR, RR>>(spec, {
    key: (v) => (v.side === 'left' ? lk(v.value) : rk(v.value)),
    aggregate: joinAggregation(opts.left, opts.right),
    allowedLateness: opts.allowedLateness,
    having: type === 'full' ? undefined : KEEP[type],
  });
}
