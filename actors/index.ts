export { sessionMachine, acceptedEvents, toPhaseEvent } from './session-machine.js';
export type { SessionPhase, PhaseEvent } from './session-machine.js';
export { openLedger, recordEvent, endsSession, sessionDeadline, emptyCounts, countsOf } from './session-ledger.js';
export type { SessionLedger, SessionCounts } from './session-ledger.js';
export { UserSession } from './user-session.js';
export type { SessionSummary, SessionEmitted, PersistedUserSession } from './user-session.js';
export { SESSION_GAP_MS, categoryKey } from './session-rules.js';
export { EventRef, EVENT_REF_FIELDS } from './event-ref.js';
export type { EventRefJson } from './event-ref.js';
