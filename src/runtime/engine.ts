import { getHeapStatistics } from 'node:v8';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, DeliverPolicy, type JetStreamClient, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { ownedPartitionList, type Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { startInspectService, type InspectService } from '../service/index.js';
import { connectNats, requireJetStream, ensureStreams, verifyPartitionMapping, Streams, Subjects, CONSUME_EXPIRES_MS } from '../nats/index.js';
import { openCheckpointStore, type CheckpointStore, type PartitionCheckpoint } from '../store/index.js';
import { ActorHost } from './actor-host.js';
import { PartitionProcessor, type Output } from './partition-processor.js';
import { captureCheckpoint, checkpointCommitted, restoreProcessors } from './checkpoint.js';
import { OutputSink } from './output-sink.js';
import { loadPatternDir, PatternSet } from '../cep/index.js';
import { PatternRegistry } from '../pattern-store/index.js';
import { AnalyticsThread, type AnalyticsHandle, type AnalyticsStatus } from './analytics-runner.js';

export interface PartitionStatus {
  partition: number;
  seq: number;
  checkpointedSeq: number;
  maxEventTime: number;
  watermark: number;
  pendingTimers: number;
  /** Of those, the ones held in memory (due within timerSpanMs of the watermark); the rest are in LMDB. */
  timersInMemory: number;
  patternRevision: number;
  counters: PartitionCheckpoint['counters'];
  /** Events and dead letters applied again since the start that the restored counters already held. */
  replayed: number;
}

export interface EngineStatus {
  partitions: PartitionStatus[];
  liveActors: number;
  evictions: number;
  checkpoints: number;
  outputsInFlight: number;
  /** The engine's V8 heap in use (its thread's isolate; summed over a pool's threads). */
  heapUsedBytes: number;
  analytics?: AnalyticsStatus | null;
}

interface Lane {
  processor: PartitionProcessor;
  messages?: ConsumerMessages;
  checkpointedSeq: number;
  lastInputWall: number;
  /** Wall time when event time last moved: idle ticks advance event time by the wall time since. */
  lastAdvanceWall: number;
  lastMaxEventTime: number;
  tickInFlight: boolean;
}

/**
 * A worker: owns a set of partitions, consumes each with an ordered consumer from its checkpoint,
 * applies messages through its PartitionProcessor, publishes outputs, and checkpoints everything
 * into LMDB in one transaction (after the outputs it covers are acknowledged).
 */
export class Engine {
  private readonly lanes = new Map<number, Lane>();
  private readonly timers: NodeJS.Timeout[] = [];
  private inspect: InspectService | null = null;
  private checkpointing: Promise<void> | null = null;
  private sinceCheckpoint = 0;
  private checkpoints = 0;
  private stopped = false;
  private failure: ((e: Error) => void) | null = null;
  private analytics: AnalyticsHandle | null = null;
  /** Settles when the engine stops; rejects if it had to stop on an unrecoverable error. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly store: CheckpointStore,
    private readonly host: ActorHost,
    private readonly sink: OutputSink,
    private registry: PatternRegistry | null,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.failure = reject;
    });
    this.done.catch(() => undefined);
  }

  static async start(config: Config, log: Logger): Promise<Engine> {
    const nc = await connectNats(config.natsUrl, `nudge-engine-${config.workerId}`);
    try {
      const jsm = await requireJetStream(nc);
      const changes = await ensureStreams(jsm, config);
      if (changes.length) log.info({ changes }, 'streams ready');
      await verifyPartitionMapping(nc, config.partitions);
      const store = openCheckpointStore(config.dataDir);
      const host = new ActorHost(store, config.liveActorCap, PatternSet.empty());
      const js = jetstream(nc);
      const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
      const sink = new OutputSink(nc, log, Math.max(1024, maxPayload - 4096));
      const engine = new Engine(config, log, nc, js, store, host, sink, null);
      if (config.patternSource === 'kv') {
        engine.registry = await PatternRegistry.start(nc, { seedDir: config.patternsDir, log, onChange: (set) => engine.publishPatterns(set) });
        host.setPatterns(engine.registry.current);
      } else host.setPatterns(loadPatterns(config, log));
      installFaults(sink);
      await engine.open();
      if (config.analytics === 'on' && ownedPartitionList(config).includes(0)) engine.analytics = AnalyticsThread.start(config, log, (e) => engine.fail(e));
      return engine;
    } catch (e) {
      await nc.close();
      throw e;
    }
  }

  private async open(): Promise<void> {
    const owned = ownedPartitionList(this.config);
    const now = Date.now();
    const processors = restoreProcessors(this.store, this.host, owned, {
      partitions: this.config.partitions,
      maxOutOfOrderMs: this.config.maxOutOfOrderMs,
      latePolicy: this.config.latePolicy,
      maxEventBytes: this.config.maxEventBytes,
      timerSpanMs: this.config.timerSpanMs,
    });
    for (const processor of processors) {
      this.lanes.set(processor.partition, { processor, checkpointedSeq: processor.seq, lastInputWall: now, lastAdvanceWall: now, lastMaxEventTime: processor.maxEventTime, tickInFlight: false });
    }
    // A partition's first checkpoint records the patterns it starts with, before any input: a
    // crash before its next checkpoint must replay with these, not with whatever is in force then.
    const fresh = owned.filter((p) => this.store.loadPartition(p) === undefined);
    if (fresh.length) {
      const first = fresh.map((p) => this.lanes.get(p)!.processor);
      await this.store.commit(captureCheckpoint(first, this.host));
      checkpointCommitted(first, this.host);
    }
    if (this.registry) this.publishPatterns(this.registry.current);
    for (const [p, lane] of this.lanes) await this.consume(p, lane);
    this.timers.push(setInterval(() => void this.checkpoint().catch((e) => this.fail(e)), this.config.checkpointIntervalMs));
    this.timers.push(setInterval(() => this.tickIdlePartitions(), Math.max(10, Math.floor(this.config.idleTickMs / 2))));
    await this.startInspection();
    this.log.info({ partitions: [...this.lanes.keys()], from: [...this.lanes.values()].map((l) => l.processor.seq + 1), dataDir: this.config.dataDir }, 'engine started');
  }

  /** The `nudge` inspection service (src/service): it only reads, between messages. If it cannot start, the engine runs without it. */
  private async startInspection(): Promise<void> {
    const lane = (p: number) => this.lanes.get(p);
    const owned = () => [...this.lanes.keys()].sort((a, b) => a - b);
    try {
      this.inspect = await startInspectService(this.nc, { config: this.config, host: this.host, store: this.store, owned, lane }, this.log);
    } catch (e) {
      this.log.error({ err: e }, 'inspection service did not start; the engine runs without it');
    }
  }

  private async consume(p: number, lane: Lane): Promise<void> {
    const from = lane.processor.seq;
    const consumer = await this.js.consumers.get(Streams.events, {
      filter_subjects: Subjects.partitionFilter(p),
      ...(from > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
    lane.messages = await consumer.consume({ callback: (m) => this.onMessage(lane, m), expires: CONSUME_EXPIRES_MS });
  }

  private onMessage(lane: Lane, m: JsMsg): void {
    if (this.stopped) return;
    const out: Output[] = [];
    try {
      lane.processor.process({ seq: m.seq, subject: m.subject, data: m.data }, out);
    } catch (e) {
      // A bug must not stall the partition: the message is dead-lettered with the error as reason.
      this.log.error({ err: e, seq: m.seq, subject: m.subject }, 'processing failed');
      out.push({ kind: 'dlq', subject: Subjects.dlq, msgId: `dlq:${m.seq}`, data: m.data, reason: `internal error: ${(e as Error).message}`, sourceSubject: m.subject, sourceSeq: m.seq });
    }
    for (const o of out) this.sink.send(o);
    const now = Date.now();
    lane.lastInputWall = now;
    if (lane.processor.maxEventTime !== lane.lastMaxEventTime) {
      lane.lastMaxEventTime = lane.processor.maxEventTime;
      lane.lastAdvanceWall = now;
      lane.tickInFlight = false;
    }
    if (++this.sinceCheckpoint >= this.config.checkpointEveryEvents) void this.checkpoint().catch((e) => this.fail(e));
  }

  /**
   * Puts a new pattern set into force: a marker carrying the documents goes into every owned
   * partition's stream (Nats-Msg-Id per revision and partition, so a repeat is dropped), and each
   * partition switches when it reads it. Partitions already at this content are left alone.
   */
  publishPatterns(set: PatternSet): void {
    if (this.stopped) return;
    const body = JSON.stringify({ revision: set.revision, patterns: set.documents() });
    for (const [p, lane] of this.lanes) {
      const current = lane.processor.patterns;
      if (current.revision >= set.revision || current.documentsText === set.documentsText) continue;
      this.js.publish(Subjects.patternsMarker(this.config.workerId, p), body, { msgID: `patterns:${set.revision}:${p}` }).catch((e) => {
        this.log.error({ err: (e as Error).message, partition: p, revision: set.revision }, 'pattern marker publish failed; the partition keeps its patterns');
      });
    }
  }

  /**
   * Quiet partitions must still fire their timers. The tick goes into the stream (not straight
   * into the processor) so a replay sees event time move exactly as live processing did.
   */
  private tickIdlePartitions(): void {
    const now = Date.now();
    for (const [p, lane] of this.lanes) {
      const proc = lane.processor;
      if (lane.tickInFlight || proc.timers.size === 0 || proc.maxEventTime < 0) continue;
      // Quiet for idleTickMs also means caught up: an ordered consumer with a backlog never pauses
      // that long (reading m.info.pending instead would parse every message's reply subject).
      if (now - lane.lastInputWall < this.config.idleTickMs) continue;
      const eventTime = proc.maxEventTime + (now - lane.lastAdvanceWall);
      lane.tickInFlight = true;
      this.js.publish(Subjects.tick(this.config.workerId, p), JSON.stringify({ eventTime })).catch((e) => {
        lane.tickInFlight = false;
        this.log.warn({ err: (e as Error).message, partition: p }, 'watermark tick publish failed');
      });
    }
  }

  /**
   * One LMDB transaction: dirty actors, timer changes and offsets, after the outputs they imply
   * are acked. `all`: every changed actor, however recent (a graceful stop), so the next start
   * replays nothing.
   */
  checkpoint(all = false): Promise<void> {
    if (this.checkpointing) return this.checkpointing;
    this.sinceCheckpoint = 0;
    const processors = [...this.lanes.values()].map((l) => l.processor);
    const write = captureCheckpoint(processors, this.host, all ? 1 : this.config.snapshotEvery);
    const { partitions, actors } = write;
    const unchanged = actors.size === 0 && write.timers.length === 0 && partitions.every((c) => c.seq === this.lanes.get(c.partition)!.checkpointedSeq);
    if (unchanged) {
      checkpointCommitted(processors, this.host);
      return Promise.resolve();
    }
    const run = (async () => {
      await this.sink.flush();
      await this.store.commit(write);
      checkpointCommitted(processors, this.host);
      for (const c of partitions) this.lanes.get(c.partition)!.checkpointedSeq = c.seq;
      this.checkpoints++;
    })();
    this.checkpointing = run.finally(() => {
      this.checkpointing = null;
    });
    return this.checkpointing;
  }

  status(): EngineStatus {
    return {
      partitions: [...this.lanes].map(([p, l]) => ({
        partition: p,
        seq: l.processor.seq,
        checkpointedSeq: l.checkpointedSeq,
        maxEventTime: l.processor.maxEventTime,
        watermark: l.processor.watermark,
        pendingTimers: l.processor.timers.size,
        timersInMemory: l.processor.timers.inMemory,
        patternRevision: l.processor.patterns.revision,
        counters: { ...l.processor.counters },
        replayed: l.processor.replayed,
      })),
      liveActors: this.host.liveCount,
      evictions: this.host.evictions,
      checkpoints: this.checkpoints,
      outputsInFlight: this.sink.pending,
      heapUsedBytes: getHeapStatistics().used_heap_size,
      analytics: this.analytics?.status() ?? null,
    };
  }

  /** Resolves once partition `p` has applied stream sequence `seq` (or beyond). */
  async waitForSeq(p: number, seq: number, timeoutMs = 60_000): Promise<void> {
    const lane = this.lanes.get(p);
    if (!lane) throw new Error(`partition ${p} is not owned by this worker`);
    const deadline = Date.now() + timeoutMs;
    while (lane.processor.seq < seq) {
      if (this.stopped) throw new Error('engine stopped');
      if (Date.now() > deadline) throw new Error(`partition ${p} did not reach seq ${seq} within ${timeoutMs} ms (at ${lane.processor.seq})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Graceful stop: no new input, a final checkpoint, then close everything. */
  async stop(): Promise<void> {
    if (this.stopped) return this.done;
    this.stopped = true;
    this.registry?.stop();
    for (const t of this.timers) clearInterval(t);
    for (const lane of this.lanes.values()) lane.messages?.stop();
    // The final checkpoint needs the server to acknowledge every output; with the server gone
    // that never comes. Stopping anyway loses nothing: without it the next start replays from
    // the last checkpoint, and the replayed outputs are deduplicated by their Msg-Id.
    let timer: NodeJS.Timeout | undefined;
    const graceful = (async () => {
      await this.inspect?.stop();
      await this.analytics?.stop();
      if (this.checkpointing) await this.checkpointing;
      await this.checkpoint(true);
      await this.sink.flush();
    })();
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.config.stopTimeoutMs)));
    try {
      if ((await Promise.race([graceful.then(() => 'done' as const), timedOut])) === 'timeout') {
        graceful.catch(() => undefined);
        this.log.error({ timeoutMs: this.config.stopTimeoutMs, unacknowledged: this.sink.pending }, 'graceful stop did not finish (is NATS reachable?): no final checkpoint; the next start replays from the last one');
      }
    } finally {
      clearTimeout(timer);
      this.sink.close();
      this.host.stopAll();
      await this.store.close();
      await Promise.race([this.nc.drain(), new Promise((r) => setTimeout(r, 1_000))]).catch(() => undefined);
      if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
      this.log.info(this.totals(), 'engine stopped');
      this.resolveDone();
    }
  }

  totals() {
    const t = { events: 0, dlq: 0, late: 0, ticks: 0, actions: 0, summaries: 0 };
    for (const l of this.lanes.values()) for (const k of Object.keys(t) as Array<keyof typeof t>) t[k] += l.processor.counters[k];
    return t;
  }

  private fail(e: unknown): void {
    if (this.stopped) return;
    this.log.fatal({ err: e }, 'engine failed; stopping (state is safe at the last checkpoint)');
    this.stopped = true;
    this.registry?.stop();
    void this.analytics?.stop();
    for (const t of this.timers) clearInterval(t);
    for (const lane of this.lanes.values()) lane.messages?.stop();
    this.sink.close();
    void this.nc.close().finally(() => this.failure?.(e as Error));
  }
}

/**
 * The patterns in force. A broken file is refused with its reason and the rest run; a directory
 * that cannot be read at all stops the start, since running without the rules is not running.
 */
function loadPatterns(config: Config, log: Logger): PatternSet {
  const { set, rejected } = loadPatternDir(config.patternsDir);
  for (const r of rejected) log.error({ source: r.source, patternId: r.id, reason: r.reason }, 'pattern rejected');
  log.info({ dir: config.patternsDir, patterns: set.patterns.map((p) => `${p.id}@${p.version}`) }, 'patterns loaded');
  return set;
}

/**
 * Fault injection for the crash tests, off unless the variable is set:
 * NUDGE_FAULT_KILL_AFTER_OUTPUTS=N SIGKILLs this process right after the N-th acknowledged output,
 * i.e. after an action reached the stream and before any checkpoint could cover it.
 */
function installFaults(sink: OutputSink): void {
  const n = Number(process.env.NUDGE_FAULT_KILL_AFTER_OUTPUTS ?? '');
  if (!Number.isInteger(n) || n <= 0) return;
  sink.onAcked = (_o, count) => {
    if (count >= n) process.kill(process.pid, 'SIGKILL');
  };
}
