/**
 * Windowed analytics: event-time windows driven by the watermark, as pure operators with JSON
 * snapshots and thin RxJS wrappers, and the three built-in marketing jobs on top. See README.md.
 */
export type { StreamItem, EventItem, WatermarkItem, WindowResult, LateItem, WindowOutput, WindowOperator, WindowStats, KeySelector } from './types.js';
export { GLOBAL_KEY } from './types.js';
export { AnalyticsError, AnalyticsErrorCodes } from './errors.js';
export type { AnalyticsErrorCode } from './errors.js';

export { tumbling, sliding, session } from './windows.js';
export type { WindowSpec, TumblingSpec, SlidingSpec, SessionSpec } from './windows.js';
export type { WindowOptions } from './options.js';
export { createWindows } from './create.js';
export { AlignedWindows } from './aligned-windows.js';
export { SessionWindows } from './session-windows.js';

export { count, sum, distinctCount, topN, rankTop, byCountThenKey, filtered, combine } from './aggregations.js';
export type { Aggregation, Ranked } from './aggregations.js';
export { createWindowJoin, joinAggregation, left, right } from './join.js';
export type { JoinSide, Joined, JoinType, JoinOptions } from './join.js';

export { WatermarkTracker, interleaveWatermarks } from './watermark.js';
export { windowed, windowJoin, withWatermarks, through } from './rx.js';
export type { ItemProcessor, RxOptions } from './rx.js';

export { toAnalyticsEvent, eventItem, topCategory, toCents } from './event.js';
export type { AnalyticsEvent } from './event.js';
export { WindowJob, AnalyticsJobNames, DEFAULT_JOB_LATENESS, resultId, lateId, jobOperator } from './job.js';
export type { JobResult, JobLate, JobOutput, JobStats, AnalyticsJobName } from './job.js';
export { FunnelJob, funnel, ratio, mergeFunnelRecords } from './funnel.js';
export type { FunnelOptions, FunnelRecord } from './funnel.js';
export { HotProductsJob, hotProducts, mergeHotProductsRecords } from './hot-products.js';
export type { HotProductsOptions, HotProductsRecord, HotProduct } from './hot-products.js';
export { UserActivityJob, userActivity } from './user-activity.js';
export type { UserActivityOptions, UserActivityRecord } from './user-activity.js';
