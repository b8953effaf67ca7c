import type { Worker } from 'node:worker_threads';
import { ownedPartitionList, type Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { Engine, type EngineStatus } from './engine.js';
import { startThread, type ToHost, type ToThread } from './thread-service.js';
import { NatsSetupError } from '../nats/index.js';

/** What `nudge run`, the demo and the benchmark drive: one Engine, or a pool of them in threads. */
export interface RunningEngine {
  readonly done: Promise<void>;
  status(): EngineStatus;
  totals(): ReturnType<Engine['totals']>;
  waitForSeq(p: number, seq: number, timeoutMs?: number): Promise<void>;
  /** A checkpoint now (outputs flushed and acknowledged first). */
  checkpoint(): Promise<void>;
  /** Benchmarks only (needs --expose-gc): full GCs in every engine thread, then their status. */
  collectGarbage?(): Promise<void>;
  stop(): Promise<void>;
}

/** What an engine thread reports (engine-thread.ts). */
type ToPool = ToHost<{ status: EngineStatus; totals: ReturnType<Engine['totals']> }>;

/**
 * Starts the engine as `config.workers` worker threads, each an ordinary Engine owning every
 * workers-th partition of this process's share (its own NATS connection, the same LMDB
 * environment: users never cross partitions, so threads never write the same keys). Partitions
 * are the unit of parallelism, as they are across processes. Even one engine runs in a thread, so
 * that it gets the young generation `config.youngGenerationMb` asks for; with 0 and one worker it
 * runs in this thread.
 */
export async function startEngine(config: Config, log: Logger): Promise<RunningEngine> {
  const owned = ownedPartitionList(config);
  if (engineRunsInThisThread(config)) return Engine.start(config, log);
  return EnginePool.start(config, log, owned, threadCount(config, owned));
}

const threadCount = (config: Config, owned: number[]) => Math.max(1, Math.min(config.workers, owned.length));

/** Whether startEngine runs the engine in the calling thread (a profiler or a GC there then reaches it). */
export function engineRunsInThisThread(config: Config): boolean {
  return threadCount(config, ownedPartitionList(config)) === 1 && config.youngGenerationMb === 0;
}

interface Thread {
  worker: Worker;
  status: EngineStatus | null;
  totals: ReturnType<Engine['totals']> | null;
  stopped: boolean;
}

class EnginePool implements RunningEngine {
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (e: Error) => void };
  private stopping = false;
  private readonly callWaiters = new Map<number, () => void>();
  private nextCallId = 0;

  private constructor(
    private readonly threads: Thread[],
    private readonly log: Logger,
  ) {
    this.done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined);
  }

  static async start(config: Config, log: Logger, owned: number[], n: number): Promise<EnginePool> {
    const groups = Array.from({ length: n }, (_, i) => owned.filter((_, k) => k % n === i));
    const threads: Thread[] = [];
    const started: Array<Promise<void>> = [];
    for (const [i, group] of groups.entries()) {
      // The analytics jobs read the whole stream: one thread runs them.
      // A lone thread is the whole worker, as Engine.start would be: its id and partitions as configured.
      const lone = n === 1;
      const threadConfig: Config = {
        ...config,
        ownedPartitions: lone ? config.ownedPartitions : group.join(','),
        workers: 1,
        workerId: lone ? config.workerId : `${config.workerId}-${i}`,
        analytics: i === 0 ? config.analytics : 'off',
      };
      const worker = startThread(new URL('./engine-thread.ts', import.meta.url), threadConfig);
      const t: Thread = { worker, status: null, totals: null, stopped: false };
      threads.push(t);
      started.push(
        new Promise<void>((resolve, reject) => {
          worker.on('message', (m: ToPool) => {
            if (m.type === 'started') resolve();
            else if (m.type === 'failed') reject(startFailure(m, n === 1 ? '' : `engine thread ${i}: `));
          });
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`engine thread ${i} exited (${code}) before starting`)));
        }),
      );
    }
    const pool = new EnginePool(threads, log);
    for (const t of threads) pool.watch(t);
    try {
      await Promise.all(started);
    } catch (e) {
      await Promise.all(threads.map((t) => t.worker.terminate()));
      throw e;
    }
    log.info({ threads: groups.map((g) => g.join(',')) }, 'engine threads started');
    return pool;
  }

  private watch(t: Thread): void {
    t.worker.on('message', (m: ToPool) => {
      if (m.type === 'status') {
        t.status = m.report.status;
        t.totals = m.report.totals;
      } else if (m.type === 'stopped') {
        t.stopped = true;
        if (this.threads.every((x) => x.stopped)) this.settle.resolve();
      } else if (m.type === 'replied') {
        this.callWaiters.get(m.id)?.();
      } else if (m.type === 'failed') {
        this.fail(new Error(m.message));
      }
    });
    t.worker.on('exit', (code) => {
      if (!t.stopped) this.fail(new Error(`an engine thread exited unexpectedly (${code})`));
    });
  }

  /** One thread failing stops the others (their state is safe at their last checkpoints). */
  private fail(e: Error): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.fatal({ err: e }, 'engine thread failed; stopping the others');
    for (const t of this.threads) t.worker.postMessage({ type: 'stop' } satisfies ToThread);
    this.settle.reject(e);
  }

  status(): EngineStatus {
    const all = this.threads.map((t) => t.status).filter((s): s is EngineStatus => s !== null);
    return {
      partitions: all.flatMap((s) => s.partitions).sort((a, b) => a.partition - b.partition),
      liveActors: all.reduce((a, s) => a + s.liveActors, 0),
      evictions: all.reduce((a, s) => a + s.evictions, 0),
      checkpoints: all.reduce((a, s) => a + s.checkpoints, 0),
      outputsInFlight: all.reduce((a, s) => a + s.outputsInFlight, 0),
      heapUsedBytes: all.reduce((a, s) => a + s.heapUsedBytes, 0),
      analytics: all.find((s) => s.analytics)?.analytics ?? null,
    };
  }

  checkpoint(): Promise<void> {
    return this.callAll('checkpoint');
  }

  collectGarbage(): Promise<void> {
    return this.callAll('collectGarbage');
  }

  /** A named call in every thread; resolves when all have replied (each reports its status first). */
  private async callAll(name: string): Promise<void> {
    await Promise.all(
      this.threads.map((t) => {
        const id = this.nextCallId++;
        return new Promise<void>((resolve) => {
          this.callWaiters.set(id, () => {
            this.callWaiters.delete(id);
            resolve();
          });
          t.worker.postMessage({ type: 'call', id, name } satisfies ToThread);
        });
      }),
    );
  }

  totals(): ReturnType<Engine['totals']> {
    const t = { events: 0, dlq: 0, late: 0, ticks: 0, actions: 0, summaries: 0 };
    for (const th of this.threads) if (th.totals) for (const k of Object.keys(t) as Array<keyof typeof t>) t[k] += th.totals[k];
    return t;
  }

  async waitForSeq(p: number, seq: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.status().partitions.find((x) => x.partition === p);
      if (!s && this.threads.every((t) => t.status)) throw new Error(`partition ${p} is not owned by this process`);
      if (s && s.seq >= seq) return;
      if (this.stopping) throw new Error('engine stopped');
      if (Date.now() > deadline) throw new Error(`partition ${p} did not reach seq ${seq} within ${timeoutMs} ms (at ${s?.seq})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      for (const t of this.threads) t.worker.postMessage({ type: 'stop' } satisfies ToThread);
    }
    return this.done;
  }
}

/** A thread's failure to start, as the error Engine.start would have thrown in this thread. */
function startFailure(m: { message: string; code?: string }, prefix: string): Error {
  if (m.code !== undefined) return new NatsSetupError(m.code as NatsSetupError['code'], prefix + m.message);
  return new Error(prefix + m.message);
}
