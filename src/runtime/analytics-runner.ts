import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { open, type RootDatabase } from 'lmdb';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { connectNats, Streams, Subjects, CONSUME_EXPIRES_MS } from '../nats/index.js';
import { OutputSink } from './output-sink.js';
import { AnalyticsPipeline, type AnalyticsCounters, type AnalyticsState } from './analytics-pipeline.js';
import type { Output } from './partition-processor.js';
import { startThread, type ToHost, type ToThread } from './thread-service.js';

export interface AnalyticsStatus {
  seq: number;
  checkpointedSeq: number;
  maxEventTime: number;
  watermark: number;
  counters: AnalyticsCounters;
  /** Open (window, key) states per job. */
  windows: Record<string, number>;
  checkpoints: number;
  outputsInFlight: number;
}

/** What the engine holds: the runner in this thread, or in a thread of its own. */
export interface AnalyticsHandle {
  status(): AnalyticsStatus;
  stop(): Promise<void>;
  /** Settles when the runner stops; rejects if it stopped on an error. */
  readonly done: Promise<void>;
}

/** How long a graceful stop lets the runner catch up with the stream before its last checkpoint. */
const STOP_CATCH_UP_MS = 10_000;
/** How long the thread keeps trying its first connect (the engine beside it is already up). */
const ANALYTICS_CONNECT_RETRY_MS = 30_000;

// ------------------------------------------------------------------ checkpoint storage

/** `<dataDir>/analytics.lmdb`: the runner's own environment, apart from the partitions' state.lmdb. */
export const analyticsStorePath = (dataDir: string) => join(dataDir, 'analytics.lmdb');

const STATE_KEY = 'state';
const jobKey = (name: string) => `job:${name}`;

/**
 * One LMDB environment, one checkpoint in it: `state` (offset, event time, counters) and one
 * `job:<name>` per job (its snapshot), all JSON text, written in one transaction.
 */
class AnalyticsStore {
  private constructor(private readonly root: RootDatabase<string, string>) {}

  static open(dataDir: string): AnalyticsStore {
    mkdirSync(dataDir, { recursive: true });
    return new AnalyticsStore(open<string, string>({ path: analyticsStorePath(dataDir), encoding: 'string', compression: false }));
  }

  load(): AnalyticsState | undefined {
    const text = this.root.get(STATE_KEY);
    if (text === undefined) return undefined;
    const state = JSON.parse(text) as AnalyticsState;
    const names = Object.keys(state.jobs ?? {});
    const jobs: Record<string, unknown> = {};
    for (const n of names) {
      const j = this.root.get(jobKey(n));
      if (j !== undefined) jobs[n] = JSON.parse(j);
    }
    return { ...state, jobs };
  }

  /** `state` lists the jobs (their snapshots are stored beside it) so a reader knows what to load. */
  commit(state: string, jobs: Map<string, string>): Promise<boolean> {
    return this.root.transaction(() => {
      for (const [name, snap] of jobs) this.root.put(jobKey(name), snap);
      this.root.put(STATE_KEY, state);
      return true;
    });
  }

  close(): Promise<void> {
    return this.root.close();
  }
}

/** The committed checkpoint's offset and counters, readable by another process while a runner writes (tests, tools). */
export async function readAnalyticsCheckpoint(dataDir: string): Promise<{ seq: number; counters: AnalyticsCounters } | undefined> {
  if (!existsSync(analyticsStorePath(dataDir))) return undefined;
  const root = open<string, string>({ path: analyticsStorePath(dataDir), encoding: 'string', compression: false, readOnly: true });
  try {
    const text = root.get(STATE_KEY);
    if (text === undefined) return undefined;
    const s = JSON.parse(text) as AnalyticsState;
    return { seq: s.seq, counters: s.counters };
  } finally {
    await root.close();
  }
}

// ------------------------------------------------------------------ runner

/**
 * The built-in analytics jobs, live: ONE ordered consumer over the whole EVENTS stream
 * (`events.*.*.*`), so the input order is the stream order and every result is a pure function of
 * the stream. Results go to `analytics.<job>` and late items to `analytics.late` through an
 * OutputSink, `Nats-Msg-Id` = the result's deterministic id. A checkpoint is one LMDB transaction
 * in `<dataDir>/analytics.lmdb` holding the stream sequence and every job's snapshot, committed
 * only after the outputs it covers are acknowledged: after a crash the runner restores it,
 * resumes at seq + 1, and republishes what it had sent since with the same ids, which JetStream
 * drops as duplicates. So a window is neither lost nor emitted twice.
 */
export class AnalyticsRunner implements AnalyticsHandle {
  private messages?: ConsumerMessages;
  private readonly timers: NodeJS.Timeout[] = [];
  private checkpointing: Promise<void> | null = null;
  private checkpointedSeq: number;
  private sinceCheckpoint = 0;
  private checkpoints = 0;
  private stopping = false;
  private stopped = false;
  private readonly out: Output[] = [];
  /** Settles when the runner stops; rejects if it stopped on an error. */
  readonly done: Promise<void>;
  private settle!: (e?: Error) => void;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly nc: NatsConnection,
    private readonly store: AnalyticsStore,
    private readonly pipeline: AnalyticsPipeline,
    private readonly sink: OutputSink,
    private readonly onFail: ((e: Error) => void) | undefined,
  ) {
    this.checkpointedSeq = pipeline.seq;
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = (e) => (e ? reject(e) : resolve());
    });
    this.done.catch(() => undefined);
  }

  /**
   * Restores the last checkpoint and starts consuming at its seq + 1. The EVENTS and ANALYTICS
   * streams must exist (the engine ensures them first). `onFail` hears of an error that stopped it.
   */
  static async start(config: Config, log: Logger, onFail?: (e: Error) => void): Promise<AnalyticsRunner> {
    const pipeline = new AnalyticsPipeline(config);
    const store = AnalyticsStore.open(config.dataDir);
    let nc: NatsConnection | undefined;
    try {
      const saved = store.load();
      if (saved) {
        try {
          pipeline.restore(saved);
        } catch (e) {
          throw new Error(`${analyticsStorePath(config.dataDir)}: ${(e as Error).message}; to start the analytics over, stop nudge and remove that file`, { cause: e });
        }
      }
      // The engine is already running: a server restart while this thread starts is waited out like a reconnect.
      nc = await connectNats(config.natsUrl, `nudge-analytics-${config.workerId}`, ANALYTICS_CONNECT_RETRY_MS);
      const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
      const sink = new OutputSink(nc, log, Math.max(1024, maxPayload - 4096));
      const runner = new AnalyticsRunner(config, log, nc, store, pipeline, sink, onFail);
      installFaults(sink);
      await runner.consume();
      return runner;
    } catch (e) {
      await nc?.close().catch(() => undefined);
      await store.close();
      throw e;
    }
  }

  private async consume(): Promise<void> {
    const from = this.pipeline.seq;
    const consumer = await jetstream(this.nc).consumers.get(Streams.events, {
      filter_subjects: Subjects.eventsStreamSubjects[0],
      ...(from > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
    this.messages = await consumer.consume({ callback: (m) => this.onMessage(m), expires: CONSUME_EXPIRES_MS });
    this.timers.push(setInterval(() => void this.checkpoint().catch((e) => this.fail(e)), this.config.checkpointIntervalMs));
    this.log.info({ from: from + 1, store: analyticsStorePath(this.config.dataDir), jobs: this.pipeline.jobs.map((j) => j.name) }, 'analytics started');
  }

  private onMessage(m: JsMsg): void {
    if (this.stopped) return;
    const out = this.out;
    try {
      this.pipeline.process({ seq: m.seq, subject: m.subject, data: m.data }, out);
    } catch (e) {
      // A bug, not data (the pipeline skips bad input): state may be half-applied, so stop at the
      // last checkpoint rather than publish from it.
      out.length = 0;
      return this.fail(e);
    }
    for (const o of out) this.sink.send(o);
    out.length = 0;
    if (++this.sinceCheckpoint >= this.config.checkpointEveryEvents) void this.checkpoint().catch((e) => this.fail(e));
  }

  /** One LMDB transaction: offset, counters and every job's snapshot, after the outputs they imply are acked. */
  checkpoint(): Promise<void> {
    if (this.checkpointing) return this.checkpointing;
    this.sinceCheckpoint = 0;
    if (this.pipeline.seq === this.checkpointedSeq) return Promise.resolve();
    // The cut is taken now, between two messages; encoding it now means later input cannot change it.
    const cut = this.pipeline.snapshot();
    const jobs = new Map<string, string>();
    for (const [name, snap] of Object.entries(cut.jobs)) jobs.set(name, JSON.stringify(snap));
    const state = JSON.stringify({ ...cut, jobs: Object.fromEntries([...jobs.keys()].map((k) => [k, true])) });
    const run = (async () => {
      await this.sink.flush();
      await this.store.commit(state, jobs);
      this.checkpointedSeq = cut.seq;
      this.checkpoints++;
    })();
    this.checkpointing = run.finally(() => {
      this.checkpointing = null;
    });
    return this.checkpointing;
  }

  status(): AnalyticsStatus {
    return {
      seq: this.pipeline.seq,
      checkpointedSeq: this.checkpointedSeq,
      maxEventTime: this.pipeline.maxEventTime,
      watermark: this.pipeline.watermark,
      counters: { ...this.pipeline.counters },
      windows: this.pipeline.windowCounts(),
      checkpoints: this.checkpoints,
      outputsInFlight: this.sink.pending,
    };
  }

  /** Resolves once the runner has applied stream sequence `seq` (or beyond). */
  async waitForSeq(seq: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pipeline.seq < seq) {
      if (this.stopped) throw new Error('analytics stopped');
      if (Date.now() > deadline) throw new Error(`analytics did not reach seq ${seq} within ${timeoutMs} ms (at ${this.pipeline.seq})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Graceful stop: first a bounded catch-up to the stream's last message (a worker stopped after
   * its input ended publishes the windows that input closes), then a final checkpoint. Never throws;
   * what went wrong is logged, and the state stays safe at the last checkpoint.
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.done.catch(() => undefined);
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    try {
      const last = (await (await jetstreamManager(this.nc)).streams.info(Streams.events)).state.last_seq;
      await this.waitForSeq(last, STOP_CATCH_UP_MS);
    } catch (e) {
      if (!this.stopped) this.log.warn({ err: (e as Error).message, seq: this.pipeline.seq }, 'analytics stops before the end of the stream');
    }
    if (this.stopped) return this.done.catch(() => undefined); // failed meanwhile
    this.stopped = true;
    this.messages?.stop();
    let error: Error | undefined;
    try {
      await this.checkpoint();
      if (this.checkpointing) await this.checkpointing;
      await this.sink.flush();
    } catch (e) {
      error = e as Error;
      this.log.error({ err: e }, 'analytics: final checkpoint failed (state is safe at the previous one)');
    } finally {
      this.sink.close();
      await this.store.close().catch(() => undefined);
      await this.nc.drain().catch(() => undefined);
      this.log.info({ ...this.pipeline.counters, seq: this.pipeline.seq, checkpoints: this.checkpoints }, 'analytics stopped');
      this.settle(error);
    }
  }

  private fail(e: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.log.fatal({ err: e }, 'analytics failed; stopping (state is safe at the last checkpoint)');
    for (const t of this.timers) clearInterval(t);
    this.messages?.stop();
    this.sink.close();
    // The LMDB environment stays open: a checkpoint in flight may still be waiting on it, and it
    // commits nothing the acks did not cover.
    void this.nc.close().catch(() => undefined).finally(() => {
      this.settle(e as Error);
      this.onFail?.(e as Error);
    });
  }
}


const emptyStatus = (): AnalyticsStatus => ({
  seq: 0,
  checkpointedSeq: 0,
  maxEventTime: -1,
  watermark: Number.NEGATIVE_INFINITY,
  counters: { events: 0, skipped: 0, ticks: 0, results: 0, late: 0 },
  windows: {},
  checkpoints: 0,
  outputsInFlight: 0,
});

/**
 * The AnalyticsRunner in a worker thread (analytics-thread.ts): it reads every partition, and on
 * the engine's event loop it would both slow the partitions down and be starved by them (measured:
 * beside a busy engine it got ~100 messages a second). The runner keeps its own NATS connection
 * and LMDB environment, so nothing is shared; the thread posts its status every 50 ms.
 */
export class AnalyticsThread implements AnalyticsHandle {
  private last: AnalyticsStatus = emptyStatus();
  private stopping: Promise<void> | null = null;
  private finished = false;
  readonly done: Promise<void>;
  private settle!: (e?: Error) => void;

  private constructor(
    private readonly worker: Worker,
    private readonly log: Logger,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = (e) => {
        if (this.finished) return;
        this.finished = true;
        if (e) reject(e);
        else resolve();
      };
    });
    this.done.catch(() => undefined);
  }

  /**
   * Starts the thread and returns at once: starting it (tsx, the restore) takes a second or more,
   * and the engine need not wait for it. `onFail` hears of any failure, at start or later, unless
   * stop() was called first.
   */
  static start(config: Config, log: Logger, onFail?: (e: Error) => void): AnalyticsThread {
    const worker = startThread(new URL('./analytics-thread.ts', import.meta.url), config);
    const t = new AnalyticsThread(worker, log);
    worker.on('message', (m: ToHost<AnalyticsStatus>) => {
      if (m.type === 'status') t.last = m.report;
      else if (m.type === 'stopped') t.settle();
      else if (m.type === 'failed') t.settle(new Error(`analytics: ${m.message}`));
    });
    worker.on('error', (e) => t.settle(e));
    worker.once('exit', (code) => t.settle(new Error(`the analytics thread exited (${code})`)));
    t.done.catch((e: Error) => {
      if (t.stopping) return;
      log.fatal({ err: e }, 'analytics failed');
      onFail?.(e);
    });
    return t;
  }

  status(): AnalyticsStatus {
    return this.last;
  }

  /** The runner's graceful stop (bounded catch-up, final checkpoint), then the thread ends. Never throws. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.finished) this.worker.postMessage({ type: 'stop' } satisfies ToThread);
      const timeout = new Promise<'timeout'>((r) => setTimeout(r, STOP_CATCH_UP_MS + 20_000, 'timeout').unref());
      const how = await Promise.race([this.done.then(() => 'stopped' as const, () => 'failed' as const), timeout]);
      if (how === 'timeout') this.log.error('analytics thread did not stop in time; terminating it (state is safe at its last checkpoint)');
      await this.worker.terminate();
    })();
    return this.stopping;
  }
}

/**
 * Fault injection for the crash tests, off unless the variable is set:
 * NUDGE_FAULT_KILL_AFTER_ANALYTICS=N SIGKILLs this process right after the N-th acknowledged
 * analytics output, i.e. after a result reached the stream and before a checkpoint could cover it.
 */
function installFaults(sink: OutputSink): void {
  const n = Number(process.env.NUDGE_FAULT_KILL_AFTER_ANALYTICS ?? '');
  if (!Number.isInteger(n) || n <= 0) return;
  sink.onAcked = (_o, count) => {
    if (count >= n) process.kill(process.pid, 'SIGKILL');
  };
}
