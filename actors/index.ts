export { sessionMachine, emptySessionContext } from './session-machine.js';
export type { SessionContext, SessionEvent, SessionEmitted, SessionSummary } from './session-machine.js';
export { SESSION_GAP_MS, COUPON_RULE, categoryKey, recordView } from './session-rules.js';
export type { EventRef, CategoryState, CouponMatch } from './session-rules.js';
