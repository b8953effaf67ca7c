import { invalidOptions, badSnapshot } from './errors.js';

/**
 * How a window folds its events. The accumulator may be mutable (add may change and return it);
 * `save`/`load` turn it into plain JSON and back for snapshots, and `merge` combines two partial
 * accumulators (session merges, and per-partition partials merged downstream).
 */
export interface Aggregation<T, A, R> {
  create(): A;
  add(acc: A, value: T): A;
  merge(a: A, b: A): A;
  result(acc: A): R;
  save(acc: A): unknown;
  load(json: unknown): A;
}

/** One ranked entry of a top-N result. */
export interface Ranked {
  key: string;
  count: number;
}

const asNumber = (json: unknown, what: string): number => {
  if (typeof json !== 'number' || !Number.isFinite(json)) throw badSnapshot(`${what} is not a number`);
  return json;
};

const asPairs = (json: unknown, what: string): Array<[string, number]> => {
  if (!Array.isArray(json)) throw badSnapshot(`${what} is not an array`);
  return json.map((p) => {
    if (!Array.isArray(p) || typeof p[0] !== 'string') throw badSnapshot(`${what} holds a bad entry`);
    return [p[0], asNumber(p[1], what)];
  });
};

/** Number of events. */
export function count<T>(): Aggregation<T, number, number> {
  return {
    create: () => 0,
    add: (acc) => acc + 1,
    merge: (a, b) => a + b,
    result: (acc) => acc,
    save: (acc) => acc,
    load: (json) => asNumber(json, 'count'),
  };
}

/** Sum of `value(event)`. Floating-point sums depend on order; sum integers (cents) for money. */
export function sum<T>(value: (v: T) => number): Aggregation<T, number, number> {
  return {
    create: () => 0,
    add: (acc, v) => acc + value(v),
    merge: (a, b) => a + b,
    result: (acc) => acc,
    save: (acc) => acc,
    load: (json) => asNumber(json, 'sum'),
  };
}

/** Number of distinct `value(event)`. Exact: holds the set (saved sorted, so snapshots are stable). */
export function distinctCount<T>(value: (v: T) => string): Aggregation<T, Set<string>, number> {
  return {
    create: () => new Set<string>(),
    add: (acc, v) => acc.add(value(v)),
    merge: (a, b) => {
      for (const x of b) a.add(x);
      return a;
    },
    result: (acc) => acc.size,
    save: (acc) => [...acc].sort(),
    load: (json) => {
      if (!Array.isArray(json) || !json.every((x) => typeof x === 'string')) throw badSnapshot('distinct set is not an array of strings');
      return new Set(json as string[]);
    },
  };
}

/** Orders by count descending, then key ascending (UTF-16 code units, like `<`): no ties left. */
export const byCountThenKey = (a: Ranked, b: Ranked): number => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * The `n` keys with the highest counts, ties broken by key ascending. Holds a count per key seen
 * in the window (what makes it exact and mergeable); the ranking happens at emission.
 */
export function topN<T>(n: number, key: (v: T) => string): Aggregation<T, Map<string, number>, Ranked[]> {
  if (!Number.isInteger(n) || n < 1) throw invalidOptions(`topN: n must be a positive integer, got ${n}`);
  return {
    create: () => new Map<string, number>(),
    add: (acc, v) => {
      const k = key(v);
      acc.set(k, (acc.get(k) ?? 0) + 1);
      return acc;
    },
    merge: (a, b) => {
      for (const [k, c] of b) a.set(k, (a.get(k) ?? 0) + c);
      return a;
    },
    result: (acc) => rankTop(acc, n),
    save: (acc) => [...acc].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)),
    load: (json) => new Map(asPairs(json, 'topN counts')),
  };
}

/** Top n of a count map in (count desc, key asc) order; for small n a sorted buffer of n, not a full sort. */
export function rankTop(counts: ReadonlyMap<string, number>, n: number): Ranked[] {
  if (n >= counts.size || n > 64) {
    const all: Ranked[] = [];
    for (const [key, count] of counts) all.push({ key, count });
    all.sort(byCountThenKey);
    if (all.length > n) all.length = n;
    return all;
  }
  const top: Ranked[] = [];
  for (const [key, count] of counts) {
    if (top.length === n) {
      const last = top[n - 1]!;
      if (count < last.count || (count === last.count && key > last.key)) continue;
    }
    const e = { key, count };
    let i = top.length;
    while (i > 0 && byCountThenKey(e, top[i - 1]!) < 0) i--;
    top.splice(i, 0, e);
    if (top.length > n) top.pop();
  }
  return top;
}

/** Feeds only the events `keep` accepts to `agg`. */
export function filtered<T, A, R>(keep: (v: T) => boolean, agg: Aggregation<T, A, R>): Aggregation<T, A, R> {
  return { ...agg, add: (acc, v) => (keep(v) ? agg.add(acc, v) : acc) };
}

type AnyAggregation<T> = Aggregation<T, any, any>;
/** The event type of a record of aggregations (all must take the same one). */
export type InputOf<M> = M[keyof M] extends Aggregation<infer T, any, any> ? T : never;
export type AccOf<M> = { [K in keyof M]: M[K] extends Aggregation<any, infer A, any> ? A : never };
export type ResultOf<M> = { [K in keyof M]: M[K] extends Aggregation<any, any, infer R> ? R : never };

/** Several aggregations over the same events, as one: results come out as an object with the same fields. */
export function combine<M extends Record<string, AnyAggregation<any>>>(aggs: M): Aggregation<InputOf<M>, AccOf<M>, ResultOf<M>> {
  type T = InputOf<M>;
  const names = Object.keys(aggs);
  if (names.length === 0) throw invalidOptions('combine: needs at least one aggregation');
  const parts = names.map((name) => [name, aggs[name]!] as const);
  const each = <O>(f: (name: string, agg: AnyAggregation<T>) => unknown): O => {
    const o: Record<string, unknown> = {};
    for (const [name, agg] of parts) o[name] = f(name, agg);
    return o as O;
  };
  return {
    create: () => each((_, agg) => agg.create()),
    add: (acc, v) => {
      const a = acc as Record<string, unknown>;
      for (const [name, agg] of parts) a[name] = agg.add(a[name], v);
      return acc;
    },
    merge: (x, y) => {
      const a = x as Record<string, unknown>;
      const b = y as Record<string, unknown>;
      for (const [name, agg] of parts) a[name] = agg.merge(a[name], b[name]);
      return x;
    },
    result: (acc) => each((name, agg) => agg.result((acc as Record<string, unknown>)[name])),
    save: (acc) => each((name, agg) => agg.save((acc as Record<string, unknown>)[name])),
    load: (json) => {
      if (typeof json !== 'object' || json === null) throw badSnapshot('combined accumulator is not an object');
      const j = json as Record<string, unknown>;
      return each((name, agg) => {
        if (!(name in j)) throw badSnapshot(`combined accumulator lacks ${name}`);
        return agg.load(j[name]);
      });
    },
  };
}
