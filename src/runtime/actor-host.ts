import { UserSession, type EventRef, type SessionEmitted, type PersistedUserSession } from '../../actors/index.js';

/** Where passivated actors live between checkpoints; the LMDB store in production. */
export interface SnapshotSource {
  loadActor(userId: string): string | undefined;
}

export type ActorInput = { type: 'event'; event: EventRef } | { type: 'timeout'; time: number };

export interface Delivery {
  emitted: SessionEmitted[];
  /** The actor's next event-time deadline, or null when it has nothing pending. */
  deadline: number | null;
}

/**
 * One actor per user (the XState session machine with its ledger, see actors/user-session.ts).
 * Live actors sit in a bounded LRU; evicted ones are passivated to their persisted form (JSON
 * text) and rehydrated on their next input. An actor with no open session holds nothing worth
 * keeping, so it is dropped and its row deleted: a quiet user costs no memory and no disk.
 *
 * Snapshots reach LMDB only inside a checkpoint (never on eviction), so the store always matches
 * the offsets beside it: an evicted dirty actor waits in `passivated` until the next checkpoint.
 */
export class ActorHost {
  private readonly live = new Map<string, UserSession>();
  private readonly passivated = new Map<string, string | null>();
  private committing = new Map<string, string | null>();
  private readonly dirty = new Set<string>();
  evictions = 0;

  constructor(
    private readonly store: SnapshotSource,
    private readonly liveCap: number,
  ) {}

  get liveCount(): number {
    return this.live.size;
  }

  deliver(userId: string, input: ActorInput): Delivery {
    const actor = this.activate(userId);
    const emitted = input.type === 'event' ? actor.event(input.event) : actor.timeout(input.time);
    this.dirty.add(userId);
    if (actor.isEmpty) {
      actor.stop();
      this.live.delete(userId);
      this.passivated.set(userId, null);
    }
    return { emitted, deadline: actor.deadline };
  }

  /** Persisted form of a user right now (live, passivated or stored), for inspection. */
  peek(userId: string): PersistedUserSession | null {
    const actor = this.live.get(userId);
    if (actor) return actor.persist();
    const text = this.lookupPassivated(userId);
    return text ? (JSON.parse(text) as PersistedUserSession) : null;
  }

  /**
   * Takes every actor changed since the last capture as persisted text (null = delete).
   * Synchronous, so it is a consistent cut with the partition offsets captured beside it.
   */
  captureDirty(): Map<string, string | null> {
    const out = new Map<string, string | null>();
    for (const userId of this.dirty) {
      const actor = this.live.get(userId);
      out.set(userId, actor ? JSON.stringify(actor.persist()) : (this.passivated.get(userId) ?? null));
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
    for (const actor of this.live.values()) actor.stop();
    this.live.clear();
  }

  private lookupPassivated(userId: string): string | null | undefined {
    if (this.passivated.has(userId)) return this.passivated.get(userId);
    if (this.committing.has(userId)) return this.committing.get(userId);
    return this.store.loadActor(userId);
  }

  private activate(userId: string): UserSession {
    let actor = this.live.get(userId);
    if (actor) {
      // Map order is the LRU order: re-insert on use.
      this.live.delete(userId);
      this.live.set(userId, actor);
      return actor;
    }
    const text = this.lookupPassivated(userId);
    actor = text ? UserSession.restore(JSON.parse(text) as PersistedUserSession) : UserSession.create();
    this.live.set(userId, actor);
    if (this.live.size > this.liveCap) this.evictOldest();
    return actor;
  }

  private evictOldest(): void {
    const [userId, actor] = this.live.entries().next().value as [string, UserSession];
    this.live.delete(userId);
    if (this.dirty.has(userId)) this.passivated.set(userId, JSON.stringify(actor.persist()));
    actor.stop();
    this.evictions++;
  }
}
