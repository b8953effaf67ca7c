import type { CheckpointStore, CheckpointWrite } from '../store/index.js';
import { ActorHost } from './actor-host.js';
import { PartitionProcessor, type ProcessorOptions } from './partition-processor.js';

/**
 * A consistent cut of a worker's state, taken synchronously between two messages: each
 * partition's offset and event time, every actor changed since the last cut, every timer change.
 */
export function captureCheckpoint(processors: Iterable<PartitionProcessor>, host: ActorHost): CheckpointWrite {
  const list = [...processors];
  return {
    partitions: list.map((p) => p.checkpointState()),
    actors: host.captureDirty(),
    timers: list.flatMap((p) => [...p.timers.takeChanges()].map(([userId, deadline]) => ({ partition: p.partition, userId, deadline }))),
  };
}

/** Rebuilds the processors of the given partitions from what the last checkpoint committed. */
export function restoreProcessors(
  store: CheckpointStore,
  host: ActorHost,
  partitions: number[],
  opts: Omit<ProcessorOptions, 'partition'>,
): PartitionProcessor[] {
  return partitions.map((p) => new PartitionProcessor({ ...opts, partition: p }, host, store.loadPartition(p), store.loadTimers(p)));
}
