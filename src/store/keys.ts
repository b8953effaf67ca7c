/**
 * The one place that knows the LMDB layout. One environment per worker, four named databases.
 * Timers are not stored apart: an actor's deadline follows from its stored state, and only actors
 * with an open session are stored, so recovery rebuilds the timers from one scan of the actors.
 */
export const Databases = {
  /** [userId] → the actor's persisted form (XState snapshot, ledger, pattern state), as JSON text. */
  actors: 'actors',
  /** [partition] → PartitionCheckpoint: the offset recovery replays from. */
  partitions: 'partitions',
  /** [name] → engine-wide facts (layout version). */
  meta: 'meta',
  /** [revision] → the pattern documents in force at that bucket revision (JSON): what replay runs with. */
  patternSets: 'patternSets',
} as const;

/** 4: actors are stored in actor-codec.ts's form (each event once, runs naming events by sequence). */
export const StoreLayoutVersion = 4;

export const Keys = {
  actor: (userId: string) => userId,
  partition: (partition: number) => partition,
  patternSet: (revision: number) => revision,
  layoutVersion: 'layoutVersion',
} as const;
