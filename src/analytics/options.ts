import type { Aggregation } from './aggregations.js';
import { AnalyticsError, AnalyticsErrorCodes } from './errors.js';
import type { KeySelector, StreamItem, WindowStats } from './types.js';

export interface WindowOptions<T, A, R> {
  /** Field name or function; omitted = one global key (`all`). */
  key?: KeySelector<NoInfer<T>>;
  aggregate: Aggregation<T, A, R>;
  /**
   * How long (ms of event time) after a window's end it still takes late events: each one
   * re-emits the window as an update. Released at watermark >= end + allowedLateness. Default 0.
   */
  allowedLateness?: number;
  /** Emit a (window, key) only when its result passes; checked at every emission. */
  having?: (result: R) => boolean;
}

export const emptyStats = (): WindowStats => ({ events: 0, late: 0, emitted: 0, updates: 0, released: 0 });

export function loadStats(json: unknown): WindowStats {
  const s = emptyStats();
  if (typeof json === 'object' && json !== null) {
    for (const k of Object.keys(s) as Array<keyof WindowStats>) {
      const v = (json as Record<string, unknown>)[k];
      if (typeof v === 'number') s[k] = v;
    }
  }
  return s;
}

/** Rejects items no stream can contain (a caller bug, not data): thrown, not emitted. */
export function checkItem(item: StreamItem<unknown>): void {
  const ok = (item.kind === 'event' || item.kind === 'watermark') && typeof item.time === 'number' && !Number.isNaN(item.time);
  if (!ok || (item.kind === 'event' && !Number.isFinite(item.time))) {
    throw new AnalyticsError(AnalyticsErrorCodes.invalidItem, `not a stream item with a numeric time: ${JSON.stringify(item)?.slice(0, 200)}`);
  }
}

export function checkWatermark(time: number): void {
  if (typeof time !== 'number' || Number.isNaN(time)) {
    throw new AnalyticsError(AnalyticsErrorCodes.invalidItem, `a watermark must be a number (±Infinity allowed), got ${String(time)}`);
  }
}

export const formatTime = (t: number): string => (Number.isFinite(t) ? new Date(t).toISOString() : String(t));
