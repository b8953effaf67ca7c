import { StoreError, type CheckpointStore, type CheckpointWrite, type PartitionCheckpoint, type TimerChange } from '../store/index.js';
import type { PatternSet } from '../cep/index.js';
import { ActorHost } from './actor-host.js';
import { PartitionProcessor, type ProcessorOptions } from './partition-processor.js';

/**
 * A consistent cut of a worker's state, taken synchronously between two messages: each
 * partition's offset and event time, every actor changed since the last cut, every timer change.
 * Once the store has committed it, `checkpointCommitted` must be told.
 */
export function captureCheckpoint(processors: Iterable<PartitionProcessor>, host: ActorHost): CheckpointWrite & { timers: TimerChange[] } {
  const list = [...processors];
  const patternSets = new Map<number, string>();
  for (const p of list) patternSets.set(p.patterns.revision, p.patterns.documentsText);
  return {
    partitions: list.map((p) => p.checkpointState()),
    actors: host.captureDirty(),
    patternSets,
    timers: list.flatMap((p) => p.timers.capture()),
  };
}

/** The captured cut is in the store (or was empty): stop serving it from memory. */
export function checkpointCommitted(processors: Iterable<PartitionProcessor>, host: ActorHost): void {
  host.committed();
  for (const p of processors) p.timers.committed();
}

/**
 * Rebuilds the processors of the given partitions from what the last checkpoint committed. Timers
 * are read back from the store as event time reaches them, so a restart reads only those due soon.
 */
export function restoreProcessors(
  store: CheckpointStore,
  host: ActorHost,
  partitions: number[],
  opts: Omit<ProcessorOptions, 'partition'>,
): PartitionProcessor[] {
  return partitions.map((p) => {
    const checkpoint = store.loadPartition(p);
    return new PartitionProcessor({ ...opts, partition: p }, host, checkpoint, store, patternSetAt(store, host, checkpoint));
  });
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
