import type { Aggregation } from './aggregations.js';
import { badSnapshot } from './errors.js';
import { checkItem, checkWatermark, emptyStats, formatTime, loadStats, type WindowOptions } from './options.js';
import type { LateItem, StreamItem, WindowOperator, WindowOutput, WindowStats } from './types.js';
import { checkLateness, keyFunction, loadTime, saveTime, type AlignedSpec } from './windows.js';

interface Pane<A> {
  acc: A;
  /** Last emitted revision; -1 until the first emission. */
  rev: number;
}

/** All keys' state for one window [start, end). */
interface Bucket<A> {
  start: number;
  end: number;
  /** Emitted on time (watermark reached end); from then on every change re-emits at once. */
  fired: boolean;
  panes: Map<string, Pane<A>>;
}

interface SavedAligned {
  v: 1;
  type: AlignedSpec['type'];
  size: number;
  slide: number;
  allowedLateness: number;
  watermark: number | string;
  stats: WindowStats;
  /** Ascending by start; panes ascending by key. */
  buckets: Array<{ start: number; fired: boolean; panes: Array<[key: string, rev: number, acc: unknown]> }>;
}

/**
 * Tumbling and sliding windows (a tumbling window is a sliding one whose slide is its size).
 * State is a Map from window start to a Map from key to accumulator, plus the live windows in a
 * sorted array (by start, hence by end: all windows have one size). The watermark fires windows
 * front to back and releases them once it passes end + allowedLateness; nothing runs on a clock.
 */
export class AlignedWindows<T, A, R> implements WindowOperator<T, R> {
  private readonly size: number;
  private readonly slide: number;
  private readonly lateness: number;
  private readonly keyOf: (v: T) => string;
  private readonly agg: Aggregation<T, A, R>;
  private readonly having: ((r: R) => boolean) | undefined;
  private buckets = new Map<number, Bucket<A>>();
  /** Live buckets ascending by start; the fired ones are a prefix. */
  private order: Bucket<A>[] = [];
  private wm = Number.NEGATIVE_INFINITY;
  private panes = 0;
  private counters = emptyStats();

  constructor(
    private readonly spec: AlignedSpec,
    opts: WindowOptions<T, A, R>,
  ) {
    this.size = spec.size;
    this.slide = spec.type === 'sliding' ? spec.slide : spec.size;
    this.lateness = checkLateness(opts.allowedLateness);
    this.keyOf = keyFunction(opts.key);
    this.agg = opts.aggregate;
    this.having = opts.having;
  }

  get watermark(): number {
    return this.wm;
  }

  get windowCount(): number {
    return this.panes;
  }

  get stats(): Readonly<WindowStats> {
    return this.counters;
  }

  process(item: StreamItem<T>, out: WindowOutput<T, R>[] = []): WindowOutput<T, R>[] {
    checkItem(item);
    if (item.kind === 'watermark') return this.advance(item.time, out);
    this.counters.events++;
    const t = item.time;
    const key = this.keyOf(item.value);
    // The window starts holding t are the multiples of slide in (t - size, t]; walk them oldest
    // first, so late updates come out in window-end order.
    const newest = Math.floor(t / this.slide) * this.slide;
    let start = newest;
    while (start - this.slide > t - this.size) start -= this.slide;
    let missed = 0;
    let total = 0;
    let released = 0;
    for (; start <= newest; start += this.slide) {
      total++;
      const end = start + this.size;
      if (end + this.lateness <= this.wm) {
        missed++;
        released = end;
        continue;
      }
      const bucket = this.buckets.get(start) ?? this.openBucket(start);
      let pane = bucket.panes.get(key);
      if (pane === undefined) {
        pane = { acc: this.agg.create(), rev: -1 };
        bucket.panes.set(key, pane);
        this.panes++;
      }
      pane.acc = this.agg.add(pane.acc, item.value);
      if (bucket.fired) this.emit(bucket, key, pane, out);
    }
    if (missed > 0) out.push(this.late(item, key, missed, total, released));
    return out;
  }

  advance(watermark: number, out: WindowOutput<T, R>[] = []): WindowOutput<T, R>[] {
    checkWatermark(watermark);
    if (!(watermark > this.wm)) return out;
    this.wm = watermark;
    for (const bucket of this.order) {
      if (bucket.end > watermark) break;
      if (bucket.fired) continue;
      bucket.fired = true;
      // Keys sorted: output order must not follow Map insertion order (a restored map differs).
      for (const key of [...bucket.panes.keys()].sort()) this.emit(bucket, key, bucket.panes.get(key)!, out);
    }
    let n = 0;
    while (n < this.order.length && this.order[n]!.end + this.lateness <= watermark) {
      const bucket = this.order[n++]!;
      this.buckets.delete(bucket.start);
      this.panes -= bucket.panes.size;
      this.counters.released += bucket.panes.size;
    }
    if (n > 0) this.order.splice(0, n);
    return out;
  }

  snapshot(): SavedAligned {
    return {
      v: 1,
      type: this.spec.type,
      size: this.size,
      slide: this.slide,
      allowedLateness: this.lateness,
      watermark: saveTime(this.wm),
      stats: { ...this.counters },
      buckets: this.order.map((b) => ({
        start: b.start,
        fired: b.fired,
        panes: [...b.panes.keys()].sort().map((k): [string, number, unknown] => {
          const p = b.panes.get(k)!;
          return [k, p.rev, this.agg.save(p.acc)];
        }),
      })),
    };
  }

  restore(json: unknown): void {
    const s = json as Partial<SavedAligned> | null;
    if (typeof s !== 'object' || s === null || s.v !== 1 || !Array.isArray(s.buckets)) throw badSnapshot('not an aligned-window snapshot (v1)');
    if (s.type !== this.spec.type || s.size !== this.size || s.slide !== this.slide || s.allowedLateness !== this.lateness) {
      throw badSnapshot(
        `snapshot is ${s.type}(size ${s.size}, slide ${s.slide}, lateness ${s.allowedLateness}), this operator ${this.spec.type}(size ${this.size}, slide ${this.slide}, lateness ${this.lateness})`,
      );
    }
    const wm = loadTime(s.watermark);
    if (Number.isNaN(wm)) throw badSnapshot('watermark is not a time');
    const buckets = new Map<number, Bucket<A>>();
    const order: Bucket<A>[] = [];
    let panes = 0;
    for (const b of s.buckets) {
      if (typeof b?.start !== 'number' || !Array.isArray(b.panes)) throw badSnapshot('bad window entry');
      const bucket: Bucket<A> = { start: b.start, end: b.start + this.size, fired: b.fired === true, panes: new Map() };
      for (const p of b.panes) {
        if (!Array.isArray(p) || typeof p[0] !== 'string' || typeof p[1] !== 'number') throw badSnapshot('bad pane entry');
        bucket.panes.set(p[0], { rev: p[1], acc: this.agg.load(p[2]) });
        panes++;
      }
      buckets.set(bucket.start, bucket);
      order.push(bucket);
    }
    order.sort((a, b) => a.start - b.start);
    this.buckets = buckets;
    this.order = order;
    this.panes = panes;
    this.wm = wm;
    this.counters = loadStats(s.stats);
  }

  /** A window that is new; fired at once when the watermark is already past its end (late event). */
  private openBucket(start: number): Bucket<A> {
    const bucket: Bucket<A> = { start, end: start + this.size, fired: start + this.size <= this.wm, panes: new Map() };
    this.buckets.set(start, bucket);
    let i = this.order.length;
    while (i > 0 && this.order[i - 1]!.start > start) i--;
    this.order.splice(i, 0, bucket);
    return bucket;
  }

  private emit(bucket: Bucket<A>, key: string, pane: Pane<A>, out: WindowOutput<T, R>[]): void {
    const result = this.agg.result(pane.acc);
    if (this.having !== undefined && !this.having(result)) return;
    const revision = ++pane.rev;
    this.counters.emitted++;
    if (revision > 0) this.counters.updates++;
    out.push({ kind: 'window', key, start: bucket.start, end: bucket.end, revision, update: revision > 0, result });
  }

  private late(item: { time: number; seq: number; value: T }, key: string, missed: number, total: number, lastEnd: number): LateItem<T> {
    this.counters.late++;
    const windows =
      total === 1
        ? `its window (ending ${formatTime(lastEnd)}) was`
        : `${missed} of its ${total} windows (the last ending ${formatTime(lastEnd)}) were`;
    return {
      kind: 'late',
      time: item.time,
      seq: item.seq,
      value: item.value,
      key,
      watermark: this.wm,
      missedWindows: missed,
      reason: `late: event time ${formatTime(item.time)} is behind the watermark ${formatTime(this.wm)} by more than the allowed lateness of ${this.lateness} ms; ${windows} already released`,
    };
  }
}
