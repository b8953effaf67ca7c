import { UserSession, type EventRef } from '../../actors/index.js';
import type { CompiledPattern, CompiledStage, PatternSet, PatternState, Run } from '../cep/index.js';
import type { PersistedActor } from '../runtime/user-actor.js';
import type { ActorShowResponse, CapView, DeadlineView, EventView, PartitionBrief, PatternStateView, RunView, TypeCapView } from './protocol.js';

/**
 * A user's actor as the debug CLI shows it, built from its persisted form only (never from a
 * restored actor, so nothing is activated). Pure: the same persisted form and patterns always
 * give the same view. Nothing here writes to `persisted`: for a live actor it shares objects with
 * the running actor.
 */
export function describeActor(
  userId: string,
  persisted: PersistedActor | null,
  status: ActorShowResponse['status'],
  patterns: PatternSet,
  timer: number | null,
  partitionState: PartitionBrief,
): ActorShowResponse {
  const deadlines: DeadlineView[] = [];
  let machine: ActorShowResponse['machine'] = null;
  let session: ActorShowResponse['session'] = null;
  if (persisted?.session) {
    const snap = persisted.session.machine as { value?: unknown; context?: unknown; status?: unknown } | null;
    machine = { value: String(snap?.value ?? 'unknown'), context: snap?.context ?? {}, status: String(snap?.status ?? 'active') };
    const endsAt = UserSession.deadlineOf(persisted.session);
    if (persisted.session.ledger && endsAt !== null) {
      session = { ...persisted.session.ledger, endsAt };
      deadlines.push({ at: endsAt, what: 'session ends (30 min without an event)' });
    }
  }
  const views: PatternStateView[] = [];
  for (const id of Object.keys(persisted?.cep ?? {}).sort()) {
    const view = patternStateView(id, persisted!.cep![id]!, patterns.get(id));
    views.push(view);
    if (view.absenceDeadline !== null) deadlines.push({ at: view.absenceDeadline, what: `${id}: absence decided (completes unless a forbidden event came)` });
    if (view.expiresAt !== null) deadlines.push({ at: view.expiresAt, what: `${id}: last partial match runs out of time` });
    for (const c of view.caps) {
      const last = Math.max(...c.sent) + c.windowMs;
      deadlines.push({ at: last, what: `${id}: cap entry "${c.key}" expires` });
    }
  }
  const typeCaps: TypeCapView[] = [];
  for (const ledger of Object.keys(persisted?.sent ?? {}).sort()) {
    const windowMs = patterns.typeCapWindow(ledger);
    const sent = persisted!.sent![ledger]!;
    typeCaps.push({ ledger, sent: [...sent], windowMs });
    if (sent.length) deadlines.push({ at: Math.max(...sent) + windowMs, what: `type cap ${ledger}: last counted action leaves the window` });
  }
  deadlines.sort((a, b) => a.at - b.at || (a.what < b.what ? -1 : 1));
  return { userId, partition: partitionState.partition, status, machine, session, patterns: views, typeCaps, timer, deadlines, partitionState };
}

function patternStateView(id: string, s: PatternState, p: CompiledPattern | undefined): PatternStateView {
  const current = p && p.version === s.v ? p : undefined;
  const runs: RunView[] = [];
  let absence: number | null = null;
  let expiry: number | null = null;
  for (const key of [...s.runs.keys()].sort()) {
    for (const r of s.runs.get(key)!) {
      const v = runView(key, r, current);
      runs.push(v);
      if (v.deadline !== null) {
        expiry = expiry === null ? v.deadline : Math.max(expiry, v.deadline);
        if (v.awaitingAbsence) absence = absence === null ? v.deadline : Math.min(absence, v.deadline);
      }
    }
  }
  const caps: CapView[] = [];
  const cap = current?.action.cap;
  for (const key of Object.keys(s.caps ?? {}).sort()) {
    const sent = [...s.caps![key]!];
    const max = cap?.max ?? 0;
    const windowMs = cap?.withinMs ?? 0;
    const sorted = [...sent].sort((a, b) => a - b);
    // Held while `max` actions sit in the window: released when the (n-max+1)-th newest leaves it.
    const heldUntil = max > 0 && sorted.length >= max ? sorted[sorted.length - max]! + windowMs : null;
    caps.push({ key, sent, max, windowMs, heldUntil });
  }
  return {
    patternId: id,
    version: s.v,
    inForce: p ? { version: p.version, mode: p.spec.mode, within: p.spec.within === undefined ? null : String(p.spec.within) } : null,
    stale: !current,
    runs,
    caps,
    absenceDeadline: absence,
    expiresAt: expiry,
  };
}

export function eventView(e: EventRef, stage?: string): EventView {
  const v: EventView = { seq: e.seq, eventTime: e.eventTime, eventType: e.eventType, productId: e.productId, price: e.price };
  if (e.categoryId) v.categoryId = e.categoryId;
  if (e.categoryCode) v.categoryCode = e.categoryCode;
  if (stage !== undefined) v.stage = stage;
  return v;
}

/** Every later stage is matched and only the trailing absence is left (mirrors the matcher's rule). */
export function awaitsAbsence(p: CompiledPattern, r: Run): boolean {
  const m = p.stages.length;
  return p.endGuards.length > 0 && r.c >= p.stages[r.s]!.lo && p.restOptional[r.s]! && (r.b & (1 << m)) === 0;
}

export function runView(key: string, r: Run, p: CompiledPattern | undefined): RunView {
  const stage = p?.stages[r.s];
  const deadline = p && p.withinMs !== null ? r.t0 + p.withinMs : null;
  const awaitingAbsence = p ? awaitsAbsence(p, r) : false;
  return {
    key,
    stage: stage?.name ?? `#${r.s}`,
    stageIndex: r.s,
    count: r.c,
    needs: stage?.lo ?? 0,
    mayTake: stage ? (stage.hi === Infinity ? null : stage.hi) : null,
    stages: p?.stages.length ?? 0,
    events: r.ev.map((e, i) => eventView(e, p?.stages[r.st[i]!]?.name)),
    startedAt: r.t0,
    deadline,
    awaitingAbsence,
    next: p ? waitsFor(p, r, awaitingAbsence) : 'nothing: the pattern or this version is no longer in force',
  };
}

/** The source text of a stage's condition: its event type filter and its `where`. */
export function conditionText(p: CompiledPattern, name: string): string {
  const spec = p.spec.stages.find((s) => s.name === name);
  if (!spec) return '(any event)';
  const parts: string[] = [];
  if (spec.eventType !== undefined) parts.push(Array.isArray(spec.eventType) ? `eventType in [${spec.eventType.join(', ')}]` : `eventType == ${spec.eventType}`);
  if (spec.where !== undefined) parts.push(spec.where);
  return parts.length ? parts.join(' && ') : '(any event)';
}

const describeStage = (p: CompiledPattern, s: CompiledStage) => `"${s.name}" (${conditionText(p, s.name)})`;

export function waitsFor(p: CompiledPattern, r: Run, absence: boolean): string {
  const S = p.stages[r.s]!;
  if (absence) {
    const guards = p.endGuards.map((g) => `"${g.name}" (${conditionText(p, g.name)})`).join(' or ');
    return `time to pass its deadline with no ${guards}`;
  }
  if (r.c < S.lo) return `${S.lo - r.c} more ${S.lo - r.c === 1 ? 'event' : 'events'} for stage ${describeStage(p, S)}`;
  const options: string[] = [];
  for (let k = r.s + 1; k < p.stages.length; k++) {
    options.push(`stage ${describeStage(p, p.stages[k]!)}`);
    if (!p.stages[k]!.optional) break;
  }
  if (r.c < S.hi && r.z === 0) options.push(`more of stage "${S.name}"`);
  return options.length ? options.join(' or ') : 'nothing more (complete)';
}
