import { AlignedWindows } from './aligned-windows.js';
import type { WindowOptions } from './options.js';
import { SessionWindows } from './session-windows.js';
import type { WindowOperator } from './types.js';
import type { WindowSpec } from './windows.js';

/**
 * A window operator for a spec: `createWindows(tumbling(60_000), { key: 'userId', aggregate: count() })`.
 * Options are checked here; a bad one throws an AnalyticsError before any event is seen.
 */
export function createWindows<T, A, R>(spec: WindowSpec, opts: WindowOptions<T, A, R>): WindowOperator<T, R> {
  return spec.type === 'session' ? new SessionWindows(spec, opts) : new AlignedWindows(spec, opts);
}
