import type { Config } from '../config/index.js';
import type { CheckpointStore } from '../store/index.js';
import type { ActorHost } from '../runtime/actor-host.js';
import type { PartitionProcessor } from '../runtime/partition-processor.js';

/**
 * What the inspection service reads of one engine. Only reads: an actor is looked at through
 * `host.peek` (its persisted form, live or passivated), never through a delivery, so inspecting
 * a passivated actor leaves it passivated. Handlers run between two messages on the engine's
 * event loop, so what they read is one consistent cut.
 */
export interface InspectTarget {
  config: Pick<Config, 'workerId' | 'partitions' | 'maxOutOfOrderMs'>;
  host: Pick<ActorHost, 'peek' | 'isLive' | 'liveCount' | 'liveUserIds'>;
  store: Pick<CheckpointStore, 'scanActors' | 'actorCount'>;
  /** Owned partitions, in order. */
  owned(): number[];
  lane(partition: number): InspectLane | undefined;
}

export interface InspectLane {
  processor: Pick<PartitionProcessor, 'partition' | 'seq' | 'maxEventTime' | 'watermark' | 'counters' | 'patterns' | 'timers'>;
  checkpointedSeq: number;
}
