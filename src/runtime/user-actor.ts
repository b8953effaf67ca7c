import { UserSession, type PersistedUserSession, type SessionSummary, type EventRef } from '../../actors/index.js';
import {
  onEvent,
  onTime,
  absenceDeadline,
  expiryDeadline,
  hasRuns,
  newPatternState,
  matchView,
  capKey,
  typeLedgerKey,
  type PatternSet,
  type PatternState,
  type CompiledPattern,
  type Match,
  type MatchStats,
} from '../cep/index.js';

/** A match that passed its pattern's frequency cap and becomes an action. */
export interface PatternMatch {
  type: 'match';
  pattern: CompiledPattern;
  match: Match;
}

export type ActorEmitted = SessionSummary | PatternMatch;

/** The shared empty result (never pushed to: emit allocates a list on the first item). */
const NOTHING: ActorEmitted[] = [];
Object.freeze(NOTHING);
/** Scratch list for the matcher's completed matches: emptied by emit before the next pattern. */
const MATCHES: Match[] = [];

/** The persisted form: the session (XState snapshot + ledger) while one is open, and pattern state. Stored in actor-codec.ts's binary form. */
export interface PersistedActor {
  session?: PersistedUserSession;
  cep?: Record<string, PatternState>;
  /** Type caps: per action type (`shadow:<type>` for shadow patterns), event times of the actions sent. */
  sent?: Record<string, number[]>;
  /**
   * The actor's timer as last set (the deadline after its last delivery): what the timers
   * database holds for it, which a later pattern change does not alter. Kept by the host.
   */
  due?: number;
  /** The stream position (actor-host.ts's inputPosition) of the last input this state includes. Kept by the host. */
  position?: number;
}

export interface ActorStats extends MatchStats {
  capped: number;
}

/**
 * One user's actor: the XState session machine with its ledger (actors/), beside the partial
 * matches of every pattern. The session part exists only while a session is open, so a user
 * whose only state is a week-long absence watch costs a few hundred bytes, not a live machine.
 */
export class UserActor {
  private session: UserSession | null;
  /** Pattern state by pattern id. A Map: entries come and go, and a dictionary-mode object made every for-in slow. */
  private readonly cep: Map<string, PatternState>;
  private sent: Record<string, number[]> | null;

  private constructor(persisted?: PersistedActor) {
    this.session = persisted?.session ? UserSession.restore(persisted.session) : null;
    this.cep = new Map();
    for (const id in persisted?.cep ?? {}) this.cep.set(id, persisted!.cep![id]!);
    this.sent = persisted?.sent ?? null;
  }

  static create(): UserActor {
    return new UserActor();
  }

  static restore(persisted: PersistedActor): UserActor {
    return new UserActor(persisted);
  }


  get sessionPart(): UserSession | null {
    return this.session;
  }

  get isEmpty(): boolean {
    if (this.session && !this.session.isEmpty) return false;
    if (this.sent) return false;
    for (const s of this.cep.values()) {
      if (hasRuns(s) || (s.caps && Object.keys(s.caps).length > 0)) return false;
    }
    return true;
  }

  event(e: EventRef, patterns: PatternSet, stats: ActorStats): ActorEmitted[] {
    this.session ??= UserSession.create();
    const ended = this.session.event(e);
    // Most events emit nothing: a list is allocated only for the first thing emitted (a session's
    // summary list is a fresh one, handed over).
    let out: ActorEmitted[] = ended.length ? ended : NOTHING;
    this.dropEndedSession();
    const matches = MATCHES;
    for (const p of patterns.forType(e.eventType)) {
      let state = this.cep.get(p.id);
      // A new version starts clean: partial matches of the old one are dropped, never mixed.
      if (state === undefined || state.v !== p.version) {
        state = newPatternState(p.version);
        this.cep.set(p.id, state);
      }
      onEvent(p, state, e, matches, stats);
      if (matches.length) out = this.emit(p, state, matches, out, stats);
    }
    return out;
  }

  /** Event time reached `time`: ends the session and settles pattern deadlines that are due. */
  timeout(time: number, patterns: PatternSet, stats: ActorStats): ActorEmitted[] {
    let out: ActorEmitted[] = NOTHING;
    if (this.session) {
      const ended = this.session.timeout(time);
      if (ended.length) out = ended;
      this.dropEndedSession();
    }
    const matches = MATCHES;
    // Id order, so a user's matches are numbered the same way in every run.
    const ids = [...this.cep.keys()];
    if (ids.length > 1) ids.sort();
    for (const id of ids) {
      const p = patterns.get(id);
      const state = this.cep.get(id)!;
      if (!p || p.version !== state.v) {
        this.cep.delete(id);
        continue;
      }
      onTime(p, state, time, matches);
      if (matches.length) out = this.emit(p, state, matches, out, stats);
      if (state.caps) expireCaps(p, state, time);
      if (!hasRuns(state) && !state.caps) this.cep.delete(id);
    }
    if (this.sent) this.expireSent(time, patterns);
    return out;
  }

  deadline(patterns: PatternSet): number | null {
    return actorDeadline(this.session?.deadline ?? null, this.cep, this.sent, patterns);
  }

  /**
   * An emptied pattern state stays while the actor is live (a user's next view would only build
   * it again): it is left out here, and dropped, so what is stored holds only what matters.
   * States go out in id order: the map's order depends on when each was last emptied, and the
   * same state must store the same bytes whether or not the actor was restored on the way.
   */
  persist(): PersistedActor {
    const out: PersistedActor = {};
    if (this.session) out.session = this.session.persist();
    const ids = [...this.cep.keys()];
    if (ids.length > 1) ids.sort();
    for (const id of ids) {
      const state = this.cep.get(id)!;
      if (hasRuns(state) || state.caps) (out.cep ??= {})[id] = state;
      else this.cep.delete(id);
    }
    if (this.sent) out.sent = this.sent;
    return out;
  }

  stop(): void {
    this.session?.stop();
  }

  /** Turns the matches the caps admit into emitted items; returns `out`, allocated if it was NOTHING. */
  private emit(p: CompiledPattern, state: PatternState, matches: Match[], out: ActorEmitted[], stats: ActorStats): ActorEmitted[] {
    for (const m of matches) {
      // Both caps must admit before either counts the action as sent.
      const capKey = p.action.cap ? this.capKeyOf(p, m) : null;
      if ((capKey !== null && !admits(state.caps, capKey, m.eventTime, p.action.cap!)) || (p.action.typeCap && !admits(this.sent, typeLedgerKey(p), m.eventTime, p.action.typeCap))) {
        stats.capped++;
        continue;
      }
      if (capKey !== null) ((state.caps ??= {})[capKey] ??= []).push(m.eventTime);
      if (p.action.typeCap) ((this.sent ??= {})[typeLedgerKey(p)] ??= []).push(m.eventTime);
      if (out === NOTHING) out = [];
      out.push({ type: 'match', pattern: p, match: m });
    }
    matches.length = 0;
    return out;
  }

  private capKeyOf(p: CompiledPattern, m: Match): string {
    return p.action.cap!.per ? capKey(p.action, { event: m.run.ev[m.run.ev.length - 1]!, ...matchView(p, m.run) }) : '';
  }


  private expireSent(time: number, patterns: PatternSet): void {
    const sent = this.sent!;
    for (const key of Object.keys(sent)) {
      const w = patterns.typeCapWindow(key);
      const left = sent[key]!.filter((t) => t + w > time);
      if (left.length) sent[key] = left;
      else delete sent[key];
    }
    if (Object.keys(sent).length === 0) this.sent = null;
  }

  private dropEndedSession(): void {
    if (this.session?.isEmpty) {
      this.session.stop();
      this.session = null;
    }
  }
}

/**
 * When an actor must wake: at its earliest exact deadline (its session's end, an absence that
 * decides a match, a stale pattern version to drop), or else when the last of its partial matches
 * and cap entries has expired, to free them. Expiry alone never decides anything (an expired run
 * is ignored by the next event; a cap is checked against the match's time), so one wake frees
 * everything instead of one per pattern, and a user's session costs one timeout, not three.
 */
function actorDeadline(
  session: number | null,
  cep: ReadonlyMap<string, PatternState>,
  sent: Readonly<Record<string, number[]>> | null,
  patterns: PatternSet,
): number | null {
  let exact = session ?? Infinity;
  let expiry = -Infinity;
  for (const key in sent) {
    const w = patterns.typeCapWindow(key);
    for (const t of sent[key]!) expiry = Math.max(expiry, t + w);
  }
  // Keys and get, not entries: an entry is a fresh [id, state] array each time, per delivery.
  for (const id of cep.keys()) {
    const s = cep.get(id)!;
    const p = patterns.get(id);
    if (!p || s.v !== p.version) {
      exact = Math.min(exact, 0); // a pattern or version no longer in force: wake at once to drop its state
      continue;
    }
    const a = absenceDeadline(p, s);
    if (a !== null && a < exact) exact = a;
    const x = expiryDeadline(p, s);
    if (x !== null && x > expiry) expiry = x;
    if (s.caps && p.action.cap) {
      for (const k in s.caps) for (const t of s.caps[k]!) expiry = Math.max(expiry, t + p.action.cap.withinMs);
    }
  }
  const at = expiry === -Infinity ? exact : Math.min(exact, expiry);
  return at === Infinity ? null : at;
}

/**
 * A cap (the pattern's own, per cap key, or the action type's, per type): fewer than `max` sent
 * within the window before `at`. Entries outside the window are dropped from the ledger on the way.
 */
function admits(ledger: Record<string, number[]> | null | undefined, key: string, at: number, cap: { max: number; withinMs: number }): boolean {
  const times = ledger?.[key];
  if (!times) return true;
  const kept = times.filter((t) => at - t < cap.withinMs);
  if (kept.length) ledger![key] = kept;
  else delete ledger![key];
  return kept.length < cap.max;
}

function expireCaps(p: CompiledPattern, s: PatternState, time: number): void {
  const w = p.action.cap?.withinMs ?? 0;
  for (const k of Object.keys(s.caps!)) {
    const left = s.caps![k]!.filter((t) => t + w > time);
    if (left.length) s.caps![k] = left;
    else delete s.caps![k];
  }
  if (Object.keys(s.caps!).length === 0) delete s.caps;
}
