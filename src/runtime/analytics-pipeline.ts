import { decodeEvent } from '../events/index.js';
import {
  FunnelJob,
  HotProductsJob,
  UserActivityJob,
  toAnalyticsEvent,
  AnalyticsError,
  AnalyticsErrorCodes,
  type AnalyticsEvent,
  type JobOutput,
  type JobStats,
} from '../analytics/index.js';
import { Subjects, AnalyticsJobs, InternalEventTypes, parseStoredEventSubject, partitionOf } from '../nats/subjects.js';
import { SessionFunnelJob } from './analytics-session-funnel.js';
import type { InputMessage, Output } from './partition-processor.js';

/** What the analytics pipeline needs of the engine's configuration. */
export interface AnalyticsSettings {
  partitions: number;
  maxOutOfOrderMs: number;
  latePolicy: 'process' | 'dlq';
  maxEventBytes: number;
  analyticsLatenessMs: number;
  analyticsFunnelWindowMs: number;
  analyticsHotWindowMs: number;
  analyticsHotSlideMs: number;
  analyticsHotTop: number;
  analyticsUserWindowMs: number;
}

/** The part of a job the pipeline drives: WindowJob and SessionFunnelJob both have it. */
export interface PipelineJob {
  readonly name: string;
  processEvent(e: AnalyticsEvent, out: JobOutput<unknown>[]): JobOutput<unknown>[];
  advance(watermark: number, out: JobOutput<unknown>[]): JobOutput<unknown>[];
  snapshot(): unknown;
  restore(json: unknown): void;
  readonly stats: Readonly<JobStats>;
  readonly windowCount: number;
}

export interface AnalyticsCounters {
  /** Events fed to the jobs. */
  events: number;
  /** Messages the partition processors dead-letter (invalid, wrong partition, late under latePolicy=dlq): not counted here either. */
  skipped: number;
  ticks: number;
  /** Window results published (updates included). */
  results: number;
  /** Late items published on analytics.late. */
  late: number;
}

/** The pipeline's state at a checkpoint: plain JSON. */
export interface AnalyticsState {
  v: 1;
  /** Last EVENTS stream sequence applied; the runner resumes at seq + 1. */
  seq: number;
  /** Max event time over the whole stream; -1 before the first. */
  maxEventTime: number;
  /** Per partition: max event time, for the latePolicy=dlq rule the partition processors apply. */
  partitionMax: number[];
  counters: AnalyticsCounters;
  jobs: Record<string, unknown>;
}

const NO_TIME = -1;

/** The built-in jobs with the configured sizes, in the fixed order their outputs are published. */
export function createJobs(s: AnalyticsSettings): PipelineJob[] {
  const allowedLateness = s.analyticsLatenessMs;
  return [
    new FunnelJob({ size: s.analyticsFunnelWindowMs, allowedLateness }),
    new HotProductsJob({ size: s.analyticsHotWindowMs, slide: s.analyticsHotSlideMs, top: s.analyticsHotTop, allowedLateness }),
    new UserActivityJob({ size: s.analyticsUserWindowMs, allowedLateness }),
    new SessionFunnelJob({ size: s.analyticsFunnelWindowMs }),
  ] as PipelineJob[];
}

/**
 * The analytics jobs over the whole EVENTS stream, in stream order: decoding, event time and the
 * global watermark (max event time − maxOutOfOrderMs), the jobs, and what to publish. No I/O and
 * no clock, so the same input gives the same outputs live, after a restore, and in the tests.
 *
 * It reads what the partition processors read: a message they dead-letter (invalid, in the wrong
 * partition, or late under latePolicy=dlq) is skipped here without a word, since the DLQ already
 * has it; `_tick` moves event time; other `_` types are internal and skipped.
 */
export class AnalyticsPipeline {
  readonly jobs: PipelineJob[];
  private state: AnalyticsState;
  private readonly buf: JobOutput<unknown>[] = [];

  constructor(private readonly s: AnalyticsSettings) {
    this.jobs = createJobs(s);
    this.state = {
      v: 1,
      seq: 0,
      maxEventTime: NO_TIME,
      partitionMax: new Array<number>(s.partitions).fill(NO_TIME),
      counters: { events: 0, skipped: 0, ticks: 0, results: 0, late: 0 },
      jobs: {},
    };
  }

  get seq(): number {
    return this.state.seq;
  }

  get maxEventTime(): number {
    return this.state.maxEventTime;
  }

  get watermark(): number {
    return this.state.maxEventTime === NO_TIME ? Number.NEGATIVE_INFINITY : this.state.maxEventTime - this.s.maxOutOfOrderMs;
  }

  get counters(): Readonly<AnalyticsCounters> {
    return this.state.counters;
  }

  /** Open (window, key) states per job: what memory is held for. */
  windowCounts(): Record<string, number> {
    return Object.fromEntries(this.jobs.map((j) => [j.name, j.windowCount]));
  }

  process(msg: InputMessage, out: Output[]): void {
    // A redelivery after a consumer reset: already applied.
    if (msg.seq <= this.state.seq) return;
    this.state.seq = msg.seq;
    const where = parseStoredEventSubject(msg.subject);
    if (!where || where.partition >= this.s.partitions) {
      this.state.counters.skipped++;
      return;
    }
    if (where.eventType === InternalEventTypes.tick) return this.applyTick(msg, where.partition, out);
    if (where.eventType.startsWith('_')) return;
    const decoded = decodeEvent(msg.data, { maxBytes: this.s.maxEventBytes, eventType: where.eventType, userId: where.userId });
    if (!decoded.ok || partitionOf(decoded.event.userId, this.s.partitions) !== where.partition) {
      this.state.counters.skipped++;
      return;
    }
    const t = decoded.event.eventTime;
    const pmax = this.state.partitionMax[where.partition]!;
    if (this.s.latePolicy === 'dlq' && pmax !== NO_TIME && t < pmax - this.s.maxOutOfOrderMs) {
      this.state.counters.skipped++;
      return;
    }
    if (t > pmax) this.state.partitionMax[where.partition] = t;
    this.state.counters.events++;
    const e = toAnalyticsEvent(msg.seq, decoded.event);
    for (const job of this.jobs) job.processEvent(e, this.buf);
    this.advanceTime(t);
    this.emit(out);
  }

  private applyTick(msg: InputMessage, partition: number, out: Output[]): void {
    let time: unknown;
    try {
      time = (JSON.parse(Buffer.from(msg.data).toString('utf8')) as { eventTime?: unknown }).eventTime;
    } catch {
      time = undefined;
    }
    if (typeof time !== 'number' || !Number.isFinite(time)) {
      this.state.counters.skipped++;
      return;
    }
    this.state.counters.ticks++;
    if (time > this.state.partitionMax[partition]!) this.state.partitionMax[partition] = time;
    this.advanceTime(time);
    this.emit(out);
  }

  private advanceTime(t: number): void {
    if (t <= this.state.maxEventTime) return;
    this.state.maxEventTime = t;
    const wm = this.watermark;
    for (const job of this.jobs) job.advance(wm, this.buf);
  }

  private emit(out: Output[]): void {
    const buf = this.buf;
    for (let i = 0; i < buf.length; i++) {
      const o = buf[i]!;
      if (o.kind === 'result') {
        this.state.counters.results++;
        out.push({ kind: 'analytics', subject: Subjects.analytics(o.job), msgId: o.id, body: o });
      } else {
        this.state.counters.late++;
        out.push({ kind: 'analytics', subject: Subjects.analytics(AnalyticsJobs.late), msgId: o.id, body: o });
      }
    }
    buf.length = 0;
  }

  /** A consistent copy for the checkpoint, taken between two messages. */
  snapshot(): AnalyticsState {
    const jobs: Record<string, unknown> = {};
    for (const j of this.jobs) jobs[j.name] = j.snapshot();
    return { ...structuredClone({ ...this.state, jobs: {} }), jobs };
  }

  /**
   * Continues from a checkpoint. A job whose snapshot was taken with other options (window sizes,
   * lateness) is refused: its open windows would not line up with the new ones, and results under
   * the old ids would be dropped as duplicates.
   */
  restore(saved: AnalyticsState): void {
    if (saved.v !== 1 || typeof saved.seq !== 'number' || !Array.isArray(saved.partitionMax)) {
      throw new AnalyticsError(AnalyticsErrorCodes.badSnapshot, 'not an analytics checkpoint (v1)');
    }
    if (saved.partitionMax.length !== this.s.partitions) {
      throw new AnalyticsError(AnalyticsErrorCodes.badSnapshot, `the analytics checkpoint was taken with ${saved.partitionMax.length} partitions, this engine runs ${this.s.partitions}`);
    }
    for (const j of this.jobs) {
      const snap = saved.jobs[j.name];
      if (snap !== undefined) j.restore(snap);
    }
    this.state = { ...structuredClone({ ...saved, jobs: {} }), counters: { ...this.state.counters, ...saved.counters } };
  }
}
