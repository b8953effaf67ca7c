import type { OperatorFunction } from 'rxjs';
import { combine, count, sum } from './aggregations.js';
import { toCents, type AnalyticsEvent } from './event.js';
import { AnalyticsJobNames, DEFAULT_JOB_LATENESS, jobOperator, WindowJob, type JobOutput } from './job.js';
import { createWindowJoin, left, right, type JoinSide, type Joined } from './join.js';
import type { StreamItem } from './types.js';
import { checkLateness, tumbling } from './windows.js';

export interface UserActivityOptions {
  /** Window size, ms. Default 1 hour. */
  size?: number;
  /** Default 60 s. */
  allowedLateness?: number;
}

/** One user's window: views joined with purchases. */
export interface UserActivityRecord {
  userId: string;
  views: number;
  purchases: number;
  /** Sum of purchase prices, summed in cents. */
  revenue: number;
  /** Viewed and purchased in this window. */
  converted: boolean;
}

type Side = JoinSide<AnalyticsEvent, AnalyticsEvent>;
type Sides = Joined<number, { purchases: number; cents: number }>;

/**
 * `user_activity`: per user, per tumbling window, the window join (full outer) of the user's views
 * with their purchases. A user appears in a window when they viewed or purchased in it.
 */
export class UserActivityJob extends WindowJob<Side, Sides, UserActivityRecord> {
  constructor(opts: UserActivityOptions = {}) {
    const size = opts.size ?? 3_600_000;
    const allowedLateness = checkLateness(opts.allowedLateness ?? DEFAULT_JOB_LATENESS);
    const op = createWindowJoin(tumbling(size), {
      leftKey: (e: AnalyticsEvent) => e.userId,
      rightKey: (e: AnalyticsEvent) => e.userId,
      left: count<AnalyticsEvent>(),
      right: combine({ purchases: count<AnalyticsEvent>(), cents: sum((e: AnalyticsEvent) => toCents(e.price)) }),
      type: 'full',
      allowedLateness,
    });
    super(AnalyticsJobNames.userActivity, { size, allowedLateness }, op);
  }

  protected select(e: AnalyticsEvent): Side | undefined {
    return e.eventType === 'view' ? left(e) : e.eventType === 'purchase' ? right(e) : undefined;
  }

  protected unwrap(v: Side): AnalyticsEvent {
    return v.value;
  }

  protected toRecord(userId: string, r: Sides): UserActivityRecord {
    const views = r.left ?? 0;
    const purchases = r.right?.purchases ?? 0;
    return { userId, views, purchases, revenue: (r.right?.cents ?? 0) / 100, converted: views > 0 && purchases > 0 };
  }
}

/** The user-activity job as an RxJS operator (a fresh job per subscription, or the instance given). */
export function userActivity(opts: UserActivityOptions | UserActivityJob = {}): OperatorFunction<StreamItem<AnalyticsEvent>, JobOutput<UserActivityRecord>> {
  if (opts instanceof UserActivityJob) return jobOperator(opts);
  new UserActivityJob(opts);
  return jobOperator(() => new UserActivityJob(opts));
}
