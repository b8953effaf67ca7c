import type { EventRef } from '../../actors/index.js';
import type { CompiledPattern, Condition } from './compile-pattern.js';
import { test, type ExpressionContext, type MatchView } from './expressions.js';
import { Run, type RunEvent } from './run.js';

/**
 * The pattern matcher: partial matches ("runs") of one pattern inside one user, grouped by the
 * pattern's key. Pure data in, pure data out — no clock, no I/O — so live processing, recovery
 * and `nudge patterns test` run the same code. Semantics (patterns/README.md) follow Flink CEP.
 *
 * A run is positioned at the stage that took its last event (`s`, having taken `c` events
 * there). It stands for all positions reachable from there without an event: more of the same
 * stage, or the first event of a later stage (skipping optional ones). Rather than copying itself
 * into each of those positions, as an NFA with epsilon moves would, it records what an event has
 * ruled out since its last take: `n` (events seen since: strict contiguity allows only the
 * next one) and `b` (stages whose entry a negation or a consumed skip-till-next entry has blocked).
 * A run's events are a shared list (run.ts): a take is one node and one run, whatever the length.
 */
export interface PatternState {
  /** Pattern version the runs belong to: runs of another version are dropped, never mixed. */
  v: number;
  /** Open runs by key. A Map: keys come and go on every event, which turns an object into a slow dictionary. */
  runs: Map<string, Run[]>;
  /** Frequency cap: per cap key, event times of the actions sent inside the cap window. */
  caps?: Record<string, number[]>;
  /**
   * absenceDeadline's and expiryDeadline's answers until the runs change (undefined: not known).
   * An actor asks for its deadline after every delivery, and most deliveries leave most of its
   * patterns untouched. Never persisted: the snapshot codec writes fields by name.
   */
  da?: number | null;
  dx?: number | null;
}

export interface Match {
  key: string;
  run: Run;
  /** Event time of the completing event, or the deadline for an absence. */
  eventTime: number;
  timeout: boolean;
}

export interface MatchStats {
  startsSkipped: number;
  runsDropped: number;
}

export const newPatternState = (version: number): PatternState => ({ v: version, runs: new Map() });

const changed = (state: PatternState) => (state.da = state.dx = undefined);

export function keyOf(p: CompiledPattern, e: EventRef): string {
  return p.key === 'user' ? '' : p.key === 'session' ? e.userSession : e.productId;
}

/** Feeds one event to the runs of its key; completed matches are appended to `out` in emission order. */
// Scratch lists for onEvent (never re-entered): a few patterns step per event, and two fresh
// arrays for each was a steady share of the garbage.
const NEXT: Run[] = [];
const DONE: Run[] = [];

export function onEvent(p: CompiledPattern, state: PatternState, e: EventRef, out: Match[], stats: MatchStats): void {
  const key = keyOf(p, e);
  const runs = state.runs.get(key);
  const next = NEXT;
  const done = DONE;
  if (runs) for (const r of runs) step(p, r, e, next, done);
  start(p, e, next, done, stats);
  if (next.length > p.maxRuns) {
    stats.runsDropped += next.length - p.maxRuns;
    next.length = p.maxRuns;
  }
  const emitted = applySkip(p, done, next);
  for (const r of emitted) out.push({ key, run: r, eventTime: e.eventTime, timeout: false });
  if (runs || next.length) changed(state);
  if (next.length) {
    if (runs) {
      runs.length = next.length;
      for (let i = 0; i < next.length; i++) runs[i] = next[i]!;
    } else state.runs.set(key, next.slice());
  } else if (runs) state.runs.delete(key);
  next.length = 0;
  done.length = 0;
}

/**
 * Event time has reached `time`: runs whose time limit has passed are over. Those waiting on an
 * absence at the end of the pattern complete (in deadline, then start order); the rest are dropped.
 */
export function onTime(p: CompiledPattern, state: PatternState, time: number, out: Match[]): void {
  const w = p.withinMs;
  if (w === null) return;
  // Before nextDeadline nothing is decided: expired runs that are not armed are invisible (an
  // event's step ignores them) and go all at once when the last of them expires.
  const d = nextDeadline(p, state);
  if (d === null || time < d) return;
  changed(state);
  const fired: Array<{ key: string; run: Run; deadline: number }> = [];
  for (const key of [...state.runs.keys()].sort()) {
    const runs = state.runs.get(key)!;
    const keep = runs.filter((r) => r.lo.eventTime + w > time);
    if (keep.length === runs.length) continue;
    for (const r of runs) if (r.lo.eventTime + w <= time && armed(p, r)) fired.push({ key, run: r, deadline: r.lo.eventTime + w });
    if (keep.length) state.runs.set(key, keep);
    else state.runs.delete(key);
  }
  fired.sort((a, b) => a.deadline - b.deadline || startSeq(a.run) - startSeq(b.run) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const prunedByKey = new Map<string, Run[]>();
  for (const f of fired) {
    const earlier = prunedByKey.get(f.key) ?? [];
    if (earlier.some((m) => prunes(p, m, f.run))) continue;
    earlier.push(f.run);
    prunedByKey.set(f.key, earlier);
    const left = state.runs.get(f.key);
    if (left) {
      const kept = left.filter((r) => !prunes(p, f.run, r));
      if (kept.length) state.runs.set(f.key, kept);
      else state.runs.delete(f.key);
    }
    out.push({ key: f.key, run: f.run, eventTime: f.deadline, timeout: true });
  }
}

/**
 * When onTime next has work: the earliest absence deadline exactly (it decides an action), but
 * for dropping runs that merely ran out of time, only once all of them have — until then an
 * expired run is dropped by the next event of its key anyway. One wake per quiet user instead of
 * one per run keeps timers off the per-event path.
 */
export function nextDeadline(p: CompiledPattern, state: PatternState): number | null {
  const a = absenceDeadline(p, state);
  const x = expiryDeadline(p, state);
  return a === null ? x : x === null ? a : Math.min(a, x);
}

/** The earliest deadline that decides an absence (a match): the one wake that must be exact. */
export function absenceDeadline(p: CompiledPattern, state: PatternState): number | null {
  if (state.da === undefined) computeDeadlines(p, state);
  return state.da!;
}

/** When every run has run out of time: waking then only frees memory, so it may come later. */
export function expiryDeadline(p: CompiledPattern, state: PatternState): number | null {
  if (state.dx === undefined) computeDeadlines(p, state);
  return state.dx!;
}

function computeDeadlines(p: CompiledPattern, state: PatternState): void {
  const w = p.withinMs;
  if (w === null) {
    state.da = state.dx = null;
    return;
  }
  let absence = Infinity;
  let all = -Infinity;
  for (const runs of state.runs.values()) {
    for (const r of runs) {
      const d = r.lo.eventTime + w;
      if (d > all) all = d;
      if (d < absence && armed(p, r)) absence = d;
    }
  }
  state.da = absence === Infinity ? null : absence;
  state.dx = all === -Infinity ? null : all;
}

export function hasRuns(state: PatternState): boolean {
  return state.runs.size > 0;
}

/** The run's events by stage name, as conditions and templates see them. */
export function matchView(p: CompiledPattern, r: Run): MatchView {
  const view: MatchView = { first: {}, last: {}, match: {}, count: {} };
  const nodes: RunEvent[] = [];
  for (let x: RunEvent | null = r.last; x !== null; x = x.prev) nodes.push(x);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const name = p.stages[nodes[i]!.k]!.name;
    const e = nodes[i]!.e;
    const list = view.match[name];
    if (list) list.push(e);
    else {
      view.match[name] = [e];
      view.first[name] = e;
    }
    view.last[name] = e;
    view.count[name] = (view.count[name] ?? 0) + 1;
  }
  return view;
}

// ---- internals ----

const startSeq = (r: Run) => r.head.e.seq;
const lastSeq = (r: Run) => r.last.e.seq;

/** The run's closure reaches the end of a pattern that ends in an absence, which nothing has broken. */
function armed(p: CompiledPattern, r: Run): boolean {
  const m = p.stages.length;
  return p.endGuards.length > 0 && r.c >= p.stages[r.s]!.lo && p.restOptional[r.s]! && (r.b & (1 << m)) === 0;
}

const scratch: ExpressionContext = { event: undefined as unknown as EventRef };

function holds(p: CompiledPattern, cond: Condition, e: EventRef, r: Run | null): boolean {
  if (cond.types !== null && !cond.types.has(e.eventType)) return false;
  if (cond.expr === null) return true;
  if (cond.fast !== null) return cond.fast(e, r);
  scratch.event = e;
  if (cond.readsMatch) Object.assign(scratch, r ? (r.view ??= matchView(p, r)) : EMPTY_VIEW);
  const ok = test(cond.expr, scratch);
  if (cond.readsMatch) scratch.first = scratch.last = scratch.match = scratch.count = undefined;
  return ok;
}

/** `guards.some(g => holds(…))` without a closure per call: this runs per run per event. */
function anyHolds(p: CompiledPattern, guards: readonly Condition[], e: EventRef, r: Run): boolean {
  for (let i = 0; i < guards.length; i++) if (holds(p, guards[i]!, e, r)) return true;
  return false;
}

const EMPTY_VIEW: MatchView = { first: {}, last: {}, match: {}, count: {} };

/** A new run at each stage the event can open (the first, or a later one past optional stages). */
function start(p: CompiledPattern, e: EventRef, next: Run[], done: Run[], stats: MatchStats): void {
  for (const s of p.stages) {
    if (holds(p, s.cond, e, null)) {
      if (next.length >= p.maxRuns) {
        stats.startsSkipped++;
        return;
      }
      take(p, null, s.index, e, next, done);
    }
    if (!s.optional) return;
  }
}

function take(p: CompiledPattern, r: Run | null, k: number, e: EventRef, next: Run[], done: Run[]): void {
  const nr = r ? r.extend(k, e) : Run.start(k, e);
  const stage = p.stages[k]!;
  const complete = nr.c >= stage.lo && p.restOptional[k]!;
  if (complete && p.endGuards.length === 0) {
    done.push(nr);
    // Nothing left to take: the run is finished.
    if (nr.c >= stage.hi && k === p.stages.length - 1) return;
  }
  next.push(nr);
}

function step(p: CompiledPattern, r: Run, e: EventRef, next: Run[], done: Run[]): void {
  const w = p.withinMs;
  const t = e.eventTime;
  if (w !== null && Math.max(r.hi.eventTime, t) - Math.min(r.lo.eventTime, t) >= w) {
    // Outside the time limit: an absence still pending is decided by the deadline, not by this event.
    if (armed(p, r)) next.push(r);
    return;
  }
  const m = p.stages.length;
  const S = p.stages[r.s]!;
  const isNext = r.n === 0;
  let survives = false;
  let blocked = r.b;
  let z = r.z;

  // More of the current stage.
  let took = false;
  if (r.c < S.hi && z === 0) {
    if (S.until !== null && holds(p, S.until, e, r)) z = 1;
    else {
      const gapOk = S.gapMs === null || t - r.last.e.eventTime < S.gapMs;
      const loopMatches = holds(p, S.cond, e, r);
      if (gapOk && loopMatches && (S.inner !== 'strict' || isNext)) {
        take(p, r, r.s, e, next, done);
        took = true;
      }
      // Skip-till-next must take a matching event; skip-till-any may also pass it by; strict may not skip.
      if (gapOk && (S.inner === 'any' || (S.inner === 'relaxed' && !loopMatches))) survives = true;
    }
  }

  // Entering a later stage (greedy: only when the current stage took the event).
  if (r.c >= S.lo && !(S.greedy && took)) {
    for (let k = r.s + 1; k <= m; k++) {
      const bit = 1 << k;
      if (k === m) {
        if (p.endGuards.length > 0 && (blocked & bit) === 0) {
          if (anyHolds(p, p.endGuards, e, r)) blocked |= bit;
          else survives = true;
        }
        break;
      }
      const K = p.stages[k]!;
      if ((blocked & bit) === 0) {
        if ((isNext && anyHolds(p, K.notNext, e, r)) || anyHolds(p, K.notFollowedBy, e, r)) {
          // The negation stands before stage k, so it also stands before everything after it.
          blocked |= ~(bit - 1);
          break;
        }
        const gapOk = K.gapMs === null || t - r.last.e.eventTime < K.gapMs;
        if (gapOk && (K.entry !== 'strict' || isNext)) {
          if (holds(p, K.cond, e, r)) {
            take(p, r, k, e, next, done);
            if (K.entry === 'relaxed') blocked |= bit;
            else if (K.entry === 'any') survives = true;
          } else if (K.entry !== 'strict') survives = true;
        }
      }
      if (!K.optional) break;
    }
  }
  // A loop that had to take the event (skip-till-next or strict) leaves no copy of the run without
  // it: that copy could loop on later (skip-till-any) or complete with a shorter prefix. Only
  // allowCombinations may pass a matching event by.
  if (took && S.inner !== 'any') survives = false;
  if (survives) {
    // In place: nothing else holds `r` (runs share events, never run objects), and its events (and their cached view) are unchanged.
    r.n = r.n < 2 ? r.n + 1 : 2;
    r.b = blocked;
    r.z = z;
    next.push(r);
  }
}

/** Does emitting match `m` discard run `r` under the pattern's after-match skip strategy? */
function prunes(p: CompiledPattern, m: Run, r: Run): boolean {
  const s = p.skip;
  switch (s.kind) {
    case 'noSkip':
      return false;
    case 'skipToNext':
      return startSeq(r) === startSeq(m);
    case 'skipPastLastEvent':
      return startSeq(r) <= lastSeq(m);
    case 'skipToFirst':
    case 'skipToLast': {
      const at = s.kind === 'skipToFirst' ? m.firstOf(s.stage) : m.lastOf(s.stage);
      if (at === null) return false;
      return startSeq(r) < at.seq;
    }
  }
}

/** Emits completed runs in order; each emitted match prunes the runs (and later matches) its strategy discards. */
function applySkip(p: CompiledPattern, done: Run[], next: Run[]): Run[] {
  if (done.length === 0) return done;
  if (p.skip.kind === 'noSkip') return done;
  const emitted: Run[] = [];
  for (const d of done) {
    if (emitted.some((m) => prunes(p, m, d))) continue;
    emitted.push(d);
  }
  let w = 0;
  for (const r of next) if (!emitted.some((m) => prunes(p, m, r))) next[w++] = r;
  next.length = w;
  return emitted;
}
