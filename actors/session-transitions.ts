import { transition, type SnapshotFrom } from 'xstate';
import { sessionMachine, type PhaseEvent, type SessionPhase } from './session-machine.js';

type Snapshot = SnapshotFrom<typeof sessionMachine>;

/**
 * The session machine's transitions, computed by XState's own pure `transition()` the first time
 * each (phase, event) pair occurs, then remembered. That is exact only because the machine is a
 * pure function of (phase, event): no context, no guards, no actions, no delays — checked below
 * when this module loads, so a future machine that grows any of them fails loudly instead of
 * being memoised wrongly.
 *
 * Why: a live XState actor per open session (createActor + start + send) cost more than the
 * rest of a session's per-event work put together, at a million sessions; with the table a
 * session is a phase name, and XState still decides every transition.
 */
export class SessionTransitions {
  private readonly next = new Map<string, SessionPhase>();
  private readonly snapshots = new Map<SessionPhase, Snapshot>();
  private readonly persisted = new Map<SessionPhase, unknown>();
  readonly initial: SessionPhase;

  constructor() {
    assertPureMachine();
    const start = sessionMachine.resolveState({ value: sessionMachine.config.initial as SessionPhase });
    this.initial = start.value as SessionPhase;
    this.snapshots.set(this.initial, start);
  }

  /** The phase `event` leads to from `phase` (the same phase when the machine ignores it). */
  step(phase: SessionPhase, event: PhaseEvent['type']): SessionPhase {
    const key = `${phase}\u0000${event}`;
    let to = this.next.get(key);
    if (to === undefined) {
      const [after, actions] = transition(sessionMachine, this.snapshotOf(phase), { type: event } as PhaseEvent);
      if (actions.length) throw new Error(`session machine: ${phase} --${event}--> has actions, which this table cannot replay`);
      to = after.value as SessionPhase;
      this.next.set(key, to);
    }
    return to;
  }

  /** XState's persisted snapshot of a phase: what the checkpoint stores. Shared, never mutated. */
  persistedOf(phase: SessionPhase): unknown {
    let p = this.persisted.get(phase);
    if (p === undefined) {
      p = Object.freeze(sessionMachine.getPersistedSnapshot(this.snapshotOf(phase)));
      this.persisted.set(phase, p);
    }
    return p;
  }

  /** The phase a persisted snapshot (from `persistedOf`, or a live actor's before this table) stands for. */
  phaseOf(persisted: unknown): SessionPhase {
    const value = (persisted as { value?: unknown } | null)?.value;
    if (typeof value !== 'string' || !(value in sessionMachine.states)) throw new Error(`stored session snapshot has no known phase: ${JSON.stringify(value)}`);
    return value as SessionPhase;
  }

  private snapshotOf(phase: SessionPhase): Snapshot {
    let s = this.snapshots.get(phase);
    if (!s) {
      s = sessionMachine.resolveState({ value: phase });
      this.snapshots.set(phase, s);
    }
    return s;
  }
}

function assertPureMachine(): void {
  const config = sessionMachine.config;
  if (config.context !== undefined) throw new Error('session machine has context: its transitions cannot be memoised by phase');
  for (const [phase, node] of Object.entries(sessionMachine.states)) {
    if (node.entry.length || node.exit.length || node.after.length || node.always?.length || node.invoke.length) {
      throw new Error(`session machine state ${phase} has entry/exit/after/always/invoke: its transitions cannot be memoised by phase`);
    }
    for (const ts of node.transitions.values()) {
      for (const t of ts) if (t.guard || t.actions.length) throw new Error(`session machine state ${phase} has a guarded or acting transition: it cannot be memoised by phase`);
    }
  }
}

export const sessionTransitions = new SessionTransitions();
