import type { NudgeEvent } from '../events/index.js';
import type { EventItem } from './types.js';

/** What the analytics jobs read of an event. `categoryCode` is '' when the event had none. */
export interface AnalyticsEvent {
  /** Stream sequence. */
  seq: number;
  /** Epoch ms. */
  eventTime: number;
  eventType: string;
  userId: string;
  productId: string;
  categoryCode: string;
  price: number;
}

/** A validated event at stream sequence `seq`, as the jobs read it. */
export function toAnalyticsEvent(seq: number, e: NudgeEvent): AnalyticsEvent {
  return { seq, eventTime: e.eventTime, eventType: e.eventType, userId: e.userId, productId: e.productId, categoryCode: e.categoryCode ?? '', price: e.price };
}

/** The stream item for an event: its time is the event time, its seq the stream sequence. */
export function eventItem(e: AnalyticsEvent): EventItem<AnalyticsEvent> {
  return { kind: 'event', time: e.eventTime, seq: e.seq, value: e };
}

/** First segment of a dotted category code (`electronics.smartphone` → `electronics`); empty → `unknown`. */
export function topCategory(categoryCode: string): string {
  const dot = categoryCode.indexOf('.');
  const top = dot < 0 ? categoryCode : categoryCode.slice(0, dot);
  return top === '' ? 'unknown' : top;
}

/** Money is summed in integer cents, so a revenue does not depend on the order of its purchases. */
export const toCents = (price: number): number => Math.round(price * 100);
