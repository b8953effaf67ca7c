import type { EventRef } from '../../actors/index.js';
import type { MatchView } from './expressions.js';

/**
 * One event of a partial match and the stage that took it, linked to the event before it. A take
 * adds one node in front of the run it extends instead of copying that run's lists, so the runs
 * branching from one prefix share it: a user's long loop (every view of a week-long watch) costs
 * one node per event, not a copy of the whole list per event.
 */
export class RunEvent {
  constructor(
    readonly e: EventRef,
    /** Stage index. Stages never go backwards along a run, so a stage's events are one stretch of it. */
    readonly k: number,
    readonly prev: RunEvent | null,
  ) {}
}

/**
 * A partial match ("run") of one pattern, positioned at the stage that took its last event (`s`,
 * having taken `c` events there); matcher.ts has the semantics of `n`, `b` and `z`. Its events
 * are a RunEvent list from `last` back to `head`; `lo` and `hi` are the events with the earliest
 * and the latest event time (the time limit is measured between them: events may come out of
 * order), held by reference because an object field holding a time would be a boxed double.
 */
export class Run {
  /** The match view of the CEL conditions that read earlier stages, built once per run (a take makes a new run). */
  view: MatchView | null = null;

  constructor(
    /** Stage of the last take. */
    public s: number,
    /** Events taken in that stage. */
    public c: number,
    /** Events of the key seen since the last take, capped at 2 (0 = the next one is "next"). */
    public n: number,
    /** Bit k: stage k (k = stages.length: the absence at the end) cannot be entered until the next take. */
    public b: number,
    /** 1 when an `until` condition closed the stage's loop. */
    public z: number,
    readonly last: RunEvent,
    readonly head: RunEvent,
    readonly len: number,
    readonly lo: EventRef,
    readonly hi: EventRef,
  ) {}

  /** A run of one event, at stage k. */
  static start(k: number, e: EventRef): Run {
    const node = new RunEvent(e, k, null);
    return new Run(k, 1, 0, 0, 0, node, node, 1, e, e);
  }

  /** This run with `e` taken at stage k: a new run sharing this one's events. */
  extend(k: number, e: EventRef): Run {
    const t = e.eventTime;
    return new Run(k, k === this.s ? this.c + 1 : 1, 0, 0, 0, new RunEvent(e, k, this.last), this.head, this.len + 1, t < this.lo.eventTime ? e : this.lo, t > this.hi.eventTime ? e : this.hi);
  }

  /** A run rebuilt from its events and their stages, oldest first (the stored form; tests). */
  static of(s: number, c: number, n: number, b: number, z: number, ev: readonly EventRef[], st: readonly number[]): Run {
    if (ev.length === 0 || ev.length !== st.length) throw new Error(`a run needs its events and a stage for each (${ev.length} events, ${st.length} stages)`);
    let node: RunEvent | null = null;
    let head: RunEvent | null = null;
    let lo = ev[0]!;
    let hi = ev[0]!;
    for (let i = 0; i < ev.length; i++) {
      const e = ev[i]!;
      node = new RunEvent(e, st[i]!, node);
      head ??= node;
      if (e.eventTime < lo.eventTime) lo = e;
      if (e.eventTime > hi.eventTime) hi = e;
    }
    return new Run(s, c, n, b, z, node!, head!, ev.length, lo, hi);
  }

  /** Earliest event time in the match. */
  get t0(): number {
    return this.lo.eventTime;
  }

  /** Latest event time in the match. */
  get t1(): number {
    return this.hi.eventTime;
  }

  /** Time of the last take. */
  get tl(): number {
    return this.last.e.eventTime;
  }

  /** The events, oldest first (a new list per call: for emitting, storing and explaining, not matching). */
  get ev(): EventRef[] {
    const out = new Array<EventRef>(this.len);
    let i = this.len;
    for (let x: RunEvent | null = this.last; x !== null; x = x.prev) out[--i] = x.e;
    return out;
  }

  /** The stage index of each event of `ev`. */
  get st(): number[] {
    const out = new Array<number>(this.len);
    let i = this.len;
    for (let x: RunEvent | null = this.last; x !== null; x = x.prev) out[--i] = x.k;
    return out;
  }

  /** The readable form (logs, tests, deep comparison): the run's counters and its events oldest first. */
  toJSON(): { s: number; c: number; n: number; b: number; z: number; t0: number; t1: number; tl: number; ev: EventRef[]; st: number[] } {
    return { s: this.s, c: this.c, n: this.n, b: this.b, z: this.z, t0: this.t0, t1: this.t1, tl: this.tl, ev: this.ev, st: this.st };
  }

  /** The first event stage k took, or null when it took none. */
  firstOf(k: number): EventRef | null {
    if (this.head.k === k) return this.head.e;
    let found: EventRef | null = null;
    for (let x: RunEvent | null = this.last; x !== null && x.k >= k; x = x.prev) if (x.k === k) found = x.e;
    return found;
  }

  /** The last event stage k took, or null when it took none. */
  lastOf(k: number): EventRef | null {
    for (let x: RunEvent | null = this.last; x !== null && x.k >= k; x = x.prev) if (x.k === k) return x.e;
    return null;
  }

  /** How many events stage k took. */
  countOf(k: number): number {
    if (k === this.s) return this.c;
    let n = 0;
    for (let x: RunEvent | null = this.last; x !== null && x.k >= k; x = x.prev) if (x.k === k) n++;
    return n;
  }
}
