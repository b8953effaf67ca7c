import { countsOf, type SessionSummary, type SessionCounts } from '../../actors/index.js';

/** One closed session on `analytics.sessions`. */
export interface SessionSummaryRecord extends SessionCounts {
  summaryId: string;
  userId: string;
  userSession?: string;
  sessionStart: number;
  sessionEnd: number;
  durationMs: number;
  converted: boolean;
  /** The furthest funnel phase the session machine was in when it ended. */
  finalPhase: string;
  emittedAt: number;
}

/** The session's first event sequence identifies it for good: replays rebuild the same id. */
export const sessionSummaryId = (userId: string, firstSeq: number) => `session:${userId}:${firstSeq}`;

export function toSessionSummaryRecord(userId: string, s: SessionSummary, emittedAt: number): SessionSummaryRecord {
  const rec: SessionSummaryRecord = {
    summaryId: sessionSummaryId(userId, s.firstSeq),
    userId,
    sessionStart: s.sessionStart,
    sessionEnd: s.sessionEnd,
    durationMs: s.sessionEnd - s.sessionStart,
    ...countsOf(s),
    converted: s.converted,
    finalPhase: s.finalPhase,
    emittedAt,
  };
  if (s.userSession) rec.userSession = s.userSession;
  return rec;
}
