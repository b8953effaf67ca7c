import type { SessionLedger, EventRefJson } from '../../actors/index.js';
import type { PartitionCounters } from '../store/index.js';

/**
 * What the inspection service and the CLI say to each other: JSON request and response bodies of
 * the `nudge.>` endpoints (subjects in src/nats/subjects.ts, `Inspect`). Errors come back the
 * micro-service way: `Nats-Service-Error-Code` (400 bad request, 500 internal) and a description.
 */

export interface ActorShowRequest {
  userId: string;
}

export interface EventView extends Pick<EventRefJson, 'seq' | 'eventTime' | 'eventType' | 'productId' | 'categoryId' | 'categoryCode' | 'price'> {
  /** The stage of the pattern that took this event. */
  stage?: string;
}

export interface RunView {
  /** The pattern's key this run belongs to ('' when keyed by user). */
  key: string;
  /** Stage reached: the one that took the run's last event. */
  stage: string;
  stageIndex: number;
  /** Events taken at that stage, and how many it needs (lo) / may take (hi, null = unbounded). */
  count: number;
  needs: number;
  mayTake: number | null;
  stages: number;
  events: EventView[];
  /** Event time of the first event; the time limit is counted from here. */
  startedAt: number;
  /** t0 + within: after this the run is over (or, when it waits on an absence, it completes). */
  deadline: number | null;
  /** Everything before the trailing absence is matched: the run completes at its deadline unless a forbidden event comes. */
  awaitingAbsence: boolean;
  /** What the run waits for next, in words. */
  next: string;
}

export interface CapView {
  /** The cap key (the `per` expression's value; '' without `per`). */
  key: string;
  /** Event times of the actions counted. */
  sent: number[];
  max: number;
  windowMs: number;
  /** While `sent` within the window reaches max: when the oldest leaves the window (event time). */
  heldUntil: number | null;
}

export interface PatternStateView {
  patternId: string;
  /** Version the actor's partial matches belong to. */
  version: number;
  /** The pattern in force in the user's partition, or null when it is not (its state is dropped at the next wake). */
  inForce: { version: number; mode: 'live' | 'shadow'; within: string | null } | null;
  /** The runs belong to another version than the one in force: they are dropped, never mixed. */
  stale: boolean;
  runs: RunView[];
  caps: CapView[];
  /** Earliest absence deadline (decides a match), and when every run has run out of time. */
  absenceDeadline: number | null;
  expiresAt: number | null;
}

export interface TypeCapView {
  /** The action type (`shadow:<type>` for shadow patterns). */
  ledger: string;
  sent: number[];
  windowMs: number;
}

export interface DeadlineView {
  at: number;
  what: string;
}

export interface PartitionBrief {
  partition: number;
  worker: string;
  /** Last stream sequence applied, and the last one covered by a committed checkpoint. */
  seq: number;
  checkpointedSeq: number;
  maxEventTime: number;
  /** Event time the partition has reached (max event time − allowed out-of-orderness); null before any event. */
  watermark: number | null;
  maxOutOfOrderMs: number;
  patternRevision: number;
}

export interface ActorShowResponse {
  userId: string;
  partition: number;
  /** live: in memory; passivated: only in its persisted form (memory or LMDB); none: the actor holds nothing. */
  status: 'live' | 'passivated' | 'none';
  machine: { value: string; context: unknown; status: string } | null;
  /** The open session's ledger (counts, revenue, times), and when it ends without another event. */
  session: (SessionLedger & { endsAt: number }) | null;
  patterns: PatternStateView[];
  typeCaps: TypeCapView[];
  /** The actor's wake in the partition's timer queue (event time), if any. */
  timer: number | null;
  /** Everything the actor waits for in event time, earliest first. */
  deadlines: DeadlineView[];
  partitionState: PartitionBrief;
}

export interface ActorsListRequest {
  /** Machine state value (idle, browsing, carting, purchased) or `none` (no open session). */
  state?: string;
  limit?: number;
}

export interface ActorListItem {
  userId: string;
  partition: number;
  state: string;
  live: boolean;
  /** Patterns holding partial matches or caps for the user. */
  patterns: string[];
  timer: number | null;
}

export interface ActorsListResponse {
  partition: number;
  worker: string;
  /** Actors matching the filter (before the limit). */
  total: number;
  actors: ActorListItem[];
}

export interface PartitionStats {
  partition: number;
  seq: number;
  checkpointedSeq: number;
  maxEventTime: number;
  watermark: number | null;
  patternRevision: number;
  /** Actors of the partition (each holds a timer), how many are live in memory, how many passivated. */
  actors: number;
  live: number;
  passivated: number;
  counters: PartitionCounters;
  /** Over the last minute (or since the service started, if sooner). */
  eventsPerSec: number;
  actionsPerSec: number;
}

export interface WorkerStats {
  worker: string;
  /** Wall clock of the answer (epoch ms). */
  now: number;
  startedAt: number;
  partitions: PartitionStats[];
  liveActors: number;
  /** Actors in this worker's LMDB (all its partitions), as of the last checkpoint. */
  storedActors: number;
}
