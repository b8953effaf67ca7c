import { SESSION_GAP_MS } from './session-rules.js';
import type { EventRef } from './event-ref.js';

/** The counters a session reports: one definition for the ledger, its summary and the published record. */
export interface SessionCounts {
  views: number;
  carts: number;
  removes: number;
  purchases: number;
  others: number;
  revenue: number;
}

export const emptyCounts = (): SessionCounts => ({ views: 0, carts: 0, removes: 0, purchases: 0, others: 0, revenue: 0 });

/** Copies just the counters out of anything that carries them (a ledger holds more than it reports). */
export const countsOf = (c: SessionCounts): SessionCounts => ({
  views: c.views,
  carts: c.carts,
  removes: c.removes,
  purchases: c.purchases,
  others: c.others,
  revenue: c.revenue,
});

/**
 * What a session accumulates event by event: counts, revenue and times. Plain data changed by a pure-function reducer: it is the per-event hot path, so it costs
 * a few property writes, not an XState step, and it serialises as-is into the checkpoint.
 */
export interface SessionLedger extends SessionCounts {
  sessionStart: number;
  lastEventTime: number;
  /** Stream sequence of the session's first event: a stable id for its summary. */
  firstSeq: number;
  userSession: string | null;
}

export function openLedger(first: EventRef): SessionLedger {
  return {
    sessionStart: first.eventTime,
    lastEventTime: first.eventTime,
    firstSeq: first.seq,
    userSession: first.userSession || null,
    ...emptyCounts(),
  };
}

/** The event comes SESSION_GAP_MS or more after the session's last one: that session is over. */
export const endsSession = (ledger: SessionLedger, e: EventRef) => e.eventTime - ledger.lastEventTime >= SESSION_GAP_MS;

export const sessionDeadline = (ledger: SessionLedger) => ledger.lastEventTime + SESSION_GAP_MS;

/**
 * Adds one event to the ledger (in place). An out-of-order event counts, but never moves the
 * session's times backwards past what was seen.
 */
export function recordEvent(ledger: SessionLedger, e: EventRef): void {
  if (e.eventTime < ledger.sessionStart) ledger.sessionStart = e.eventTime;
  if (e.eventTime > ledger.lastEventTime) ledger.lastEventTime = e.eventTime;
  if (ledger.userSession === null && e.userSession) ledger.userSession = e.userSession;
  switch (e.eventType) {
    case 'view':
      ledger.views++;
      return;
    case 'cart':
      ledger.carts++;
      return;
    case 'remove_from_cart':
      ledger.removes++;
      return;
    case 'purchase':
      ledger.purchases++;
      ledger.revenue = Math.round((ledger.revenue + e.price) * 100) / 100;
      return;
    default:
      ledger.others++;
  }
}
