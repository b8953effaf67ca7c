import { phaseEventType, type PhaseEvent, type SessionPhase } from './session-machine.js';
import { sessionTransitions } from './session-transitions.js';
import { openLedger, recordEvent, endsSession, sessionDeadline, countsOf, type SessionLedger, type SessionCounts } from './session-ledger.js';
import type { EventRef } from './event-ref.js';

export interface SessionSummary extends SessionCounts {
  type: 'session.summary';
  firstSeq: number;
  userSession: string | null;
  sessionStart: number;
  sessionEnd: number;
  converted: boolean;
  finalPhase: SessionPhase;
}

export type SessionEmitted = SessionSummary;

const NONE: SessionEmitted[] = Object.freeze([]) as unknown as SessionEmitted[];

/** The persisted form: the machine's XState snapshot beside the session ledger. JSON all through. */
export interface PersistedUserSession {
  machine: unknown;
  ledger: SessionLedger | null;
}

/**
 * One user's session: the phase of the XState session machine plus the session ledger. The
 * machine decides every phase change (through XState's pure transition, remembered per
 * (phase, event): see session-transitions.ts); the ledger does the per-event bookkeeping. Time is
 * never read from a clock: callers pass event times and deadlines.
 */
export class UserSession {
  private current: SessionPhase;
  private ledger: SessionLedger | null;
  /** What the current call emitted; the shared empty list when nothing (most events). */
  private outbox: SessionEmitted[] = NONE;

  private constructor(restored?: PersistedUserSession) {
    this.current = restored ? sessionTransitions.phaseOf(restored.machine) : sessionTransitions.initial;
    this.ledger = restored?.ledger ?? null;
  }

  static create(): UserSession {
    return new UserSession();
  }

  /** The deadline a stored actor is waiting for, without starting it. */
  static deadlineOf(persisted: PersistedUserSession): number | null {
    return persisted.ledger ? sessionDeadline(persisted.ledger) : null;
  }

  static restore(persisted: PersistedUserSession): UserSession {
    return new UserSession(persisted);
  }

  get phase(): SessionPhase {
    return this.current;
  }

  /** Nothing open: the user costs nothing and can be forgotten. */
  get isEmpty(): boolean {
    return this.ledger === null && this.phase === 'idle';
  }

  /** Event time at which the open session ends if nothing else happens; null when none is open. */
  get deadline(): number | null {
    return this.ledger ? sessionDeadline(this.ledger) : null;
  }

  get currentLedger(): Readonly<SessionLedger> | null {
    return this.ledger;
  }

  event(e: EventRef): SessionEmitted[] {
    this.outbox = NONE;
    if (this.ledger && endsSession(this.ledger, e)) this.endSession();
    this.ledger ??= openLedger(e);
    recordEvent(this.ledger, e);
    this.step(phaseEventType(e.eventType));
    return this.outbox;
  }

  /** The watermark passed `time`: ends the session if its deadline has come. */
  timeout(time: number): SessionEmitted[] {
    this.outbox = NONE;
    const deadline = this.deadline;
    if (deadline !== null && time >= deadline) this.endSession();
    return this.outbox;
  }

  persist(): PersistedUserSession {
    return { machine: sessionTransitions.persistedOf(this.current), ledger: this.ledger };
  }

  /** Nothing to release: kept so hosts stop sessions the same way whatever a session holds. */
  stop(): void {}

  private step(event: PhaseEvent['type']): void {
    this.current = sessionTransitions.step(this.current, event);
  }

  private endSession(): void {
    const ledger = this.ledger!;
    const finalPhase = this.phase;
    this.step('SESSION_END');
    this.outbox = [];
    this.outbox.push({
      type: 'session.summary',
      firstSeq: ledger.firstSeq,
      userSession: ledger.userSession,
      sessionStart: ledger.sessionStart,
      sessionEnd: ledger.lastEventTime,
      ...countsOf(ledger),
      converted: ledger.purchases > 0,
      finalPhase,
    });
    this.ledger = null;
  }
}
