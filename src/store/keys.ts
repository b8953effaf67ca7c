/**
 * The one place that knows the LMDB layout. One environment per worker, five named databases.
 * Timers are stored apart, ordered by deadline, so a worker keeps in memory only the ones due
 * soon and recovery reads only those, whatever the number of users.
 */
export const Databases = {
  /** [userId] → the actor's persisted form (XState snapshot, ledger, pattern state), in actor-codec.ts's binary form. */
  actors: 'actors',
  /** [partition] → PartitionCheckpoint: the offset recovery replays from. */
  partitions: 'partitions',
  /** [name] → engine-wide facts (layout version). */
  meta: 'meta',
  /** [revision] → the pattern documents in force at that bucket revision (JSON): what replay runs with. */
  patternSets: 'patternSets',
  /** [partition, deadline, userId] → 1: every pending event-time timer, as of the checkpoint. */
  timers: 'timers',
} as const;

/**
 * 5: actors as text (each event once, runs naming events by sequence) with the actor's
 * deadline; timers in their own database.
 * 6: actors in MessagePack (runs name events by index and carry no time bounds).
 * 7: actors in actor-codec.ts's own binary form, with the stream position each one includes.
 */
export const StoreLayoutVersion = 7;

export const Keys = {
  actor: (userId: string) => userId,
  partition: (partition: number) => partition,
  patternSet: (revision: number) => revision,
  timer: (partition: number, deadline: number, userId: string): TimerKey => [partition, deadline, userId],
  layoutVersion: 'layoutVersion',
} as const;

export type TimerKey = [partition: number, deadline: number, userId: string];
