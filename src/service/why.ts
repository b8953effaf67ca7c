import type { EventRef } from '../../actors/index.js';
import { onEvent, onTime, keyOf, matchView, newPatternState, capKey, compileExpression, type CompiledPattern, type Condition, type Match, type Run, type PatternState, type CompiledExpression } from '../cep/index.js';
import { toJsonValue, type ExpressionContext } from '../cep/expressions.js';
import { actionId, absenceActionId } from '../actions/index.js';
import { awaitsAbsence, conditionText, runView, waitsFor } from './actor-view.js';
import type { RunView } from './protocol.js';

/**
 * `nudge actor why`: replays one user's retained events through one pattern with the real matcher
 * (src/cep/matcher.ts: onEvent / onTime on a fresh pattern state, event time advanced the way a
 * partition advances it), and explains each step. Before the matcher takes an event, every open
 * partial match ("run") and every possible start is checked against the stage conditions it could
 * take next, as the matcher would check them; after it, the runs that exist tell what actually
 * happened (the explanation never overrides the matcher). A condition that fails is named by its
 * source text, down to the first `&&` part that is false, with the values it compared.
 *
 * Limits, said in the output too: event time moves only with this user's events (other users'
 * events and watermark ticks also move a partition's time; the partition's current watermark is
 * applied at the end when the worker tells it), and the pattern is the one in force now.
 */

export interface WhyInput {
  pattern: CompiledPattern;
  userId: string;
  /** The user's events in stream order. */
  events: EventRef[];
  maxOutOfOrderMs: number;
  latePolicy?: 'process' | 'dlq';
  /** The partition's watermark now, from its worker: settles deadlines after the last event. */
  partitionWatermark?: number | null;
  /** Event times of the user's actions of the same type by other patterns (they count against a type cap). */
  otherTypeSent?: number[];
  /** Action ids in ACTIONS from this pattern for this user, to say whether a completion was sent. */
  sentActionIds?: ReadonlySet<string>;
}

export interface ConditionCheck {
  stage: string;
  /** The stage's condition as written (event type filter and `where`). */
  condition: string;
  holds: boolean;
  /** The first `&&` part that is false (or the event type filter). */
  failedPart?: string;
  /** What the failed part compared, e.g. {"event.price": 120, "first.seen.price": 100}. */
  values?: Record<string, unknown>;
  error?: string;
}

export type RunOutcome = 'started' | 'took' | 'advanced' | 'completed' | 'kept' | 'expired' | 'blocked' | 'discarded' | 'dropped' | 'not-started';

export interface RunNote {
  /** The run by its events' stream sequences, before this step. */
  run: string;
  /** Stage reached before this step. */
  at: string;
  outcome: RunOutcome;
  text: string;
  failed: ConditionCheck[];
}

export interface Completion {
  /** Sequence of the event that completed it; null for an absence completed by time passing. */
  seq: number | null;
  eventTime: number;
  timeout: boolean;
  events: number[];
  actionId: string;
  /** Why a frequency cap held it back, or null when it became an action. */
  capped: string | null;
  /** Whether ACTIONS holds this action id (null when unknown or capped). */
  sent: boolean | null;
}

export interface TimeNote {
  /** Event time the pattern was advanced to. */
  time: number;
  run: string;
  outcome: 'completed' | 'expired';
  text: string;
}

export interface WhyStep {
  seq: number;
  eventTime: number;
  eventType: string;
  productId: string;
  /** The pattern's key for this event ('' when keyed by user). */
  key: string;
  late: boolean;
  /** False when the pattern never looks at this event type (the engine does not feed it). */
  read: boolean;
  /** Deadlines the watermark passed before this event was applied. */
  time: TimeNote[];
  runs: RunNote[];
  start: RunNote | null;
  completions: Completion[];
}

export interface WhyVerdict {
  completed: boolean;
  /** One line: did it fire, or why not. */
  summary: string;
  details: string[];
}

export interface WhyResult {
  patternId: string;
  version: number;
  userId: string;
  key: string;
  within: string | null;
  mode: 'live' | 'shadow';
  enabled: boolean;
  events: number;
  steps: WhyStep[];
  /** Time settled after the last event (the partition's watermark), if later than the replay's own. */
  after: TimeNote[];
  completions: Completion[];
  /** Partial matches left at the end. */
  open: RunView[];
  verdict: WhyVerdict;
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return [d && `${d}d`, h && `${h}h`, m && `${m}m`, sec && `${sec}s`].filter(Boolean).join(' ') || '0s';
}

const labelOf = (seqs: number[]) => `(${seqs.map((s) => `#${s}`).join(' ')})`;
const label = (r: Pick<Run, 'ev'>) => labelOf(r.ev.map((e) => e.seq));

export function explainWhy(input: WhyInput): WhyResult {
  const p = input.pattern;
  const state = newPatternState(p.version);
  const stats = { startsSkipped: 0, runsDropped: 0 };
  const caps: Record<string, number[]> = {};
  const typeSent = [...(input.otherTypeSent ?? [])].sort((a, b) => a - b);
  const steps: WhyStep[] = [];
  const completions: Completion[] = [];
  /** Per run (object identity: the matcher keeps a run's object while it waits), what it refused and why. */
  const waiting = new Map<Run, Refusal[]>();
  const ended: Array<{ run: Run; why: string; seq: number | null }> = [];
  let lastStartFailure: { seq: number; checks: ConditionCheck[] } | null = null;
  let eventsRead = 0;
  let maxEventTime = -Infinity;
  let watermark = -Infinity;
  const relevant = (type: string) => p.seesEveryEvent || p.relevantTypes === null || p.relevantTypes.has(type);

  const settle = (time: number, seq: number | null): TimeNote[] => {
    const notes: TimeNote[] = [];
    const before = allRuns(state);
    const matches: Match[] = [];
    onTime(p, state, time, matches);
    const after = new Set(allRuns(state).map((x) => x.run));
    for (const { run } of before) {
      if (after.has(run)) continue;
      const m = matches.find((x) => x.run === run);
      if (m) continue;
      const text = `ran out of time: its time limit (within ${p.spec.within}) ended at ${iso(run.t0 + p.withinMs!)}`;
      notes.push({ time, run: label(run), outcome: 'expired', text });
      ended.push({ run, why: text, seq });
    }
    for (const c of admit(matches, null)) {
      notes.push({ time, run: labelOf(c.events), outcome: 'completed', text: completionText(c, true) });
    }
    return notes;
  };

  const admit = (matches: Match[], seq: number | null): Completion[] => {
    const out: Completion[] = [];
    let nth = 0;
    for (const m of matches) {
      const capped = capHolds(p, caps, typeSent, m);
      if (!capped) nth++;
      const run = m.run;
      const id = m.timeout ? absenceActionId(p.id, p.version, input.userId, run.ev[0]!.seq, run.ev[run.ev.length - 1]!.seq) : actionId(p.id, p.version, input.userId, seq!, nth);
      const c: Completion = {
        seq: m.timeout ? null : seq,
        eventTime: m.eventTime,
        timeout: m.timeout,
        events: run.ev.map((e) => e.seq),
        actionId: capped ? '' : id,
        capped,
        sent: capped || !input.sentActionIds ? null : input.sentActionIds.has(id),
      };
      out.push(c);
      completions.push(c);
      waiting.delete(run);
    }
    return out;
  };

  for (const e of input.events) {
    const late = e.eventTime < watermark;
    const step: WhyStep = { seq: e.seq, eventTime: e.eventTime, eventType: e.eventType, productId: e.productId, key: keyOf(p, e), late, read: true, time: [], runs: [], start: null, completions: [] };
    steps.push(step);
    if (late && input.latePolicy === 'dlq') {
      step.read = false;
      continue;
    }
    if (e.eventTime > maxEventTime) {
      maxEventTime = e.eventTime;
      watermark = maxEventTime - input.maxOutOfOrderMs;
      step.time = settle(watermark, e.seq);
    }
    if (!relevant(e.eventType)) {
      step.read = false;
      continue;
    }
    eventsRead++;
    const key = step.key;
    const before = [...(state.runs.get(key) ?? [])];
    // Checked before the matcher runs: it updates a waiting run in place.
    const checks = new Map(before.map((r) => [r, diagnose(p, r, e)]));
    const starts = diagnoseStart(p, e);
    const skippedBefore = stats.startsSkipped;
    const droppedBefore = stats.runsDropped;
    const matches: Match[] = [];
    onEvent(p, state, e, matches, stats);
    const after = state.runs.get(key) ?? [];
    const doneRuns = matches.map((m) => m.run);

    for (const r of before) {
      const d = checks.get(r)!;
      const at = stageName(p, r);
      const takes = [...after, ...doneRuns].filter((a) => extendsRun(a, r, e));
      const completed = doneRuns.filter((a) => extendsRun(a, r, e));
      const kept = after.includes(r);
      let note: RunNote;
      if (completed.length) {
        note = { run: label(r), at, outcome: 'completed', text: `took it as stage "${p.stages[completed[0]!.st[completed[0]!.st.length - 1]!]!.name}": the match is complete`, failed: [] };
      } else if (takes.length) {
        const k = takes[0]!.st[takes[0]!.st.length - 1]!;
        const t = takes[0]!;
        note = k === r.s
          ? { run: label(r), at, outcome: 'took', text: `took it as stage "${p.stages[k]!.name}" (${t.c} of ${bounds(p, k)})`, failed: [] }
          : { run: label(r), at, outcome: 'advanced', text: `advanced to stage "${p.stages[k]!.name}" (${t.c} of ${bounds(p, k)})`, failed: [] };
        if (kept) note.text += '; a copy without it waits on (followedByAny / allowCombinations)';
      } else if (kept) {
        const why = d.reasons.length ? d.reasons.join('; ') : 'nothing it can take';
        note = { run: label(r), at, outcome: 'kept', text: `not taken, still waiting: ${why}`, failed: d.failed };
        waiting.set(r, [...(waiting.get(r) ?? []), { seq: e.seq, failed: d.failed, text: why }]);
      } else {
        let outcome: RunOutcome = 'dropped';
        let why: string;
        if (d.expired) {
          outcome = 'expired';
          why = d.expired;
        } else if (d.blocked) {
          outcome = 'blocked';
          why = d.blocked;
        } else if (matches.length && p.skip.kind !== 'noSkip') {
          outcome = 'discarded';
          why = `discarded by the after-match skip strategy ${p.skip.kind} when the match completed`;
        } else if (stats.runsDropped > droppedBefore) {
          why = `dropped: more than maxRunsPerKey (${p.maxRuns}) partial matches`;
        } else {
          why = `ended: ${d.reasons.length ? d.reasons.join('; ') : 'it could not take this event and may not skip it'}`;
        }
        note = { run: label(r), at, outcome, text: why, failed: d.failed };
        ended.push({ run: r, why, seq: e.seq });
      }
      step.runs.push(note);
    }

    const fresh = [...after, ...doneRuns].filter((a) => a.ev.length === 1 && a.ev[0] === e);
    if (fresh.length) {
      const names = [...new Set(fresh.map((a) => p.stages[a.st[0]!]!.name))];
      step.start = { run: `(#${e.seq})`, at: '-', outcome: 'started', text: `started a partial match at stage ${names.map((n) => `"${n}"`).join(', ')}`, failed: [] };
    } else if (stats.startsSkipped > skippedBefore) {
      step.start = { run: `(#${e.seq})`, at: '-', outcome: 'not-started', text: `could start a match but maxRunsPerKey (${p.maxRuns}) partial matches are already open`, failed: [] };
    } else {
      const failed = starts.filter((c) => !c.holds);
      step.start = { run: `(#${e.seq})`, at: '-', outcome: 'not-started', text: `starts nothing: ${failed.map(checkText).join('; ') || 'no first stage takes it'}`, failed };
      lastStartFailure = { seq: e.seq, checks: failed };
    }
    step.completions = admit(matches, e.seq);
  }

  const after: TimeNote[] = [];
  const pw = input.partitionWatermark;
  if (pw !== undefined && pw !== null && pw > watermark) after.push(...settle(pw, null));
  const now = Math.max(watermark, pw ?? -Infinity);

  const open: Array<{ key: string; run: Run }> = allRuns(state);
  const result: WhyResult = {
    patternId: p.id,
    version: p.version,
    userId: input.userId,
    key: p.key,
    within: p.spec.within === undefined ? null : String(p.spec.within),
    mode: p.spec.mode,
    enabled: p.spec.enabled,
    events: input.events.length,
    steps,
    after,
    completions,
    open: open.map(({ key, run }) => runView(key, run, p)),
    verdict: { completed: false, summary: '', details: [] },
  };
  result.verdict = verdict(p, input, result, { open, waiting, ended, lastStartFailure, eventsRead, now });
  return result;
}

function verdict(
  p: CompiledPattern,
  input: WhyInput,
  r: WhyResult,
  s: {
    open: Array<{ key: string; run: Run }>;
    waiting: Map<Run, Refusal[]>;
    ended: Array<{ run: Run; why: string; seq: number | null }>;
    lastStartFailure: { seq: number; checks: ConditionCheck[] } | null;
    eventsRead: number;
    now: number;
  },
): WhyVerdict {
  const details: string[] = [];
  if (!p.spec.enabled) details.push(`pattern ${p.id} is disabled: the engine runs it for no one (this replay shows what it would do)`);
  if (p.spec.mode === 'shadow') details.push(`pattern ${p.id} is in shadow mode: its actions go to actions.shadow.${p.action.type}.<user>`);
  const sent = r.completions.filter((c) => c.capped === null);
  const capped = r.completions.filter((c) => c.capped !== null);
  for (const c of sent) {
    const where = c.sent === true ? 'in ACTIONS' : c.sent === false ? 'not found in ACTIONS (sent under another version, aged out, or the engine has not read that far)' : '';
    details.push(`completed ${c.timeout ? `by time passing at ${iso(c.eventTime)} (absence)` : `at #${c.seq}`} with events ${c.events.map((x) => `#${x}`).join(' ')} → action ${p.action.type} ${c.actionId}${where ? ` (${where})` : ''}`);
  }
  for (const c of capped) details.push(`completed ${c.timeout ? `at ${iso(c.eventTime)} (absence)` : `at #${c.seq}`} but held back: ${c.capped}`);

  let summary: string;
  if (input.events.length === 0) summary = `no events of user ${input.userId} in EVENTS: nothing to match`;
  else if (sent.length) summary = `fired ${sent.length === 1 ? 'once' : `${sent.length} times`}: action ${p.action.type}${capped.length ? ` (${capped.length} more held back by a cap)` : ''}`;
  else if (capped.length) summary = `completed ${capped.length === 1 ? 'once' : `${capped.length} times`}, but the frequency cap held every action back: ${capped[capped.length - 1]!.capped}`;
  else if (s.eventsRead === 0) summary = `did not fire: none of the user's ${input.events.length} events is of a type the pattern reads (${[...(p.relevantTypes ?? [])].join(', ') || 'any'})`;
  else summary = 'did not fire';

  if (!sent.length && !capped.length && input.events.length && s.eventsRead) {
    const nearMisses = (r: Run) => (s.waiting.get(r) ?? []).filter((w) => w.failed.some((f) => !isTypeFilter(f))).length;
    const best = s.open.map((o) => o.run).sort((a, b) => progress(a, b) || nearMisses(b) - nearMisses(a) || a.ev[0]!.seq - b.ev[0]!.seq)[0];
    if (best) {
      const absence = awaitsAbsence(p, best);
      const deadline = p.withinMs !== null ? best.t0 + p.withinMs : null;
      summary += `: the closest partial match ${label(best)} stopped at stage "${p.stages[best.s]!.name}" (${best.c} of ${bounds(p, best.s)}) and waits for ${waitsFor(p, best, absence)}`;
      const refused = s.waiting.get(best) ?? [];
      // Events of a type the next stage does not take say little; the conditions that failed on the right type say why.
      const telling = refused.filter((w) => w.failed.some((f) => !isTypeFilter(f)));
      for (const w of (telling.length ? telling : refused).slice(-5)) {
        const failed = w.failed.filter((f) => telling.length === 0 || !isTypeFilter(f));
        if (failed.length) for (const f of failed) details.push(`#${w.seq} did not continue it: stage "${f.stage}" condition ${f.failedPart ?? f.condition} is false${valuesText(f)}`);
        else details.push(`#${w.seq} did not continue it: ${w.text}`);
      }
      if (deadline !== null) {
        details.push(
          absence
            ? `it completes at ${iso(deadline)} unless a forbidden event comes first; event time here is ${Number.isFinite(s.now) ? iso(s.now) : 'unknown'}`
            : `its time limit (within ${p.spec.within}) ends at ${iso(deadline)}${s.now >= deadline ? ' — already passed: it can no longer complete' : ''}`,
        );
      }
    } else if (s.ended.length) {
      const e = [...s.ended].sort((a, b) => progress(a.run, b.run) || (b.seq ?? 0) - (a.seq ?? 0))[0]!;
      summary += `: the furthest partial match ${label(e.run)} reached stage "${p.stages[e.run.s]!.name}" (${e.run.c} of ${bounds(p, e.run.s)}) and ${e.why.replace(/^ended: /, 'ended: ')}`;
      const lastFail = [...s.ended].reverse().find((x) => x.run === e.run);
      if (lastFail?.seq !== null && lastFail?.seq !== undefined) details.push(`it ended at #${lastFail.seq}`);
    } else if (s.lastStartFailure) {
      const first = p.stages[0]!;
      summary += `: no event started it — stage "${first.name}" needs ${conditionText(p, first.name)}`;
      for (const f of s.lastStartFailure.checks) details.push(`last try, #${s.lastStartFailure.seq}: stage "${f.stage}": ${f.failedPart ?? f.condition} is false${valuesText(f)}`);
    }
  }
  details.push(`replayed ${input.events.length} retained event(s) of ${input.userId} through ${p.id} v${p.version} (the version in force now); event time advanced by this user's events${input.partitionWatermark != null ? ` and then to the partition's watermark ${iso(input.partitionWatermark)}` : ' only (no worker answered for the partition\'s watermark)'}`);
  return { completed: sent.length > 0, summary, details };
}

/** Most advanced first: later stage, then more events at it, then more events overall. */
function progress(a: Run, b: Run): number {
  return b.s - a.s || b.c - a.c || b.ev.length - a.ev.length;
}

interface Refusal {
  seq: number;
  failed: ConditionCheck[];
  text: string;
}

/** The check failed on the event type alone: an event the stage was never about. */
const isTypeFilter = (c: ConditionCheck) => c.failedPart?.startsWith('eventType ') === true && c.values !== undefined && 'eventType' in c.values;

function bounds(p: CompiledPattern, k: number): string {
  const s = p.stages[k]!;
  if (s.lo === s.hi) return String(s.lo);
  return s.hi === Infinity ? `${s.lo}+` : `${s.lo}..${s.hi}`;
}

function stageName(p: CompiledPattern, r: Run): string {
  return `${p.stages[r.s]!.name} ${r.c}/${bounds(p, r.s)}`;
}

function allRuns(state: PatternState): Array<{ key: string; run: Run }> {
  const out: Array<{ key: string; run: Run }> = [];
  for (const key of [...state.runs.keys()].sort()) for (const run of state.runs.get(key)!) out.push({ key, run });
  return out;
}

function extendsRun(a: Run, r: Run, e: EventRef): boolean {
  if (a.ev.length !== r.ev.length + 1 || a.ev[a.ev.length - 1] !== e) return false;
  for (let i = 0; i < r.ev.length; i++) if (a.ev[i] !== r.ev[i]) return false;
  return true;
}

function completionText(c: Completion, absence: boolean): string {
  if (c.capped) return `completed${absence ? ' (absence: no forbidden event before the deadline)' : ''}, held back: ${c.capped}`;
  return `completed${absence ? ' (absence: no forbidden event before the deadline)' : ''} → action ${c.actionId}`;
}

/** The pattern's own cap, then the type cap, as the actor applies them (user-actor.ts); records what it admits. */
function capHolds(p: CompiledPattern, caps: Record<string, number[]>, typeSent: number[], m: Match): string | null {
  const cap = p.action.cap;
  let key: string | null = null;
  if (cap) {
    key = cap.per ? capKey(p.action, { event: m.run.ev[m.run.ev.length - 1]!, ...matchView(p, m.run) }) : '';
    const times = (caps[key] ?? []).filter((t) => m.eventTime - t < cap.withinMs);
    caps[key] = times;
    if (times.length >= cap.max) {
      return `the pattern's cap (at most ${cap.max} per ${formatDuration(cap.withinMs)}${cap.per ? ` per ${cap.per.source} = ${JSON.stringify(key)}` : ''}) was reached by the action(s) at ${times.map(iso).join(', ')}`;
    }
  }
  const tc = p.action.typeCap;
  if (tc) {
    const inWindow = typeSent.filter((t) => m.eventTime - t < tc.withinMs);
    if (inWindow.length >= tc.max) return `the type cap on ${p.action.type} (at most ${tc.max} per ${formatDuration(tc.withinMs)}, across patterns) was reached by the action(s) at ${inWindow.map(iso).join(', ')}`;
  }
  if (key !== null) caps[key]!.push(m.eventTime);
  if (tc) typeSent.push(m.eventTime);
  return null;
}

interface Diagnosis {
  reasons: string[];
  failed: ConditionCheck[];
  expired?: string;
  blocked?: string;
}

/** What the matcher's step (matcher.ts) will check for run `r` and event `e`, and which checks fail. */
function diagnose(p: CompiledPattern, r: Run, e: EventRef): Diagnosis {
  const d: Diagnosis = { reasons: [], failed: [] };
  const w = p.withinMs;
  const t = e.eventTime;
  if (w !== null && Math.max(r.t1, t) - Math.min(r.t0, t) >= w) {
    d.expired = `outside the time limit: this event is ${formatDuration(Math.max(r.t1, t) - Math.min(r.t0, t))} from the match's first event, the pattern allows less than ${formatDuration(w)} (within ${p.spec.within})`;
    if (awaitsAbsence(p, r)) d.reasons.push(`past its time limit, it waits only for its absence deadline ${iso(r.t0 + w)}`);
    return d;
  }
  const m = p.stages.length;
  const S = p.stages[r.s]!;
  const isNext = r.n === 0;
  let took = false;
  const fail = (c: ConditionCheck) => {
    d.failed.push(c);
    d.reasons.push(checkText(c));
  };
  if (r.c < S.hi && r.z === 0) {
    const until = S.until ? check(p, S.until, `${S.name} (until)`, S.until.expr?.source ?? '', e, r) : null;
    if (until?.holds) d.reasons.push(`stage "${S.name}" closed: its until condition ${S.until!.expr?.source} holds`);
    else {
      const gapOk = S.gapMs === null || t - r.tl < S.gapMs;
      const c = check(p, S.cond, S.name, conditionText(p, S.name), e, r);
      if (!gapOk) d.reasons.push(`stage "${S.name}": more than ${formatDuration(S.gapMs!)} after the previous event (its within)`);
      else if (!c.holds) fail(c);
      else if (S.inner === 'strict' && !isNext) d.reasons.push(`stage "${S.name}" is consecutive: only the very next event of the key may continue it`);
      else took = true;
    }
  }
  if (r.c < S.lo) {
    if (S.lo < Infinity && r.s + 1 < m) d.reasons.push(`stage "${S.name}" needs ${S.lo - r.c} more before "${p.stages[r.s + 1]!.name}"`);
    return d;
  }
  if (S.greedy && took) return d;
  for (let k = r.s + 1; k <= m; k++) {
    const bit = 1 << k;
    if (k === m) {
      if (p.endGuards.length > 0 && (r.b & bit) === 0) {
        const g = p.endGuards.find((x) => check(p, x, x.name, conditionText(p, x.name), e, r).holds);
        if (g) d.blocked = `the absence is broken: "${g.name}" (${conditionText(p, g.name)}) happened within the time limit`;
        else d.reasons.push(`no "${p.endGuards.map((x) => x.name).join('"/"')}": the absence still holds`);
      }
      break;
    }
    const K = p.stages[k]!;
    if ((r.b & bit) !== 0) {
      d.reasons.push(`stage "${K.name}" cannot be entered until the run takes another event (skip-till-next already used this entry, or a negation blocked it)`);
    } else {
      const neg = (isNext ? K.notNext : []).concat(K.notFollowedBy).find((g) => check(p, g, g.name, conditionText(p, g.name), e, r).holds);
      if (neg) {
        d.blocked = `blocked by the negation "${neg.name}" (${conditionText(p, neg.name)}) before stage "${K.name}"`;
        break;
      }
      const gapOk = K.gapMs === null || t - r.tl < K.gapMs;
      if (!gapOk) d.reasons.push(`stage "${K.name}": more than ${formatDuration(K.gapMs!)} after the previous event (its within)`);
      else if (K.entry === 'strict' && !isNext) d.reasons.push(`stage "${K.name}" must be the very next event (next), and this is not`);
      else {
        const c = check(p, K.cond, K.name, conditionText(p, K.name), e, r);
        if (!c.holds) fail(c);
      }
    }
    if (!K.optional) break;
  }
  return d;
}

/** Which first stages (the first, and later ones past optional stages) the event could open. */
function diagnoseStart(p: CompiledPattern, e: EventRef): ConditionCheck[] {
  const out: ConditionCheck[] = [];
  for (const s of p.stages) {
    out.push(check(p, s.cond, s.name, conditionText(p, s.name), e, null));
    if (!s.optional) break;
  }
  return out;
}

const EMPTY = { first: {}, last: {}, match: {}, count: {} };

function check(p: CompiledPattern, cond: Condition, stage: string, condition: string, e: EventRef, r: Run | null): ConditionCheck {
  if (cond.types !== null && !cond.types.has(e.eventType)) {
    const need = [...cond.types];
    return { stage, condition, holds: false, failedPart: need.length === 1 ? `eventType == ${need[0]}` : `eventType in [${need.join(', ')}]`, values: { eventType: e.eventType } };
  }
  if (cond.expr === null) return { stage, condition, holds: true };
  const ctx: ExpressionContext = { event: e, ...(r ? matchView(p, r) : EMPTY) };
  const whole = evaluate(cond.expr, ctx);
  if (whole.value === true) return { stage, condition, holds: true };
  const out: ConditionCheck = { stage, condition, holds: false, failedPart: cond.expr.source };
  if (whole.error) out.error = whole.error;
  for (const part of splitAnd(cond.expr.source)) {
    const expr = compiled(part);
    if (!expr) break;
    const v = evaluate(expr, ctx);
    if (v.value !== true) {
      out.failedPart = part;
      if (v.error) out.error = v.error;
      break;
    }
  }
  out.values = operandValues(out.failedPart!, ctx);
  return out;
}

function evaluate(expr: CompiledExpression, ctx: ExpressionContext): { value: unknown; error?: string } {
  try {
    return { value: expr.evaluate(ctx) };
  } catch (e) {
    return { value: undefined, error: String((e as Error).message ?? e).split('\n')[0] };
  }
}

const cache = new Map<string, CompiledExpression | null>();
function compiled(source: string): CompiledExpression | null {
  if (!cache.has(source)) {
    let c: CompiledExpression | null;
    try {
      c = compileExpression(source);
    } catch {
      c = null;
    }
    if (cache.size > 2_000) cache.clear();
    cache.set(source, c);
  }
  return cache.get(source)!;
}

/** The top-level `&&` parts of an expression (outside brackets and string literals). */
export function splitAnd(source: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && c === '&' && source[i + 1] === '&') {
      parts.push(source.slice(start, i).trim());
      start = i + 2;
      i++;
    }
  }
  parts.push(source.slice(start).trim());
  return parts.filter((x) => x.length > 0);
}

const OPERAND = /\bcategoryOf\(\s*(?:event|(?:first|last)\.\w+)\s*\)|\b(?:event|(?:first|last)\.\w+)\.\w+\b|\bcount\.\w+\b/g;

/** The values the failed part reads: event fields, earlier stages' fields, counts. */
function operandValues(source: string, ctx: ExpressionContext): Record<string, unknown> | undefined {
  const text = source.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, (s) => ' '.repeat(s.length));
  const found = [...new Set([...text.matchAll(OPERAND)].map((m) => m[0]))].slice(0, 6);
  if (!found.length) return undefined;
  const out: Record<string, unknown> = {};
  for (const f of found) {
    const expr = compiled(f);
    if (!expr) continue;
    const v = evaluate(expr, ctx);
    out[f] = v.error ? `(${v.error})` : toJsonValue(v.value);
  }
  return out;
}

export function valuesText(c: ConditionCheck): string {
  const parts = Object.entries(c.values ?? {}).map(([k, v]) => `${k} = ${JSON.stringify(v)}`);
  const err = c.error ? ` (error: ${c.error})` : '';
  return parts.length ? ` (${parts.join(', ')})${err}` : err;
}

export function checkText(c: ConditionCheck): string {
  return `stage "${c.stage}" condition ${c.failedPart ?? c.condition} is false${valuesText(c)}`;
}
