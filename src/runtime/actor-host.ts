import type { EventRef } from '../../actors/index.js';
import { PatternSet } from '../cep/index.js';
import { UserActor, type ActorEmitted, type PersistedActor, type ActorStats } from './user-actor.js';
import { encodeActor, decodeActor } from './actor-codec.js';

/** Where passivated actors live between checkpoints; the LMDB store in production. */
export interface SnapshotSource {
  loadActor(userId: string): Uint8Array | undefined;
}

export type ActorInput = { type: 'event'; event: EventRef } | { type: 'timeout'; time: number };

/**
 * Where an input sits in the stream: a message can give one user a timeout (its watermark move)
 * and then an event, so each stream sequence has two places. An actor remembers the last place
 * it applied, and an input at or before it is one it already holds (a replay after a crash).
 */
export function inputPosition(seq: number, input: ActorInput): number {
  return 2 * seq + (input.type === 'event' ? 1 : 0);
}

export interface Delivery {
  emitted: ActorEmitted[];
  /** The actor's next event-time deadline, or null when it has nothing pending. */
  deadline: number | null;
  /** Its deadline before this delivery (the timer it held). */
  previous: number | null;
  /** The actor already held this input (its stored state is from later in the stream): nothing was applied. */
  skipped: boolean;
}

/** Not changed since its snapshot was last captured. */
const CLEAN = -1;
/** Changed, and must be written at the next capture whatever its age. */
const WRITE_NEXT = -2;

/**
 * One actor per user (session machine + pattern state, see user-actor.ts). Live actors sit in a
 * bounded cache (second-chance eviction, close to LRU); evicted ones are passivated to their persisted form (actor-codec.ts bytes) and rehydrated on
 * their next input. An actor holding nothing (no open session, no partial match, no cap) is
 * dropped, and its row goes a few checkpoints later: a quiet user costs no memory and no disk.
 *
 * Snapshots reach LMDB only inside a checkpoint (never on eviction): an evicted dirty actor waits
 * in `passivated` until the next checkpoint. A live dirty actor may wait longer (captureDirty's
 * `deferAge`): a user active across many checkpoints is written once per so many of them instead
 * of at each. Every stored actor carries the stream position it includes, so recovery can replay
 * from before the oldest unwritten change and each actor skips what its snapshot already holds.
 *
 * That is also why a dropped actor is not simply deleted: its row becomes a tombstone holding
 * only its position, or a replay from before the drop would feed the user's earlier inputs to a
 * fresh actor. The tombstone is deleted once no replay can reach back before it
 * (releaseTombstones).
 */
export class ActorHost {
  /** Live actors by user. */
  private readonly live = new Map<string, LiveActor>();
  /**
   * Live actors in the order they were placed, each with the tick of its last use. Eviction is
   * second-chance (CLOCK): the oldest placed actor is evicted unless it was used since it was
   * placed, in which case it is placed again at the back. An access costs a counter store instead
   * of a Map delete + set, and the order still depends only on the input. An array with a moving
   * head rather than the Map's own order: a Map keeps a hole for every deleted entry until it
   * rehashes, and taking its first entry walked all of them (5% of the processors at 100k users).
   * Entries of actors no longer live (`gone`) are skipped and compacted away.
   */
  private order: LiveActor[] = [];
  private head = 0;
  private tick = 0;
  private readonly passivated = new Map<string, Uint8Array | null>();
  private committing = new Map<string, Uint8Array | null>();
  private readonly dirty = new Set<string>();
  private readonly compiledSets = new Map<number, PatternSet>();
  /** Captures so far: an actor's `dirtySince` is the epoch of its first unwritten change. */
  private epoch = 0;
  /** After the last capture: per partition, the oldest epoch among the dirty actors it left unwritten. */
  private deferred = new Map<number, number>();
  /** Dropped actors not yet captured: their tombstone's partition and position. */
  private readonly dropped = new Map<string, Tombstone>();
  /** Tombstones in the store, by user (a later real snapshot removes the entry)... */
  private readonly tombstones = new Map<string, number>();
  /** ...and per partition in the order they were written, which is position order. */
  private readonly tombstoneQueue = new Map<number, Array<Tombstone & { userId: string }>>();
  evictions = 0;

  constructor(
    private readonly store: SnapshotSource,
    private readonly liveCap: number,
    private patternSet: PatternSet,
  ) {}

  get liveCount(): number {
    return this.live.size;
  }

  get patterns(): PatternSet {
    return this.patternSet;
  }

  /** Swaps the default patterns (what a partition without a checkpointed revision starts with). */
  setPatterns(set: PatternSet): void {
    this.patternSet = set;
  }

  /**
   * The compiled set for a bucket revision. Every partition switches to a revision on its own
   * marker, so the same documents arrive once per partition: compiled once, shared.
   */
  patternSetFor(revision: number, docs: () => unknown[]): PatternSet {
    let set = this.compiledSets.get(revision);
    if (!set) {
      set = PatternSet.fromDocuments(docs(), revision);
      this.compiledSets.set(revision, set);
      // A handful of revisions are in force at once (partitions switch one by one); older ones go.
      if (this.compiledSets.size > 16) this.compiledSets.delete(this.compiledSets.keys().next().value as number);
    }
    return set;
  }

  /**
   * `patterns`: the set in force in the user's partition. `stats` collects what the patterns
   * counted but did not emit (the partition's checkpointed counters).
   */
  deliver(userId: string, input: ActorInput, stats: ActorStats, patterns: PatternSet = this.patternSet, position = 0, partition = 0): Delivery {
    const live = this.activate(userId, partition);
    const previous = live.due;
    if (position !== 0 && position <= live.position) return { emitted: NOTHING, deadline: previous, previous, skipped: true };
    live.position = position;
    const actor = live.actor;
    const emitted = input.type === 'event' ? actor.event(input.event, patterns, stats) : actor.timeout(input.time, patterns, stats);
    if (live.dirtySince === CLEAN) {
      live.dirtySince = this.epoch;
      this.dirty.add(userId);
    }
    if (actor.isEmpty) {
      actor.stop();
      this.live.delete(userId);
      live.gone = true;
      if (position === 0) this.passivated.set(userId, null);
      else {
        this.passivated.set(userId, encodeActor({ position }));
        this.dropped.set(userId, { partition, position });
      }
      return { emitted, deadline: null, previous, skipped: false };
    }
    const deadline = actor.deadline(patterns);
    live.due = deadline;
    return { emitted, deadline, previous, skipped: false };
  }

  /** Persisted form of a user right now (live, passivated or stored), for inspection; null when it holds nothing. */
  peek(userId: string): PersistedActor | null {
    const live = this.live.get(userId);
    const text = live ? null : this.lookupPassivated(userId);
    const p = live ? persistLive(live) : text ? decodeActor(text) : null;
    return p && (p.session || p.cep || p.sent || p.due !== undefined) ? p : null;
  }

  isLive(userId: string): boolean {
    return this.live.has(userId);
  }

  liveUserIds(): IterableIterator<string> {
    return this.live.keys();
  }

  /**
   * Takes the actors changed since they were last captured, in stored form (null = delete).
   * Synchronous, so it is a consistent cut with the partition offsets captured beside it.
   *
   * `deferAge` 0 takes all of them. Above 0, a live actor whose first unwritten change is fewer
   * than `deferAge` captures old stays in memory, still dirty; `deferredSince` then tells each
   * partition how far back its replay must start. Evicted and dropped actors are always taken,
   * so what waits is bounded by the live cap.
   */
  captureDirty(deferAge = 0): Map<string, Uint8Array | null> {
    const out = new Map<string, Uint8Array | null>();
    const deferred = new Map<number, number>();
    for (const userId of this.dirty) {
      const live = this.live.get(userId);
      if (live) {
        const since = live.dirtySince;
        if (since >= 0 && this.epoch - since < deferAge) {
          const oldest = deferred.get(live.partition);
          if (oldest === undefined || since < oldest) deferred.set(live.partition, since);
          continue;
        }
        live.dirtySince = CLEAN;
        out.set(userId, encodeActor(persistLive(live)));
        if (this.tombstones.size) this.tombstones.delete(userId);
      } else {
        out.set(userId, this.passivated.get(userId) ?? null);
        const t = this.dropped.get(userId);
        if (t) this.remember(userId, t);
        else if (this.tombstones.size) this.tombstones.delete(userId);
      }
      this.dirty.delete(userId);
    }
    this.passivated.clear();
    this.dropped.clear();
    this.committing = out;
    this.deferred = deferred;
    this.epoch++;
    return out;
  }

  /**
   * After a capture whose checkpoint replays `partition` from after `seq`: the tombstones no
   * replay can reach back before any more are deleted, into the capture's writes. A user changed
   * since and not yet written keeps its tombstone until that write replaces it.
   */
  releaseTombstones(partition: number, seq: number, writes: Map<string, Uint8Array | null>): void {
    const queue = this.tombstoneQueue.get(partition);
    if (!queue) return;
    const reach = 2 * seq + 1;
    let i = 0;
    for (; i < queue.length && queue[i]!.position <= reach; i++) {
      const { userId, position } = queue[i]!;
      if (this.tombstones.get(userId) !== position) continue;
      this.tombstones.delete(userId);
      if (!this.dirty.has(userId)) writes.set(userId, null);
    }
    if (i === queue.length) this.tombstoneQueue.delete(partition);
    else if (i > 0) queue.splice(0, i);
  }

  private remember(userId: string, t: Tombstone): void {
    this.tombstones.set(userId, t.position);
    let queue = this.tombstoneQueue.get(t.partition);
    if (!queue) this.tombstoneQueue.set(t.partition, (queue = []));
    queue.push({ userId, ...t });
  }

  /** The capture count: the epoch actors changed from now on are dated with. */
  get captures(): number {
    return this.epoch;
  }

  /**
   * After a capture: the epoch (a capture count) of the oldest change of `partition` that capture
   * left unwritten, or undefined when it wrote all of them. Replay must start no later than the
   * partition's state as of that capture.
   */
  deferredSince(partition: number): number | undefined {
    return this.deferred.get(partition);
  }

  /** The captured snapshots are in LMDB now; stop serving them from memory. */
  committed(): void {
    this.committing = new Map();
  }

  stopAll(): void {
    for (const l of this.live.values()) l.actor.stop();
    this.live.clear();
    this.order = [];
    this.head = 0;
  }

  private lookupPassivated(userId: string): Uint8Array | null | undefined {
    if (this.passivated.has(userId)) return this.passivated.get(userId);
    if (this.committing.has(userId)) return this.committing.get(userId);
    return this.store.loadActor(userId);
  }

  private activate(userId: string, partition: number): LiveActor {
    const known = this.live.get(userId);
    if (known) {
      known.usedAt = ++this.tick;
      return known;
    }
    const text = this.lookupPassivated(userId);
    const persisted = text ? decodeActor(text) : null;
    const actor = persisted ? UserActor.restore(persisted) : UserActor.create();
    // Room first, so the actor being activated can never be the one evicted.
    if (this.live.size >= this.liveCap) this.evictOldest();
    const at = ++this.tick;
    // Back from `passivated` means changed and not yet written: written at the next capture, as
    // it would have been had it stayed evicted (its first change's epoch went with it).
    const dirtySince = this.dirty.has(userId) ? WRITE_NEXT : CLEAN;
    this.dropped.delete(userId);
    const live: LiveActor = { userId, partition, actor, placedAt: at, usedAt: at, due: persisted?.due ?? null, position: persisted?.position ?? 0, dirtySince, gone: false };
    this.live.set(userId, live);
    this.place(live);
    return live;
  }

  private place(l: LiveActor): void {
    this.order.push(l);
    // Amortised compaction: drop the consumed head and the entries of actors that left.
    if (this.order.length - this.head > 2 * this.live.size + 1024) {
      this.order = this.order.slice(this.head).filter((x) => !x.gone);
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  private evictOldest(): void {
    for (;;) {
      const l = this.order[this.head++]!;
      if (l.gone) continue;
      if (l.usedAt > l.placedAt) {
        // Used since it was placed: a second chance at the back.
        l.placedAt = l.usedAt = ++this.tick;
        this.place(l);
        continue;
      }
      this.live.delete(l.userId);
      l.gone = true;
      if (this.dirty.has(l.userId)) this.passivated.set(l.userId, encodeActor(persistLive(l)));
      l.actor.stop();
      this.evictions++;
      return;
    }
  }
}

interface Tombstone {
  partition: number;
  position: number;
}

interface LiveActor {
  readonly userId: string;
  readonly partition: number;
  actor: UserActor;
  placedAt: number;
  usedAt: number;
  /** The deadline its last delivery set: the timer the partition holds for it. */
  due: number | null;
  /** The stream position (inputPosition) of the last input it applied; 0 before any. */
  position: number;
  /** The capture epoch of its first change not yet captured, CLEAN, or WRITE_NEXT. */
  dirtySince: number;
  /** No longer in `live` (evicted or dropped): its place in the eviction order is skipped. */
  gone: boolean;
}

function persistLive(l: LiveActor): PersistedActor {
  const p = l.actor.persist();
  if (l.due !== null) p.due = l.due;
  if (l.position !== 0) p.position = l.position;
  return p;
}

const NOTHING: ActorEmitted[] = Object.freeze([]) as unknown as ActorEmitted[];
