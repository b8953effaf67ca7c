import type { TimerChange } from '../store/index.js';
import { TimerQueue } from './timer-queue.js';

/** Where the timers a checkpoint committed can be read back, in deadline order (the LMDB store). */
export interface TimerSource {
  scanTimers(partition: number, after: number, upTo: number): Iterable<{ userId: string; deadline: number }>;
}

interface Change {
  /** The deadline the store holds for the user (as of the last commit), or null. */
  from: number | null;
  to: number | null;
}

/** Changes since one capture, and their far deadlines by time, so a horizon move finds them without a scan. */
class Generation {
  readonly changes = new Map<string, Change>();
  readonly far = new TimerQueue();
}

/**
 * One partition's event-time timers, one per user, bounded in memory whatever the number of users.
 *
 * Every timer is stored (the `timers` database, written in the checkpoint transaction from the
 * changes captured here). Memory holds only the timers due up to a horizon, `spanMs` of event time
 * past the watermark: the session ends, abandoned carts and short partial matches of the users
 * active lately. A timer further out, such as the 7-day watch of every user who ever viewed
 * something, waits on disk (or, until its checkpoint commits, among the changes) and is read
 * back when the horizon reaches it. Due timers come out in (deadline, user) order from the one
 * in-memory queue, so the horizon never changes what fires or in what order: a replay, or a
 * worker that never spills, fires exactly the same timers.
 *
 * Without a source (offline runs, explanations) the horizon is infinite and nothing spills.
 */
export class PartitionTimers {
  private readonly near = new TimerQueue();
  /** Every timer with deadline <= horizon is in `near`. */
  private horizon: number;
  private pending = new Generation();
  /** Captured into a checkpoint whose commit has not finished: the store does not show it yet. */
  private committing: Generation | null = null;
  private count: number;
  /** Timers the store holds (or will, once the captured changes commit): what a restart counts. */
  private stored: number;

  constructor(
    private readonly partition: number,
    private readonly source: TimerSource | null = null,
    private readonly spanMs = 60 * 60_000,
    /** At recovery: the pending timers the checkpoint counted, and its watermark. */
    restored?: { count: number; watermark: number },
  ) {
    this.count = this.stored = restored?.count ?? 0;
    this.horizon = source ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    if (source && restored && Number.isFinite(restored.watermark)) this.advance(restored.watermark);
  }

  /** Pending timers, in memory or not. */
  get size(): number {
    return this.count;
  }

  /** Pending timers as the store will hold them once the last captured changes commit. */
  get storedSize(): number {
    return this.stored;
  }

  /** How many are held in memory. */
  get inMemory(): number {
    return this.near.size;
  }

  /** The user's timer, if it is due within the horizon or changed since the last commit. */
  get(userId: string): number | undefined {
    const t = this.near.get(userId);
    if (t !== undefined) return t;
    const c = this.pending.changes.get(userId) ?? this.committing?.changes.get(userId);
    return c?.to ?? undefined;
  }

  /** Users whose timers are in memory (due soon, or changed since the last commit). */
  *userIds(): IterableIterator<string> {
    for (const [userId] of this.near.entries()) yield userId;
    for (const gen of [this.pending, this.committing]) {
      if (!gen) continue;
      for (const [userId, c] of gen.changes) if (c.to !== null && this.near.get(userId) === undefined) yield userId;
    }
  }

  /**
   * A delivery moved the user's timer from `from` (what the actor had, hence what is stored or
   * pending) to `to`.
   */
  move(userId: string, from: number | null, to: number | null): void {
    if (from === to) return;
    if (from === null) this.count++;
    if (to === null) this.count--;
    if (!this.source) {
      // Nothing is stored, so there is nothing to remember for a checkpoint.
      this.near.set(userId, to);
      return;
    }
    const gen = this.pending;
    const c = gen.changes.get(userId);
    if (c) c.to = to;
    else gen.changes.set(userId, { from, to });
    const near = to !== null && to <= this.horizon;
    this.near.set(userId, near ? to : null);
    gen.far.set(userId, near ? null : to);
  }

  /**
   * Removes and returns every timer with deadline <= watermark, in (deadline, user) order. Each
   * stays counted until the delivery it causes moves it (from its deadline).
   */
  popDue(watermark: number): Array<{ key: string; deadline: number }> {
    if (watermark > this.horizon - this.spanMs / 2) this.advance(watermark);
    return this.near.popDue(watermark);
  }

  /**
   * A timer popDue returned whose delivery the actor skipped (it already held that input): it
   * stays pending, unchanged, and fires with the next watermark move, as it did the first time.
   */
  rearm(userId: string, deadline: number): void {
    this.near.set(userId, deadline);
  }

  /**
   * The changes since the last capture, for the checkpoint transaction. With `written`, only
   * those of the users whose snapshots this checkpoint writes: the store's timer must always be
   * the one its stored actor holds, so the others wait for their actor's write.
   */
  capture(written?: (userId: string) => boolean): TimerChange[] {
    const out: TimerChange[] = [];
    if (!this.source) return out;
    // The store's answer for the older generation would be unknown until its commit lands.
    if (this.committing) throw new Error(`partition ${this.partition}: timers captured again before the last checkpoint committed`);
    const gen = this.pending;
    const next = new Generation();
    for (const [userId, c] of gen.changes) {
      if (written && !written(userId)) {
        gen.changes.delete(userId);
        next.changes.set(userId, c);
        if (c.to !== null && c.to > this.horizon) {
          gen.far.set(userId, null);
          next.far.set(userId, c.to);
        }
        continue;
      }
      if (c.from === c.to) continue;
      out.push({ partition: this.partition, userId, from: c.from, to: c.to });
      if (c.from === null) this.stored++;
      else if (c.to === null) this.stored--;
    }
    this.committing = gen;
    this.pending = next;
    return out;
  }

  /** The captured changes are in the store now. */
  committed(): void {
    this.committing = null;
  }

  /**
   * Moves the horizon to watermark + span, bringing into memory every timer up to it: from the
   * store (unless a later change overrides what it holds) and from the uncommitted changes.
   */
  private advance(watermark: number): void {
    const after = this.horizon;
    const upTo = watermark + this.spanMs;
    this.horizon = upTo;
    for (const t of this.source!.scanTimers(this.partition, after, upTo)) {
      const c = this.pending.changes.get(t.userId) ?? this.committing?.changes.get(t.userId);
      if (c === undefined || c.to === t.deadline) this.near.set(t.userId, t.deadline);
    }
    for (const gen of [this.committing, this.pending]) {
      if (!gen) continue;
      for (const t of gen.far.popDue(upTo)) {
        // Current only if no later generation moved the user again.
        const latest = gen === this.committing ? (this.pending.changes.get(t.key) ?? gen.changes.get(t.key)) : gen.changes.get(t.key);
        if (latest?.to === t.deadline) this.near.set(t.key, t.deadline);
      }
    }
  }
}
