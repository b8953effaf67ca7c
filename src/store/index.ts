export { openCheckpointStore, emptyCounters, StoreError } from './checkpoint-store.js';
export type { CheckpointStore, CheckpointWrite, PartitionCheckpoint, PartitionCounters } from './checkpoint-store.js';
export { Databases, Keys } from './keys.js';
