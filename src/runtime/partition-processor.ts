import { decodeEvent } from '../events/index.js';
import { EventRef } from '../../actors/index.js';
import { toPatternAction, toSessionSummaryRecord, type Action } from '../actions/index.js';
import { Subjects, InternalEventTypes, AnalyticsJobs, parseStoredEventSubject, partitionOf } from '../nats/subjects.js';
import { emptyCounters, type PartitionCheckpoint, type PartitionCounters } from '../store/index.js';
import { PartitionTimers, type TimerSource } from './partition-timers.js';
import { inputPosition, type ActorHost, type ActorInput } from './actor-host.js';
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

/** Where the partition stood at a capture: a point recovery can replay from. */
interface ReplayPoint {
  /** The host's capture count at that capture (actor-host.ts's epoch). */
  epoch: number;
  seq: number;
  maxEventTime: number;
  patternRevision: number | undefined;
}

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
  /**
   * The counters count each message once: after a restart that replays from before the last
   * checkpoint, messages up to `countedSeq` were counted already and go to `replayCounters`.
   */
  private countedSeq: number;
  private counting: PartitionCounters;
  private readonly replayCounters = emptyCounters();
  /** The partition at each recent capture, oldest first: the points a restart may replay from. */
  private points: ReplayPoint[] = [];

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
    this.countedSeq = this.state.countedSeq ?? this.state.seq;
    delete this.state.countedSeq;
    this.counting = this.state.counters;
    this.patternSet = patterns;
    this.state.patternRevision = patterns.revision;
    this.points = [{ epoch: host.captures, seq: this.state.seq, maxEventTime: this.state.maxEventTime, patternRevision: this.state.patternRevision }];
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

  /** Messages applied again after a restart that the restored counters already held (the replay before the last checkpoint's count). */
  get replayed(): number {
    return this.replayCounters.events + this.replayCounters.dlq;
  }

  get patterns(): PatternSet {
    return this.patternSet;
  }

  /**
   * A consistent copy for the checkpoint, taken between two messages, right after the host's
   * capture number `epoch` (so its state is the point that epoch's changes start from).
   * `deferredSince`: the epoch of the oldest change of this partition that capture left
   * unwritten; the checkpoint then names the point before it, and a restart replays from there.
   * It records this capture as a replay point, so captureCheckpoint is its one production caller.
   */
  checkpointState(epoch = 0, deferredSince?: number): PartitionCheckpoint {
    const now: ReplayPoint = { epoch, seq: this.state.seq, maxEventTime: this.state.maxEventTime, patternRevision: this.state.patternRevision };
    this.points.push(now);
    let from = now;
    if (deferredSince !== undefined) {
      let i = this.points.length - 1;
      while (i > 0 && this.points[i]!.epoch > deferredSince) i--;
      from = this.points[i]!;
      if (from.epoch > deferredSince) throw new Error(`partition ${this.partition}: no replay point at or before capture ${deferredSince}`);
      this.points = this.points.slice(i);
    } else this.points = [now];
    const cp: PartitionCheckpoint = { ...structuredClone(this.state), seq: from.seq, maxEventTime: from.maxEventTime, timers: this.timers.storedSize };
    if (from.patternRevision === undefined) delete cp.patternRevision;
    else cp.patternRevision = from.patternRevision;
    const counted = Math.max(this.state.seq, this.countedSeq);
    if (counted !== from.seq) cp.countedSeq = counted;
    return cp;
  }

  process(msg: InputMessage, out: Output[]): void {
    // Redelivery after a consumer reset: already applied, so applying again would double-count.
    if (msg.seq <= this.state.seq) return;
    this.state.seq = msg.seq;
    // Replaying what the restored counters already include: counted aside.
    this.counting = msg.seq <= this.countedSeq ? this.replayCounters : this.state.counters;
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
      this.counting.late++;
      if (this.opts.latePolicy === 'dlq') {
        return this.deadLetter(msg, `late event: eventTime ${event.eventTime} is behind the watermark ${this.watermark}`, out);
      }
    }
    this.advanceTime(event.eventTime, msg.seq, out);
    this.counting.events++;
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
    this.counting.ticks++;
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
    let held: Array<{ key: string; deadline: number }> | null = null;
    for (let due = this.timers.popDue(wm); due.length > 0; due = this.timers.popDue(wm)) {
      for (const d of due) {
        if (!this.deliver(d.key, { type: 'timeout', time: wm }, seq, out)) (held ??= []).push(d);
      }
    }
    // Skipped by actors whose snapshots are from later in the stream: due again at the next move.
    if (held) for (const d of held) this.timers.rearm(d.key, d.deadline);
  }

  /** False when the actor skipped the input (its stored state already includes it). */
  private deliver(userId: string, input: ActorInput, seq: number, out: Output[]): boolean {
    const result = this.host.deliver(userId, input, this.counting, this.patternSet, inputPosition(seq, input), this.opts.partition);
    if (result.skipped) return false;
    this.timers.move(userId, result.previous, result.deadline);
    if (result.emitted.length) this.emit(userId, result.emitted, seq, out);
    return true;
  }

  private emit(userId: string, emitted: ActorEmitted[], seq: number, out: Output[]): void {
    let nth: Map<string, number> | null = null;
    for (const e of emitted) {
      if (e.type === 'session.summary') {
        const body = toSessionSummaryRecord(userId, e, this.now());
        this.counting.summaries++;
        out.push({ kind: 'analytics', subject: Subjects.analytics(AnalyticsJobs.sessions), msgId: body.summaryId, body });
        continue;
      }
      nth ??= new Map();
      const n = (nth.get(e.pattern.id) ?? 0) + 1;
      nth.set(e.pattern.id, n);
      const action: Action = toPatternAction({ userId, pattern: e.pattern, match: e.match, completingSeq: seq, nth: n, emittedAt: this.now() });
      this.counting.actions++;
      const shadow = e.pattern.spec.mode === 'shadow';
      if (shadow) this.counting.shadow++;
      out.push({ kind: 'action', subject: shadow ? Subjects.shadowAction(action.type, userId) : Subjects.action(action.type, userId), msgId: action.actionId, body: action });
    }
  }

  private deadLetter(msg: InputMessage, reason: string, out: Output[]): void {
    this.counting.dlq++;
    out.push({ kind: 'dlq', subject: Subjects.dlq, msgId: `dlq:${msg.seq}`, data: msg.data, reason, sourceSubject: msg.subject, sourceSeq: msg.seq });
  }
}
