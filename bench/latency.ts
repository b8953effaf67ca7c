/**
 * Issue 7, latency: publish-to-action latency of the engine at fixed offered loads, beside the raw
 * publish-to-consume latency at the same loads, each on its own fresh private nats-server.
 *
 *   npm run bench -- --suite latency [--latency-rates 5000,20000] [--latency-rounds 3] [--latency-seconds 20]
 *                    [--latency-warmup 3] [--latency-search 4] [--latency-sessions 2000] [--seed 1]
 *
 * Load: an open-loop generator in this process publishes at a fixed rate on a timer schedule (every
 * ~1 ms it sends what the schedule says is due, never waiting for anything), core publish with a
 * reply inbox so JetStream's ack tells it each message's stream sequence (bench/suite-common.ts
 * AckedPublisher). Each body carries its publish stamp in eventId ("<id>:<ms>", a field the event
 * contract allows and the engine ignores; ms on CLOCK_MONOTONIC, process.hrtime, which every process
 * on the machine reads alike) and event time = the wall clock at publish, as a live shop would send. The events are shopping sessions (bench/latency.ts LoadGenerator): N
 * concurrent sessions of 2-7 views of one category's popular products, then a cart (60%) and a
 * purchase of it (half of those); a finished session is replaced by a new user, so the user count
 * grows all run long, as on a live site.
 *
 * ENGINE run: `startEngine` in a child process (bench/engine-child.ts; the default config: one
 * engine thread, analytics on, live-actor cap 50,000, patterns from the bucket seeded from a dir
 * holding the six shipped patterns plus bench/latency-probe.json, a one-stage pattern that makes
 * every cart an action). A subscriber here on `actions.>` stamps each action's arrival; the action's
 * id ends in the stream sequence of the event that completed it (src/actions/action.ts), which the
 * acks map back to the publish stamp. Absence actions (timeout: true) have no triggering event and
 * are left out. Every non-absence action is a sample (about a quarter of the events make one: the
 * probe, repeat-category's coupon, high-intent).
 * RAW run: the same generator, rate and bodies, consumed by 8 ordered consumers (JSON.parse) in a
 * child process (bench/latency-raw-child.ts) that takes publish-to-consume from the stamp.
 *
 * Each run: warm-up seconds (published, not counted), then the measured seconds, then a drain until
 * the consumer has everything. Each fixed rate gets --latency-rounds raw runs and as many engine runs
 * (order alternating), reported per run and as medians; every run also records the CPU the server,
 * the consumer and the publisher used and how busy the whole machine was (bench/suite-common.ts
 * CpuSampler), and per second the engine's CPU and longest event-loop stall. A rate is sustainable when the consumer's backlog (published minus
 * applied, sampled from its 250 ms status lines over the measured window) stays bounded: it does
 * not trend up (least-squares slope < 5% of the rate per second), its peak in the second half stays
 * under 2 s of input, and the publisher kept its schedule (>= 98% of the rate). The highest
 * sustainable engine rate is searched from the fixed rates (a fixed rate counts when most of its
 * rounds were sustainable): halving below the lowest if none was, up by 1.5x while sustainable, then
 * bisection, one engine run per rate tried, --latency-search runs at most; raw (and the missing
 * engine rounds) are then measured at the rate found.
 */
import { mkdirSync, readdirSync, copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { connectNats, Subjects } from '../src/nats/index.js';
import { DEFAULT_PATTERNS_DIR } from '../src/config/config.js';
import {
  AckedPublisher,
  BENCH_DIR,
  describeEngineConfig,
  engineEnv,
  fmtInt,
  fmtMs,
  fmtPct,
  fmtX,
  monoMs,
  CpuSampler,
  killOnAbort,
  median,
  positiveNumber,
  numberList,
  progress,
  sleep,
  slope,
  spawnEngineChild,
  startPrivateNats,
  summarise,
  type LatencySummary,
  type SuiteContext,
} from './suite-common.js';

export const LATENCY_OPTIONS = {
  'latency-rates': { type: 'string', default: '5000,20000' },
  'latency-rounds': { type: 'string', default: '3' },
  'latency-seconds': { type: 'string', default: '20' },
  'latency-warmup': { type: 'string', default: '3' },
  'latency-search': { type: 'string', default: '4' },
  'latency-sessions': { type: 'string', default: '2000' },
} as const;

const PROBE_PATTERN = join(BENCH_DIR, 'latency-probe.json');

// ------------------------------------------------------------------ the load

/** sfc-ish 32-bit PRNG (mulberry32): deterministic per seed, cheap. */
function rng32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CODES = ['electronics.smartphone', 'electronics.audio.headphone', 'computers.notebook', 'appliances.kitchen.kettle', 'electronics.video.tv', 'apparel.shoes', ''];
const BRANDS = ['samsung', 'apple', 'xiaomi', 'lg', 'sony', 'bosch', ''];

interface Product {
  id: string;
  categoryId: string;
  code: string;
  brand: string;
  price: number;
}

interface Session {
  userId: string;
  session: string;
  category: number;
  views: number;
  step: number;
  cart: boolean;
  buy: boolean;
  last: Product | null;
}

export interface LoadEvent {
  type: 'view' | 'cart' | 'purchase';
  subject: string;
  /** The body up to (not including) the publish stamp: `{"eventId":"<id>:` is prepended, the stamp and the rest appended. */
  rest: string;
}

/**
 * Concurrent shopping sessions, each a fresh user: 2-7 views of one category's 6 most popular
 * products (so repeat-category fires on the third view and high-intent on a third view of one
 * product), then a cart of the last product viewed (60%), then its purchase (half of those).
 */
export class LoadGenerator {
  private readonly rnd: () => number;
  private readonly catalog: Product[][] = [];
  private readonly sessions: Session[] = [];
  private nextUser: number;
  events = { view: 0, cart: 0, purchase: 0 };
  users = 0;

  constructor(seed: number, concurrent: number, userBase: number) {
    this.rnd = rng32(seed * 7919 + 17);
    this.nextUser = userBase;
    for (let c = 0; c < 20; c++) {
      const categoryId = `20530135556318${String(82_000 + c * 37)}`;
      const code = CODES[c % CODES.length]!;
      const list: Product[] = [];
      for (let k = 0; k < 6; k++) {
        const base = 5 + this.rnd() * (c % 3 === 0 ? 900 : 250);
        list.push({ id: String(1_000_000 + c * 1000 + k * 17), categoryId, code, brand: BRANDS[(c + k) % BRANDS.length]!, price: Math.round(base * 100) / 100 });
      }
      this.catalog.push(list);
    }
    for (let i = 0; i < concurrent; i++) this.sessions.push(this.newSession());
  }

  private newSession(): Session {
    const u = this.nextUser++;
    this.users++;
    const r = this.rnd;
    const hex = (n: number) => Math.floor(n).toString(16).padStart(8, '0');
    return {
      userId: String(u),
      session: `${hex(r() * 2 ** 32)}-${hex(u).slice(0, 4)}-4${hex(r() * 2 ** 32).slice(0, 3)}-8${hex(u).slice(5, 8)}-${hex(r() * 2 ** 32)}${hex(u).slice(0, 4)}`,
      category: Math.floor(r() * this.catalog.length),
      views: 2 + Math.floor(r() * 6),
      step: 0,
      cart: r() < 0.6,
      buy: r() < 0.5,
      last: null,
    };
  }

  next(): LoadEvent {
    const i = Math.floor(this.rnd() * this.sessions.length);
    const s = this.sessions[i]!;
    let type: LoadEvent['type'];
    let p: Product;
    if (s.step < s.views) {
      // Popular products first: a quarter of the views go to the category's top product.
      const list = this.catalog[s.category]!;
      p = list[this.rnd() < 0.25 ? 0 : Math.floor(this.rnd() * list.length)]!;
      s.last = p;
      type = 'view';
    } else if (s.step === s.views && s.cart) {
      p = s.last!;
      type = 'cart';
    } else {
      p = s.last!;
      type = 'purchase';
    }
    s.step++;
    const done = s.step >= s.views + (s.cart ? (s.buy ? 2 : 1) : 0);
    if (done) this.sessions[i] = this.newSession();
    this.events[type]++;
    return {
      type,
      subject: Subjects.event(type, s.userId),
      rest: `,"eventType":"${type}","productId":"${p.id}","categoryId":"${p.categoryId}","categoryCode":"${p.code}","brand":"${p.brand}","price":${p.price},"userId":"${s.userId}","userSession":"${s.session}"}`,
    };
  }
}

// ------------------------------------------------------------------ one load run

export interface LoadRunResult {
  mode: 'raw' | 'engine';
  rate: number;
  /** Messages published per second over the measured window, and the publisher's lag behind its schedule. */
  achievedRate: number;
  publisherLagP99Ms: number;
  publisherLagMaxMs: number;
  published: number;
  measuredEvents: number;
  /** Latency samples (raw: one per measured event; engine: one per non-absence action of a measured event). */
  latency: LatencySummary;
  /** Measured events (raw) or cart events (engine) whose sample never arrived before the drain ended. */
  missing: number;
  backlog: { slopePerS: number; maxSecondHalf: number; atPublishEnd: number };
  drainMs: number;
  /** False: the drain gave up (the latency figures are then lower bounds: the slowest never arrived). */
  drained: boolean;
  /** Events the consumer applied per second over the measured window (= the offered rate when it keeps up). */
  consumerRate: number;
  sustainable: boolean;
  /** engine: actions per type seen on actions.> for measured events, events that completed one, carts published in the window. */
  actions?: {
    byType: Record<string, number>;
    timeouts: number;
    triggeringEvents: number;
    cartsMeasured: number;
    probeActions: number;
    /** The split of the latency at the action's emittedAt (the engine's wall clock, whole ms): publish → emitted, emitted → arrived here. */
    publishToEmit: LatencySummary;
    emitToArrival: LatencySummary;
  };
  /** Mean CPU over the measured window: % of one core for the server, the consumer (engine or raw child) and this publisher; % of the machine busy. */
  cpu: { procs: Record<string, number | null>; machine: number | null };
  /** Per second of the run (by publish time): the consumer's largest backlog seen, and (engine) the median latency of that second's actions. */
  series: SecondRow[];
  engineStartMs?: number;
  engineRssPeakBytes?: number;
  liveActorsAtEnd?: number;
  evictions?: number;
  users: number;
}

/**
 * One second of a run, by time since publishing started: the consumer's largest backlog seen in
 * its status lines (null: no status line arrived that second), and for the engine the median
 * latency of the actions of that second's events, its CPU use (% of one core, all its threads)
 * and the longest event-loop delay of its main thread.
 */
export interface SecondRow {
  s: number;
  backlog: number | null;
  p50: number | null;
  cpuPct?: number | null;
  loopMaxMs?: number | null;
  /** Engine checkpoints completed in that second (the engine's status counts them). */
  checkpoints?: number;
  /** % of one core used by the private nats-server, and % of the whole machine busy (all cores, anyone's). */
  serverPct: number | null;
  machinePct: number | null;
}

interface RunSettings {
  seconds: number;
  warmup: number;
  sessions: number;
  seed: number;
  patternsDir: string;
  root: string;
}

let runCounter = 0;

async function loadRun(mode: 'raw' | 'engine', rate: number, st: RunSettings): Promise<LoadRunResult> {
  const n = ++runCounter;
  const dir = join(st.root, `latency-${n}-${mode}-${rate}`);
  const nats = await startPrivateNats(join(dir, 'nats'), 'nudge-bench-latency');
  const warmupCount = Math.round(rate * st.warmup);
  const total = warmupCount + Math.round(rate * st.seconds);
  const stamps = new Float64Array(total + 1);
  const idOfSeq = new Map<number, number>();
  const isCart = new Uint8Array(total + 1);
  /** Wall clock at publish (the event's eventTime), to split the latency at the action's emittedAt. */
  const wallStamps = new Float64Array(total + 1);
  const gen = new LoadGenerator(st.seed + n, st.sessions, 700_000_000 + n * 10_000_000);

  let consumed = 0;
  const backlogSamples: Array<{ t: number; backlog: number; applied: number; cpuMs?: number; loopMaxMs?: number; checkpoints?: number }> = [];
  let sent = 0;
  let publishStart = 0;
  let publishEnd = 0;
  let peakRss = 0;
  let cpu: CpuSampler | null = null;

  // The consumer side: the engine (actions.> here) or the raw consumer child.
  const cleanups: Array<() => Promise<void>> = [];
  const actionArrivals: Array<{ seq: number; at: number; type: string; emittedAt: number }> = [];
  let timeouts = 0;
  let engineStartMs: number | undefined;
  let engine: ReturnType<typeof spawnEngineChild> | null = null;
  let raw: ReturnType<typeof spawnRawChild> | null = null;
  const onProgress = (count: number, engineStatus?: { cpuMs: number; loopDelayMaxMs: number; checkpoints: number }) => {
    consumed = count;
    if (publishStart > 0 && publishEnd === 0) {
      const t = (performance.now() - publishStart) / 1000;
      backlogSamples.push({ t, backlog: sent - count, applied: count, ...(engineStatus ? { cpuMs: engineStatus.cpuMs, loopMaxMs: engineStatus.loopDelayMaxMs, checkpoints: engineStatus.checkpoints } : {}) });
    }
  };
  try {
    if (mode === 'engine') {
      const sub = await connectNats(nats.url, 'nudge-bench-latency-actions');
      cleanups.push(() => sub.close().catch(() => undefined));
      sub.subscribe('actions.>', {
        callback: (_e, m) => {
          const at = monoMs();
          const a = JSON.parse(m.string()) as { actionId: string; type: string; timeout?: boolean; emittedAt: number };
          if (a.timeout) {
            timeouts++;
            return;
          }
          // <pattern>:<version>:<user>:<completing seq>[.<nth>]
          const tail = a.actionId.slice(a.actionId.lastIndexOf(':') + 1);
          const dot = tail.indexOf('.');
          actionArrivals.push({ seq: Number(dot < 0 ? tail : tail.slice(0, dot)), at, type: a.type, emittedAt: a.emittedAt });
        },
      });
      await sub.flush();
      engine = spawnEngineChild(engineEnv(nats.url, join(dir, 'engine'), { NUDGE_PATTERNS_DIR: st.patternsDir }), { keepHistory: false });
      cleanups.push(async () => {
        await engine!.stop(20_000).catch(() => undefined);
      });
      engine.onStatus = (s) => {
        onProgress(s.applied, s);
        peakRss = Math.max(peakRss, s.mem.rss, s.hwm);
      };
      engineStartMs = (await engine.started).startMs;
    } else {
      raw = spawnRawChild(nats.url, total);
      cleanups.push(() => raw!.stop());
      raw.onStatus = (c) => onProgress(c);
      await raw.ready;
    }

    const pub = new AckedPublisher(nats.nc, (id, seq) => {
      if (mode === 'engine') idOfSeq.set(seq, id);
    });
    cleanups.push(async () => pub.close());

    // Open loop: every ~1 ms, send what the schedule says is due by now. Message i is due at
    // publishStart + i/rate; its lag is how late it actually went out.
    const lag = new Float64Array(total);
    cpu = new CpuSampler({ server: nats.server.pid, consumer: mode === 'engine' ? engine!.pid : raw!.pid, publisher: process.pid });
    publishStart = performance.now();
    const msPerMsg = 1000 / rate;
    while (sent < total) {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - publishStart) / msPerMsg));
      while (sent < due) {
        const ev = gen.next();
        const id = sent + 1;
        if (ev.type === 'cart') isCart[id] = 1;
        const t = monoMs();
        const wall = Date.now();
        stamps[id] = t;
        wallStamps[id] = wall;
        const body = `{"eventId":"${id}:${t.toFixed(4)}","eventTime":${wall}${ev.rest}`;
        pub.publish(ev.subject, body);
        lag[sent] = performance.now() - (publishStart + id * msPerMsg);
        sent = id;
      }
      await sleep(1);
      if (engine && (engine.child.exitCode !== null || engine.child.signalCode !== null)) throw new Error(`the engine exited during the run: ${engine.stderr().slice(-2000)}`);
    }
    publishEnd = performance.now();
    const cpuMeans = cpu.mean(st.warmup, st.warmup + st.seconds);
    const measuredMs = publishEnd - (publishStart + warmupCount * msPerMsg);
    const achievedRate = (total - warmupCount) / (measuredMs / 1000);
    const lagSummary = summarise(lag.subarray(warmupCount));

    // Backlog over the measured window.
    const measured = backlogSamples.filter((b) => b.t >= st.warmup);
    const half = measured.filter((b) => b.t >= st.warmup + st.seconds / 2);
    const backlog = {
      slopePerS: slope(measured.map((b) => b.t), measured.map((b) => b.backlog)),
      maxSecondHalf: half.reduce((a, b) => Math.max(a, b.backlog), 0),
      atPublishEnd: backlogSamples.length ? backlogSamples[backlogSamples.length - 1]!.backlog : NaN,
    };
    const m0 = measured[0];
    const m1 = measured[measured.length - 1];
    const consumerRate = m0 && m1 && m1.t > m0.t ? (m1.applied - m0.applied) / (m1.t - m0.t) : NaN;
    const clearlyBehind = backlog.slopePerS >= 0.05 * rate && backlog.maxSecondHalf >= 2 * rate;

    // Drain: everything consumed (engine: and every output acknowledged), bounded; a consumer
    // clearly behind gets 20 s only (its latency is a lower bound then: the rest never arrives).
    const drainStart = performance.now();
    const drainLimit = clearlyBehind ? 20_000 : 120_000;
    let drained = false;
    for (;;) {
      if (engine && (engine.child.exitCode !== null || engine.child.signalCode !== null)) throw new Error(`the engine exited during the run: ${engine.stderr().slice(-2000)}`);
      const outputsDone = mode === 'raw' || (engine?.latest !== null && engine!.latest!.outputsInFlight === 0 && engine!.latest!.applied >= total);
      if (consumed >= total && outputsDone && pub.inFlight === 0) {
        drained = true;
        break;
      }
      if (performance.now() - drainStart > drainLimit) break;
      await sleep(20);
    }
    const drainMs = performance.now() - drainStart;
    await sleep(mode === 'engine' ? 500 : 100); // the last actions' trip back
    if (pub.failed) progress(`    warning: ${fmtInt(pub.failed)} publishes not stored (${pub.lastError})`);

    let latency: LatencySummary;
    let missing = 0;
    let actions: LoadRunResult['actions'];
    const seconds = Math.ceil(st.warmup + st.seconds);
    const perSecond: number[][] = Array.from({ length: seconds + 1 }, () => []);
    const series: SecondRow[] = perSecond.map((_, i) => ({ s: i, backlog: null, p50: null, ...(mode === 'engine' ? { cpuPct: null, loopMaxMs: null } : {}), serverPct: null, machinePct: null }));
    for (const c of cpu!.samples) {
      const row = series[Math.min(seconds, Math.max(0, Math.ceil(c.t) - 1))]!;
      row.serverPct = c.procs.server ?? null;
      row.machinePct = c.machine;
    }
    let prevCpu: { t: number; cpuMs: number } | null = null;
    let prevCheckpoints: number | null = null;
    for (const b of backlogSamples) {
      const row = series[Math.min(seconds, Math.floor(b.t))]!;
      row.backlog = Math.max(row.backlog ?? 0, b.backlog);
      if (b.checkpoints !== undefined) {
        if (prevCheckpoints !== null && b.checkpoints > prevCheckpoints) row.checkpoints = (row.checkpoints ?? 0) + b.checkpoints - prevCheckpoints;
        prevCheckpoints = b.checkpoints;
      }
      if (b.cpuMs !== undefined) {
        row.loopMaxMs = Math.max(row.loopMaxMs ?? 0, b.loopMaxMs ?? 0);
        if (prevCpu && b.t > prevCpu.t) row.cpuPct = Math.max(row.cpuPct ?? 0, ((b.cpuMs - prevCpu.cpuMs) / ((b.t - prevCpu.t) * 1000)) * 100);
        prevCpu = { t: b.t, cpuMs: b.cpuMs };
      }
    }
    if (mode === 'engine') {
      for (const a of actionArrivals) {
        const id = idOfSeq.get(a.seq);
        if (id !== undefined) perSecond[Math.min(seconds, Math.floor((id - 1) / rate))]!.push(a.at - stamps[id]!);
      }
      perSecond.forEach((xs, i) => (series[i]!.p50 = xs.length ? summarise(xs).p50 : null));
    }
    if (mode === 'engine') {
      const xs: number[] = [];
      const toEmit: number[] = [];
      const emitToArrival: number[] = [];
      const byType: Record<string, number> = {};
      const triggering = new Set<number>();
      let probeActions = 0;
      for (const a of actionArrivals) {
        const id = idOfSeq.get(a.seq);
        if (id === undefined || id <= warmupCount) continue;
        const latency = a.at - stamps[id]!;
        xs.push(latency);
        toEmit.push(a.emittedAt - wallStamps[id]!);
        emitToArrival.push(latency - (a.emittedAt - wallStamps[id]!));
        byType[a.type] = (byType[a.type] ?? 0) + 1;
        triggering.add(id);
        if (a.type === 'latency_probe') probeActions++;
      }
      let cartsMeasured = 0;
      for (let i = warmupCount + 1; i <= total; i++) cartsMeasured += isCart[i]!;
      latency = summarise(xs);
      missing = Math.max(0, cartsMeasured - probeActions);
      actions = { byType, timeouts, triggeringEvents: triggering.size, cartsMeasured, probeActions, publishToEmit: summarise(toEmit), emitToArrival: summarise(emitToArrival) };
    } else {
      const rep = await raw!.report(warmupCount + 1, total);
      latency = rep.summary;
      missing = rep.missing;
    }
    const sustainable = drained && achievedRate >= 0.98 * rate && backlog.slopePerS < 0.05 * rate && backlog.maxSecondHalf < 2 * rate;
    const st0 = engine?.latest;
    return {
      mode,
      rate,
      achievedRate,
      publisherLagP99Ms: lagSummary.p99,
      publisherLagMaxMs: lagSummary.max,
      published: sent,
      measuredEvents: total - warmupCount,
      latency,
      missing,
      backlog,
      drainMs,
      drained,
      consumerRate,
      sustainable,
      series,
      cpu: cpuMeans,
      ...(actions ? { actions } : {}),
      ...(engineStartMs !== undefined ? { engineStartMs } : {}),
      ...(mode === 'engine' ? { engineRssPeakBytes: peakRss, liveActorsAtEnd: st0?.liveActors ?? 0, evictions: st0?.evictions ?? 0 } : {}),
      users: gen.users,
    };
  } finally {
    cpu?.stop();
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function spawnRawChild(url: string, maxId: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'latency-raw-child.ts'), url, String(maxId)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-10_000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  killOnAbort(() => child.kill('SIGKILL'), exited);
  let onReady!: () => void;
  let onFail!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    onFail = rej;
  });
  void exited.then(() => onFail(new Error(`raw consumer child exited: ${err}`)));
  let reportWaiter: ((r: { missing: number; summary: LatencySummary }) => void) | null = null;
  const handle = {
    pid: child.pid!,
    ready,
    onStatus: null as ((consumed: number) => void) | null,
    report(from: number, to: number): Promise<{ missing: number; summary: LatencySummary }> {
      return new Promise((resolve, reject) => {
        reportWaiter = resolve;
        void exited.then(() => reject(new Error(`raw consumer child exited before reporting: ${err}`)));
        child.stdin!.write(`report ${from} ${to}\n`);
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as { type: string; consumed?: number; missing?: number; summary?: LatencySummary };
      buf = buf.slice(nl + 1);
      if (line.type === 'ready') onReady();
      else if (line.type === 'status') handle.onStatus?.(line.consumed!);
      else if (line.type === 'report') reportWaiter?.({ missing: line.missing!, summary: line.summary! });
    }
  });
  return handle;
}

// ------------------------------------------------------------------ the suite

/** Runs at one offered load: per round one raw and one engine run (order alternating), and the medians over rounds. */
export interface LatencyRow {
  rate: number;
  label: string;
  raw: LoadRunResult[];
  engine: LoadRunResult[];
  median: { raw: MedianFigures | null; engine: MedianFigures; ratio: { p50: number; p99: number; max: number } | null };
}

export interface MedianFigures {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Some run gave up its drain: its slowest samples never arrived, so these are at least this. */
  lowerBound: boolean;
  consumerRate: number;
  achievedRate: number;
  /** Rounds in which the rate was sustainable, of all rounds. */
  sustainable: number;
  rounds: number;
}

export interface LatencyResult {
  settings: { rates: number[]; rounds: number; seconds: number; warmup: number; sessions: number; seed: number; engine: Record<string, unknown>; patterns: string[] };
  rows: LatencyRow[];
  search: Array<{ rate: number; sustainable: boolean; p50: number; p99: number; backlogSlope: number; maxBacklogSecondHalf: number }>;
  highestSustainable: number | null;
  /** rawSustainable false: the machine could not even carry raw at that rate (the ratio then compares two backlogs). */
  budget: { rate: number; ratioP99: number | null; withinBudget: boolean | null; rawSustainable: boolean | null };
}

/** Medians over the runs that have samples; with a run that did not drain, they are lower bounds (lowerBound). */
const medianOf = (runs: LoadRunResult[]): MedianFigures => {
  const withSamples = runs.filter((r) => r.latency.samples > 0);
  const med = (f: (r: LoadRunResult) => number) => median(withSamples.map(f));
  return {
    p50: med((r) => r.latency.p50),
    p90: med((r) => r.latency.p90),
    p99: med((r) => r.latency.p99),
    max: med((r) => r.latency.max),
    lowerBound: runs.some((r) => !r.drained),
    consumerRate: median(runs.map((r) => r.consumerRate)),
    achievedRate: median(runs.map((r) => r.achievedRate)),
    sustainable: runs.filter((r) => r.sustainable).length,
    rounds: runs.length,
  };
};

const describeRun = (r: LoadRunResult) =>
  `${r.mode.padEnd(6)} ${fmtInt(r.rate)}/s offered (${fmtInt(r.achievedRate)}/s achieved, publisher lag p99 ${fmtMs(r.publisherLagP99Ms)}): p50 ${fmtMs(r.latency.p50)}, p99 ${fmtMs(r.latency.p99)}, max ${fmtMs(r.latency.max)} over ${fmtInt(r.latency.samples)} samples; backlog slope ${fmtInt(r.backlog.slopePerS)}/s, max 2nd half ${fmtInt(r.backlog.maxSecondHalf)}; ${r.sustainable ? 'sustainable' : 'NOT sustainable'}${r.missing ? `, ${fmtInt(r.missing)} missing` : ''}`;

export async function runLatency(ctx: SuiteContext): Promise<LatencyResult> {
  const o = ctx.opts;
  const rates = numberList('latency-rates', o['latency-rates']);
  const rounds = Math.floor(positiveNumber('latency-rounds', o['latency-rounds']));
  const seconds = positiveNumber('latency-seconds', o['latency-seconds']);
  const warmup = Number(o['latency-warmup'] ?? 3);
  const searchSteps = Math.floor(Number(o['latency-search'] ?? 4));
  const sessions = Math.floor(positiveNumber('latency-sessions', o['latency-sessions']));
  const seed = ctx.helpers.seed;

  // The shipped patterns plus the probe, in a dir of their own (the bucket is seeded from it).
  const patternsDir = join(ctx.root, 'latency-patterns');
  mkdirSync(patternsDir, { recursive: true });
  for (const f of readdirSync(DEFAULT_PATTERNS_DIR).filter((f) => f.endsWith('.json'))) copyFileSync(join(DEFAULT_PATTERNS_DIR, f), join(patternsDir, f));
  copyFileSync(PROBE_PATTERN, join(patternsDir, 'latency-probe.json'));
  const patterns = readdirSync(patternsDir).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
  const st: RunSettings = { seconds, warmup, sessions, seed, patternsDir, root: ctx.root };
  const engineCfg = describeEngineConfig(engineEnv('nats://127.0.0.1:1', join(ctx.root, 'x'), { NUDGE_PATTERNS_DIR: patternsDir }));
  progress(`latency: rates ${rates.map(fmtInt).join(', ')} ev/s x ${rounds} rounds, ${warmup} s warm-up + ${seconds} s measured per run, ${fmtInt(sessions)} concurrent sessions; engine ${JSON.stringify(engineCfg)}; patterns ${patterns.join(', ')}`);

  const rows: LatencyRow[] = [];
  const engineRuns = new Map<number, LoadRunResult[]>();
  const search: LatencyResult['search'] = [];
  const noteEngine = (r: LoadRunResult) => {
    engineRuns.set(r.rate, [...(engineRuns.get(r.rate) ?? []), r]);
    search.push({ rate: r.rate, sustainable: r.sustainable, p50: r.latency.p50, p99: r.latency.p99, backlogSlope: r.backlog.slopePerS, maxBacklogSecondHalf: r.backlog.maxSecondHalf });
  };
  const makeRow = (rate: number, label: string, raw: LoadRunResult[], engine: LoadRunResult[]): LatencyRow => {
    const mr = raw.length ? medianOf(raw) : null;
    const me = medianOf(engine);
    return { rate, label, raw, engine, median: { raw: mr, engine: me, ratio: mr ? { p50: me.p50 / mr.p50, p99: me.p99 / mr.p99, max: me.max / mr.max } : null } };
  };
  let flip = false;
  const pairRounds = async (rate: number, withEngine: boolean) => {
    const raw: LoadRunResult[] = [];
    const engine: LoadRunResult[] = [];
    for (let round = 1; round <= rounds; round++) {
      flip = !flip;
      const order: Array<'raw' | 'engine'> = !withEngine ? ['raw'] : flip ? ['raw', 'engine'] : ['engine', 'raw'];
      for (const mode of order) {
        const r = await loadRun(mode, rate, st);
        progress(`  round ${round}: ${describeRun(r)}`);
        if (mode === 'raw') raw.push(r);
        else {
          engine.push(r);
          noteEngine(r);
        }
      }
    }
    return { raw, engine };
  };

  for (const rate of rates) {
    progress(`latency at ${fmtInt(rate)} ev/s`);
    const { raw, engine } = await pairRounds(rate, true);
    rows.push(makeRow(rate, 'fixed', raw, engine));
  }

  // Highest sustainable: up by 1.5x from the best sustainable rate so far, then bisect; one engine
  // run per rate tried (a fixed rate counts as sustainable when most of its rounds were).
  const verdict = (rate: number) => {
    const runs = engineRuns.get(rate)!;
    return runs.filter((r) => r.sustainable).length * 2 > runs.length;
  };
  const tried = () => [...engineRuns.keys()];
  for (let step = 0; step < searchSteps; step++) {
    const lo = Math.max(0, ...tried().filter(verdict));
    const hiList = tried().filter((r) => !verdict(r) && r > lo);
    const hi = hiList.length ? Math.min(...hiList) : Infinity;
    let next: number;
    if (lo === 0) next = Math.round(Math.min(...rates, hi) / 2 / 500) * 500;
    else if (hi === Infinity) next = Math.round((lo * 1.5) / 500) * 500;
    else {
      if (hi / lo < 1.12) break;
      next = Math.round((lo + hi) / 2 / 500) * 500;
    }
    if (next <= 0 || engineRuns.has(next)) break;
    progress(`search: engine at ${fmtInt(next)} ev/s (sustainable up to ${fmtInt(lo)} so far, not at ${hi === Infinity ? '-' : fmtInt(hi)})`);
    const r = await loadRun('engine', next, st);
    progress(`  ${describeRun(r)}`);
    noteEngine(r);
  }
  const okRates = tried().filter(verdict);
  const best = okRates.length ? Math.max(...okRates) : null;
  if (best !== null && !rows.some((r) => r.rate === best)) {
    progress(`latency at the highest sustainable rate found, ${fmtInt(best)} ev/s: raw ${rounds} round(s), engine ${rounds - 1} more`);
    const raw: LoadRunResult[] = [];
    const engine = [...engineRuns.get(best)!];
    for (let round = 1; round <= rounds; round++) {
      const r = await loadRun('raw', best, st);
      progress(`  round ${round}: ${describeRun(r)}`);
      raw.push(r);
      if (engine.length < rounds) {
        const e = await loadRun('engine', best, st);
        progress(`  round ${round}: ${describeRun(e)}`);
        engine.push(e);
      }
    }
    rows.push(makeRow(best, 'highest sustainable', raw, engine));
  } else if (best !== null) {
    rows.find((r) => r.rate === best)!.label += ', highest sustainable';
  }
  rows.sort((a, b) => a.rate - b.rate);

  const budgetRow = rows.find((r) => r.rate === 20_000) ?? null;
  const ratio = budgetRow?.median.ratio?.p99 ?? null;
  return {
    settings: { rates, rounds, seconds, warmup, sessions, seed, engine: engineCfg, patterns },
    rows,
    search,
    highestSustainable: best,
    budget: {
      rate: 20_000,
      ratioP99: ratio,
      withinBudget: ratio === null ? null : ratio <= 1.5 && verdict(20_000),
      rawSustainable: budgetRow?.median.raw ? budgetRow.median.raw.sustainable * 2 > budgetRow.median.raw.rounds : null,
    },
  };
}

export function renderLatency(r: LatencyResult): string {
  const L: string[] = [];
  L.push('Latency (issue 7): publish-to-action (engine) vs publish-to-consume (raw), same generator, rate and bodies', '');
  L.push(`${r.settings.rounds} round(s) per rate, each ${r.settings.warmup} s warm-up + ${r.settings.seconds} s measured; ${fmtInt(r.settings.sessions)} concurrent sessions; engine ${JSON.stringify(r.settings.engine)}`);
  L.push(`patterns: ${r.settings.patterns.join(', ')}`, '');
  L.push('medians over the rounds:');
  L.push(`${'offered ev/s'.padEnd(30)}${'side'.padEnd(8)}${'published/s'.padStart(12)}${'consumed/s'.padStart(12)}${'p50'.padStart(11)}${'p90'.padStart(11)}${'p99'.padStart(11)}${'max'.padStart(11)}${'sustainable'.padStart(13)}`);
  const lat = (x: number, lb: boolean) => (Number.isNaN(x) ? '-' : `${lb ? '>=' : ''}${fmtMs(x)}`);
  for (const row of r.rows) {
    const line = (side: string, m: MedianFigures) =>
      L.push(
        `${`${fmtInt(row.rate)} (${row.label})`.padEnd(30)}${side.padEnd(8)}${fmtInt(m.achievedRate).padStart(12)}${fmtInt(m.consumerRate).padStart(12)}${lat(m.p50, m.lowerBound).padStart(11)}${lat(m.p90, m.lowerBound).padStart(11)}${lat(m.p99, m.lowerBound).padStart(11)}${lat(m.max, m.lowerBound).padStart(11)}${`${m.sustainable}/${m.rounds}`.padStart(13)}`,
      );
    if (row.median.raw) line('raw', row.median.raw);
    line('engine', row.median.engine);
    if (row.median.ratio) L.push(`${''.padEnd(30)}${'ratio'.padEnd(8)}${''.padStart(24)}${fmtX(row.median.ratio.p50).padStart(11)}${''.padStart(11)}${fmtX(row.median.ratio.p99).padStart(11)}${fmtX(row.median.ratio.max).padStart(11)}`);
  }
  L.push('', 'each run:');
  L.push(`${'offered ev/s'.padEnd(14)}${'side'.padEnd(8)}${'achieved'.padStart(10)}${'consumed/s'.padStart(12)}${'drained'.padStart(9)}${'samples'.padStart(10)}${'p50'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}${'slope/s'.padStart(10)}${'max backlog 2nd half'.padStart(22)}${'sustainable'.padStart(13)}   engine: publish->emitted p50/p99, emitted->arrived p50/p99`);
  const seen = new Set<LoadRunResult>();
  for (const row of r.rows) {
    for (const x of [...row.raw, ...row.engine]) {
      seen.add(x);
      const a = x.actions;
      L.push(
        `${fmtInt(x.rate).padEnd(14)}${x.mode.padEnd(8)}${fmtInt(x.achievedRate).padStart(10)}${fmtInt(x.consumerRate).padStart(12)}${(x.drained ? 'yes' : 'NO').padStart(9)}${fmtInt(x.latency.samples).padStart(10)}${fmtMs(x.latency.p50).padStart(10)}${fmtMs(x.latency.p99).padStart(10)}${fmtMs(x.latency.max).padStart(10)}${fmtInt(x.backlog.slopePerS).padStart(10)}${fmtInt(x.backlog.maxSecondHalf).padStart(22)}${(x.sustainable ? 'yes' : 'NO').padStart(13)}${a ? `   ${fmtMs(a.publishToEmit.p50)}/${fmtMs(a.publishToEmit.p99)}, ${fmtMs(a.emitToArrival.p50)}/${fmtMs(a.emitToArrival.p99)}` : ''}`,
      );
    }
  }
  const firstEngine = r.rows.flatMap((x) => x.engine).find((x) => x.actions);
  if (firstEngine?.actions) {
    const a = firstEngine.actions;
    L.push('', `actions (${fmtInt(firstEngine.rate)} ev/s, one run): ${Object.entries(a.byType).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')}; ${fmtInt(a.triggeringEvents)} of ${fmtInt(firstEngine.measuredEvents)} measured events (${fmtPct(a.triggeringEvents / firstEngine.measuredEvents)}) completed at least one; probe ${fmtInt(a.probeActions)} of ${fmtInt(a.cartsMeasured)} carts; absences left out: ${fmtInt(a.timeouts)}`);
  }
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(0));
  L.push('', 'mean CPU over the measured window, % of one core (machine: % of all cores busy, anyone\'s):');
  for (const x of seen) L.push(`  ${fmtInt(x.rate)} ${x.mode.padEnd(6)} server ${pct(x.cpu.procs.server)}, ${x.mode === 'engine' ? 'engine' : 'raw consumer'} ${pct(x.cpu.procs.consumer)}, publisher ${pct(x.cpu.procs.publisher)}; machine ${pct(x.cpu.machine)}%`);
  L.push('', 'per second of each engine run: max backlog / median latency ms / engine CPU % / longest event-loop stall ms / server CPU % / machine busy %, * = a checkpoint completed (- = no status line that second: the engine\'s event loop was blocked)');
  for (const x of [...seen].filter((x) => x.mode === 'engine')) {
    L.push(`  ${fmtInt(x.rate)}: ${x.series.map((p) => `${p.checkpoints ? '*' : ''}${p.backlog === null ? '-' : fmtInt(p.backlog)}/${p.p50 === null ? '-' : p.p50.toFixed(0)}/${pct(p.cpuPct)}/${pct(p.loopMaxMs)}/${pct(p.serverPct)}/${pct(p.machinePct)}`).join(' ')}`);
  }
  const searched = r.search.filter((s) => !r.settings.rates.includes(s.rate));
  L.push('', `search (engine runs beyond the fixed rates): ${searched.length ? searched.map((s) => `${fmtInt(s.rate)} ${s.sustainable ? 'ok' : 'NOT'} (p99 ${fmtMs(s.p99)}, backlog slope ${fmtInt(s.backlogSlope)}/s)`).join(', ') : 'none'}`);
  L.push(`highest sustainable engine rate found: ${r.highestSustainable === null ? 'none of those tried' : `${fmtInt(r.highestSustainable)} ev/s`}`);
  L.push(
    `budget: engine p99 within 1.5x of raw at 20,000 ev/s: ${r.budget.ratioP99 === null ? 'not measured' : `${fmtX(r.budget.ratioP99)} -> ${r.budget.withinBudget ? 'within' : 'NOT within'}`}${r.budget.rawSustainable === false ? ' (raw itself was not sustainable at 20,000 ev/s in most rounds on this machine: the ratio compares two growing backlogs)' : ''}`,
  );
  return `${L.join('\n')}\n`;
}
