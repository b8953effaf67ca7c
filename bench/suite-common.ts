/**
 * Shared pieces of the issue-7 suites (bench/latency.ts, bench/memory-scale.ts, bench/recovery.ts):
 * a private nats-server, a publisher that learns each message's stream sequence from its ack, the
 * engine as a child process (bench/engine-child.ts) reporting its status and memory, and the
 * statistics and formatting the reports share. Nothing here touches the machine's :4222.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInbox, type NatsConnection, type Msg, type Subscription } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { startEmbeddedServer, connectNats, requireJetStream, ensureStreams, type EmbeddedServer } from '../src/nats/index.js';
import { loadConfig, type ConfigInput } from '../src/config/index.js';
import type { PatternSet } from '../src/cep/index.js';

export const PARTITIONS = 8;
export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

// ------------------------------------------------------------------ what bench/run.ts lends the suites

/** The pieces of bench/run.ts the suites reuse (handed over by its --suite dispatch, so nothing imports run.ts). */
export interface RunHelpers {
  /** Generates and publishes run.ts's seeded sample (--users, --seed) in a child process; the stream count is verified. */
  runPublisher(url: string): Promise<{ events: number; users: number; perPartition: number[]; method: string; seconds: number; rate: number }>;
  /** run.ts's RAW pass: 8 ordered consumers on one connection, JSON.parse only, until each partition's last seq (`apiTimeoutMs`: JetStream API timeout, for big streams). */
  rawPass(url: string, lastSeq: number[], apiTimeoutMs?: number): Promise<{ messages: number; ms: number; rate: number; setupMs?: number }>;
  partitionLastSeqs(jsm: JetStreamManager): Promise<number[]>;
  measureLmdb(dataDir: string): { actors: number; payloadBytes: number; pageBytes: number | null; fileBlockBytes: number };
  measureHeapPerActor(gcFn: () => void, n: number, lmdbDir: string, patterns: PatternSet): Promise<{ actors: number; bytesPerActor: number; lmdb: { actors: number; payloadBytes: number; pageBytes: number | null } }>;
  /** The sample size run.ts's publisher uses (--users) and its seed. */
  users: number;
  seed: number;
}

export interface SuiteContext {
  helpers: RunHelpers;
  gc: () => void;
  /** Everything on the command line (run.ts parsed it with the suites' options declared). */
  opts: Record<string, string | boolean | undefined>;
  /** Where the suite keeps its servers' stores and data dirs; removed afterwards. */
  root: string;
  /** What a long suite has so far (e.g. after each size): kept in <json-out>.<suite>.partial.json, so an interrupted run leaves its figures. */
  partial(result: unknown): void;
}

// ------------------------------------------------------------------ small things

/** Kills of every server and child a suite has running, for an interrupted run (bench/suites.ts calls them on SIGINT/SIGTERM). */
export const onAbort = new Set<() => void>();

/** Registers `kill` until `exited` settles. */
export function killOnAbort(kill: () => void, exited: Promise<unknown>): void {
  onAbort.add(kill);
  void exited.finally(() => onAbort.delete(kill));
}

/** ms on CLOCK_MONOTONIC (process.hrtime): one clock for every process on the machine, sub-microsecond. */
export const monoMs = (): number => {
  const [sec, ns] = process.hrtime();
  return sec * 1e3 + ns / 1e6;
};
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const progress = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
export const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n));
export const fmtMs = (n: number) => (n >= 100 ? `${n.toFixed(0)} ms` : n >= 10 ? `${n.toFixed(1)} ms` : `${n.toFixed(2)} ms`);
export const fmtMiB = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
export const fmtPct = (x: number) => `${(x * 100).toFixed(1)}%`;
export const fmtX = (x: number) => `${x.toFixed(2)}x`;

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of a sample (sorted in place). */
export function summarise(xs: Float64Array | number[]): LatencySummary {
  const a = Float64Array.from(xs).sort();
  const n = a.length;
  const at = (q: number) => (n === 0 ? NaN : a[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!);
  let sum = 0;
  for (const x of a) sum += x;
  return { samples: n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: n ? a[n - 1]! : NaN, mean: n ? sum / n : NaN };
}

/** Least-squares slope of y over x (per unit of x). */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function positiveNumber(name: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${String(v)}`);
  return n;
}

export function numberList(name: string, v: unknown): number[] {
  const list = String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s);
      if (!m) throw new Error(`--${name}: cannot read "${s}" (use e.g. 100k,1M,3000000)`);
      const unit = m[2]!.toLowerCase();
      return Math.round(Number(m[1]) * (unit === 'k' ? 1e3 : unit === 'm' ? 1e6 : 1));
    });
  if (list.length === 0 || list.some((n) => n <= 0)) throw new Error(`--${name} needs at least one positive number`);
  return list;
}

// ------------------------------------------------------------------ who used the CPU

const CLK_TCK = 100;

/** utime + stime of a process (all its threads), ms; null when it is gone or /proc is missing. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine (every core), from /proc/stat. */
function machineJiffies(): { busy: number; total: number } | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.reduce((a, b) => a + b, 0);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

export interface CpuSecond {
  /** Seconds since the sampler started. */
  t: number;
  /** % of one core used by each named process over the last interval. */
  procs: Record<string, number | null>;
  /** % of the whole machine busy (all cores; 100 = every core busy), whoever used it. */
  machine: number | null;
}

/**
 * Samples, every `everyMs`, the CPU the named processes used and how busy the whole machine was:
 * on a shared machine, what the run's own processes did not use but the machine did is other
 * people's load.
 */
export class CpuSampler {
  readonly samples: CpuSecond[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = performance.now();
  private prev: { t: number; procs: Record<string, number | null>; machine: { busy: number; total: number } | null };

  constructor(
    private readonly pids: Record<string, number>,
    everyMs = 1_000,
  ) {
    this.prev = this.read();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  private read() {
    const procs: Record<string, number | null> = {};
    for (const [name, pid] of Object.entries(this.pids)) procs[name] = processCpuMs(pid);
    return { t: performance.now(), procs, machine: machineJiffies() };
  }

  private sample(): void {
    const now = this.read();
    const dt = now.t - this.prev.t;
    const procs: Record<string, number | null> = {};
    for (const name of Object.keys(this.pids)) {
      const a = this.prev.procs[name];
      const b = now.procs[name];
      procs[name] = a !== null && a !== undefined && b !== null && b !== undefined && dt > 0 ? ((b - a) / dt) * 100 : null;
    }
    const m0 = this.prev.machine;
    const m1 = now.machine;
    const machine = m0 && m1 && m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 : null;
    this.samples.push({ t: (now.t - this.t0) / 1000, procs, machine });
    this.prev = now;
  }

  /** Mean of each over the samples with t in [from, to) seconds. */
  mean(from = 0, to = Infinity): { procs: Record<string, number | null>; machine: number | null } {
    const xs = this.samples.filter((x) => x.t > from && x.t <= to);
    const avg = (vals: Array<number | null>) => {
      const v = vals.filter((x): x is number => x !== null);
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
    };
    const procs: Record<string, number | null> = {};
    for (const name of Object.keys(this.pids)) procs[name] = avg(xs.map((x) => x.procs[name] ?? null));
    return { procs, machine: avg(xs.map((x) => x.machine)) };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

// ------------------------------------------------------------------ a private server

export interface PrivateNats {
  server: EmbeddedServer;
  nc: NatsConnection;
  jsm: JetStreamManager;
  url: string;
  stop(): Promise<void>;
}

/** A fresh nats-server from nats.conf on a free port with its store under `dir`, and the engine's streams. */
export async function startPrivateNats(dir: string, name: string): Promise<PrivateNats> {
  mkdirSync(dir, { recursive: true });
  const server = await startEmbeddedServer({ dir });
  const kill = () => {
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  onAbort.add(kill);
  const nc = await connectNats(server.url, name);
  const jsm = await requireJetStream(nc);
  await ensureStreams(jsm, loadConfig({ natsUrl: server.url, dataDir: join(dir, 'unused') }));
  return {
    server,
    nc,
    jsm,
    url: server.url,
    async stop() {
      await nc.close().catch(() => undefined);
      await server.stop().catch(() => undefined);
      onAbort.delete(kill);
    },
  };
}

// ------------------------------------------------------------------ a publisher that learns the stream sequences

/**
 * Core publish with a reply subject on one wildcard inbox: JetStream acknowledges each stored
 * message there with its stream sequence. No per-message promise (as js.publish would make), so it
 * can offer tens of thousands of messages a second open-loop; `inFlight` is what the server has not
 * acknowledged yet.
 */
export class AckedPublisher {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private next = 0;
  acked = 0;
  failed = 0;
  lastError = '';

  constructor(
    private readonly nc: NatsConnection,
    /** Called for each stored message: its publish id (1, 2, …) and its stream sequence. */
    private readonly onAck?: (id: number, seq: number) => void,
  ) {
    const prefix = this.inbox.length + 1;
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (_e, m: Msg) => {
        const id = Number(m.subject.slice(prefix));
        let ack: { seq?: number; error?: { description?: string } };
        try {
          ack = JSON.parse(m.string()) as typeof ack;
        } catch {
          ack = { error: { description: 'unreadable ack' } };
        }
        if (typeof ack.seq === 'number' && !ack.error) {
          this.acked++;
          this.onAck?.(id, ack.seq);
        } else {
          this.failed++;
          this.lastError = ack.error?.description ?? (m.headers?.hasError ? `${m.headers.code} ${m.headers.description}` : 'no sequence in the ack');
        }
      },
    });
  }

  get published(): number {
    return this.next;
  }

  get inFlight(): number {
    return this.next - this.acked - this.failed;
  }

  /** Returns the message's publish id. */
  publish(subject: string, data: string | Uint8Array): number {
    const id = ++this.next;
    this.nc.publish(subject, data, { reply: `${this.inbox}.${id}` });
    return id;
  }

  /** Waits until at most `n` messages are unacknowledged (a window for closed-loop bulk loads). */
  async waitInFlight(n: number, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > n) {
      if (Date.now() > deadline) throw new Error(`publisher: ${fmtInt(this.inFlight)} messages unacknowledged after ${timeoutMs / 1000} s (${this.lastError || 'no error reported'})`);
      await sleep(this.inFlight > n * 4 ? 5 : 1);
    }
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

// ------------------------------------------------------------------ the engine as a child process

/** A status line of bench/engine-child.ts. */
export interface ChildStatus {
  type: 'status';
  /** ms since the child process started (performance.now() there) and epoch ms. */
  uptimeMs: number;
  wall: number;
  /** Events applied (+ dead-lettered) over all partitions. */
  applied: number;
  totals: { events: number; dlq: number; late: number; ticks: number; actions: number; summaries: number };
  partitions: Array<{ partition: number; seq: number; checkpointedSeq: number; pendingTimers: number; timersInMemory?: number; replayed?: number }>;
  liveActors: number;
  evictions: number;
  checkpoints: number;
  outputsInFlight: number;
  analyticsSeq: number | null;
  mem: NodeJS.MemoryUsage;
  /** The engine's V8 heap in use (its threads' heaps when it runs in threads), bytes. */
  engineHeapUsedBytes: number;
  /** Peak RSS the kernel saw for the process (VmHWM), and the RSS split into anonymous memory and file pages (LMDB's map), bytes. */
  hwm: number;
  rssAnon: number;
  rssFile: number;
  /** The main thread's V8 heap resident (v8 total_physical_size). */
  heapPhysical: number;
  /** CPU time of the process so far (all threads), ms; the main thread's event-loop delay since the previous line. */
  cpuMs: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
}

export type ChildLine =
  | ChildStatus
  | { type: 'started'; uptimeMs: number; wall: number; startMs: number }
  | { type: 'gc'; mem: NodeJS.MemoryUsage; status: ChildStatus }
  | { type: 'stopped'; uptimeMs: number; stopMs: number; mem: NodeJS.MemoryUsage; hwm: number }
  | { type: 'error'; message: string };

export interface EngineChild {
  child: ChildProcess;
  pid: number;
  /** performance.now() of this process when the child was spawned. */
  spawnedAt: number;
  /** performance.now() here when the child's "started" line arrived, and the line. */
  started: Promise<{ at: number; startMs: number; uptimeMs: number }>;
  latest: ChildStatus | null;
  /** Every status line with this process's receive time, in order. */
  history: Array<{ at: number; s: ChildStatus }>;
  onStatus: ((s: ChildStatus, at: number) => void) | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** A full GC in the child (it runs with --expose-gc) and its memory after it. */
  gc(): Promise<{ mem: NodeJS.MemoryUsage; status: ChildStatus }>;
  /** SIGTERM: the engine's graceful stop (final checkpoint); resolves with the child's last line. */
  stop(timeoutMs?: number): Promise<{ stopMs: number; hwm: number } | null>;
  kill(): Promise<void>;
}

const ENGINE_CHILD = join(BENCH_DIR, 'engine-child.ts');

/**
 * Runs the engine (startEngine, configured from the environment exactly like `nudge run`) in its own
 * process, so its RSS is its own and a SIGKILL is a real crash. Status comes back as JSON lines.
 */
export function spawnEngineChild(env: Record<string, string>, opts: { statusMs?: number; keepHistory?: boolean } = {}): EngineChild {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', ENGINE_CHILD], {
    env: { ...process.env, NUDGE_LOG_LEVEL: 'warn', ...env, BENCH_STATUS_MS: String(opts.statusMs ?? 250) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  killOnAbort(() => child.kill('SIGKILL'), exited);
  let resolveStarted!: (v: { at: number; startMs: number; uptimeMs: number }) => void;
  let rejectStarted!: (e: Error) => void;
  const started = new Promise<{ at: number; startMs: number; uptimeMs: number }>((res, rej) => {
    resolveStarted = res;
    rejectStarted = rej;
  });
  started.catch(() => undefined);
  void exited.then(({ code, signal }) => rejectStarted(new Error(`engine child exited (${code ?? signal}) before starting: ${err.slice(-2000)}`)));
  const waiters: Array<(l: ChildLine) => boolean> = [];
  const ec: EngineChild = {
    child,
    pid: child.pid!,
    spawnedAt,
    started,
    latest: null,
    history: [],
    onStatus: null,
    exited,
    stderr: () => err,
    gc() {
      return new Promise((resolve, reject) => {
        waiters.push((l) => {
          if (l.type !== 'gc') return false;
          resolve({ mem: l.mem, status: l.status });
          return true;
        });
        void exited.then(() => reject(new Error('engine child exited before answering gc')));
        child.stdin!.write('gc\n');
      });
    },
    async stop(timeoutMs = 120_000) {
      if (child.exitCode !== null || child.signalCode !== null) return null;
      const line = new Promise<{ stopMs: number; hwm: number } | null>((resolve) => {
        waiters.push((l) => {
          if (l.type !== 'stopped') return false;
          resolve({ stopMs: l.stopMs, hwm: l.hwm });
          return true;
        });
        void exited.then(() => resolve(null));
      });
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const res = await line;
      await exited;
      clearTimeout(timer);
      return res;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!text.trim()) continue;
      let line: ChildLine;
      try {
        line = JSON.parse(text) as ChildLine;
      } catch {
        err += `\n(unparsed stdout) ${text}`;
        continue;
      }
      const at = performance.now();
      if (line.type === 'status') {
        ec.latest = line;
        if (opts.keepHistory !== false) ec.history.push({ at, s: line });
        ec.onStatus?.(line, at);
      } else if (line.type === 'started') resolveStarted({ at, startMs: line.startMs, uptimeMs: line.uptimeMs });
      else if (line.type === 'error') err += `\n${line.message}`;
      for (let i = 0; i < waiters.length; i++) {
        if (waiters[i]!(line)) {
          waiters.splice(i, 1);
          break;
        }
      }
    }
  });
  return ec;
}

/** Waits for a condition on the child's status lines (checked on each line), failing if the child dies or the time runs out. */
export async function waitForStatus(ec: EngineChild, what: string, done: (s: ChildStatus) => boolean, timeoutMs: number, report?: (s: ChildStatus) => void): Promise<{ at: number; s: ChildStatus }> {
  const deadline = performance.now() + timeoutMs;
  let nextReport = performance.now() + 10_000;
  let exited = false;
  void ec.exited.then(() => (exited = true));
  for (;;) {
    const last = ec.history[ec.history.length - 1];
    if (last && done(last.s)) return last;
    if (ec.latest && done(ec.latest)) return { at: performance.now(), s: ec.latest };
    if (exited) throw new Error(`engine child exited while waiting for ${what}: ${ec.stderr().slice(-2000)}`);
    if (performance.now() > deadline) throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what} (applied ${fmtInt(ec.latest?.applied ?? 0)})`);
    if (report && ec.latest && performance.now() >= nextReport) {
      report(ec.latest);
      nextReport += 10_000;
    }
    await sleep(5);
  }
}

/** The engine's environment for a run: the suites vary only the data dir, the URL and what they name. */
export function engineEnv(url: string, dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { NATS_URL: url, NUDGE_DATA_DIR: dataDir, NUDGE_PARTITIONS: String(PARTITIONS), ...extra };
}

/** What the engine runs with, for the report: the config the child will load from this environment. */
export function describeEngineConfig(env: Record<string, string>): ConfigInput & Record<string, unknown> {
  const c = loadConfig({}, { ...process.env, ...env });
  return { workers: c.workers, analytics: c.analytics, liveActorCap: c.liveActorCap, checkpointEveryEvents: c.checkpointEveryEvents, checkpointIntervalMs: c.checkpointIntervalMs, patternSource: c.patternSource, patternsDir: c.patternsDir };
}

export function machineLine(): string {
  return `${process.version}, ${process.platform} ${process.arch}`;
}

/** The figures of one run as JSON (for --json / --json-out), numbers rounded to what they mean. */
export function roundForJson(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? v : Math.round(v * 1000) / 1000;
  if (Array.isArray(v)) return v.map(roundForJson);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, roundForJson(x)]));
  return v;
}
