import { setup, assign, emit, raise, enqueueActions } from 'xstate';
import { SESSION_GAP_MS, COUPON_RULE, recordView, type CategoryState, type CouponMatch, type EventRef } from './session-rules.js';

/**
 * The user-session machine: idle → browsing → carting → purchased, and back to idle when the
 * session ends after SESSION_GAP_MS of event-time inactivity.
 *
 * Time never comes from XState's clock: `after` timers are not restored from persisted snapshots,
 * so the machine publishes its next deadline in `context.deadline` and the actor host, which owns
 * event time, sends SESSION_TIMEOUT when the partition's watermark passes it.
 */

export interface SessionContext {
  sessionStart: number | null;
  lastEventTime: number;
  /** Stream sequence of the session's first event: a stable id for the session summary. */
  firstSeq: number;
  userSession: string | null;
  views: number;
  carts: number;
  removes: number;
  purchases: number;
  others: number;
  revenue: number;
  categories: Record<string, CategoryState>;
  deadline: number | null;
}

export type SessionEvent =
  | { type: 'EVENT'; event: EventRef }
  | { type: 'SESSION_TIMEOUT'; time: number };

export interface SessionSummary {
  type: 'session.summary';
  firstSeq: number;
  userSession: string | null;
  sessionStart: number;
  sessionEnd: number;
  views: number;
  carts: number;
  removes: number;
  purchases: number;
  others: number;
  revenue: number;
  converted: boolean;
}

export type SessionEmitted = SessionSummary | ({ type: 'coupon' } & CouponMatch);

export const emptySessionContext = (): SessionContext => ({
  sessionStart: null,
  lastEventTime: 0,
  firstSeq: 0,
  userSession: null,
  views: 0,
  carts: 0,
  removes: 0,
  purchases: 0,
  others: 0,
  revenue: 0,
  categories: {},
  deadline: null,
});

type Ev<T extends SessionEvent['type']> = Extract<SessionEvent, { type: T }>;

const isType = (t: string) => ({ event }: { event: SessionEvent }) => event.type === 'EVENT' && event.event.eventType === t;

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    emitted: {} as SessionEmitted,
  },
  guards: {
    isView: isType('view'),
    isCart: isType('cart'),
    isRemove: isType('remove_from_cart'),
    isPurchase: isType('purchase'),
    /** The event comes SESSION_GAP_MS or more after the session's last event: the old session is over. */
    gapExceeded: ({ context, event }) =>
      event.type === 'EVENT' && context.sessionStart !== null && event.event.eventTime - context.lastEventTime >= SESSION_GAP_MS,
    timeoutDue: ({ context, event }) =>
      event.type === 'SESSION_TIMEOUT' && context.deadline !== null && event.time >= context.deadline,
  },
  actions: {
    record: assign(({ context, event }) => {
      const e = (event as Ev<'EVENT'>).event;
      const start = context.sessionStart === null;
      const lastEventTime = start ? e.eventTime : Math.max(context.lastEventTime, e.eventTime);
      const next: SessionContext = {
        ...context,
        sessionStart: start ? e.eventTime : Math.min(context.sessionStart!, e.eventTime),
        firstSeq: start ? e.seq : context.firstSeq,
        userSession: context.userSession ?? e.userSession ?? null,
        lastEventTime,
        deadline: lastEventTime + SESSION_GAP_MS,
      };
      switch (e.eventType) {
        case 'view': next.views++; break;
        case 'cart': next.carts++; break;
        case 'remove_from_cart': next.removes++; break;
        case 'purchase': next.purchases++; next.revenue = Math.round((next.revenue + e.price) * 100) / 100; break;
        default: next.others++;
      }
      return next;
    }),
    /** Views feed the coupon rule; a completed rule is emitted for the host to turn into an action. */
    viewRule: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'EVENT' || event.event.eventType !== 'view') return;
      const { categories, coupon } = recordView(context.categories, event.event);
      enqueue.assign({ categories });
      if (coupon) enqueue.emit({ type: 'coupon', ...coupon });
    }),
    emitSummary: emit(({ context }): SessionSummary => ({
      type: 'session.summary',
      firstSeq: context.firstSeq,
      userSession: context.userSession,
      sessionStart: context.sessionStart ?? context.lastEventTime,
      sessionEnd: context.lastEventTime,
      views: context.views,
      carts: context.carts,
      removes: context.removes,
      purchases: context.purchases,
      others: context.others,
      revenue: context.revenue,
      converted: context.purchases > 0,
    })),
    reset: assign(() => emptySessionContext()),
  },
}).createMachine({
  id: 'session',
  initial: 'idle',
  context: emptySessionContext,
  states: {
    idle: {
      on: {
        EVENT: [
          { guard: 'isPurchase', target: 'purchased', actions: 'record' },
          { guard: 'isCart', target: 'carting', actions: 'record' },
          { target: 'browsing', actions: ['record', 'viewRule'] },
        ],
      },
    },
    browsing: {
      on: {
        EVENT: [
          { guard: 'gapExceeded', target: 'idle', actions: ['emitSummary', 'reset', raise(({ event }) => event)] },
          { guard: 'isPurchase', target: 'purchased', actions: 'record' },
          { guard: 'isCart', target: 'carting', actions: 'record' },
          { actions: ['record', 'viewRule'] },
        ],
        SESSION_TIMEOUT: { guard: 'timeoutDue', target: 'idle', actions: ['emitSummary', 'reset'] },
      },
    },
    carting: {
      on: {
        EVENT: [
          { guard: 'gapExceeded', target: 'idle', actions: ['emitSummary', 'reset', raise(({ event }) => event)] },
          { guard: 'isPurchase', target: 'purchased', actions: 'record' },
          { actions: ['record', 'viewRule'] },
        ],
        SESSION_TIMEOUT: { guard: 'timeoutDue', target: 'idle', actions: ['emitSummary', 'reset'] },
      },
    },
    purchased: {
      on: {
        EVENT: [
          { guard: 'gapExceeded', target: 'idle', actions: ['emitSummary', 'reset', raise(({ event }) => event)] },
          { guard: 'isCart', target: 'carting', actions: 'record' },
          { actions: ['record', 'viewRule'] },
        ],
        SESSION_TIMEOUT: { guard: 'timeoutDue', target: 'idle', actions: ['emitSummary', 'reset'] },
      },
    },
  },
});

export { COUPON_RULE, SESSION_GAP_MS };
