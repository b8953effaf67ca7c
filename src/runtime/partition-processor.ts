import { decodeEvent } from '../events/index.js';
import { EventRef } from '../../actors/index.js';
import { toPatternAction, toSessionSummaryRecord, type Action } from '../actions/index.js';
import { Subjects, InternalEventTypes, AnalyticsJobs, parseStoredEventSubject, partitionOf } from '../nats/subjects.js';
import { emptyCounters, type PartitionCheckpoint } from '../store/index.js';
import { PartitionTimers, type TimerSource } from './partition-timers.js';
import type { ActorHost, ActorInput } from './actor-host.js';
import type { ActorEmitted } from './user-actor.js';
import type { PatternSet } from '../cep/index.js';

export interface InputMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
}

/** What processing a message asks the outside world to publish; msgId makes every one idempotent. */
export type Output =
  | { kind: 'action'; subject: string; msgId: string; body: Action }
  | { kind: 'analytics'; subject: string; msgId: string; body: unknown }
  | { kind: 'dlq'; subject: string; msgId: string; data: Uint8Array; reason: string; sourceSubject: string; sourceSeq: number };

export interface ProcessorOptions {
  partition: number;
  partitions: number;
  maxOutOfOrderMs: number;
  latePolicy: 'process' | 'dlq';
  maxEventBytes: number;
  /** Wall clock, only ever used for emittedAt. */
  now?: () => number;
  /** With a timer source: how far past the watermark timers are held in memory (see PartitionTimers). */
  timerSpanMs?: number;
}

const NO_TIME = -1;

/**
 * Applies one partition's messages in stream order: validation, event time and watermark, timers,
 * and the per-user actors. No I/O: what it decides comes back as outputs, so the same code runs
 * live, in recovery, and in the determinism tests.
 */
export class PartitionProcessor {
  readonly timers: PartitionTimers;
  private state: PartitionCheckpoint;
  private readonly now: () => number;
  private patternSet: PatternSet;

  constructor(
    private readonly opts: ProcessorOptions,
    private readonly host: ActorHost,
    restored?: PartitionCheckpoint,
    /** Where checkpointed timers are read back (the store); without one, every timer stays in memory. */
    timerSource: TimerSource | null = null,
    /** The set in force at the restored checkpoint (its patternRevision); else the host's default. */
    patterns: PatternSet = host.patterns,
  ) {
    this.state = restored ? structuredClone(restored) : { partition: opts.partition, seq: 0, maxEventTime: NO_TIME, counters: emptyCounters() };
    this.patternSet = patterns;
    this.state.patternRevision = patterns.revision;
    this.timers = new PartitionTimers(opts.partition, timerSource, opts.timerSpanMs, restored ? { count: restored.timers ?? 0, watermark: this.watermark } : undefined);
    this.now = opts.now ?? Date.now;
  }

  get partition(): number {
    return this.opts.partition;
  }

  get seq(): number {
    return this.state.seq;
  }

  get maxEventTime(): number {
    return this.state.maxEventTime;
  }

  get watermark(): number {
    return this.state.maxEventTime === NO_TIME ? Number.NEGATIVE_INFINITY : this.state.maxEventTime - this.opts.maxOutOfOrderMs;
  }

  get counters() {
    return this.state.counters;
  }

  get patterns(): PatternSet {
    return this.patternSet;
  }

  /** A consistent copy for the checkpoint, taken between two messages. */
  checkpointState(): PartitionCheckpoint {
    return { ...structuredClone(this.state), timers: this.timers.size };
  }

  process(msg: InputMessage, out: Output[]): void {
    // Redelivery after a consumer reset: already applied, so applying again would double-count.
    if (msg.seq <= this.state.seq) return;
    this.state.seq = msg.seq;
    const where = parseStoredEventSubject(msg.subject);
    if (!where || where.partition !== this.opts.partition) {
      this.deadLetter(msg, `subject ${msg.subject} is not events.<type>.<user>.${this.opts.partition}`, out);
      return;
    }
    if (where.eventType === InternalEventTypes.tick) return this.applyTick(msg, out);
    if (where.eventType === InternalEventTypes.patterns) return this.applyPatterns(msg, out);
    if (where.eventType === InternalEventTypes.probe) return; // the engine's start-up mapping probes
    // Anyone who may publish events.*.* can write a `_` type: dead-lettered, never dropped silently.
    if (where.eventType.startsWith('_')) return this.deadLetter(msg, `unknown internal event type "${where.eventType}"`, out);

    const decoded = decodeEvent(msg.data, { maxBytes: this.opts.maxEventBytes, eventType: where.eventType, userId: where.userId });
    if (!decoded.ok) return this.deadLetter(msg, decoded.reason, out);
    const event = decoded.event;
    if (partitionOf(event.userId, this.opts.partitions) !== this.opts.partition) {
      // Published straight to the stored subject, bypassing the mapping: this user's order lives elsewhere.
      return this.deadLetter(msg, `wrong partition: user ${event.userId} belongs to partition ${partitionOf(event.userId, this.opts.partitions)}`, out);
    }
    const late = event.eventTime < this.watermark;
    if (late) {
      this.state.counters.late++;
      if (this.opts.latePolicy === 'dlq') {
        return this.deadLetter(msg, `late event: eventTime ${event.eventTime} is behind the watermark ${this.watermark}`, out);
      }
    }
    this.advanceTime(event.eventTime, msg.seq, out);
    this.state.counters.events++;
    const ref = new EventRef(
      msg.seq,
      event.eventTime,
      event.eventType,
      event.productId,
      event.categoryId ?? '',
      event.categoryCode ?? '',
      event.brand ?? '',
      event.price,
      event.userSession ?? '',
    );
    this.deliver(event.userId, { type: 'event', event: ref }, msg.seq, out);
  }

  private applyTick(msg: InputMessage, out: Output[]): void {
    let time: unknown;
    try {
      time = (JSON.parse(Buffer.from(msg.data).toString('utf8')) as { eventTime?: unknown }).eventTime;
    } catch {
      time = undefined;
    }
    if (typeof time !== 'number' || !Number.isFinite(time)) return this.deadLetter(msg, 'watermark tick without a numeric eventTime', out);
    this.state.counters.ticks++;
    this.advanceTime(time, msg.seq, out);
  }

  /**
   * A new pattern set comes into force here, at this point of the partition's stream, so a replay
   * switches exactly where live processing did. The documents travel in the marker itself; they
   * were validated before it was written. An older or repeated revision changes nothing.
   */
  private applyPatterns(msg: InputMessage, out: Output[]): void {
    let marker: { revision?: unknown; patterns?: unknown };
    try {
      marker = JSON.parse(Buffer.from(msg.data).toString('utf8')) as typeof marker;
    } catch {
      return this.deadLetter(msg, 'pattern marker is not JSON', out);
    }
    const { revision, patterns } = marker;
    if (typeof revision !== 'number' || !Number.isInteger(revision) || !Array.isArray(patterns)) {
      return this.deadLetter(msg, 'pattern marker needs an integer revision and a patterns array', out);
    }
    if (revision <= this.patternSet.revision) return;
    try {
      this.patternSet = this.host.patternSetFor(revision, () => patterns);
    } catch (e) {
      return this.deadLetter(msg, `pattern marker ${revision} does not compile: ${(e as Error).message}`, out);
    }
    this.state.patternRevision = revision;
  }

  /**
   * Moves event time forward and fires every timer the new watermark has passed, in (deadline,
   * user) order.
   */
  private advanceTime(eventTime: number, seq: number, out: Output[]): void {
    if (eventTime <= this.state.maxEventTime) return;
    this.state.maxEventTime = eventTime;
    const wm = this.watermark;
    // Each actor settles everything due by the watermark in one delivery, so one message gives
    // a user's matches one numbering (see actionId) and the actor's next deadline is past `wm`.
    for (let due = this.timers.popDue(wm); due.length > 0; due = this.timers.popDue(wm)) {
      for (const d of due) this.deliver(d.key, { type: 'timeout', time: wm }, seq, out);
    }
  }

  private deliver(userId: string, input: ActorInput, seq: number, out: Output[]): void {
    const result = this.host.deliver(userId, input, this.state.counters, this.patternSet);
    this.timers.move(userId, result.previous, result.deadline);
    if (result.emitted.length) this.emit(userId, result.emitted, seq, out);
  }

  private emit(userId: string, emitted: ActorEmitted[], seq: number, out: Output[]): void {
    let nth: Map<string, number> | null = null;
    for (const e of emitted) {
      if (e.type === 'session.summary') {
        const body = toSessionSummaryRecord(userId, e, this.now());
        this.state.counters.summaries++;
        out.push({ kind: 'analytics', subject: Subjects.analytics(AnalyticsJobs.sessions), msgId: body.summaryId, body });
        continue;
      }
      nth ??= new Map();
      const n = (nth.get(e.pattern.id) ?? 0) + 1;
      nth.set(e.pattern.id, n);
      const action: Action = toPatternAction({ userId, pattern: e.pattern, match: e.match, completingSeq: seq, nth: n, emittedAt: this.now() });
      this.state.counters.actions++;
      const shadow = e.pattern.spec.mode === 'shadow';
      if (shadow) this.state.counters.shadow++;
      out.push({ kind: 'action', subject: shadow ? Subjects.shadowAction(action.type, userId) : Subjects.action(action.type, userId), msgId: action.actionId, body: action });
    }
  }

  private deadLetter(msg: InputMessage, reason: string, out: Output[]): void {
    this.state.counters.dlq++;
    out.push({ kind: 'dlq', subject: Subjects.dlq, msgId: `dlq:${msg.seq}`, data: msg.data, reason, sourceSubject: msg.subject, sourceSeq: msg.seq });
  }
}
