import { StoreError, type CheckpointStore, type CheckpointWrite, type PartitionCheckpoint } from '../store/index.js';
import type { PatternSet } from '../cep/index.js';
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
  const patternSets = new Map<number, string>();
  for (const p of list) patternSets.set(p.patterns.revision, p.patterns.documentsText);
  return {
    partitions: list.map((p) => p.checkpointState()),
    actors: host.captureDirty(),
    patternSets,
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
  const checkpoints = new Map(partitions.map((p) => [p, store.loadPartition(p)]));
  const sets = new Map(partitions.map((p) => [p, patternSetAt(store, host, checkpoints.get(p))]));
  for (const { userId, snapshot } of store.scanActors()) {
    const p = partitionOf(userId, opts.partitions);
    const list = timers.get(p);
    const deadline = list ? UserActor.deadlineOf(decodeActor(snapshot), sets.get(p)!) : null;
    if (list && deadline !== null) list.push({ userId, deadline });
  }
  return partitions.map((p) => new PartitionProcessor({ ...opts, partition: p }, host, checkpoints.get(p), timers.get(p), sets.get(p)));
}

/**
 * The patterns a partition ran with at its checkpoint: replay must use them, not whatever is in
 * force now, or a rule change would rewrite history. A partition never checkpointed starts with
 * the host's set.
 */
function patternSetAt(store: CheckpointStore, host: ActorHost, checkpoint: PartitionCheckpoint | undefined): PatternSet {
  const revision = checkpoint?.patternRevision;
  if (revision === undefined) return host.patterns;
  // The stored documents, even when the bucket is at the same revision now: they are what the
  // partition ran with, whatever a read of the bucket returns today.
  const text = store.loadPatternSet(revision);
  if (text === undefined) throw new StoreError(`partition ${checkpoint!.partition} was checkpointed with pattern revision ${revision}, which the store does not hold`);
  if (text === host.patterns.documentsText) return host.patterns;
  return host.patternSetFor(revision, () => JSON.parse(text) as unknown[]);
}
