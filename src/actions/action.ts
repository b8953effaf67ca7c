import type { EventRef, EventRefJson } from '../../actors/index.js';

/**
 * A matched event as it appears in an action: the actor's event in its JSON form (empty fields
 * left out), without the session, which the action carries once.
 */
export type MatchedEvent = Omit<EventRefJson, 'userSession'>;

/** The action contract of DESIGN.md. Everything but emittedAt is a pure function of the stream. */
export interface Action {
  actionId: string;
  type: string;
  patternId: string;
  patternVersion: number;
  userId: string;
  userSession?: string;
  /** Event time (epoch ms) of the completing event, or of the deadline for a timeout. */
  eventTime: number;
  /** Wall clock (epoch ms) when the engine produced it; the only non-deterministic field. */
  emittedAt: number;
  /** True when the match completed because a time limit passed with no forbidden event (absence). */
  timeout?: boolean;
  match: Record<string, MatchedEvent[]>;
  payload: Record<string, unknown>;
}

/**
 * pattern id + version + user + the stream sequence that completed the match: a replay after a
 * crash rebuilds the same id, so JetStream's Msg-Id dedupe drops the second send. When one message
 * completes several matches of a pattern for a user, the second and later get `.2`, `.3`, … in
 * emission order, which is itself deterministic.
 */
export function actionId(patternId: string, version: number, userId: string, completingSeq: number, nth = 1): string {
  const base = `${patternId}:${version}:${userId}:${completingSeq}`;
  return nth > 1 ? `${base}.${nth}` : base;
}

/**
 * An absence is completed by no message of its own: event time passing its deadline may come
 * from any later event or watermark tick, and ticks differ between a run and its recovery. So it
 * is identified by the events that define it: its first and last matched sequences.
 */
export function absenceActionId(patternId: string, version: number, userId: string, firstSeq: number, lastSeq: number): string {
  return `${patternId}:${version}:${userId}:${firstSeq}-${lastSeq}`;
}

export function toMatchedEvent(e: EventRef): MatchedEvent {
  const m: MatchedEvent = { seq: e.seq, eventTime: e.eventTime, eventType: e.eventType, productId: e.productId, price: e.price };
  if (e.categoryId) m.categoryId = e.categoryId;
  if (e.categoryCode) m.categoryCode = e.categoryCode;
  if (e.brand) m.brand = e.brand;
  return m;
}
