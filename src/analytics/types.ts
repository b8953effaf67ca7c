/**
 * The stream vocabulary every window operator speaks. Input is the partition's stream in order:
 * events, and watermarks that say "no event before this time is still expected". Output is
 * window results (first emissions and late updates) and late events, nothing else.
 */

/** One input item. `seq` is the stream sequence, carried through to late items. */
export type StreamItem<T> = EventItem<T> | WatermarkItem;

export interface EventItem<T> {
  kind: 'event';
  /** Event time, epoch ms. */
  time: number;
  seq: number;
  value: T;
}

export interface WatermarkItem {
  kind: 'watermark';
  /** Event time up to which input is complete; may be ±Infinity (+Infinity closes every window). */
  time: number;
}

/** One (window, key) result. Revision 0 is the on-time emission; each late update adds one. */
export interface WindowResult<R> {
  kind: 'window';
  key: string;
  /** [start, end): an event at exactly `end` belongs to the next window. */
  start: number;
  end: number;
  revision: number;
  /** True when this replaces an earlier emission of the same window (revision > 0). */
  update: boolean;
  result: R;
  /**
   * Session windows only: starts of earlier-emitted sessions of this key that a late event merged
   * into this one; their results are superseded by this one.
   */
  absorbed?: number[];
}

/** An event that came too late to count in (some of) its windows: for `analytics.late`. */
export interface LateItem<T> {
  kind: 'late';
  time: number;
  seq: number;
  value: T;
  key: string;
  /** The operator's watermark when the event arrived. */
  watermark: number;
  /** How many of the event's windows had been released and did not count it (sliding: may be fewer than all). */
  missedWindows: number;
  reason: string;
}

export type WindowOutput<T, R> = WindowResult<R> | LateItem<T>;

export interface WindowStats {
  /** Event items seen. */
  events: number;
  /** Late items output (events that missed at least one released window). */
  late: number;
  /** Window results output, updates included. */
  emitted: number;
  /** Of which re-emissions (revision > 0). */
  updates: number;
  /** (window, key) states released. */
  released: number;
}

/**
 * A window operator over items of T producing results R. Pure: outputs are a function of the
 * items fed so far, and `restore(snapshot())` on a fresh operator continues exactly as this one.
 */
export interface WindowOperator<T, R> {
  /** Feeds one item; appends what it causes to `out` (returned for convenience). */
  process(item: StreamItem<T>, out?: WindowOutput<T, R>[]): WindowOutput<T, R>[];
  /** Same as process({ kind: 'watermark', time }). A watermark not above the current one is ignored. */
  advance(watermark: number, out?: WindowOutput<T, R>[]): WindowOutput<T, R>[];
  readonly watermark: number;
  /** Live (window, key) states: what memory is held for. */
  readonly windowCount: number;
  readonly stats: Readonly<WindowStats>;
  /** Plain JSON (no Maps, Sets or Infinity): survives JSON.stringify / JSON.parse. */
  snapshot(): unknown;
  /** Replaces this operator's state with a snapshot taken by an operator of the same spec. */
  restore(json: unknown): void;
}

/** A key by field name or by function; the value is turned into a string. */
export type KeySelector<T> = (T extends object ? keyof T & string : never) | ((value: T) => string);

/** The key used when an operator is not keyed: one window per time range. */
export const GLOBAL_KEY = 'all';
