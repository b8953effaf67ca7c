import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { Logger } from '../log/index.js';
import { Inspect, isSubjectToken, partitionOf } from '../nats/subjects.js';
import { PROJECT_ROOT } from '../nats/embedded-server.js';
import { describeActor } from './actor-view.js';
import type { InspectLane, InspectTarget } from './inspect-target.js';
import type { ActorListItem, ActorsListRequest, ActorsListResponse, ActorShowRequest, ActorShowResponse, PartitionBrief, PartitionStats, WorkerStats } from './protocol.js';
import type { PersistedActor } from '../runtime/index.js';

/** Rates are over the last minute: counters are sampled this often and kept this long. */
const SAMPLE_MS = 5_000;
const RATE_WINDOW_MS = 60_000;
const MAX_LIST = 10_000;

class BadRequest extends Error {}

export interface InspectService {
  readonly id: string;
  stop(): Promise<void>;
}

interface Sample {
  at: number;
  counts: Map<number, { events: number; actions: number }>;
}

/**
 * The engine's inspection service: a NATS micro service named `nudge` (one instance per engine),
 * whose per-partition endpoints (`nudge.actor.show.<p>`, `nudge.actors.list.<p>`) exist only on
 * the worker that owns partition p, and whose `nudge.stats` every worker answers. Handlers only
 * read (see InspectTarget) and are synchronous, so each answer is a consistent cut between two
 * messages of the partition.
 */
export async function startInspectService(nc: NatsConnection, target: InspectTarget, log: Logger): Promise<InspectService> {
  const owned = target.owned();
  // @nats-io/services is built against an older nats-core whose NatsConnection type differs only
  // in header typing; at run time it uses nothing but the connection's public API.
  const svcm = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]);
  const service: Service = await svcm.add({
    name: Inspect.service,
    version: serviceVersion(),
    description: 'Nudge inspection: actors, partial matches, timers, per-partition stats',
    metadata: { worker: target.config.workerId, partitions: owned.join(','), partitionCount: String(target.config.partitions) },
    // No queue group: a partition's endpoints have one owner anyway, and every worker must answer stats.
    // (The library reads an endpoint's empty queue as "use the service's", so it is set here.)
    queue: '',
  });
  const startedAt = Date.now();
  const samples: Sample[] = [sample(target, startedAt)];
  const sampler = setInterval(() => {
    const now = Date.now();
    samples.push(sample(target, now));
    while (samples.length > 2 && samples[1]!.at <= now - RATE_WINDOW_MS) samples.shift();
  }, SAMPLE_MS);
  sampler.unref();

  const answer = (what: string, fn: (msg: ServiceMsg) => unknown) => (err: Error | null, msg: ServiceMsg) => {
    if (err) {
      log.warn({ err: err.message, endpoint: what }, 'inspection endpoint error');
      return;
    }
    try {
      msg.respond(JSON.stringify(fn(msg)));
    } catch (e) {
      if (e instanceof BadRequest) msg.respondError(400, e.message);
      else {
        log.error({ err: e, endpoint: what }, 'inspection request failed');
        msg.respondError(500, (e as Error).message);
      }
    }
  };

  for (const p of owned) {
    service.addEndpoint(`actor-show-${p}`, {
      subject: Inspect.actorShow(p),
      metadata: { partition: String(p) },
      handler: answer('actor.show', (msg) => showActor(target, p, body<ActorShowRequest>(msg))),
    });
    service.addEndpoint(`actors-list-${p}`, {
      subject: Inspect.actorsList(p),
      metadata: { partition: String(p) },
      handler: answer('actors.list', (msg) => listActors(target, p, body<ActorsListRequest>(msg))),
    });
  }
  service.addEndpoint('stats', { subject: Inspect.stats, handler: answer('stats', () => workerStats(target, startedAt, samples)) });

  log.info({ service: Inspect.service, id: service.info().id, partitions: owned }, 'inspection service started');
  return {
    id: service.info().id,
    async stop() {
      clearInterval(sampler);
      if (!service.isStopped) await service.stop().catch(() => undefined);
    },
  };
}

function body<T>(msg: ServiceMsg): Partial<T> {
  if (msg.data.length === 0) return {};
  try {
    const v = msg.json<unknown>();
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Partial<T>;
  } catch {
    // fall through
  }
  throw new BadRequest('the request body must be a JSON object');
}

function laneOf(target: InspectTarget, p: number): InspectLane {
  const lane = target.lane(p);
  if (!lane) throw new BadRequest(`partition ${p} is not owned by worker ${target.config.workerId}`);
  return lane;
}

function brief(target: InspectTarget, p: number, lane: InspectLane): PartitionBrief {
  const proc = lane.processor;
  return {
    partition: p,
    worker: target.config.workerId,
    seq: proc.seq,
    checkpointedSeq: lane.checkpointedSeq,
    maxEventTime: proc.maxEventTime,
    watermark: Number.isFinite(proc.watermark) ? proc.watermark : null,
    maxOutOfOrderMs: target.config.maxOutOfOrderMs,
    patternRevision: proc.patterns.revision,
  };
}

export function showActor(target: InspectTarget, p: number, req: Partial<ActorShowRequest>): ActorShowResponse {
  const userId = req.userId;
  if (typeof userId !== 'string' || !isSubjectToken(userId)) throw new BadRequest('userId must be a subject token (A-Z a-z 0-9 _ -)');
  const home = partitionOf(userId, target.config.partitions);
  if (home !== p) throw new BadRequest(`user ${userId} belongs to partition ${home}, not ${p}`);
  const lane = laneOf(target, p);
  // peek, never deliver: a passivated actor stays passivated.
  const persisted = target.host.peek(userId);
  const status = persisted === null ? 'none' : target.host.isLive(userId) ? 'live' : 'passivated';
  return describeActor(userId, persisted, status, lane.processor.patterns, timerOf(lane, userId, persisted), brief(target, p, lane));
}

/** The user's pending timer: in memory when due soon or just changed, else as its stored form says. */
function timerOf(lane: InspectLane, userId: string, persisted: PersistedActor | null): number | null {
  return lane.processor.timers.get(userId) ?? persisted?.due ?? null;
}

export function listActors(target: InspectTarget, p: number, req: Partial<ActorsListRequest>): ActorsListResponse {
  const lane = laneOf(target, p);
  const limit = req.limit === undefined ? 100 : req.limit;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST) throw new BadRequest(`limit must be an integer from 1 to ${MAX_LIST}`);
  if (req.state !== undefined && typeof req.state !== 'string') throw new BadRequest('state must be a string');
  // Every actor that waits for anything in event time holds a timer; the store adds any that wait for nothing.
  const ids = new Set<string>();
  for (const userId of lane.processor.timers.userIds()) ids.add(userId);
  for (const { userId } of target.store.scanActors()) if (partitionOf(userId, target.config.partitions) === p) ids.add(userId);
  const actors: ActorListItem[] = [];
  let total = 0;
  for (const userId of [...ids].sort()) {
    const persisted = target.host.peek(userId);
    if (!persisted) continue;
    const state = persisted.session ? String((persisted.session.machine as { value?: unknown } | null)?.value ?? 'unknown') : 'none';
    if (req.state !== undefined && state !== req.state) continue;
    total++;
    if (actors.length >= limit) continue;
    const patterns = Object.keys(persisted.cep ?? {}).sort();
    actors.push({ userId, partition: p, state, live: target.host.isLive(userId), patterns, timer: timerOf(lane, userId, persisted) });
  }
  return { partition: p, worker: target.config.workerId, total, actors };
}

function sample(target: InspectTarget, at: number): Sample {
  const counts = new Map<number, { events: number; actions: number }>();
  for (const p of target.owned()) {
    const c = target.lane(p)?.processor.counters;
    if (c) counts.set(p, { events: c.events, actions: c.actions });
  }
  return { at, counts };
}

export function workerStats(target: InspectTarget, startedAt: number, samples: Sample[]): WorkerStats {
  const now = Date.now();
  // The oldest sample still inside the last minute (the first one, while the service is younger).
  const base = samples.find((s) => s.at >= now - RATE_WINDOW_MS - SAMPLE_MS / 2) ?? samples[0]!;
  const dt = (now - base.at) / 1000;
  const partitions: PartitionStats[] = [];
  for (const p of target.owned()) {
    const lane = target.lane(p);
    if (!lane) continue;
    const proc = lane.processor;
    // Every actor waiting for something holds one timer; those due soon are in memory, the rest in LMDB.
    const actors = proc.timers.size;
    let live = 0;
    for (const userId of target.host.liveUserIds()) if (partitionOf(userId, target.config.partitions) === p) live++;
    const then = base.counts.get(p) ?? { events: 0, actions: 0 };
    const rate = (n: number) => (dt >= 0.5 ? Math.round((n / dt) * 10) / 10 : 0);
    partitions.push({
      partition: p,
      seq: proc.seq,
      checkpointedSeq: lane.checkpointedSeq,
      maxEventTime: proc.maxEventTime,
      watermark: Number.isFinite(proc.watermark) ? proc.watermark : null,
      patternRevision: proc.patterns.revision,
      actors,
      live,
      passivated: actors - live,
      counters: { ...proc.counters },
      eventsPerSec: rate(proc.counters.events - then.events),
      actionsPerSec: rate(proc.counters.actions - then.actions),
    });
  }
  return { worker: target.config.workerId, now, startedAt, partitions, liveActors: target.host.liveCount, storedActors: target.store.actorCount() };
}

let version: string | undefined;
function serviceVersion(): string {
  if (version) return version;
  try {
    version = String((JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '0.0.0');
  } catch {
    version = '0.0.0';
  }
  return version;
}
