export { openCheckpointStore, emptyCounters, StoreError } from './checkpoint-store.js';
export type { CheckpointStore, CheckpointWrite, PartitionCheckpoint, PartitionCounters, TimerChange } from './checkpoint-store.js';
export { Databases, Keys } from './keys.js';
export type { TimerKey } from './keys.js';
