import { createActor, type Actor } from 'xstate';
import { sessionMachine, type SessionEvent, type SessionEmitted, type SessionContext } from '../../actors/index.js';

type SessionActor = Actor<typeof sessionMachine>;

/** Where passivated actors live between checkpoints; the LMDB store in production. */
export interface SnapshotSource {
  loadActor(userId: string): string | undefined;
}

export interface Delivery {
  emitted: SessionEmitted[];
  /** The actor's next event-time deadline, or null when it has nothing pending. */
  deadline: number | null;
  context: SessionContext;
}

/**
 * One XState actor per user. Live actors sit in a bounded LRU; evicted ones are passivated to
 * their persisted snapshot (JSON text) and rehydrated on their next event. An actor back in its
 * empty idle state holds nothing worth keeping, so it is dropped and its row deleted: a quiet
 * user costs no memory and no disk.
 *
 * Snapshots reach LMDB only inside a checkpoint (never on eviction), so the store always matches
 * the offsets beside it: an evicted dirty actor waits in `passivated` until the next checkpoint.
 */
export class ActorHost {
  private readonly live = new Map<string, SessionActor>();
  private readonly passivated = new Map<string, string | null>();
  private committing = new Map<string, string | null>();
  private readonly dirty = new Set<string>();
  private outbox: SessionEmitted[] = [];
  private readonly collect = (e: SessionEmitted) => {
    this.outbox.push(e);
  };
  evictions = 0;

  constructor(
    private readonly store: SnapshotSource,
    private readonly liveCap: number,
  ) {}

  get liveCount(): number {
    return this.live.size;
  }

  deliver(userId: string, event: SessionEvent): Delivery {
    const actor = this.activate(userId);
    this.outbox = [];
    actor.send(event);
    const emitted = this.outbox;
    const snapshot = actor.getSnapshot();
    this.dirty.add(userId);
    if (snapshot.value === 'idle' && snapshot.context.sessionStart === null) {
      actor.stop();
      this.live.delete(userId);
      this.passivated.set(userId, null);
    }
    return { emitted, deadline: snapshot.context.deadline, context: snapshot.context };
  }

  /** Persisted snapshot text of a user right now (live, passivated or stored), for inspection. */
  peek(userId: string): string | null {
    const actor = this.live.get(userId);
    if (actor) return JSON.stringify(actor.getPersistedSnapshot());
    return this.lookupPassivated(userId) ?? null;
  }

  /**
   * Takes every actor changed since the last capture as persisted-snapshot text (null = delete).
   * Synchronous, so it is a consistent cut with the partition offsets captured beside it.
   */
  captureDirty(): Map<string, string | null> {
    const out = new Map<string, string | null>();
    for (const userId of this.dirty) {
      const actor = this.live.get(userId);
      out.set(userId, actor ? JSON.stringify(actor.getPersistedSnapshot()) : (this.passivated.get(userId) ?? null));
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

  private activate(userId: string): SessionActor {
    let actor = this.live.get(userId);
    if (actor) {
      // Map order is the LRU order: re-insert on use.
      this.live.delete(userId);
      this.live.set(userId, actor);
      return actor;
    }
    const text = this.lookupPassivated(userId);
    actor = text ? createActor(sessionMachine, { snapshot: JSON.parse(text) }) : createActor(sessionMachine);
    actor.on('*', this.collect);
    actor.start();
    this.live.set(userId, actor);
    if (this.live.size > this.liveCap) this.evictOldest();
    return actor;
  }

  private evictOldest(): void {
    const [userId, actor] = this.live.entries().next().value as [string, SessionActor];
    this.live.delete(userId);
    if (this.dirty.has(userId)) this.passivated.set(userId, JSON.stringify(actor.getPersistedSnapshot()));
    actor.stop();
    this.evictions++;
  }
}
