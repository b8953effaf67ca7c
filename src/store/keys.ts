/**
 * The one place that knows the LMDB layout. One environment per worker, four named databases;
 * keys are lmdb-js ordered-binary arrays so a partition's rows are one range scan.
 */
export const Databases = {
  /** [userId] → the actor's persisted XState snapshot, as JSON text. */
  actors: 'actors',
  /** [partition, userId] → the event time at which the actor's pending timer fires. */
  timers: 'timers',
  /** [partition] → PartitionCheckpoint: the offset recovery replays from. */
  partitions: 'partitions',
  /** [name] → engine-wide facts (layout version). */
  meta: 'meta',
} as const;

export const StoreLayoutVersion = 1;

export const Keys = {
  actor: (userId: string) => userId,
  timer: (partition: number, userId: string) => [partition, userId] as [number, string],
  timersOfPartition: (partition: number) => ({ start: [partition], end: [partition + 1] }),
  partition: (partition: number) => partition,
  layoutVersion: 'layoutVersion',
} as const;
