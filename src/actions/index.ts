export { actionId, absenceActionId, toMatchedEvent } from './action.js';
export type { Action, MatchedEvent } from './action.js';
export { toPatternAction } from './pattern-action.js';
export type { PatternActionInput } from './pattern-action.js';
export { toSessionSummaryRecord, sessionSummaryId } from './session-summary.js';
export type { SessionSummaryRecord } from './session-summary.js';
