import { setup } from 'xstate';

/**
 * The user-session machine: the phases of a shopping session. idle → browsing → carting →
 * purchased, and back to idle on SESSION_END (30 minutes of event-time inactivity, decided by
 * the host, which owns event time: XState's `after` timers are not restored from persisted
 * snapshots).
 *
 * Events are typed by the clickstream event type. The machine is a pure function of (phase, event)
 * — no context, guards or actions — so its transitions are remembered per pair
 * (session-transitions.ts checks that). Per-event bookkeeping lives in the session ledger.
 */

export type SessionPhase = 'idle' | 'browsing' | 'carting' | 'purchased';

export type PhaseEvent =
  | { type: 'view' }
  | { type: 'cart' }
  | { type: 'remove_from_cart' }
  | { type: 'purchase' }
  /** Any other lowercase event type: it opens a session but moves no phase. */
  | { type: 'other' }
  | { type: 'SESSION_END' };

export const sessionMachine = setup({
  types: {
    events: {} as PhaseEvent,
  },
}).createMachine({
  id: 'session',
  initial: 'idle',
  states: {
    idle: {
      on: {
        view: 'browsing',
        remove_from_cart: 'browsing',
        other: 'browsing',
        cart: 'carting',
        purchase: 'purchased',
      },
    },
    browsing: {
      on: {
        cart: 'carting',
        purchase: 'purchased',
        SESSION_END: 'idle',
      },
    },
    carting: {
      on: {
        purchase: 'purchased',
        SESSION_END: 'idle',
      },
    },
    purchased: {
      on: {
        cart: 'carting',
        SESSION_END: 'idle',
      },
    },
  },
});

const PHASE_EVENTS = new Set(['view', 'cart', 'remove_from_cart', 'purchase']);

export function phaseEventType(eventType: string): PhaseEvent['type'] {
  return (PHASE_EVENTS.has(eventType) ? eventType : 'other') as PhaseEvent['type'];
}

export function toPhaseEvent(eventType: string): PhaseEvent {
  return { type: phaseEventType(eventType) } as PhaseEvent;
}
