import { StoreError, type CheckpointStore, type CheckpointWrite, type PartitionCheckpoint, type TimerChange } from '../store/index.js';
import type { PatternSet } from '../cep/index.js';
import { ActorHost } from './actor-host.js';
import { PartitionProcessor, type ProcessorOptions } from './partition-processor.js';

/**
 * A consistent cut of a worker's state, taken synchronously between two messages: the actors
 * changed since they were last written, their timers, and each partition's replay point.
 * Once the store has committed it, `checkpointCommitted` must be told.
 *
 * `writeEvery` > 1: a live actor's changes are written once they are that many captures old (or
 * when it is evicted or dropped), not at every capture, and each partition's replay point stays
 * before the oldest change left unwritten. An active user costs a snapshot per `writeEvery`
 * checkpoints instead of one per checkpoint; a restart replays up to that many intervals.
 */
export function captureCheckpoint(processors: Iterable<PartitionProcessor>, host: ActorHost, writeEvery = 1): CheckpointWrite & { timers: TimerChange[] } {
  const list = [...processors];
  const patternSets = new Map<number, string>();
  for (const p of list) patternSets.set(p.patterns.revision, p.patterns.documentsText);
  const actors = host.captureDirty(writeEvery - 1);
  const epoch = host.captures;
  const partitions = list.map((p) => p.checkpointState(epoch, host.deferredSince(p.partition)));
  // Before releaseTombstones adds its deletes: those users have no timer changes waiting.
  const timers = list.flatMap((p) => p.timers.capture((userId) => actors.has(userId)));
  for (const c of partitions) host.releaseTombstones(c.partition, c.seq, actors);
  return { partitions, actors, patternSets, timers };
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
