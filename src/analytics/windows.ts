import { invalidOptions } from './errors.js';
import { GLOBAL_KEY, type KeySelector } from './types.js';

/** Fixed, non-overlapping windows [k·size, (k+1)·size) of event time (epoch-aligned, UTC). */
export interface TumblingSpec {
  type: 'tumbling';
  size: number;
}

/** Windows of `size` starting every `slide` (epoch-aligned); an event lands in about size/slide of them. */
export interface SlidingSpec {
  type: 'sliding';
  size: number;
  slide: number;
}

/** Per key, a run of events each less than `gap` after the previous; the window is [first, last + gap). */
export interface SessionSpec {
  type: 'session';
  gap: number;
}

export type WindowSpec = TumblingSpec | SlidingSpec | SessionSpec;
export type AlignedSpec = TumblingSpec | SlidingSpec;

const positiveInt = (what: string, v: number) => {
  if (!Number.isSafeInteger(v) || v <= 0) throw invalidOptions(`${what} must be a positive integer of milliseconds, got ${v}`);
};

export function tumbling(size: number): TumblingSpec {
  positiveInt('tumbling: size', size);
  return { type: 'tumbling', size };
}

export function sliding(size: number, slide: number): SlidingSpec {
  positiveInt('sliding: size', size);
  positiveInt('sliding: slide', slide);
  // A slide longer than the window would leave gaps whose events no window counts.
  if (slide > size) throw invalidOptions(`sliding: slide (${slide}) must not exceed size (${size})`);
  return { type: 'sliding', size, slide };
}

export function session(gap: number): SessionSpec {
  positiveInt('session: gap', gap);
  return { type: 'session', gap };
}

export function checkLateness(allowedLateness: number | undefined): number {
  const l = allowedLateness ?? 0;
  if (!Number.isSafeInteger(l) || l < 0) throw invalidOptions(`allowedLateness must be a non-negative integer of milliseconds, got ${l}`);
  return l;
}

/** Turns a key selector into a function; no selector means one global key. */
export function keyFunction<T>(key: KeySelector<T> | undefined): (value: T) => string {
  if (key === undefined) return () => GLOBAL_KEY;
  if (typeof key === 'function') return (v) => String(key(v));
  return (v) => String((v as Record<string, unknown>)[key]);
}

/** Snapshot form of a time: JSON has no Infinity, so the infinities travel as strings. */
export const saveTime = (t: number): number | string => (Number.isFinite(t) ? t : String(t));
export const loadTime = (j: unknown): number => {
  const t = typeof j === 'string' ? Number(j) : j;
  return typeof t === 'number' && !Number.isNaN(t) ? t : Number.NaN;
};
