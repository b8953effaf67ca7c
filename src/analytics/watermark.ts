import { invalidOptions } from './errors.js';
import type { StreamItem } from './types.js';

/**
 * The partition's watermark rule: max event time seen minus the allowed out-of-orderness. For
 * callers (and tests) that have only events; the engine has its own and sends watermark items.
 */
export class WatermarkTracker {
  private max = Number.NEGATIVE_INFINITY;

  constructor(readonly maxOutOfOrder: number) {
    if (!Number.isSafeInteger(maxOutOfOrder) || maxOutOfOrder < 0) throw invalidOptions(`maxOutOfOrder must be a non-negative integer of ms, got ${maxOutOfOrder}`);
  }

  get watermark(): number {
    return this.max - this.maxOutOfOrder;
  }

  /** Notes an event time; returns the new watermark when it moved, else null. */
  observe(time: number): number | null {
    if (!(time > this.max)) return null;
    this.max = time;
    return this.watermark;
  }
}

/** Events in, events each followed by a watermark item whenever the watermark moves. */
export function* interleaveWatermarks<T>(items: Iterable<StreamItem<T>>, maxOutOfOrder: number): Generator<StreamItem<T>> {
  const tracker = new WatermarkTracker(maxOutOfOrder);
  for (const item of items) {
    yield item;
    if (item.kind === 'event') {
      const wm = tracker.observe(item.time);
      if (wm !== null) yield { kind: 'watermark', time: wm };
    }
  }
}
