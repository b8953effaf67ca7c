import { createActor, type Actor } from 'xstate';
import { sessionMachine, acceptedEvents, toPhaseEvent, type SessionPhase } from './session-machine.js';
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

/** The persisted form: the machine's XState snapshot beside the session ledger. JSON all through. */
export interface PersistedUserSession {
  machine: unknown;
  ledger: SessionLedger | null;
}

/**
 * One user's actor: the XState session machine plus the session ledger. Events that the machine's
 * definition cannot react to in the current phase skip XState entirely; the rest are sent to the
 * live actor. Time is never read from a clock: callers pass event times and deadlines.
 */
export class UserSession {
  private readonly actor: Actor<typeof sessionMachine>;
  private ledger: SessionLedger | null;
  /** Cached persisted XState snapshot; null after a transition until the next persist(). */
  private persistedMachine: unknown | null;
  private outbox: SessionEmitted[] = [];

  private constructor(restored?: PersistedUserSession) {
    this.actor = createActor(sessionMachine, restored ? { snapshot: restored.machine as never } : {});
    this.actor.start();
    this.ledger = restored?.ledger ?? null;
    this.persistedMachine = restored?.machine ?? null;
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
    return this.actor.getSnapshot().value as SessionPhase;
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
    this.outbox = [];
    if (this.ledger && endsSession(this.ledger, e)) this.endSession();
    this.ledger ??= openLedger(e);
    recordEvent(this.ledger, e);
    this.step(toPhaseEvent(e.eventType));
    return this.outbox;
  }

  /** The watermark passed `time`: ends the session if its deadline has come. */
  timeout(time: number): SessionEmitted[] {
    this.outbox = [];
    const deadline = this.deadline;
    if (deadline !== null && time >= deadline) this.endSession();
    return this.outbox;
  }

  persist(): PersistedUserSession {
    this.persistedMachine ??= this.actor.getPersistedSnapshot();
    return { machine: this.persistedMachine, ledger: this.ledger };
  }

  stop(): void {
    this.actor.stop();
  }

  private step(event: ReturnType<typeof toPhaseEvent> | { type: 'SESSION_END' }): void {
    if (!acceptedEvents.get(this.phase)?.has(event.type)) return;
    this.actor.send(event);
    this.persistedMachine = null;
  }

  private endSession(): void {
    const ledger = this.ledger!;
    const finalPhase = this.phase;
    this.step({ type: 'SESSION_END' });
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
