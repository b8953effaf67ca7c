import type { CheckpointStore, CheckpointWrite } from '../store/index.js';
import { partitionOf } from '../nats/subjects.js';
import { ActorHost } from './actor-host.js';
import { UserActor } from './user-actor.js';
import { decodeActor } from './actor-codec.js';
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
  };
}

/**
 * Rebuilds the processors of the given partitions from what the last checkpoint committed; each
 * stored actor of an owned partition brings back its pending timer.
 */
export function restoreProcessors(
  store: CheckpointStore,
  host: ActorHost,
  partitions: number[],
  opts: Omit<ProcessorOptions, 'partition'>,
): PartitionProcessor[] {
  const timers = new Map<number, Array<{ userId: string; deadline: number }>>(partitions.map((p) => [p, []]));
  for (const { userId, snapshot } of store.scanActors()) {
    const list = timers.get(partitionOf(userId, opts.partitions));
    const deadline = list ? UserActor.deadlineOf(decodeActor(snapshot), host.patterns) : null;
    if (list && deadline !== null) list.push({ userId, deadline });
  }
  return partitions.map((p) => new PartitionProcessor({ ...opts, partition: p }, host, store.loadPartition(p), timers.get(p)));
}
