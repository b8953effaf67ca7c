import { matchView, renderPayload, type CompiledPattern, type Match } from '../cep/index.js';
import { actionId, absenceActionId, toMatchedEvent, type Action, type MatchedEvent } from './action.js';

export interface PatternActionInput {
  userId: string;
  pattern: CompiledPattern;
  match: Match;
  /** Stream sequence of the message that completed the match (an event, or what moved event time). */
  completingSeq: number;
  nth: number;
  emittedAt: number;
}

export function toPatternAction(i: PatternActionInput): Action {
  const { pattern: p, match: m } = i;
  const run = m.run;
  const view = matchView(p, run);
  const last = run.ev[run.ev.length - 1]!;
  const match: Record<string, MatchedEvent[]> = {};
  for (const name in view.match) match[name] = view.match[name]!.map(toMatchedEvent);
  const action: Action = {
    actionId: m.timeout
      ? absenceActionId(p.id, p.version, i.userId, run.ev[0]!.seq, last.seq)
      : actionId(p.id, p.version, i.userId, i.completingSeq, i.nth),
    type: p.action.type,
    patternId: p.id,
    patternVersion: p.version,
    userId: i.userId,
    eventTime: m.eventTime,
    emittedAt: i.emittedAt,
    match,
    payload: renderPayload(p.action, { event: last, ...view }),
  };
  // The session of the completing event: where a follow-up (e.g. a push) belongs.
  if (last.userSession) action.userSession = last.userSession;
  if (m.timeout) action.timeout = true;
  return action;
}
