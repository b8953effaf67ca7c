export { sessionMachine, acceptedEvents, toPhaseEvent } from './session-machine.js';
export type { SessionPhase, PhaseEvent } from './session-machine.js';
export { openLedger, recordEvent, endsSession, sessionDeadline, emptyCounts, countsOf } from './session-ledger.js';
export type { SessionLedger, SessionCounts } from './session-ledger.js';
export { UserSession } from './user-session.js';
export type { SessionSummary, SessionEmitted, PersistedUserSession } from './user-session.js';
export { SESSION_GAP_MS, COUPON_RULE, categoryKey, recordView } from './session-rules.js';
export type { EventRef, CategoryState, CouponMatch } from './session-rules.js';
