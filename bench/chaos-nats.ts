/**
 * Chaos plumbing: a private nats-server that can be restarted on the same port and store (so the
 * streams survive), `nudge run` child processes, and what can be read about them from outside
 * (progress over the inspection service, RSS from /proc). Never the machine's NATS on :4222.
 */
import { readFileSync, rmSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startEmbeddedServer, type EmbeddedServer } from '../src/nats/index.js';
import { Inspect } from '../src/nats/subjects.js';
import type { PartitionStats, WorkerStats } from '../src/service/protocol.js';
import { readAnalyticsCheckpoint } from '../src/runtime/analytics-runner.js';
import { openCheckpointStore } from '../src/store/index.js';
import { spawnEngine, engineStarted, tempDir, type EngineProcess } from '../test/support/harness.js';
import { committedSeqs } from '../test/support/engine-runs.js';

export const PARTITIONS = 8;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Progress goes to stderr; results to stdout. */
export const log = (msg: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A private nats-server (nats.conf, temp store) that keeps its port and store across restarts. */
export class ChaosServer {
  private server: EmbeddedServer | null = null;
  private port = -1;
  url = '';
  restarts = 0;
  /** The harness's own connection (reconnects across restarts). */
  nc!: NatsConnection;

  private constructor(readonly dir: string) {}

  static async start(label: string): Promise<ChaosServer> {
    const s = new ChaosServer(tempDir(`chaos-${label}-nats`));
    await s.boot();
    s.nc = await connect({ servers: s.url, name: 'nudge-chaos', maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
    return s;
  }

  private async boot(): Promise<void> {
    // A fixed port after the first start: clients reconnect to the address they know.
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        this.server = await startEmbeddedServer({ dir: this.dir, port: this.port });
        break;
      } catch (e) {
        // The old process may still hold the port for a moment.
        if (this.port < 0 || Date.now() > deadline) throw e;
        await sleep(200);
      }
    }
    this.url = this.server.url;
    this.port = Number(new URL(this.url).port);
  }

  /** Stops the server (SIGTERM: JetStream flushes its store), waits `downMs`, starts it again on the same port and store. */
  async restart(downMs: number): Promise<void> {
    await this.server!.stop();
    await sleep(downMs);
    await this.boot();
    this.restarts++;
  }

  async stop(): Promise<void> {
    await this.nc?.close().catch(() => undefined);
    await this.server?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Settings of every compared run: no wall-clock idle ticks, so the two streams hold the same messages. */
export const quietEnv: Record<string, string> = { NUDGE_IDLE_TICK_MS: '3600000', NUDGE_LOG_LEVEL: 'info' };

export interface EngineLife {
  proc: EngineProcess;
  started: boolean;
  pid: number;
  /** Over its whole stderr: "engine started" lines (one per engine thread), and error or fatal log lines. */
  startedLines: number;
  errorLines: number;
}

/** Starts `nudge run` and waits for "engine started" (a fault-injected one may die first). */
export async function startEngine(env: Record<string, string>, mayDie = false, timeoutMs = 120_000): Promise<EngineLife> {
  const proc = spawnEngine({ ...quietEnv, ...env });
  const life: EngineLife = { proc, started: false, pid: proc.child.pid!, startedLines: 0, errorLines: 0 };
  let partial = '';
  proc.child.stderr!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.includes('"msg":"engine started"')) life.startedLines++;
      if (/"level":(50|60)/.test(line)) life.errorLines++;
    }
  });
  life.started = await engineStarted(proc, timeoutMs, mayDie);
  return life;
}

export const alive = (p: EngineProcess) => p.child.exitCode === null && p.child.signalCode === null;

/** Resident set of a process (all its threads) and its anonymous part (heaps; not LMDB's mapped file pages), from /proc; 0 once it is gone. */
export function memOf(pid: number): { rss: number; anon: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon') };
  } catch {
    return { rss: 0, anon: 0 };
  }
}

export const rssBytes = (pid: number) => memOf(pid).rss;

export interface Progress {
  /** Valid events applied, over all partitions (restored from the checkpoint at a restart). */
  events: number;
  dlq: number;
  ticks: number;
  /** Per partition, the last stream sequence applied. */
  seqs: number[];
}

/**
 * The engine's own counters over the inspection service (what `nudge stats` asks); undefined when
 * no full answer came. It waits for `threads` replies (one per engine thread), not for a pause.
 */
export async function engineProgress(nc: NatsConnection, maxWaitMs = 2_000, threads = 1): Promise<Progress | undefined> {
  const parts: PartitionStats[] = [];
  try {
    const replies = await nc.requestMany(Inspect.stats, '{}', { strategy: 'count', maxMessages: threads, maxWait: maxWaitMs });
    for await (const m of replies) {
      if (m.data.length === 0) continue;
      parts.push(...m.json<WorkerStats>().partitions);
    }
  } catch {
    return undefined;
  }
  if (parts.length < PARTITIONS) return undefined;
  const p: Progress = { events: 0, dlq: 0, ticks: 0, seqs: new Array<number>(PARTITIONS).fill(0) };
  for (const s of parts) {
    p.events += s.counters.events;
    p.dlq += s.counters.dlq;
    p.ticks += s.counters.ticks;
    p.seqs[s.partition] = s.seq;
  }
  return p;
}

/** Events applied as of the worker's committed checkpoints (partition counters), read from its LMDB by this process. */
export async function checkpointedEvents(dataDir: string): Promise<number> {
  const store = openCheckpointStore(dataDir);
  try {
    let n = 0;
    for (let p = 0; p < PARTITIONS; p++) n += store.loadPartition(p)?.counters.events ?? 0;
    return n;
  } finally {
    await store.close();
  }
}

/** Whether the worker's committed checkpoints cover every partition's `flushSeqs` and its analytics checkpoint covers `lastSeq`. */
export async function caughtUp(dataDir: string, flushSeqs: number[], lastSeq: number, analytics = true): Promise<boolean> {
  const seqs = await committedSeqs(dataDir, PARTITIONS);
  if (!flushSeqs.every((s, p) => seqs[p]! >= s)) return false;
  if (!analytics) return true;
  return ((await readAnalyticsCheckpoint(dataDir))?.seq ?? 0) >= lastSeq;
}

/** Waits until `caughtUp`; fails early if the engine dies meanwhile. */
export async function waitCaughtUp(life: EngineLife, dataDir: string, flushSeqs: number[], lastSeq: number, timeoutMs: number): Promise<void> {
  await waitUntil('the engine to checkpoint the whole stream', async () => {
    if (!alive(life.proc)) throw new Error(`engine exited (${life.proc.child.exitCode ?? life.proc.child.signalCode}) before the end of the stream:\n${life.proc.stderr().slice(-3_000)}`);
    return caughtUp(dataDir, flushSeqs, lastSeq);
  }, timeoutMs, 500);
}
