import type { Aggregation } from './aggregations.js';
import { badSnapshot } from './errors.js';
import { MinHeap } from './heap.js';
import { checkItem, checkWatermark, emptyStats, formatTime, loadStats, type WindowOptions } from './options.js';
import type { LateItem, StreamItem, WindowOperator, WindowOutput, WindowStats } from './types.js';
import { checkLateness, keyFunction, loadTime, saveTime, type SessionSpec } from './windows.js';

interface Session<A> {
  key: string;
  start: number;
  /** Last event time + gap. */
  end: number;
  acc: A;
  /** Last emitted revision; -1 until the first emission. */
  rev: number;
  /** Changed since its last emission. */
  pending: boolean;
  /** Starts of emitted sessions merged into this one since its last emission. */
  absorbed: number[];
  /** Time of this session's one valid heap entry, or null. */
  queued: number | null;
  live: boolean;
}

/** A due time: a session to fire or release, or (session null) a tombstone to forget. */
interface Entry<A> {
  at: number;
  key: string;
  start: number;
  session: Session<A> | null;
}

const before = <A>(a: Entry<A>, b: Entry<A>) =>
  a.at < b.at || (a.at === b.at && (a.key < b.key || (a.key === b.key && a.start < b.start)));

interface SavedSessions {
  v: 1;
  type: 'session';
  gap: number;
  allowedLateness: number;
  watermark: number | string;
  stats: WindowStats;
  /** Ascending by (key, start). */
  sessions: Array<[key: string, start: number, end: number, rev: number, pending: boolean, absorbed: number[], acc: unknown]>;
  tombstones: Array<[key: string, end: number]>;
}

/**
 * Session windows: per key, events less than `gap` apart share a window [first, last + gap); an
 * event at exactly last + gap starts a new one. A late event that falls between two sessions
 * merges them. State is a Map from key to its sessions (sorted by start) and one heap of due
 * times: a session fires when the watermark reaches its end and is released at end +
 * allowedLateness. Extending a session does not touch the heap; its entry is moved on when it
 * surfaces (as in the runtime's TimerQueue), so a busy key holds one entry.
 *
 * A released session leaves a tombstone (its end) for `gap` more of event time: without it, a
 * late event just before that end could open a new session overlapping the released one. After
 * that, any event that could touch it is late by the plain rule (t + gap + lateness <= watermark).
 */
export class SessionWindows<T, A, R> implements WindowOperator<T, R> {
  private readonly gap: number;
  private readonly lateness: number;
  private readonly keyOf: (v: T) => string;
  private readonly agg: Aggregation<T, A, R>;
  private readonly having: ((r: R) => boolean) | undefined;
  private sessions = new Map<string, Session<A>[]>();
  private tombstones = new Map<string, number>();
  private heap = new MinHeap<Entry<A>>(before);
  private wm = Number.NEGATIVE_INFINITY;
  private live = 0;
  private counters = emptyStats();

  constructor(spec: SessionSpec, opts: WindowOptions<T, A, R>) {
    this.gap = spec.gap;
    this.lateness = checkLateness(opts.allowedLateness);
    this.keyOf = keyFunction(opts.key);
    this.agg = opts.aggregate;
    this.having = opts.having;
  }

  get watermark(): number {
    return this.wm;
  }

  get windowCount(): number {
    return this.live;
  }

  /** Released sessions still remembered (each for `gap` of event time). */
  get tombstoneCount(): number {
    return this.tombstones.size;
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
    if (t + this.gap + this.lateness <= this.wm) {
      out.push(this.late(item, key, `a session from it would end at ${formatTime(t + this.gap)}, already past its allowed lateness`));
      return out;
    }
    const tomb = this.tombstones.get(key);
    if (tomb !== undefined && t < tomb) {
      out.push(this.late(item, key, `it falls before the end (${formatTime(tomb)}) of this key's session that was already released`));
      return out;
    }
    let list = this.sessions.get(key);
    if (list === undefined) this.sessions.set(key, (list = []));
    // Sessions of a key never overlap, so sorted by start they are sorted by end too.
    let lo = 0;
    while (lo < list.length && list[lo]!.end <= t) lo++;
    let hi = lo;
    while (hi < list.length && list[hi]!.start < t + this.gap) hi++;
    let s: Session<A>;
    if (lo === hi) {
      s = { key, start: t, end: t + this.gap, acc: this.agg.create(), rev: -1, pending: true, absorbed: [], queued: null, live: true };
      list.splice(lo, 0, s);
      this.live++;
    } else {
      s = list[lo]!;
      if (t < s.start && s.rev >= 0) s.absorbed.push(s.start);
      for (let i = lo + 1; i < hi; i++) {
        const o = list[i]!;
        s.acc = this.agg.merge(s.acc, o.acc);
        s.end = Math.max(s.end, o.end);
        s.rev = Math.max(s.rev, o.rev);
        if (o.rev >= 0) s.absorbed.push(o.start);
        s.absorbed.push(...o.absorbed);
        o.live = false;
        this.live--;
      }
      list.splice(lo + 1, hi - lo - 1);
      s.start = Math.min(s.start, t);
      s.end = Math.max(s.end, t + this.gap);
    }
    s.acc = this.agg.add(s.acc, item.value);
    s.pending = true;
    // Behind the watermark already (a late event within the lateness): out at once, as an update.
    if (s.end <= this.wm) this.emit(s, out);
    this.schedule(s);
    return out;
  }

  advance(watermark: number, out: WindowOutput<T, R>[] = []): WindowOutput<T, R>[] {
    checkWatermark(watermark);
    if (!(watermark > this.wm)) return out;
    this.wm = watermark;
    for (let top = this.heap.peek(); top !== undefined && top.at <= watermark; top = this.heap.peek()) {
      this.heap.pop();
      const s = top.session;
      if (s === null) {
        if (this.tombstones.get(top.key) === top.start) this.tombstones.delete(top.key);
        continue;
      }
      if (!s.live || s.queued !== top.at) continue;
      s.queued = null;
      if (this.due(s) > top.at) this.schedule(s);
      else if (s.pending) {
        this.emit(s, out);
        this.schedule(s);
      } else this.release(s);
    }
    return out;
  }

  snapshot(): SavedSessions {
    const sessions: SavedSessions['sessions'] = [];
    for (const key of [...this.sessions.keys()].sort()) {
      for (const s of this.sessions.get(key)!) sessions.push([key, s.start, s.end, s.rev, s.pending, [...s.absorbed], this.agg.save(s.acc)]);
    }
    return {
      v: 1,
      type: 'session',
      gap: this.gap,
      allowedLateness: this.lateness,
      watermark: saveTime(this.wm),
      stats: { ...this.counters },
      sessions,
      tombstones: [...this.tombstones].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
    };
  }

  restore(json: unknown): void {
    const j = json as Partial<SavedSessions> | null;
    if (typeof j !== 'object' || j === null || j.v !== 1 || j.type !== 'session' || !Array.isArray(j.sessions) || !Array.isArray(j.tombstones)) {
      throw badSnapshot('not a session-window snapshot (v1)');
    }
    if (j.gap !== this.gap || j.allowedLateness !== this.lateness) {
      throw badSnapshot(`snapshot is session(gap ${j.gap}, lateness ${j.allowedLateness}), this operator session(gap ${this.gap}, lateness ${this.lateness})`);
    }
    const wm = loadTime(j.watermark);
    if (Number.isNaN(wm)) throw badSnapshot('watermark is not a time');
    this.sessions = new Map();
    this.tombstones = new Map();
    this.heap = new MinHeap<Entry<A>>(before);
    this.live = 0;
    this.wm = wm;
    this.counters = loadStats(j.stats);
    for (const e of j.sessions) {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number' || typeof e[2] !== 'number' || typeof e[3] !== 'number' || !Array.isArray(e[5])) {
        throw badSnapshot('bad session entry');
      }
      const [key, start, end, rev, pending, absorbed, acc] = e;
      const s: Session<A> = { key, start, end, acc: this.agg.load(acc), rev, pending: pending === true, absorbed: [...absorbed], queued: null, live: true };
      let list = this.sessions.get(key);
      if (list === undefined) this.sessions.set(key, (list = []));
      list.push(s);
      this.live++;
    }
    for (const list of this.sessions.values()) {
      list.sort((a, b) => a.start - b.start);
      for (const s of list) this.schedule(s);
    }
    for (const e of j.tombstones) {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') throw badSnapshot('bad tombstone entry');
      this.tombstones.set(e[0], e[1]);
      this.heap.push({ at: e[1] + this.gap + this.lateness, key: e[0], start: e[1], session: null });
    }
  }

  /** When the session next needs the watermark: to fire if it has unsent changes, else to be released. */
  private due(s: Session<A>): number {
    return s.pending ? s.end : s.end + this.lateness;
  }

  private schedule(s: Session<A>): void {
    const due = this.due(s);
    if (s.queued !== null && s.queued <= due) return;
    s.queued = due;
    this.heap.push({ at: due, key: s.key, start: s.start, session: s });
  }

  private emit(s: Session<A>, out: WindowOutput<T, R>[]): void {
    s.pending = false;
    const result = this.agg.result(s.acc);
    if (this.having !== undefined && !this.having(result)) return;
    const revision = ++s.rev;
    this.counters.emitted++;
    if (revision > 0) this.counters.updates++;
    if (s.absorbed.length === 0) {
      out.push({ kind: 'window', key: s.key, start: s.start, end: s.end, revision, update: revision > 0, result });
      return;
    }
    const absorbed = [...new Set(s.absorbed)].sort((a, b) => a - b);
    s.absorbed = [];
    out.push({ kind: 'window', key: s.key, start: s.start, end: s.end, revision, update: revision > 0, result, absorbed });
  }

  private release(s: Session<A>): void {
    const list = this.sessions.get(s.key)!;
    list.splice(list.indexOf(s), 1);
    if (list.length === 0) this.sessions.delete(s.key);
    s.live = false;
    this.live--;
    this.counters.released++;
    this.tombstones.set(s.key, s.end);
    this.heap.push({ at: s.end + this.gap + this.lateness, key: s.key, start: s.end, session: null });
  }

  private late(item: { time: number; seq: number; value: T }, key: string, why: string): LateItem<T> {
    this.counters.late++;
    return {
      kind: 'late',
      time: item.time,
      seq: item.seq,
      value: item.value,
      key,
      watermark: this.wm,
      missedWindows: 1,
      reason: `late: event time ${formatTime(item.time)} (watermark ${formatTime(this.wm)}, gap ${this.gap} ms, allowed lateness ${this.lateness} ms): ${why}`,
    };
  }
}
