import { open, type RootDatabase, type Database } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Databases, Keys, StoreLayoutVersion, type TimerKey } from './keys.js';

/**
 * Everything recovery needs to resume a partition exactly where the checkpoint left it. The
 * actors beside it may be from later in the stream than `seq` (a live actor's changes are not
 * written at every checkpoint): each stored actor knows the position it includes and skips what
 * the replay gives it again.
 */
export interface PartitionCheckpoint {
  partition: number;
  /** The EVENTS stream sequence replay starts after: every change up to it is in the store. */
  seq: number;
  /** Max event time seen up to `seq`; the watermark is derived from it. -1 before the first event. */
  maxEventTime: number;
  /** Counted up to `countedSeq` (when present and past `seq`), else up to `seq`. */
  counters: PartitionCounters;
  /** The last message the counters include, when the replay from `seq` goes back before it. */
  countedSeq?: number;
  /** Revision of the pattern set in force after `seq` (its documents are stored by revision). */
  patternRevision?: number;
  /** Pending timers of the partition (the timers database holds them). */
  timers?: number;
}

/** A user's timer moved from `from` to `to` (null: none) since the last checkpoint. */
export interface TimerChange {
  partition: number;
  userId: string;
  from: number | null;
  to: number | null;
}

export interface PartitionCounters {
  events: number;
  dlq: number;
  late: number;
  ticks: number;
  actions: number;
  /** Of `actions`, those of shadow-mode patterns (sent to actions.shadow.>). */
  shadow: number;
  summaries: number;
  /** Matches a frequency cap held back. */
  capped: number;
  /** Events that would have opened a partial match beyond a pattern's maxRunsPerKey. */
  startsSkipped: number;
  /** Partial matches beyond maxRunsPerKey dropped after branching. */
  runsDropped: number;
}

export const emptyCounters = (): PartitionCounters => ({ events: 0, dlq: 0, late: 0, ticks: 0, actions: 0, shadow: 0, summaries: 0, capped: 0, startsSkipped: 0, runsDropped: 0 });

/** The contents of one checkpoint transaction. `null` deletes. */
export interface CheckpointWrite {
  partitions: PartitionCheckpoint[];
  actors: Map<string, Uint8Array | null>;
  /** Pattern sets (revision → documents as JSON) that the partitions' revisions name; written once each. */
  patternSets?: Map<number, string>;
  timers?: TimerChange[];
}

export class StoreError extends Error {
  readonly code = 'STORE_ERROR';
}

export interface CheckpointStore {
  readonly path: string;
  loadPartition(partition: number): PartitionCheckpoint | undefined;
  loadActor(userId: string): Uint8Array | undefined;
  /** The documents of a pattern set a checkpoint named, as JSON text. */
  loadPatternSet(revision: number): string | undefined;
  /** Every stored actor. */
  scanActors(): Iterable<{ userId: string; snapshot: Uint8Array }>;
  /** A partition's timers with after < deadline <= upTo, in (deadline, userId) order. */
  scanTimers(partition: number, after: number, upTo: number): Iterable<{ userId: string; deadline: number }>;
  /** One LMDB transaction: all of it lands or none of it does. */
  commit(write: CheckpointWrite): Promise<void>;
  actorCount(): number;
  close(): Promise<void>;
}

export function openCheckpointStore(dataDir: string): CheckpointStore {
  const path = join(dataDir, 'state.lmdb');
  mkdirSync(dataDir, { recursive: true });
  const root: RootDatabase = open({ path, compression: false, mapSize: 64 * 1024 ** 3 });
  const actors: Database<Uint8Array, string> = root.openDB({ name: Databases.actors, encoding: 'binary' });
  const partitions: Database<PartitionCheckpoint, number> = root.openDB({ name: Databases.partitions, encoding: 'msgpack' });
  const meta: Database<number, string> = root.openDB({ name: Databases.meta, encoding: 'msgpack' });
  const patternSets: Database<string, number> = root.openDB({ name: Databases.patternSets, encoding: 'string' });
  const timers: Database<number, TimerKey> = root.openDB({ name: Databases.timers, encoding: 'msgpack' });

  const layout = meta.get(Keys.layoutVersion);
  if (layout === undefined) meta.putSync(Keys.layoutVersion, StoreLayoutVersion);
  else if (layout !== StoreLayoutVersion) {
    throw new StoreError(`${path} has store layout ${layout}, this build reads ${StoreLayoutVersion}: use a new --data-dir or migrate`);
  }

  return {
    path,
    loadPartition: (p) => partitions.get(Keys.partition(p)),
    loadActor: (userId) => actors.get(Keys.actor(userId)),
    loadPatternSet: (revision) => patternSets.get(Keys.patternSet(revision)),
    *scanActors() {
      for (const { key, value } of actors.getRange()) yield { userId: key, snapshot: value };
    },
    *scanTimers(partition, after, upTo) {
      // From [p, after] on; a key [p, after, u] sorts after [p, after], so it is excluded below.
      for (const key of timers.getKeys({ start: [partition, after] as unknown as TimerKey })) {
        const [p, deadline, userId] = key;
        if (p !== partition || deadline > upTo) return;
        if (deadline > after) yield { userId, deadline };
      }
    },
    async commit(write) {
      await root.transaction(() => {
        for (const [userId, snapshot] of write.actors) {
          if (snapshot === null) actors.remove(Keys.actor(userId));
          else actors.put(Keys.actor(userId), snapshot);
        }
        for (const [revision, docs] of write.patternSets ?? []) {
          if (patternSets.get(Keys.patternSet(revision)) === undefined) patternSets.put(Keys.patternSet(revision), docs);
        }
        for (const t of write.timers ?? []) {
          if (t.from === t.to) continue;
          if (t.from !== null) timers.remove(Keys.timer(t.partition, t.from, t.userId));
          if (t.to !== null) timers.put(Keys.timer(t.partition, t.to, t.userId), 1);
        }
        for (const p of write.partitions) partitions.put(Keys.partition(p.partition), p);
      });
    },
    actorCount: () => actors.getCount(),
    close: () => root.close(),
  };
}
