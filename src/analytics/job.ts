import type { OperatorFunction } from 'rxjs';
import { badSnapshot } from './errors.js';
import { eventItem, type AnalyticsEvent } from './event.js';
import { through } from './rx.js';
import type { StreamItem, WindowOperator, WindowOutput, WindowStats } from './types.js';

/** Job names: the `<job>` in `analytics.<job>` and the first part of every result id. */
export const AnalyticsJobNames = {
  funnel: 'funnel',
  hotProducts: 'hot_products',
  userActivity: 'user_activity',
} as const;
export type AnalyticsJobName = (typeof AnalyticsJobNames)[keyof typeof AnalyticsJobNames];

/** Default allowed lateness of the jobs: an event up to a minute behind its window's end still counts (as an update). */
export const DEFAULT_JOB_LATENESS = 60_000;

/** One window result of a job, ready to publish on `analytics.<job>` with `Nats-Msg-Id: id`. */
export interface JobResult<R> {
  kind: 'result';
  job: string;
  /** `<job>:<windowStart>:<key>:r<revision>`: the same on every replay, unique per emission. */
  id: string;
  /** The window's key (category, user, or `all`). */
  key: string;
  windowStart: number;
  windowEnd: number;
  revision: number;
  update: boolean;
  record: R;
}

/** An event too late for its window: for `analytics.late`, with the reason. */
export interface JobLate {
  kind: 'late';
  job: string;
  /** `<job>:late:<seq>`. */
  id: string;
  event: AnalyticsEvent;
  watermark: number;
  missedWindows: number;
  reason: string;
}

export type JobOutput<R> = JobResult<R> | JobLate;

export interface JobStats extends WindowStats {
  /** Events of a type the job does not read (e.g. remove_from_cart for the funnel). */
  ignored: number;
}

export const resultId = (job: string, windowStart: number, key: string, revision: number): string => `${job}:${windowStart}:${key}:r${revision}`;
export const lateId = (job: string, seq: number): string => `${job}:late:${seq}`;

interface SavedJob {
  v: 1;
  job: string;
  options: unknown;
  ignored: number;
  windows: unknown;
}

/**
 * A job: picks the events it reads (`select`), feeds them to one window operator, and turns the
 * operator's output into published records. Pure like its operator: `process`/`advance` return
 * what to publish, `snapshot`/`restore` carry the state through a checkpoint.
 */
export abstract class WindowJob<V, W, R> {
  private readonly buf: WindowOutput<V, W>[] = [];
  private ignored = 0;

  protected constructor(
    readonly name: string,
    /** The options in force, stored in snapshots so a restore under other options is refused. */
    readonly options: Readonly<Record<string, number>>,
    private readonly op: WindowOperator<V, W>,
  ) {}

  /** The value the operator gets for an event, or undefined when this job does not read the event. */
  protected abstract select(e: AnalyticsEvent): V | undefined;
  protected abstract unwrap(v: V): AnalyticsEvent;
  protected abstract toRecord(key: string, result: W): R;

  get watermark(): number {
    return this.op.watermark;
  }

  /** Live (window, key) states. */
  get windowCount(): number {
    return this.op.windowCount;
  }

  get stats(): Readonly<JobStats> {
    return { ...this.op.stats, ignored: this.ignored };
  }

  process(item: StreamItem<AnalyticsEvent>, out: JobOutput<R>[] = []): JobOutput<R>[] {
    if (item.kind === 'watermark') return this.advance(item.time, out);
    const v = this.select(item.value);
    if (v === undefined) {
      this.ignored++;
      return out;
    }
    this.op.process({ kind: 'event', time: item.time, seq: item.seq, value: v }, this.buf);
    return this.drain(out);
  }

  /** Same as process(eventItem(e)). */
  processEvent(e: AnalyticsEvent, out: JobOutput<R>[] = []): JobOutput<R>[] {
    return this.process(eventItem(e), out);
  }

  advance(watermark: number, out: JobOutput<R>[] = []): JobOutput<R>[] {
    this.op.advance(watermark, this.buf);
    return this.drain(out);
  }

  snapshot(): SavedJob {
    return { v: 1, job: this.name, options: { ...this.options }, ignored: this.ignored, windows: this.op.snapshot() };
  }

  restore(json: unknown): void {
    const j = json as Partial<SavedJob> | null;
    if (typeof j !== 'object' || j === null || j.v !== 1 || j.job !== this.name) throw badSnapshot(`not a ${this.name} job snapshot (v1)`);
    const mine = JSON.stringify(this.options);
    if (JSON.stringify(j.options) !== mine) throw badSnapshot(`${this.name} snapshot was taken with options ${JSON.stringify(j.options)}, this job runs ${mine}`);
    this.op.restore(j.windows);
    this.ignored = typeof j.ignored === 'number' ? j.ignored : 0;
  }

  private drain(out: JobOutput<R>[]): JobOutput<R>[] {
    const buf = this.buf;
    for (let i = 0; i < buf.length; i++) {
      const o = buf[i]!;
      if (o.kind === 'window') {
        out.push({
          kind: 'result',
          job: this.name,
          id: resultId(this.name, o.start, o.key, o.revision),
          key: o.key,
          windowStart: o.start,
          windowEnd: o.end,
          revision: o.revision,
          update: o.update,
          record: this.toRecord(o.key, o.result),
        });
      } else {
        out.push({ kind: 'late', job: this.name, id: lateId(this.name, o.seq), event: this.unwrap(o.value), watermark: o.watermark, missedWindows: o.missedWindows, reason: o.reason });
      }
    }
    buf.length = 0;
    return out;
  }
}

/** A job as an RxJS operator over the partition's items (events and watermarks). */
export function jobOperator<R>(job: WindowJob<any, any, R> | (() => WindowJob<any, any, R>)): OperatorFunction<StreamItem<AnalyticsEvent>, JobOutput<R>> {
  return through<StreamItem<AnalyticsEvent>, JobOutput<R>>(job);
}
