import type { EventRef } from '../../actors/index.js';
import { PatternSet } from '../cep/index.js';
import { UserActor, type ActorEmitted, type PersistedActor, type ActorStats } from './user-actor.js';
import { encodeActor, decodeActor } from './actor-codec.js';

/** Where passivated actors live between checkpoints; the LMDB store in production. */
export interface SnapshotSource {
  loadActor(userId: string): Uint8Array | undefined;
}

export type ActorInput = { type: 'event'; event: EventRef } | { type: 'timeout'; time: number };

export interface Delivery {
  emitted: ActorEmitted[];
  /** The actor's next event-time deadline, or null when it has nothing pending. */
  deadline: number | null;
  /** Its deadline before this delivery (the timer it held). */
  previous: number | null;
}

/**
 * One actor per user (session machine + pattern state, see user-actor.ts). Live actors sit in a
 * bounded cache (second-chance eviction, close to LRU); evicted ones are passivated to their persisted form (actor-codec.ts bytes) and rehydrated on
 * their next input. An actor holding nothing (no open session, no partial match, no cap) is
 * dropped and its row deleted: a quiet user costs no memory and no disk.
 *
 * Snapshots reach LMDB only inside a checkpoint (never on eviction), so the store always matches
 * the offsets beside it: an evicted dirty actor waits in `passivated` until the next checkpoint.
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
  deliver(userId: string, input: ActorInput, stats: ActorStats, patterns: PatternSet = this.patternSet): Delivery {
    const live = this.activate(userId);
    const actor = live.actor;
    const previous = live.due;
    const emitted = input.type === 'event' ? actor.event(input.event, patterns, stats) : actor.timeout(input.time, patterns, stats);
    this.dirty.add(userId);
    if (actor.isEmpty) {
      actor.stop();
      this.live.delete(userId);
      live.gone = true;
      this.passivated.set(userId, null);
      return { emitted, deadline: null, previous };
    }
    const deadline = actor.deadline(patterns);
    live.due = deadline;
    return { emitted, deadline, previous };
  }

  /** Persisted form of a user right now (live, passivated or stored), for inspection. */
  peek(userId: string): PersistedActor | null {
    const live = this.live.get(userId);
    if (live) return persistLive(live);
    const text = this.lookupPassivated(userId);
    return text ? decodeActor(text) : null;
  }

  isLive(userId: string): boolean {
    return this.live.has(userId);
  }

  liveUserIds(): IterableIterator<string> {
    return this.live.keys();
  }

  /**
   * Takes every actor changed since the last capture in its stored form (null = delete).
   * Synchronous, so it is a consistent cut with the partition offsets captured beside it.
   */
  captureDirty(): Map<string, Uint8Array | null> {
    const out = new Map<string, Uint8Array | null>();
    for (const userId of this.dirty) {
      const live = this.live.get(userId);
      out.set(userId, live ? encodeActor(persistLive(live)) : (this.passivated.get(userId) ?? null));
    }
    this.dirty.clear();
    this.passivated.clear();
    this.committing = out;
    return out;
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

  private activate(userId: string): LiveActor {
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
    const live: LiveActor = { userId, actor, placedAt: at, usedAt: at, due: persisted?.due ?? null, gone: false };
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

interface LiveActor {
  readonly userId: string;
  actor: UserActor;
  placedAt: number;
  usedAt: number;
  /** The deadline its last delivery set: the timer the partition holds for it. */
  due: number | null;
  /** No longer in `live` (evicted or dropped): its place in the eviction order is skipped. */
  gone: boolean;
}

function persistLive(l: LiveActor): PersistedActor {
  const p = l.actor.persist();
  if (l.due !== null) p.due = l.due;
  return p;
}
