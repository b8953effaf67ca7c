import { NoRespondersError, RequestError, TimeoutError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { ServiceErrorCodeHeader, ServiceErrorHeader } from '@nats-io/services';
import { Inspect, partitionOf } from '../nats/subjects.js';
import type { ActorShowResponse, ActorsListRequest, ActorsListResponse, WorkerStats } from './protocol.js';

export type InspectFailure = 'no-owner' | 'timeout' | 'bad-request' | 'failed';

export class InspectError extends Error {
  constructor(
    readonly kind: InspectFailure,
    message: string,
  ) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 5_000;

/**
 * The CLI's side of the inspection service: a request about a user goes to the subject of the
 * user's partition (the same partition function as the server's mapping), where only the worker
 * owning it listens; stats are gathered from every worker.
 */
export class InspectClient {
  constructor(
    private readonly nc: NatsConnection,
    readonly partitions: number,
  ) {}

  partitionOf(userId: string): number {
    return partitionOf(userId, this.partitions);
  }

  show(userId: string): Promise<ActorShowResponse> {
    return this.request<ActorShowResponse>(Inspect.actorShow(this.partitionOf(userId)), { userId });
  }

  list(partition: number, req: ActorsListRequest): Promise<ActorsListResponse> {
    return this.request<ActorsListResponse>(Inspect.actorsList(partition), req);
  }

  /** Every worker's answer, gathered until they go quiet. */
  async stats(maxWaitMs = 3_000): Promise<WorkerStats[]> {
    const out: WorkerStats[] = [];
    let replies: AsyncIterable<Msg>;
    try {
      replies = await this.nc.requestMany(Inspect.stats, '{}', { strategy: 'stall', stall: 500, maxWait: maxWaitMs });
    } catch (e) {
      if (isNoResponders(e)) return out;
      throw e;
    }
    try {
      for await (const m of replies) {
        if (m.data.length === 0) continue; // a no-responders status
        const err = serviceError(m);
        if (err) throw new InspectError('failed', `a worker could not answer stats: ${err}`);
        out.push(m.json<WorkerStats>());
      }
    } catch (e) {
      if (!isNoResponders(e)) throw e;
    }
    return out.sort((a, b) => (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0));
  }

  private async request<T>(subject: string, body: unknown): Promise<T> {
    let m: Msg;
    try {
      m = await this.nc.request(subject, JSON.stringify(body), { timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
      if (isNoResponders(e)) throw new InspectError('no-owner', `no worker answers on ${subject}: is an engine running (\`nudge run\`) that owns this partition? (\`nudge stats\` lists the owners)`);
      if (e instanceof TimeoutError || (e instanceof RequestError && e.cause instanceof TimeoutError)) {
        throw new InspectError('timeout', `the worker on ${subject} did not answer within ${REQUEST_TIMEOUT_MS} ms`);
      }
      throw e;
    }
    const err = serviceError(m);
    if (err) {
      const code = m.headers?.get(ServiceErrorCodeHeader);
      throw new InspectError(code === '400' ? 'bad-request' : 'failed', err);
    }
    return m.json<T>();
  }
}

function serviceError(m: Msg): string | null {
  const code = m.headers?.get(ServiceErrorCodeHeader);
  if (!code) return null;
  return m.headers?.get(ServiceErrorHeader) || `error ${code}`;
}

function isNoResponders(e: unknown): boolean {
  if (e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders())) return true;
  const cause = (e as { cause?: unknown })?.cause;
  return cause instanceof NoRespondersError;
}
