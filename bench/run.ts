/**
 * Nudge throughput and memory benchmark (`npm run bench`).
 *
 *   npm run bench -- [--users 100000] [--rounds 3] [--json] [--json-out f.json] [--profile] [--profile-out f.cpuprofile] [--actors 20000] [--seed 1] [--workers 1] [--checkpoint-ms 1000]
 *
 * On a private nats-server (started from nats.conf in a temp dir, never the machine's :4222):
 *   1. a child process generates the seeded synthetic sample (100k users → ~1.28M events) and
 *      publishes it with core publish + periodic flush (JetStream publish if anything was dropped);
 *      the EVENTS message count is checked against what was published;
 *   2. R rounds, each timing a RAW pass (8 ordered consumers on one connection, JSON.parse only),
 *      an ENGINE pass (Engine.start on a fresh LMDB dir with every pattern in patterns/ active,
 *      until every partition has applied its last message) and a RULES pass (the naive baseline of
 *      bench/rules-baseline.ts: the same consumers, a per-user Map and json-rules-engine running
 *      six rules equivalent in intent to the six patterns on every event), in the order
 *      raw → engine → rules and then the reverse, alternately, so drift hits all three; after the
 *      first engine pass, the actions in ACTIONS are counted per pattern (action type);
 *      in each engine pass also the analytics jobs' own rate: the analytics thread the engine
 *      owning partition 0 starts reads the whole stream, timed from Engine.start until its status
 *      seq reaches the stream's last sequence (polled up to 120 s more after the partitions catch
 *      up, before the engine stops), with its counters (results, late) and the peak open windows
 *      per job; "analytics off" with NUDGE_ANALYTICS=off;
 *   3. heap bytes per live actor (20k users x 3 views through PartitionProcessor + ActorHost, full
 *      GCs before and after), heap bytes per open analytics window state (an AnalyticsPipeline
 *      with the engine's settings fed the sample in stream order up to where its open windows
 *      peak, left open, full GCs before and after, / the open (window, key) states of all jobs),
 *      LMDB bytes per stored actor (the same actors checkpointed into a fresh store, and what a
 *      full engine pass leaves), RSS during the engine passes;
 *   4. optionally (--profile) one extra engine pass under the V8 CPU profiler, summarised by self
 *      time (bench/profile-report.ts digs further into the written .cpuprofile).
 * Needs global.gc: without --expose-gc it re-runs itself with it. Progress goes to stderr; the
 * results table (or one JSON object with --json; --json-out also writes it to a file) to stdout.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem, platform, release, arch } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import { open as openLmdb } from 'lmdb';
import { startEmbeddedServer, findNatsServer, connectNats, requireJetStream, ensureStreams, Streams, Subjects, partitionOf, type EmbeddedServer } from '../src/nats/index.js';
import { loadConfig, type Config } from '../src/config/index.js';
import { createLogger } from '../src/log/index.js';
import type { Engine } from '../src/runtime/engine.js';
import { startEngine, engineRunsInThisThread } from '../src/runtime/engine-pool.js';
import { ActorHost } from '../src/runtime/actor-host.js';
import { PartitionProcessor, type Output } from '../src/runtime/partition-processor.js';
import { AnalyticsPipeline, type AnalyticsCounters } from '../src/runtime/analytics-pipeline.js';
import type { AnalyticsStatus } from '../src/runtime/analytics-runner.js';
import { openCheckpointStore, Databases } from '../src/store/index.js';
import { generateSample } from '../src/events/sample-generator.js';
import { sampleRowToEvent } from '../src/events/sources.js';
import { loadPatternDir, type PatternSet } from '../src/cep/index.js';
import { rulesBaselinePass, BASELINE_RULE_TYPES, type BaselineResult, type BaselineRuleId } from './rules-baseline.js';
import { SUITE_OPTIONS, SUITE_USAGE, isSuite, runSuites } from './suites.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const PARTITIONS = 8;

// ------------------------------------------------------------------ options and re-spawn

const { values: opts } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    actors: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '1' },
    /** Engine threads in the engine pass (NUDGE_WORKERS); RAW stays one consumer thread. */
    workers: { type: 'string', default: '1' },
    /** Checkpoint interval of the engine pass (issue 7: checkpoints every second). */
    'checkpoint-ms': { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-out': { type: 'string' },
    'json-out': { type: 'string' },
    /** Internal: the publisher child (keeps the ~0.5 GB sample out of the measured process). */
    'publish-to': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
    /** --suite latency|memory|recovery|all and their options: bench/suites.ts (issue 7). */
    ...SUITE_OPTIONS,
  },
  strict: true,
});

if (opts.help) {
  process.stdout.write(
    'usage: npm run bench -- [--users N=100000] [--rounds R=3] [--actors N=20000] [--seed S=1] [--json] [--json-out file.json] [--profile] [--profile-out file.cpuprofile] [--workers N=1] [--checkpoint-ms MS=1000]\n' + SUITE_USAGE,
  );
  process.exit(0);
}

const positiveInt = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: --${name} must be a positive integer, got ${v}\n`);
    process.exit(2);
  }
  return n;
};
const USERS = positiveInt('users', opts.users);
const ROUNDS = positiveInt('rounds', opts.rounds);
const MEM_ACTORS = positiveInt('actors', opts.actors);
const SEED = Number(opts.seed);
const CHECKPOINT_MS = positiveInt('checkpoint-ms', opts['checkpoint-ms']);
/** How many checkpoints a live actor's changes may wait before they are written: the engine's setting (NUDGE_SNAPSHOT_EVERY). */
const SNAPSHOT_EVERY = loadConfig({}).snapshotEvery;

const progress = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const gc = (globalThis as { gc?: () => void }).gc;

// ------------------------------------------------------------------ helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtRate = (n: number) => `${fmtInt(n)}/s`;
const fmtPct = (x: number) => `${(x * 100).toFixed(1)}%`;
const fmtMiB = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const fmtWindows = (w: Record<string, number>) => Object.entries(w).map(([job, n]) => `${job} ${fmtInt(n)}`).join(', ') || 'none';

async function withTimeout<T>(what: string, ms: number, p: Promise<T>, onTimeout?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${(ms / 1000).toFixed(0)} s: ${what}${onTimeout ? ` (${onTimeout()})` : ''}`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A hang guard, not a speed limit: a pass slower than 2,000 messages/s is taken for stuck. (The
 * session-5 engine at 100k users with checkpoints every second ran ~4,150/s and hit the old
 * 5,000/s guard.)
 */
const passTimeoutMs = (messages: number) => Math.max(120_000, (messages / 2_000) * 1000);

// ------------------------------------------------------------------ 1. the events

interface Sample {
  subjects: string[];
  bodies: string[];
  users: number;
  /** Events per partition, by the same hash as the server's mapping. */
  perPartition: number[];
}

/** The same bodies the demo's sample source sends (sources.ts → producer.ts), built up front so publishing is timed alone. */
function buildSample(users: number, seed: number): Sample {
  const subjects: string[] = [];
  const bodies: string[] = [];
  const seen = new Set<string>();
  const perPartition = new Array<number>(PARTITIONS).fill(0);
  for (const r of generateSample({ users, seed })) {
    const event = sampleRowToEvent(r);
    subjects.push(Subjects.event(r.event_type, r.user_id));
    bodies.push(JSON.stringify(event));
    seen.add(r.user_id);
    perPartition[partitionOf(r.user_id, PARTITIONS)]!++;
  }
  return { subjects, bodies, users: seen.size, perPartition };
}

async function streamMessages(jsm: JetStreamManager): Promise<{ messages: number; lastSeq: number }> {
  const info = await jsm.streams.info(Streams.events);
  return { messages: info.state.messages, lastSeq: info.state.last_seq };
}

/** Waits until the EVENTS stream holds `want` messages; returns false if the count stops growing short of it. */
async function awaitStreamCount(jsm: JetStreamManager, want: number, stallMs = 3_000): Promise<{ ok: boolean; got: number }> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const { messages } = await streamMessages(jsm);
    if (messages >= want) return { ok: messages === want, got: messages };
    if (messages !== last) {
      last = messages;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallMs) {
      return { ok: false, got: messages };
    }
    await sleep(20);
  }
}

interface PublishResult {
  method: 'core' | 'jetstream';
  published: number;
  ms: number;
  rate: number;
  coreAttempt?: { stored: number; ms: number };
}

async function publishCore(nc: NatsConnection, s: Sample, jsm: JetStreamManager): Promise<{ ok: boolean; got: number; ms: number }> {
  const n = s.subjects.length;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    nc.publish(s.subjects[i]!, s.bodies[i]!);
    if ((i + 1) % 5_000 === 0) {
      await nc.flush();
      if ((i + 1) % 200_000 === 0) progress(`  core publish ${fmtInt(i + 1)} / ${fmtInt(n)}`);
    }
  }
  await nc.flush();
  const stored = await awaitStreamCount(jsm, n);
  return { ...stored, ms: performance.now() - t0 };
}

async function publishJetStream(nc: NatsConnection, s: Sample, jsm: JetStreamManager): Promise<{ ok: boolean; got: number; ms: number }> {
  const js = jetstream(nc);
  const n = s.subjects.length;
  const t0 = performance.now();
  let batch: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    batch.push(js.publish(s.subjects[i]!, s.bodies[i]!));
    if (batch.length >= 1_000) {
      await Promise.all(batch);
      batch = [];
      if ((i + 1) % 200_000 < 1_000) progress(`  jetstream publish ${fmtInt(i + 1)} / ${fmtInt(n)}`);
    }
  }
  await Promise.all(batch);
  const stored = await awaitStreamCount(jsm, n);
  return { ...stored, ms: performance.now() - t0 };
}

async function publish(nc: NatsConnection, jsm: JetStreamManager, s: Sample): Promise<PublishResult> {
  const n = s.subjects.length;
  progress(`publishing ${fmtInt(n)} events (core publish, flush every 5,000)`);
  const core = await publishCore(nc, s, jsm);
  if (core.ok) return { method: 'core', published: n, ms: core.ms, rate: n / (core.ms / 1000) };
  progress(`core publish stored ${fmtInt(core.got)} of ${fmtInt(n)}: purging and falling back to JetStream publish (1,000 acks per batch)`);
  await jsm.streams.purge(Streams.events);
  const jsRes = await publishJetStream(nc, s, jsm);
  if (!jsRes.ok) throw new Error(`JetStream publish stored ${jsRes.got} messages, expected ${n}`);
  return { method: 'jetstream', published: n, ms: jsRes.ms, rate: n / (jsRes.ms / 1000), coreAttempt: { stored: core.got, ms: core.ms } };
}

/** Per partition, the stream sequence of its last message (`last_by_subj` takes the partition's wildcard filter). */
async function partitionLastSeqs(jsm: JetStreamManager): Promise<number[]> {
  const lastSeq: number[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const filter = Subjects.partitionFilter(p);
    let last = 0;
    try {
      const m = await jsm.streams.getMessage(Streams.events, { last_by_subj: filter });
      last = m?.seq ?? 0;
    } catch (e) {
      if (!/no message found|not found/i.test((e as Error).message)) throw e;
    }
    lastSeq.push(last);
  }
  return lastSeq;
}

interface PublisherReport {
  events: number;
  users: number;
  perPartition: number[];
  method: 'core' | 'jetstream';
  seconds: number;
  rate: number;
  generateSeconds: number;
  coreAttempt?: { stored: number; ms: number };
}

/** Child mode (--publish-to URL): generate, publish, verify, print one JSON report on stdout. */
async function publisherChild(url: string): Promise<void> {
  progress(`generating the sample: ${fmtInt(USERS)} users, seed ${SEED}`);
  const tg = performance.now();
  const sample = buildSample(USERS, SEED);
  const generateSeconds = (performance.now() - tg) / 1000;
  progress(`  ${fmtInt(sample.subjects.length)} events over ${fmtInt(sample.users)} users in ${generateSeconds.toFixed(1)} s`);
  const nc = await connectNats(url, 'nudge-bench-publisher');
  try {
    const jsm = await requireJetStream(nc);
    const pub = await publish(nc, jsm, sample);
    const report: PublisherReport = {
      events: pub.published,
      users: sample.users,
      perPartition: sample.perPartition,
      method: pub.method,
      seconds: pub.ms / 1000,
      rate: pub.rate,
      generateSeconds,
      ...(pub.coreAttempt ? { coreAttempt: pub.coreAttempt } : {}),
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

async function runPublisher(url: string): Promise<PublisherReport> {
  const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, '--publish-to', url, '--users', String(USERS), '--seed', String(SEED)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NUDGE_BENCH_RESPAWNED: '1' },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await withTimeout(
    'publisher child',
    Math.max(300_000, USERS * 10),
    new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, sig) => resolve(c ?? (sig ? -1 : null)));
    }),
  ).catch((e: Error) => {
    child.kill('SIGKILL');
    throw e;
  });
  if (code !== 0) throw new Error(`publisher child exited with ${code}`);
  try {
    return JSON.parse(out.trim().split('\n').pop() ?? '') as PublisherReport;
  } catch {
    throw new Error(`publisher child printed no report: ${out.slice(0, 500)}`);
  }
}

// ------------------------------------------------------------------ 2a. RAW

interface PassResult {
  messages: number;
  ms: number;
  rate: number;
  /** RAW only: messages seen per partition. */
  perPartition?: number[];
  /** RAW only: ms until all 8 consumers were created and consuming, and until the first message. */
  setupMs?: number;
  firstMsgMs?: number;
}

/**
 * 8 ordered consumers on one connection, JSON.parse of each body, until each partition's last message.
 * `apiTimeoutMs`: JetStream API requests' timeout (client default 5 s); on a stream of millions of
 * messages a loaded nats-server 2.9 takes longer than that to create a filtered consumer.
 */
async function rawPass(url: string, lastSeq: number[], apiTimeoutMs?: number): Promise<PassResult> {
  const nc = await connectNats(url, 'nudge-bench-raw');
  const js = jetstream(nc, apiTimeoutMs === undefined ? {} : { timeout: apiTimeoutMs });
  const running: ConsumerMessages[] = [];
  let seen = 0;
  const perPartition = lastSeq.map(() => 0);
  let firstMsgMs: number | undefined;
  let ready = 0;
  let setupMs: number | undefined;
  const t0 = performance.now();
  try {
    const lanes = lastSeq.map(async (last, p) => {
      if (last === 0) return;
      const consumer = await js.consumers.get(Streams.events, { filter_subjects: Subjects.partitionFilter(p) });
      await new Promise<void>((resolve, reject) => {
        let finished = false;
        let messages: ConsumerMessages | undefined;
        consumer
          .consume({
            callback: (m) => {
              if (finished) return;
              firstMsgMs ??= performance.now() - t0;
              JSON.parse(m.string()); // the only work RAW does per message (V8 never elides JSON.parse)
              seen++;
              perPartition[p]!++;
              if (m.seq >= last) {
                finished = true;
                messages?.stop();
                resolve();
              }
            },
          })
          .then((ms) => {
            messages = ms;
            running.push(ms);
            if (++ready === lastSeq.filter((l) => l > 0).length) setupMs = performance.now() - t0;
            if (finished) ms.stop();
          }, reject);
      });
    });
    await withTimeout('raw pass', passTimeoutMs(lastSeq.reduce((a, b) => Math.max(a, b), 0)), Promise.all(lanes), () => `${seen} messages seen`);
    const ms = performance.now() - t0;
    return { messages: seen, ms, rate: seen / (ms / 1000), perPartition, ...(setupMs !== undefined ? { setupMs } : {}), ...(firstMsgMs !== undefined ? { firstMsgMs } : {}) };
  } finally {
    for (const m of running) m.stop();
    await nc.close().catch(() => undefined);
  }
}

// ------------------------------------------------------------------ 2b. ENGINE

interface EngineResult extends PassResult {
  startMs: number;
  stopMs: number;
  totals: ReturnType<Engine['totals']>;
  evictions: number;
  liveActorsAtEnd: number;
  rssBytes: number;
  /** The engine's own V8 heap in use at catch-up (its status: the engine thread's isolate). */
  heapUsedBytes: number;
  /** process.memoryUsage() just before Engine.start and at catch-up. */
  memBefore: NodeJS.MemoryUsage;
  memAtCatchUp: NodeJS.MemoryUsage;
  /** Highest RSS sampled (every 500 ms) during the pass. */
  peakRssBytes: number;
  /**
   * heapUsed after a full GC at catch-up (live actors, timers, maps), taken after the analytics
   * wait; null when the engine runs in a worker thread, where this process cannot force a GC.
   */
  liveHeapBytes: number | null;
  lmdb: LmdbFigures;
  /** The analytics thread's pass over the stream; null when analytics is off. */
  analytics: AnalyticsPassFigures | null;
}

interface AnalyticsPassFigures {
  /** The stream's last sequence (the max of the partitions' last seqs): where the analytics has read it all. */
  targetSeq: number;
  /** The seq it had reached when timed: targetSeq or beyond, unless it did not get there within the wait. */
  seq: number;
  caughtUp: boolean;
  /** Stream messages it applied (seqs 1..targetSeq when caught up), and ms from Engine.start until then. */
  messages: number;
  ms: number;
  rate: number;
  /** How much longer than the partitions it took (0 when it was there first). */
  afterEngineMs: number;
  counters: AnalyticsCounters;
  /** Per job, the most open (window, key) states seen in the status during the pass. */
  peakWindows: Record<string, number>;
}

/** How long an engine pass waits, after its partitions caught up, for the analytics to read the stream's end. */
const ANALYTICS_WAIT_MS = 120_000;

interface LmdbFigures {
  actors: number;
  payloadBytes: number;
  pageBytes: number | null;
  fileBlockBytes: number;
  timers: number | null;
}

const liveHeap = (bytes: number | null) => (bytes === null ? 'live heap after GC n/a: the engine runs in a worker thread' : `live heap after GC ${fmtMiB(bytes)}`);

function engineConfig(url: string, dataDir: string): Config {
  return loadConfig({ natsUrl: url, dataDir, logLevel: 'warn', partitions: PARTITIONS, ownedPartitions: '', workers: Number(opts.workers), checkpointIntervalMs: CHECKPOINT_MS });
}

async function enginePass(url: string, dataDir: string, lastSeq: number[], expectEvents: number, profile?: (phase: 'start' | 'stop') => Promise<void>): Promise<EngineResult> {
  const config = engineConfig(url, dataDir);
  const log = createLogger('warn', 'nudge-bench-engine');
  const memBefore = process.memoryUsage();
  let peakRss = memBefore.rss;
  const here = engineRunsInThisThread(config);
  if (profile) await profile('start');
  // The analytics reads every partition: it is done at the stream's last message.
  const targetSeq = lastSeq.reduce((a, b) => Math.max(a, b), 0);
  const peakWindows: Record<string, number> = {};
  let analyticsDone: { ms: number; status: AnalyticsStatus } | null = null;
  /** Every poll: peak windows, and the time the analytics status first shows the last seq (it is posted every 50 ms). */
  const watchAnalytics = (a: AnalyticsStatus | null | undefined) => {
    if (!a) return;
    for (const [job, n] of Object.entries(a.windows)) if (n > (peakWindows[job] ?? 0)) peakWindows[job] = n;
    if (!analyticsDone && a.seq >= targetSeq) analyticsDone = { ms: performance.now() - t0, status: a };
  };
  const t0 = performance.now();
  const engine = await startEngine(config, log);
  const startMs = performance.now() - t0;
  let failed: Error | null = null;
  engine.done.catch((e: Error) => {
    failed = e;
  });
  let stopped = false;
  /** The partitions are caught up: keep polling until the analytics has read the stream's end too (or ANALYTICS_WAIT_MS). */
  const awaitAnalytics = async (engineMs: number): Promise<AnalyticsPassFigures | null> => {
    if (config.analytics !== 'on' || !engine.status().analytics) return null;
    const waitDeadline = Date.now() + ANALYTICS_WAIT_MS;
    let nextWaitReport = Date.now() + 5_000;
    while (!analyticsDone) {
      const a = engine.status().analytics;
      watchAnalytics(a);
      if (analyticsDone) break;
      if (failed) throw new Error(`engine failed: ${(failed as Error).message}`);
      if (Date.now() > waitDeadline) {
        progress(`    warning: analytics at seq ${fmtInt(a?.seq ?? 0)} of ${fmtInt(targetSeq)} ${(ANALYTICS_WAIT_MS / 1000).toFixed(0)} s after the partitions caught up; stopping the engine`);
        break;
      }
      if (Date.now() >= nextWaitReport) {
        progress(`    analytics at seq ${fmtInt(a?.seq ?? 0)} / ${fmtInt(targetSeq)} (partitions caught up ${((performance.now() - t0 - engineMs) / 1000).toFixed(0)} s ago)`);
        nextWaitReport += 5_000;
      }
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      await sleep(5);
    }
    const done = analyticsDone as { ms: number; status: AnalyticsStatus } | null;
    const at = done?.status ?? engine.status().analytics!;
    const aMs = done?.ms ?? performance.now() - t0;
    const messages = done ? targetSeq : at.seq;
    return {
      targetSeq,
      seq: at.seq,
      caughtUp: done !== null,
      messages,
      ms: aMs,
      rate: messages / (aMs / 1000),
      afterEngineMs: Math.max(0, aMs - engineMs),
      counters: { ...at.counters },
      peakWindows: { ...peakWindows },
    };
  };
  try {
    const deadline = Date.now() + passTimeoutMs(expectEvents);
    let nextReport = Date.now() + 5_000;
    let nextRssSample = 0;
    for (;;) {
      if (Date.now() >= nextRssSample) {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
        nextRssSample = Date.now() + 500;
      }
      const st = engine.status();
      watchAnalytics(st.analytics);
      if (st.partitions.every((s) => s.seq >= lastSeq[s.partition]!)) break;
      if (failed) throw new Error(`engine failed: ${(failed as Error).message}`);
      if (Date.now() > deadline) {
        throw new Error(`engine pass timed out: partitions at ${st.partitions.map((s) => `${s.partition}:${s.seq}/${lastSeq[s.partition]}`).join(' ')}`);
      }
      if (Date.now() >= nextReport) {
        const done = st.partitions.reduce((a, s) => a + s.counters.events + s.counters.dlq, 0);
        progress(`    engine ${fmtInt(done)} / ${fmtInt(expectEvents)} (${fmtRate(done / ((performance.now() - t0) / 1000))}, live actors ${fmtInt(st.liveActors)})`);
        nextReport += 5_000;
      }
      await sleep(5);
    }
    const ms = performance.now() - t0;
    if (profile) await profile('stop');
    const st = engine.status();
    const mem = process.memoryUsage();
    const totals = engine.totals();
    const analytics = await awaitAnalytics(ms);
    // Live heap (what the engine retains) after a full GC; the timings above are already taken.
    (globalThis as { gc?: () => void }).gc?.();
    const memLive = process.memoryUsage();
    const t1 = performance.now();
    stopped = true;
    await withTimeout('engine stop', 60_000, engine.stop());
    const stopMs = performance.now() - t1;
    const lmdb = measureLmdb(dataDir);
    const messages = totals.events + totals.dlq;
    return {
      messages,
      ms,
      rate: messages / (ms / 1000),
      startMs,
      stopMs,
      totals,
      evictions: st.evictions,
      liveActorsAtEnd: st.liveActors,
      rssBytes: mem.rss,
      heapUsedBytes: st.heapUsedBytes,
      memBefore,
      memAtCatchUp: mem,
      peakRssBytes: Math.max(peakRss, mem.rss),
      liveHeapBytes: here ? memLive.heapUsed : null,
      lmdb,
      analytics,
    };

  } finally {
    if (!stopped) await withTimeout('engine stop', 60_000, engine.stop()).catch((e: Error) => progress(`engine stop failed: ${e.message}`));
    log.flush?.();
  }
}

/** What the stopped engine left in LMDB: stored actors and the bytes they take. */
function measureLmdb(dataDir: string): LmdbFigures {
  const store = openCheckpointStore(dataDir);
  const actors = store.actorCount();
  void store.close();
  const path = join(dataDir, 'state.lmdb');
  const root = openLmdb({ path, compression: false, readOnly: true });
  try {
    const db = root.openDB<string, string>({ name: Databases.actors, encoding: 'string' });
    let payloadBytes = 0;
    for (const { key, value } of db.getRange()) payloadBytes += Buffer.byteLength(String(key)) + Buffer.byteLength(value);
    type Stats = { pageSize?: number; treeBranchPageCount?: number; treeLeafPageCount?: number; overflowPages?: number };
    const pagesOf = (st: Stats) => (st.pageSize !== undefined ? ((st.treeBranchPageCount ?? 0) + (st.treeLeafPageCount ?? 0) + (st.overflowPages ?? 0)) * st.pageSize : null);
    // A user's disk cost is its actor row plus its row in the timers database (ordered by deadline).
    const timerDb = root.openDB({ name: Databases.timers, encoding: 'msgpack' });
    const timers = timerDb.getCount();
    const actorPages = pagesOf(db.getStats() as Stats);
    const timerPages = pagesOf(timerDb.getStats() as Stats);
    const pageBytes = actorPages === null ? null : actorPages + (timerPages ?? 0);
    const fileBlockBytes = statSync(path).blocks * 512;
    return { actors, payloadBytes, pageBytes, fileBlockBytes, timers };
  } finally {
    void root.close();
  }
}

// ------------------------------------------------------------------ 3. heap per live actor

interface HeapFigures {
  actors: number;
  eventsPerActor: number;
  bytesPerActor: number;
  heapDeltaBytes: number;
  /** The same actors' snapshots committed through the checkpoint store into a fresh LMDB. */
  lmdb: LmdbFigures;
}

/**
 * N users' live actors, built exactly as the engine builds them: producer-shaped JSON bodies
 * (3 views each) go through PartitionProcessor.process (decode → EventRef → ActorHost.deliver →
 * timer) into one ActorHost (store stub, cap above N). heapUsed delta after full GCs, with the
 * dirty set already captured, / N. It counts everything a live user costs the worker: the actor,
 * its userId key, the EventRefs it keeps, its timer-queue entry.
 */
function feedViews(host: ActorHost, n: number, seq0 = 0): PartitionProcessor {
  const categories = ['2053013555631882655', '2053013553559896355', '2053013563810775923', '2053013554658804075', '2053013558920217191'];
  const codes = ['electronics.smartphone', '', 'computers.notebook', 'appliances.kitchen.kettle', ''];
  const proc = new PartitionProcessor({ partition: 0, partitions: 1, maxOutOfOrderMs: 5_000, latePolicy: 'process', maxEventBytes: 16 * 1024 }, host);
  const out: Output[] = [];
  const t0 = Date.UTC(2019, 10, 1);
  let seq = seq0;
  for (let i = 0; i < n; i++) {
    const userId = String(510_000_000 + i * 7);
    const session = `${(0x10000000 + i).toString(16)}-4b2c-4d1e-8f00-${(1e11 + i).toString(16).padStart(12, '0')}`;
    for (let k = 0; k < VIEWS_PER_ACTOR; k++) {
      const c = (i * 7 + k * (i % 3)) % categories.length;
      const body = JSON.stringify({
        // Users interleave in time (13 ms apart), each one's views 45 s apart: no session closes.
        eventTime: new Date(t0 + i * 13 + k * 45_000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC'),
        eventType: 'view',
        productId: String(1_000_000 + ((i * 31 + k * 17) % 1900) * 37),
        categoryId: categories[c],
        categoryCode: codes[c],
        price: Math.round(((i * 97 + k * 13) % 50_000) + 50) / 100,
        userId,
        userSession: session,
        brand: 'samsung',
      });
      out.length = 0;
      proc.process({ seq: ++seq, subject: `events.view.${userId}.0`, data: Buffer.from(body) }, out);
      if (out.some((o) => o.kind === 'dlq')) throw new Error(`heap bench: event dead-lettered: ${JSON.stringify(out[0])}`);
    }
  }
  return proc;
}

const VIEWS_PER_ACTOR = 3;

async function measureHeapPerActor(gcFn: () => void, n: number, lmdbDir: string, patterns: PatternSet): Promise<HeapFigures> {
  gcFn();
  gcFn();
  const before = process.memoryUsage().heapUsed;
  let host: ActorHost | null = new ActorHost({ loadActor: () => undefined }, n + 1, patterns);
  let proc: PartitionProcessor | null = feedViews(host, n);
  host.captureDirty();
  host.committed();
  gcFn();
  gcFn();
  const after = process.memoryUsage().heapUsed;
  const live = host.liveCount;
  if (live !== n) throw new Error(`heap bench: expected ${n} live actors, host has ${live} (did the sessions close?)`);
  host.stopAll();
  host = null;
  proc = null;

  // The same users once more, checkpointed through the store into a fresh LMDB as the engine would.
  const host2 = new ActorHost({ loadActor: () => undefined }, n + 1, patterns);
  feedViews(host2, n);
  const snapshots = host2.captureDirty();
  host2.committed();
  host2.stopAll();
  const store = openCheckpointStore(lmdbDir);
  await store.commit({ partitions: [], actors: snapshots });
  await store.close();
  const lmdb = measureLmdb(lmdbDir);
  rmSync(lmdbDir, { recursive: true, force: true });
  gcFn();
  return { actors: live, eventsPerActor: VIEWS_PER_ACTOR, bytesPerActor: (after - before) / live, heapDeltaBytes: after - before, lmdb };
}

// ------------------------------------------------------------------ 3b. heap per open analytics window state

interface WindowHeapFigures {
  /** Sample messages fed to the measured pipeline (the stream's first ones, up to the peak) and the events the jobs took. */
  messages: number;
  events: number;
  /** Open (window, key) states per job when measured (windowCounts()), and their sum. */
  windows: Record<string, number>;
  windowStates: number;
  heapDeltaBytes: number;
  bytesPerWindowState: number;
  /** At the end of the whole sample, for comparison (few: the last windows only hold the sessions' spill-over). */
  windowStatesAtEnd: number;
  /** What closed along the way (outputs dropped, not held). */
  results: number;
  late: number;
  ms: number;
}

/** The seeded sample in stream order as the analytics thread reads it, one message at a time, the first `limit` of them. */
function feedPipeline(pipeline: AnalyticsPipeline, partitions: number, users: number, seed: number, limit: number, each?: (seq: number) => void): number {
  const out: Output[] = [];
  let seq = 0;
  for (const r of generateSample({ users, seed })) {
    if (seq >= limit) break;
    const body = JSON.stringify(sampleRowToEvent(r));
    const subject = `events.${r.event_type}.${r.user_id}.${partitionOf(r.user_id, partitions)}`;
    pipeline.process({ seq: ++seq, subject, data: Buffer.from(body) }, out);
    out.length = 0;
    each?.(seq);
  }
  return seq;
}

const windowStateSum = (p: AnalyticsPipeline) => p.jobs.reduce((a, j) => a + j.windowCount, 0);

/**
 * AnalyticsPipelines with the engine's settings (the same window sizes, lateness, partitions), fed
 * the seeded sample as the engine's analytics thread reads it: stored subjects
 * `events.<type>.<user>.<partition>`, seq = publish order, the producer's JSON bodies, built one at
 * a time so nothing but the pipeline outlives the feed. A first, unmeasured pass over the whole
 * sample (it also warms the code up) finds where the open (window, key) states peak: at the
 * sample's end the last windows hold only the sessions' spill-over. The measured pipeline is fed
 * up to there: heapUsed delta after full GCs, every window still open (no final flush), / the open
 * states of all jobs.
 */
function measureWindowHeap(gcFn: () => void, config: Config, users: number, seed: number): WindowHeapFigures {
  let probe: AnalyticsPipeline | null = new AnalyticsPipeline(config);
  let peak = { states: -1, seq: 0 };
  const probeRef = probe;
  feedPipeline(probe, config.partitions, users, seed, Number.POSITIVE_INFINITY, (seq) => {
    const n = windowStateSum(probeRef);
    if (n > peak.states) peak = { states: n, seq };
  });
  const windowStatesAtEnd = windowStateSum(probe);
  probe = null;

  gcFn();
  gcFn();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let pipeline: AnalyticsPipeline | null = new AnalyticsPipeline(config);
  const messages = feedPipeline(pipeline, config.partitions, users, seed, peak.seq);
  const ms = performance.now() - t0;
  gcFn();
  gcFn();
  const after = process.memoryUsage().heapUsed;
  const windows = pipeline.windowCounts();
  const windowStates = Object.values(windows).reduce((a, b) => a + b, 0);
  if (windowStates !== peak.states) throw new Error(`window heap bench: ${windowStates} open states after ${messages} messages, the first pass had ${peak.states}`);
  const { events, results, late } = pipeline.counters;
  pipeline = null;
  gcFn();
  return { messages, events, windows, windowStates, heapDeltaBytes: after - before, bytesPerWindowState: windowStates ? (after - before) / windowStates : 0, windowStatesAtEnd, results, late, ms };
}

// ------------------------------------------------------------------ 4. CPU profile

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

interface ProfileRow {
  name: string;
  where: string;
  selfPct: number;
  selfMs: number;
}
interface ProfileSummary {
  file: string;
  totalMs: number;
  idlePct: number;
  top: ProfileRow[];
  byArea: Array<{ area: string; selfPct: number }>;
}

const shortUrl = (url: string): string => {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf(`node_modules${sep}`);
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  const root = fileURLToPath(new URL('..', import.meta.url));
  return u.startsWith(root) ? u.slice(root.length) : u;
};

function areaOf(fn: string, url: string): string {
  const u = shortUrl(url);
  if (fn === '(garbage collector)') return 'V8 garbage collector';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8/native (program)';
  if (u.startsWith('xstate/')) return 'xstate';
  if (u.startsWith('zod/')) return 'zod (event validation)';
  if (u.startsWith('@nats-io/')) return 'nats client';
  if (u.startsWith('lmdb/') || u.startsWith('msgpackr/') || u.startsWith('ordered-binary/')) return 'lmdb';
  if (u.startsWith('pino') || u.startsWith('sonic-boom/')) return 'pino';
  if (u.startsWith('src/') || u.startsWith('actors/')) return `nudge ${u.split('/').slice(0, 2).join('/')}`;
  if (u.startsWith('node:') || u === '') return `node core / builtins`;
  return u.split('/')[0] ?? u;
}

function summariseProfile(profile: CpuProfile, file: string, topN = 12): ProfileSummary {
  const totalHits = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerHit = totalHits > 0 ? totalMs / totalHits : 0;
  const byFn = new Map<string, { name: string; where: string; hits: number }>();
  const byArea = new Map<string, number>();
  let idle = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    const fn = n.callFrame.functionName || '(anonymous)';
    const where = shortUrl(n.callFrame.url);
    if (fn === '(idle)') idle += hits;
    const key = `${fn}\u0000${where}`;
    const row = byFn.get(key) ?? { name: fn, where, hits: 0 };
    row.hits += hits;
    byFn.set(key, row);
    const area = areaOf(fn, n.callFrame.url);
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  const top = [...byFn.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, topN)
    .map((r) => ({ name: r.name, where: r.where, selfPct: r.hits / totalHits, selfMs: r.hits * msPerHit }));
  return {
    file,
    totalMs,
    idlePct: totalHits ? idle / totalHits : 0,
    top,
    byArea: [...byArea].sort((a, b) => b[1] - a[1]).map(([area, hits]) => ({ area, selfPct: hits / totalHits })),
  };
}

// ------------------------------------------------------------------ main

interface Round {
  round: number;
  order: RoundOrder;
  raw: PassResult;
  engine: EngineResult;
  rules: BaselineResult;
  ratio: number;
  rulesRatio: number;
  /** The engine pass's analytics rate / RAW's; null when analytics is off. */
  analyticsRatio: number | null;
}

/** Odd rounds raw → engine → rules, even rounds the reverse, so drift on the machine hits every pass. */
type RoundOrder = 'raw,engine,rules' | 'rules,engine,raw';

interface PatternActions {
  patternId: string;
  version: number;
  type: string;
  /** Actions of this type in ACTIONS after the first engine pass (later passes rebuild the same Msg-Ids, which JetStream drops). */
  engineActions: number;
  /** What the json-rules-engine baseline's equivalent rule fired in the first round. */
  rulesFired: number | null;
}

/** Messages in ACTIONS per action type: a filtered consumer's pending count (the consumer is deleted again). */
async function actionsByType(jsm: JetStreamManager, types: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const type of types) {
    const name = `nudge-bench-count-${type.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const ci = await jsm.consumers.add(Streams.actions, {
      durable_name: name,
      filter_subject: Subjects.action(type, '*'),
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
    });
    out[type] = ci.num_pending;
    await jsm.consumers.delete(Streams.actions, name);
  }
  return out;
}

async function main(gcFn: () => void): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'nudge-bench-'));
  let server: EmbeddedServer | undefined;
  let nc: NatsConnection | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await nc?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    progress(`${sig}: stopping the private nats-server and removing ${root}`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const natsBin = findNatsServer();
    const natsVersion = execFileSync(natsBin, ['--version'], { encoding: 'utf8' }).trim();
    const cpu = cpus();
    const machine = {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      memGiB: Math.round(totalmem() / 1024 ** 3),
      os: `${platform()} ${release()} ${arch()}`,
      node: process.version,
      natsServer: natsVersion,
    };
    progress(`${machine.cpu} x${machine.cores}, node ${machine.node}, ${natsVersion}`);

    // The patterns every engine pass runs: the engine loads the same directory (config patternsDir).
    const patternsDir = engineConfig('nats://127.0.0.1:1', join(root, 'unused')).patternsDir;
    const loaded = loadPatternDir(patternsDir);
    if (loaded.rejected.length) throw new Error(`patterns rejected in ${patternsDir}: ${loaded.rejected.map((r) => `${r.id ?? r.source}: ${r.reason}`).join('; ')}`);
    const patterns = {
      dir: patternsDir,
      active: loaded.set.patterns.map((p) => ({ id: p.id, version: p.spec.version, type: p.spec.action.type })),
    };
    progress(`patterns active in the engine passes (${patterns.active.length}, ${patternsDir}): ${patterns.active.map((p) => `${p.id}@${p.version}`).join(', ')}`);
    const missingRules = patterns.active.filter((p) => !(p.id in BASELINE_RULE_TYPES));
    if (missingRules.length) progress(`  warning: the json-rules-engine baseline has no rule for ${missingRules.map((p) => p.id).join(', ')}`);

    // 3a first, on a quiet heap.
    progress(`heap per live actor: ${fmtInt(MEM_ACTORS)} actors x 3 views`);
    const heap = await measureHeapPerActor(gcFn, MEM_ACTORS, join(root, 'heap-lmdb'), loaded.set);
    progress(`  ${fmtInt(heap.bytesPerActor)} heap bytes per live actor; in LMDB ${fmtInt(heap.lmdb.payloadBytes / heap.lmdb.actors)} key+value bytes, ${fmtInt((heap.lmdb.pageBytes ?? 0) / heap.lmdb.actors)} page bytes per actor`);

    // 3b, also on a quiet heap: the analytics jobs' window state over the whole sample.
    progress(`heap per open analytics window state: the ${fmtInt(USERS)} users' sample through an AnalyticsPipeline up to its peak of open windows, left open`);
    const windowHeap = measureWindowHeap(gcFn, engineConfig('nats://127.0.0.1:1', join(root, 'unused')), USERS, SEED);
    progress(`  ${fmtInt(windowHeap.heapDeltaBytes)} heap bytes for ${fmtInt(windowHeap.windowStates)} open window states (${fmtWindows(windowHeap.windows)}): ${fmtInt(windowHeap.bytesPerWindowState)} bytes each (the first ${fmtInt(windowHeap.messages)} messages, fed in ${(windowHeap.ms / 1000).toFixed(1)} s; ${fmtInt(windowHeap.windowStatesAtEnd)} open at the sample's end)`);

    server = await startEmbeddedServer({ dir: join(root, 'nats') });
    progress(`private nats-server at ${server.url} (pid ${server.pid}), store in ${root}`);
    nc = await connectNats(server.url, 'nudge-bench');
    const jsm = await requireJetStream(nc);
    await ensureStreams(jsm, engineConfig(server.url, join(root, 'unused')));
    const before = await streamMessages(jsm);
    if (before.messages !== 0) throw new Error(`fresh EVENTS stream already holds ${before.messages} messages`);

    // Generation and publishing run in a child process, so the sample never inflates this process's RSS.
    const pub = await runPublisher(server.url);
    const { events, users, perPartition } = pub;
    progress(`  published ${fmtInt(events)} events over ${fmtInt(users)} users via ${pub.method} in ${pub.seconds.toFixed(1)} s: ${fmtRate(pub.rate)} (stream count verified)`);
    const stored = await streamMessages(jsm);
    if (stored.messages !== events) throw new Error(`EVENTS holds ${stored.messages} messages, the publisher reported ${events}`);

    const lastSeq = await partitionLastSeqs(jsm);
    progress(`  per partition (events/last seq): ${perPartition.map((c, p) => `${p}:${fmtInt(c)}/${lastSeq[p]}`).join(' ')}`);
    for (let p = 0; p < PARTITIONS; p++) {
      if ((perPartition[p] === 0) !== (lastSeq[p] === 0)) throw new Error(`partition ${p}: expected ${perPartition[p]} events, stream's last seq is ${lastSeq[p]}`);
    }

    const rounds: Round[] = [];
    // Filled by the first engine pass (inside doEngine below).
    const counted: { byType: Record<string, number> | null; firstEngineActions: number } = { byType: null, firstEngineActions: 0 };
    for (let r = 1; r <= ROUNDS; r++) {
      const order: RoundOrder = r % 2 === 1 ? 'raw,engine,rules' : 'rules,engine,raw';
      progress(`round ${r}/${ROUNDS} (${order})`);
      const doRaw = async () => {
        const res = await rawPass(server!.url, lastSeq);
        if (res.messages !== events || res.perPartition!.some((c, p) => c !== perPartition[p])) {
          throw new Error(`raw pass saw ${res.perPartition!.join('/')} messages per partition, expected ${perPartition.join('/')}`);
        }
        progress(`  raw    ${fmtRate(res.rate)} (${(res.ms / 1000).toFixed(2)} s; consumers ready ${fmtInt(res.setupMs ?? NaN)} ms, first message ${fmtInt(res.firstMsgMs ?? NaN)} ms)`);
        return res;
      };
      const doEngine = async () => {
        const dir = join(root, `engine-r${r}`);
        const res = await enginePass(server!.url, dir, lastSeq, events);
        rmSync(dir, { recursive: true, force: true });
        if (res.messages !== events) throw new Error(`engine applied ${res.messages} events (+dlq), expected ${events}: ${JSON.stringify(res.totals)}`);
        const m = res.memAtCatchUp;
        progress(`  engine ${fmtRate(res.rate)} (${(res.ms / 1000).toFixed(2)} s; start ${fmtInt(res.startMs)} ms, stop ${fmtInt(res.stopMs)} ms; ${fmtInt(res.lmdb.actors)} actors stored)`);
        progress(`         rss ${fmtMiB(res.memBefore.rss)} before start, peak ${fmtMiB(res.peakRssBytes)}, ${fmtMiB(m.rss)} at catch-up (engine heap used ${fmtMiB(res.heapUsedBytes)}; this thread's ${fmtMiB(m.heapUsed)} of ${fmtMiB(m.heapTotal)}, external ${fmtMiB(m.external)}, array buffers ${fmtMiB(m.arrayBuffers)}; ${liveHeap(res.liveHeapBytes)})`);
        const a = res.analytics;
        if (!a) progress('         analytics off');
        else {
          progress(
            `         analytics ${fmtRate(a.rate)} (${(a.ms / 1000).toFixed(2)} s to seq ${fmtInt(a.targetSeq)}${a.caughtUp ? '' : `, NOT caught up: at ${fmtInt(a.seq)}`}, ${(a.afterEngineMs / 1000).toFixed(2)} s after the partitions; results ${fmtInt(a.counters.results)}, late ${fmtInt(a.counters.late)}; peak open windows ${fmtWindows(a.peakWindows)})`,
          );
        }
        if (counted.byType === null) {
          // The first engine pass filled ACTIONS; later passes send the same Msg-Ids and JetStream drops them.
          const byType = await actionsByType(jsm, patterns.active.map((p) => p.type));
          counted.byType = byType;
          counted.firstEngineActions = res.totals.actions;
          const inStream = Object.values(byType).reduce((a, b) => a + b, 0);
          progress(`         actions by pattern: ${patterns.active.map((p) => `${p.id} ${fmtInt(byType[p.type] ?? 0)}`).join(', ')}`);
          if (inStream !== res.totals.actions) progress(`         warning: ACTIONS holds ${fmtInt(inStream)} actions of these types, the pass counted ${fmtInt(res.totals.actions)}`);
        }
        return res;
      };
      const doRules = async () => {
        const res = await rulesBaselinePass(server!.url, lastSeq, passTimeoutMs(events), progress);
        if (res.messages !== events || res.perPartition.some((c, p) => c !== perPartition[p])) {
          throw new Error(`rules pass saw ${res.perPartition.join('/')} events per partition, expected ${perPartition.join('/')}`);
        }
        progress(`  rules  ${fmtRate(res.rate)} (${(res.ms / 1000).toFixed(2)} s; consumers ready ${fmtInt(res.setupMs ?? NaN)} ms; ${fmtInt(res.runs)} engine.run calls, ${fmtInt(res.users)} users; fired ${Object.entries(res.fired).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')})`);
        return res;
      };
      let raw: PassResult;
      let engine: EngineResult;
      let rules: BaselineResult;
      if (order === 'raw,engine,rules') {
        raw = await doRaw();
        gcFn();
        engine = await doEngine();
        gcFn();
        rules = await doRules();
      } else {
        rules = await doRules();
        gcFn();
        engine = await doEngine();
        gcFn();
        raw = await doRaw();
      }
      gcFn();
      const analyticsRatio = engine.analytics ? engine.analytics.rate / raw.rate : null;
      rounds.push({ round: r, order, raw, engine, rules, ratio: engine.rate / raw.rate, rulesRatio: rules.rate / raw.rate, analyticsRatio });
      progress(`  ratio  engine/raw ${fmtPct(engine.rate / raw.rate)}, rules/raw ${fmtPct(rules.rate / raw.rate)}, engine/rules ${(engine.rate / rules.rate).toFixed(2)}x, ${analyticsRatio === null ? 'analytics off' : `analytics/raw ${fmtPct(analyticsRatio)}`}`);
    }
    const byType = counted.byType ?? {};
    const firstRules = rounds[0]!.rules.fired;
    const actionsByPattern: PatternActions[] = patterns.active.map((p) => ({
      patternId: p.id,
      version: p.version,
      type: p.type,
      engineActions: byType[p.type] ?? 0,
      rulesFired: p.id in firstRules ? firstRules[p.id as BaselineRuleId] : null,
    }));

    let profile: ProfileSummary | null = null;
    if (opts.profile) {
      progress('profiled engine pass (V8 CPU profiler, not counted in the rounds)');
      let cpuProfile: CpuProfile | null = null;
      const dir = join(root, 'engine-profile');
      if (engineRunsInThisThread(engineConfig(server.url, dir))) {
        const session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 500 });
        await enginePass(server.url, dir, lastSeq, events, async (phase) => {
          if (phase === 'start') await session.post('Profiler.start');
          else cpuProfile = ((await session.post('Profiler.stop')) as { profile: CpuProfile }).profile;
        });
        session.disconnect();
      } else {
        // The engine runs in a worker thread: it profiles itself (engine-thread.ts), start to stop.
        const profDir = mkdtempSync(join(tmpdir(), 'nudge-bench-thread-profile-'));
        process.env.NUDGE_CPU_PROFILE_DIR = profDir;
        try {
          await enginePass(server.url, dir, lastSeq, events);
        } finally {
          delete process.env.NUDGE_CPU_PROFILE_DIR;
        }
        const first = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).sort()[0];
        if (first) cpuProfile = JSON.parse(readFileSync(join(profDir, first), 'utf8')) as CpuProfile;
        rmSync(profDir, { recursive: true, force: true });
      }
      rmSync(dir, { recursive: true, force: true });
      if (!cpuProfile) throw new Error('profiler returned nothing');
      const file = opts['profile-out'] ?? join(mkdtempSync(join(tmpdir(), 'nudge-bench-profile-')), 'engine.cpuprofile');
      writeFileSync(file, JSON.stringify(cpuProfile));
      profile = summariseProfile(cpuProfile, file);
      progress(`  profile written to ${file}`);
    }

    const last = rounds[rounds.length - 1]!;
    const result = {
      machine,
      events,
      users,
      partitions: PARTITIONS,
      seed: SEED,
      checkpointMs: CHECKPOINT_MS,
      snapshotEvery: SNAPSHOT_EVERY,
      publish: { method: pub.method, rate: pub.rate, seconds: pub.seconds, ...(pub.coreAttempt ? { coreAttempt: pub.coreAttempt } : {}) },
      patterns: { dir: patterns.dir, active: patterns.active.map((p) => `${p.id}@${p.version}`) },
      actionsByPattern,
      firstEngineActions: counted.firstEngineActions,
      rounds: rounds.map((r) => ({
        round: r.round,
        order: r.order,
        rawRate: r.raw.rate,
        rawSeconds: r.raw.ms / 1000,
        rawSetupMs: r.raw.setupMs ?? null,
        rawFirstMsgMs: r.raw.firstMsgMs ?? null,
        engineRate: r.engine.rate,
        engineSeconds: r.engine.ms / 1000,
        rulesRate: r.rules.rate,
        rulesSeconds: r.rules.ms / 1000,
        rulesSetupMs: r.rules.setupMs ?? null,
        rulesRatio: r.rulesRatio,
        engineVsRules: r.engine.rate / r.rules.rate,
        rulesFired: r.rules.fired,
        engineStartMs: r.engine.startMs,
        engineStopMs: r.engine.stopMs,
        ratio: r.ratio,
        // Excluding set-up (consumer creation: the server counts a filtered consumer's pending on a big stream):
        rawSteadyRate: r.raw.setupMs !== undefined ? r.raw.messages / ((r.raw.ms - r.raw.setupMs) / 1000) : null,
        engineSteadyRate: r.engine.messages / ((r.engine.ms - r.engine.startMs) / 1000),
        totals: r.engine.totals,
        memBefore: r.engine.memBefore,
        memAtCatchUp: r.engine.memAtCatchUp,
        liveHeapBytes: r.engine.liveHeapBytes,
        peakRssBytes: r.engine.peakRssBytes,
        evictions: r.engine.evictions,
        rssBytes: r.engine.rssBytes,
        heapUsedBytes: r.engine.heapUsedBytes,
        actorsStored: r.engine.lmdb.actors,
        // The analytics thread of this engine pass (null: analytics off):
        analyticsRate: r.engine.analytics?.rate ?? null,
        analyticsSeconds: r.engine.analytics ? r.engine.analytics.ms / 1000 : null,
        analyticsRatio: r.analyticsRatio,
        analyticsCaughtUp: r.engine.analytics?.caughtUp ?? null,
        analyticsAfterEngineSeconds: r.engine.analytics ? r.engine.analytics.afterEngineMs / 1000 : null,
        analyticsCounters: r.engine.analytics?.counters ?? null,
        analyticsPeakWindows: r.engine.analytics?.peakWindows ?? null,
      })),
      median: {
        rawRate: median(rounds.map((r) => r.raw.rate)),
        engineRate: median(rounds.map((r) => r.engine.rate)),
        ratio: median(rounds.map((r) => r.ratio)),
        rulesRate: median(rounds.map((r) => r.rules.rate)),
        rulesRatio: median(rounds.map((r) => r.rulesRatio)),
        engineVsRules: median(rounds.map((r) => r.engine.rate / r.rules.rate)),
        steadyRatio: median(rounds.map((r) => r.engine.messages / ((r.engine.ms - r.engine.startMs) / 1000) / (r.raw.messages / ((r.raw.ms - (r.raw.setupMs ?? 0)) / 1000)))),
        analyticsRate: rounds.every((r) => r.engine.analytics) ? median(rounds.map((r) => r.engine.analytics!.rate)) : null,
        analyticsRatio: rounds.every((r) => r.analyticsRatio !== null) ? median(rounds.map((r) => r.analyticsRatio!)) : null,
      },
      memory: {
        heapBytesPerLiveActor: heap.bytesPerActor,
        heapMeasuredActors: heap.actors,
        heapEventsPerActor: heap.eventsPerActor,
        lmdb3ViewActors: heap.lmdb.actors,
        lmdb3ViewPayloadBytesPerActor: heap.lmdb.payloadBytes / heap.lmdb.actors,
        lmdb3ViewPageBytesPerActor: heap.lmdb.pageBytes !== null ? heap.lmdb.pageBytes / heap.lmdb.actors : null,
        actorsStored: last.engine.lmdb.actors,
        timersStored: last.engine.lmdb.timers,
        lmdbPayloadBytesPerActor: last.engine.lmdb.actors ? last.engine.lmdb.payloadBytes / last.engine.lmdb.actors : 0,
        lmdbPageBytesPerActor: last.engine.lmdb.actors && last.engine.lmdb.pageBytes !== null ? last.engine.lmdb.pageBytes / last.engine.lmdb.actors : null,
        lmdbFileBytes: last.engine.lmdb.fileBlockBytes,
        engineRssBytes: last.engine.rssBytes,
        engineHeapUsedBytes: last.engine.heapUsedBytes,
        engineLiveHeapBytes: last.engine.liveHeapBytes,
        enginePeakRssBytes: Math.max(...rounds.map((r) => r.engine.peakRssBytes)),
        windowHeapBytes: windowHeap.heapDeltaBytes,
        windowStates: windowHeap.windowStates,
        windowHeapBytesPerState: windowHeap.bytesPerWindowState,
        windowStatesByJob: windowHeap.windows,
        windowHeapMessages: windowHeap.messages,
        windowStatesAtEnd: windowHeap.windowStatesAtEnd,
      },
      floor: { min: 0.3, goal: 0.6 },
      profile,
    };

    if (opts['json-out']) writeFileSync(opts['json-out'], `${JSON.stringify(result, null, 2)}\n`);
    if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else process.stdout.write(renderTable(result));
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (existsSync(root)) progress(`warning: could not remove ${root}`);
  }
}

type Result = {
  machine: { cpu: string; cores: number; memGiB: number; os: string; node: string; natsServer: string };
  events: number;
  users: number;
  /** The engine pass's checkpoint interval (--checkpoint-ms). */
  checkpointMs: number;
  /** Live actors' changes written at most once per this many checkpoints (NUDGE_SNAPSHOT_EVERY). */
  snapshotEvery: number;
  publish: { method: string; rate: number; seconds: number };
  patterns: { dir: string; active: string[] };
  actionsByPattern: PatternActions[];
  firstEngineActions: number;
  rounds: Array<{
    round: number;
    order: string;
    rawRate: number;
    engineRate: number;
    ratio: number;
    rulesRate: number;
    rulesRatio: number;
    engineVsRules: number;
    engineSeconds: number;
    rawSeconds: number;
    rulesSeconds: number;
    rssBytes: number;
    peakRssBytes: number;
    actorsStored: number;
    evictions: number;
    analyticsRate: number | null;
    analyticsSeconds: number | null;
    analyticsRatio: number | null;
    analyticsCaughtUp: boolean | null;
    analyticsAfterEngineSeconds: number | null;
    analyticsCounters: AnalyticsCounters | null;
    analyticsPeakWindows: Record<string, number> | null;
  }>;
  median: {
    rawRate: number;
    engineRate: number;
    ratio: number;
    rulesRate: number;
    rulesRatio: number;
    engineVsRules: number;
    steadyRatio: number;
    analyticsRate: number | null;
    analyticsRatio: number | null;
  };
  memory: {
    heapBytesPerLiveActor: number;
    heapMeasuredActors: number;
    lmdb3ViewActors: number;
    lmdb3ViewPayloadBytesPerActor: number;
    lmdb3ViewPageBytesPerActor: number | null;
    actorsStored: number;
    timersStored: number | null;
    lmdbPayloadBytesPerActor: number;
    lmdbPageBytesPerActor: number | null;
    lmdbFileBytes: number;
    engineRssBytes: number;
    engineHeapUsedBytes: number;
    engineLiveHeapBytes: number | null;
    enginePeakRssBytes: number;
    windowHeapBytes: number;
    windowStates: number;
    windowHeapBytesPerState: number;
    windowStatesByJob: Record<string, number>;
    windowHeapMessages: number;
    windowStatesAtEnd: number;
  };
  floor: { min: number; goal: number };
  profile: ProfileSummary | null;
};

function renderTable(r: Result): string {
  const lines: string[] = [];
  const kv = (k: string, v: string) => lines.push(`${k.padEnd(40)} ${v}`);
  lines.push('Nudge benchmark', '');
  kv('machine', `${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memGiB} GiB, ${r.machine.os}`);
  kv('node / nats-server', `${r.machine.node} / ${r.machine.natsServer}`);
  kv('events / users / partitions', `${fmtInt(r.events)} / ${fmtInt(r.users)} / ${PARTITIONS}`);
  kv('engine checkpoints', `every ${fmtInt(r.checkpointMs)} ms (--checkpoint-ms); a live actor written at most every ${r.snapshotEvery} (NUDGE_SNAPSHOT_EVERY)`);
  kv('publish', `${fmtRate(r.publish.rate)} (${r.publish.method}, ${r.publish.seconds.toFixed(1)} s, stream count verified)`);
  kv(`patterns active (${r.patterns.active.length})`, r.patterns.active.join(', '));
  lines.push('');
  lines.push('raw = JSON.parse only; engine = Nudge, all patterns above; rules = json-rules-engine, the same six rules, naive per-user Map (bench/rules-baseline.ts)');
  lines.push(
    `${'round'.padEnd(7)}${'order'.padEnd(18)}${'raw msgs/s'.padStart(12)}${'engine ev/s'.padStart(13)}${'engine/raw'.padStart(12)}${'rules ev/s'.padStart(12)}${'rules/raw'.padStart(11)}${'engine/rules'.padStart(14)}${'engine s'.padStart(10)}${'rules s'.padStart(9)}${'evictions'.padStart(11)}${'peak RSS'.padStart(12)}`,
  );
  for (const x of r.rounds) {
    lines.push(
      `${String(x.round).padEnd(7)}${x.order.padEnd(18)}${fmtInt(x.rawRate).padStart(12)}${fmtInt(x.engineRate).padStart(13)}${fmtPct(x.ratio).padStart(12)}${fmtInt(x.rulesRate).padStart(12)}${fmtPct(x.rulesRatio).padStart(11)}${`${x.engineVsRules.toFixed(2)}x`.padStart(14)}${x.engineSeconds.toFixed(2).padStart(10)}${x.rulesSeconds.toFixed(2).padStart(9)}${fmtInt(x.evictions).padStart(11)}${fmtMiB(x.peakRssBytes).padStart(12)}`,
    );
  }
  lines.push(
    `${'median'.padEnd(25)}${fmtInt(r.median.rawRate).padStart(12)}${fmtInt(r.median.engineRate).padStart(13)}${fmtPct(r.median.ratio).padStart(12)}${fmtInt(r.median.rulesRate).padStart(12)}${fmtPct(r.median.rulesRatio).padStart(11)}${`${r.median.engineVsRules.toFixed(2)}x`.padStart(14)}`,
  );
  lines.push('');
  const jobs = [...new Set(r.rounds.flatMap((x) => Object.keys(x.analyticsPeakWindows ?? {})))];
  if (r.rounds.every((x) => x.analyticsRate === null)) lines.push('analytics off');
  else {
    lines.push('analytics = the analytics jobs over the whole stream, in the analytics thread of each engine pass: time from Engine.start until it applied the stream\'s last seq');
    lines.push(
      `${'round'.padEnd(7)}${'analytics msgs/s'.padStart(17)}${'analytics/raw'.padStart(15)}${'analytics s'.padStart(13)}${'after engine s'.padStart(16)}${'results'.padStart(10)}${'late'.padStart(8)}   peak open windows seen (${jobs.join(' / ')})`,
    );
    for (const x of r.rounds) {
      if (x.analyticsRate === null) {
        lines.push(`${String(x.round).padEnd(7)}analytics off`);
        continue;
      }
      lines.push(
        `${String(x.round).padEnd(7)}${fmtInt(x.analyticsRate).padStart(17)}${fmtPct(x.analyticsRatio!).padStart(15)}${x.analyticsSeconds!.toFixed(2).padStart(13)}${x.analyticsAfterEngineSeconds!.toFixed(2).padStart(16)}${fmtInt(x.analyticsCounters!.results).padStart(10)}${fmtInt(x.analyticsCounters!.late).padStart(8)}   ${jobs.map((j) => fmtInt(x.analyticsPeakWindows![j] ?? 0)).join(' / ')}${x.analyticsCaughtUp ? '' : '  (NOT caught up)'}`,
      );
    }
    if (r.median.analyticsRate !== null && r.median.analyticsRatio !== null) {
      lines.push(`${'median'.padEnd(7)}${fmtInt(r.median.analyticsRate).padStart(17)}${fmtPct(r.median.analyticsRatio).padStart(15)}`);
    }
  }
  lines.push('');
  lines.push(`${'pattern'.padEnd(24)}${'action type'.padEnd(18)}${'engine actions'.padStart(16)}${'rules fired'.padStart(13)}`);
  for (const a of r.actionsByPattern) {
    lines.push(`${`${a.patternId}@${a.version}`.padEnd(24)}${a.type.padEnd(18)}${fmtInt(a.engineActions).padStart(16)}${(a.rulesFired === null ? '-' : fmtInt(a.rulesFired)).padStart(13)}`);
  }
  const sumActions = r.actionsByPattern.reduce((a, b) => a + b.engineActions, 0);
  lines.push(
    `${'total'.padEnd(42)}${fmtInt(sumActions).padStart(16)}${fmtInt(r.actionsByPattern.reduce((a, b) => a + (b.rulesFired ?? 0), 0)).padStart(13)}`,
    `(engine: ACTIONS after the first engine pass, which counted ${fmtInt(r.firstEngineActions)}; rules: round 1. The baseline simplifies the rules, so the counts differ: see bench/rules-baseline.ts)`,
  );
  lines.push('');
  const verdict = r.median.ratio >= r.floor.goal ? 'meets the 60% goal' : r.median.ratio >= r.floor.min ? 'above the 30% floor, below the 60% goal' : 'BELOW the 30% floor';
  kv('median engine/raw', `${fmtPct(r.median.ratio)} (${verdict})`);
  kv('  excluding consumer set-up', fmtPct(r.median.steadyRatio));
  kv('median rules baseline/raw', fmtPct(r.median.rulesRatio));
  kv('median engine/rules baseline', `${r.median.engineVsRules.toFixed(2)}x`);
  kv('median analytics/raw', r.median.analyticsRatio === null ? 'analytics off' : `${fmtPct(r.median.analyticsRatio)} (${fmtRate(r.median.analyticsRate ?? 0)})`);
  kv('heap per live actor', `${fmtInt(r.memory.heapBytesPerLiveActor)} bytes (${fmtInt(r.memory.heapMeasuredActors)} actors, 3 views each)`);
  kv(
    'heap per open analytics window state',
    `${fmtInt(r.memory.windowHeapBytesPerState)} bytes (${fmtMiB(r.memory.windowHeapBytes)} for ${fmtInt(r.memory.windowStates)} open states: ${fmtWindows(r.memory.windowStatesByJob)}; the sample's first ${fmtInt(r.memory.windowHeapMessages)} messages, where they peak, windows left open)`,
  );
  kv('LMDB bytes per stored actor', `${fmtInt(r.memory.lmdb3ViewPayloadBytesPerActor)} key+value, ${fmtInt(r.memory.lmdb3ViewPageBytesPerActor ?? 0)} in B-tree pages (the ${fmtInt(r.memory.lmdb3ViewActors)} actors above, checkpointed)`);
  kv('after a full engine pass', `${fmtInt(r.memory.actorsStored)} actors stored${r.memory.timersStored !== null ? ` (timers ${fmtInt(r.memory.timersStored)})` : ''}, ${fmtInt(r.memory.lmdbPayloadBytesPerActor)} key+value bytes each${r.memory.lmdbPageBytesPerActor !== null ? `, ${fmtInt(r.memory.lmdbPageBytesPerActor)} in pages` : ''}`);
  kv('LMDB file (allocated blocks)', fmtMiB(r.memory.lmdbFileBytes));
  kv('process RSS, peak in engine passes', fmtMiB(r.memory.enginePeakRssBytes));
  kv('process RSS at engine catch-up', `${fmtMiB(r.memory.engineRssBytes)} (engine heap used ${fmtMiB(r.memory.engineHeapUsedBytes)}, ${liveHeap(r.memory.engineLiveHeapBytes)})`);
  if (r.profile) {
    lines.push('', `CPU profile of one engine pass (${(r.profile.totalMs / 1000).toFixed(1)} s, idle ${fmtPct(r.profile.idlePct)}): ${r.profile.file}`);
    lines.push('  top self time:');
    for (const t of r.profile.top) lines.push(`  ${fmtPct(t.selfPct).padStart(7)}  ${t.name}  ${t.where}`);
    lines.push('  by area:');
    for (const a of r.profile.byArea) lines.push(`  ${fmtPct(a.selfPct).padStart(7)}  ${a.area}`);
  }
  return `${lines.join('\n')}\n`;
}

// ------------------------------------------------------------------ entry (last: every const above is initialised)

if (opts['publish-to']) {
  await publisherChild(opts['publish-to']).catch((e: unknown) => {
    process.stderr.write(`bench publisher failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
} else if (typeof gc !== 'function') {
  // The heap measurement needs a real full GC: run again with --expose-gc (same args, same stdio).
  if (process.env.NUDGE_BENCH_RESPAWNED) {
    process.stderr.write('bench: global.gc is still missing after re-spawning with --expose-gc\n');
    process.exit(1);
  }
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', THIS_FILE, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, NUDGE_BENCH_RESPAWNED: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else if (opts.suite !== 'throughput') {
  // Issue 7's suites (bench/suites.ts), lent run.ts's publisher, RAW pass and memory measurements.
  const helpers = { runPublisher, rawPass, partitionLastSeqs, measureLmdb, measureHeapPerActor, users: USERS, seed: SEED };
  await (isSuite(opts.suite) ? runSuites(opts.suite, opts, helpers, gc, () => main(gc)) : Promise.reject(new Error(`--suite must be throughput, latency, memory, recovery or all; got ${opts.suite}`))).catch((e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
} else {
  await main(gc).catch((e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
