/**
 * Issue 7, memory: the engine's RSS as the number of users seen grows (100k vs 1M vs 3M by
 * default), with the live-actor cap at its default; heap per live actor; LMDB bytes per
 * passivated (stored) user.
 *
 *   npm run bench -- --suite memory [--memory-users 100k,1M,3M] [--memory-sessions 1]
 *                    [--memory-session-events 3] [--memory-span scaled|fixed] [--actors 20000] [--seed 1]
 *
 * Per size, on a fresh private nats-server: the seeded sample generator (src/events/sample-generator.ts)
 * with `users` users, --memory-sessions sessions each (default 1) and each session cut to its first
 * --memory-session-events events (the generator's maxSessionEvents; default 3, 0 = whole sessions):
 * ~2.7 events per user (mostly views: a first view starts churn-risk's 7-day watch, three views of a
 * category or product can still complete repeat-category or high-intent), so 3M users is ~8M events
 * instead of the ~38M of the default 2 whole sessions per user. It is streamed straight into EVENTS
 * (ack-windowed publish, no copy of the sample in memory). Event time spans 6 hours per
 * 100k users by default (--memory-span scaled): users arrive at the same density as in the
 * standard 100k-user sample, so what is open at any one event time (sessions, 30-minute pattern
 * windows, the analytics' hourly windows) is the same at every size and only the users seen grow;
 * --memory-span fixed keeps the generator's 6 hours (density grows with the size).
 * Then a RAW pass over the stream (the raw rate beside it: run.ts's pass, with JetStream API requests
 * allowed 120 s, since creating a filtered consumer on millions of messages outlasts the client's 5 s
 * default on a loaded server), then the engine in a child
 * process (bench/engine-child.ts, the default config: live-actor cap 50,000, analytics on) from an
 * empty data dir until every partition has applied its last message, sampling the child's RSS and
 * heap every second; at catch-up a full GC in the child; then its graceful stop (final checkpoint)
 * and the LMDB it leaves (run.ts's measureLmdb).
 * Heap per live actor: run.ts's measurement (N actors x 3 views through PartitionProcessor +
 * ActorHost, full GCs around it), in this process, once.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { generateSample } from '../src/events/sample-generator.js';
import { sampleRowToEvent } from '../src/events/sources.js';
import { Subjects } from '../src/nats/index.js';
import { loadPatternDir } from '../src/cep/index.js';
import { loadConfig } from '../src/config/index.js';
import {
  AckedPublisher,
  CpuSampler,
  PARTITIONS,
  describeEngineConfig,
  engineEnv,
  fmtInt,
  fmtMiB,
  fmtPct,
  numberList,
  positiveNumber,
  progress,
  spawnEngineChild,
  startPrivateNats,
  waitForStatus,
  type ChildStatus,
  type EngineChild,
  type SuiteContext,
} from './suite-common.js';

/** Creating a filtered consumer on millions of messages outlasts the client's 5 s API default on a loaded server. */
const RAW_API_TIMEOUT_MS = 120_000;

export const MEMORY_OPTIONS = {
  'memory-users': { type: 'string', default: '100k,1M,3M' },
  'memory-sessions': { type: 'string', default: '1' },
  'memory-session-events': { type: 'string', default: '3' },
  'memory-span': { type: 'string', default: 'scaled' },
} as const;

const HOUR = 3600_000;

export interface MemorySizeResult {
  users: number;
  events: number;
  spanHours: number;
  publish: { seconds: number; rate: number };
  raw: { rate: number; seconds: number };
  /** rate: applied / time from "started" to caught up (publishing ran during the first part); rateAfterPublishing: the rest, with the stream complete. */
  engine: { rate: number; seconds: number; startMs: number; rateAfterPublishing: number; appliedAtPublishEnd: number };
  /** engine rateAfterPublishing / raw. */
  ratio: number;
  /** Sampled every second during the engine pass: RSS (whole process) and the engine's heap. */
  rssPeakBytes: number;
  /** The kernel's peak RSS (VmHWM) for the engine process. */
  hwmBytes: number;
  rssAtCatchUpBytes: number;
  /** The engine's V8 heap in use (its threads' when it runs in threads). */
  heapUsedAtCatchUpBytes: number;
  /** After two full GCs in the child at catch-up. */
  rssAfterGcBytes: number;
  heapAfterGcBytes: number;
  externalAfterGcBytes: number;
  /** process.memoryUsage() in the engine process at catch-up and after the GC (its heap figures are the main thread's only). */
  memAtCatchUp: NodeJS.MemoryUsage;
  memAfterGc: NodeJS.MemoryUsage;
  /** The RSS split (from /proc: anonymous memory vs file pages, i.e. LMDB's map and code) and the main thread's resident V8 heap. */
  procAtCatchUp: { rssAnon: number; rssFile: number; heapPhysical: number };
  procAfterGc: { rssAnon: number; rssFile: number; heapPhysical: number };
  /** Highest engine heap in use seen in the status lines (garbage included). */
  heapUsedPeakBytes: number;
  /** Mean CPU of the engine process (% of one core) and of the whole machine (% of all cores busy) during the engine pass. */
  cpu: { engine: number | null; machine: number | null };
  liveActors: number;
  evictions: number;
  pendingTimers: number;
  /** Of pendingTimers, those held in memory; the rest wait in LMDB. */
  timersInMemory: number;
  /** RSS when the engine had applied 10%, 20%, … 100% of the events (≈ users seen in proportion). */
  rssCurve: Array<{ fraction: number; applied: number; rssBytes: number; heapUsedBytes: number; liveActors: number; pendingTimers: number }>;
  lmdb: { actors: number; payloadBytesPerActor: number; pageBytesPerActor: number | null; fileBytes: number; fileBytesPerUser: number };
  actions: number;
}

export interface MemoryResult {
  settings: { sizes: number[]; sessionsPerUser: number; maxSessionEvents: number | null; span: 'scaled' | 'fixed'; seed: number; engine: Record<string, unknown> };
  heapPerLiveActor: { bytes: number; actors: number; lmdbPayloadBytesPerActor: number; lmdbPageBytesPerActor: number | null };
  sizes: MemorySizeResult[];
}

async function oneSize(ctx: SuiteContext, users: number, sessionsPerUser: number, maxSessionEvents: number | null, span: 'scaled' | 'fixed'): Promise<MemorySizeResult> {
  const dir = join(ctx.root, `memory-${users}`);
  const nats = await startPrivateNats(join(dir, 'nats'), 'nudge-bench-memory');
  try {
    const spanMs = span === 'scaled' ? Math.round(6 * HOUR * (users / 100_000)) : 6 * HOUR;
    // The engine first, on the empty stream: its consumers (and the analytics thread's) are created
    // before there are millions of messages to count (see the header).
    const dataDir = join(dir, 'engine');
    const engine = spawnEngineChild(engineEnv(nats.url, dataDir), { statusMs: 1_000 });
    const te = performance.now();
    let peak = 0;
    let heapPeak = 0;
    const sampler = new CpuSampler({ engine: engine.pid });
    const pending = (s: ChildStatus) => s.partitions.reduce((a, p) => a + p.pendingTimers, 0);
    const inMemory = (s: ChildStatus) => s.partitions.reduce((a, p) => a + (p.timersInMemory ?? 0), 0);
    engine.onStatus = (s) => {
      peak = Math.max(peak, s.mem.rss);
      heapPeak = Math.max(heapPeak, s.engineHeapUsedBytes);
    };
    let published = 0;
    const stall = watchStall(engine, () => published, 180_000);
    try {
      const started = await engine.started;
      progress(`memory ${fmtInt(users)} users: the engine started (${fmtInt(started.startMs)} ms); publishing the sample into it (${sessionsPerUser} session(s) per user${maxSessionEvents ? `, at most ${maxSessionEvents} events per session` : ''}, event time over ${(spanMs / HOUR).toFixed(0)} h)`);
      const pub = new AckedPublisher(nats.nc);
      const t0 = performance.now();
      for (const r of generateSample({ users, seed: ctx.helpers.seed, sessionsPerUser, spanMs, ...(maxSessionEvents ? { maxSessionEvents } : {}) })) {
        pub.publish(Subjects.event(r.event_type, r.user_id), JSON.stringify(sampleRowToEvent(r)));
        published++;
        if (published % 5_000 === 0) {
          await Promise.race([pub.waitInFlight(20_000), stall.failed]);
          if (published % 1_000_000 === 0) {
            const st = engine.latest;
            progress(`  published ${fmtInt(published)} (${fmtInt(published / ((performance.now() - t0) / 1000))}/s); engine ${fmtInt(st?.applied ?? 0)}, rss ${fmtMiB(st?.mem.rss ?? 0)}`);
          }
        }
      }
      await Promise.race([pub.waitInFlight(0), stall.failed]);
      pub.close();
      if (pub.failed) throw new Error(`${pub.failed} events not stored: ${pub.lastError}`);
      const events = published;
      const pubSeconds = (performance.now() - t0) / 1000;
      const atPublishEnd = { at: performance.now(), applied: engine.latest?.applied ?? 0 };
      const lastSeq = await ctx.helpers.partitionLastSeqs(nats.jsm);
      progress(`  ${fmtInt(events)} events (${(events / users).toFixed(2)} per user) published in ${pubSeconds.toFixed(0)} s; the engine has applied ${fmtInt(atPublishEnd.applied)}`);

      const caught = await Promise.race([
        waitForStatus(
          engine,
          'the engine to apply every partition',
          (s) => s.partitions.length === PARTITIONS && s.partitions.every((p) => p.seq >= lastSeq[p.partition]!),
          Math.max(600_000, events * 2),
          (s) => progress(`  engine ${fmtInt(s.applied)} / ${fmtInt(events)} (${fmtInt(s.applied / ((performance.now() - te) / 1000))}/s), rss ${fmtMiB(s.mem.rss)}, engine heap ${fmtMiB(s.engineHeapUsedBytes)}, live actors ${fmtInt(s.liveActors)}, timers ${fmtInt(pending(s))} (${fmtInt(inMemory(s))} in memory)`),
        ),
        stall.failed,
      ]);
      stall.stop();
      const ms = caught.at - started.at;
      const atCatchUp = caught.s;
      // RSS when the engine had applied 10%, 20%, ... of the events (users arrive at an even pace).
      const curve: MemorySizeResult['rssCurve'] = [];
      for (let f = 1; f <= 10; f++) {
        const h = engine.history.find((x) => x.s.applied >= (f / 10) * events - 0.5)?.s ?? atCatchUp;
        curve.push({ fraction: f / 10, applied: h.applied, rssBytes: h.mem.rss, heapUsedBytes: h.engineHeapUsedBytes, liveActors: h.liveActors, pendingTimers: pending(h) });
      }
      const afterGc = await engine.gc();
      const stopped = await engine.stop(180_000);
      sampler.stop();
      const lm = ctx.helpers.measureLmdb(dataDir);

      progress('  raw pass over the same stream (the engine stopped)');
      const raw = await ctx.helpers.rawPass(nats.url, lastSeq, RAW_API_TIMEOUT_MS);
      // The stream also holds what the engine wrote into it (its pattern markers, idle watermark ticks).
      if (raw.messages < events) throw new Error(`raw pass saw ${raw.messages} messages, ${events} published`);
      progress(`  raw ${fmtInt(raw.rate)}/s (${(raw.ms / 1000).toFixed(1)} s, ${fmtInt(raw.messages)} messages: ${fmtInt(raw.messages - events)} written by the engine)`);
      const engineRate = atCatchUp.applied / (ms / 1000);
      const catchUpRate = (atCatchUp.applied - atPublishEnd.applied) / ((caught.at - atPublishEnd.at) / 1000);
      const m = sampler.mean();
      const res: MemorySizeResult = {
        users,
        events,
        spanHours: spanMs / HOUR,
        publish: { seconds: pubSeconds, rate: events / pubSeconds },
        raw: { rate: raw.rate, seconds: raw.ms / 1000 },
        engine: { rate: engineRate, seconds: ms / 1000, startMs: started.startMs, rateAfterPublishing: catchUpRate, appliedAtPublishEnd: atPublishEnd.applied },
        ratio: catchUpRate / raw.rate,
        rssPeakBytes: Math.max(peak, atCatchUp.mem.rss),
        hwmBytes: Math.max(stopped?.hwm ?? 0, afterGc.status.hwm),
        rssAtCatchUpBytes: atCatchUp.mem.rss,
        heapUsedAtCatchUpBytes: atCatchUp.engineHeapUsedBytes,
        rssAfterGcBytes: afterGc.mem.rss,
        heapAfterGcBytes: afterGc.status.engineHeapUsedBytes,
        externalAfterGcBytes: afterGc.mem.external,
        memAtCatchUp: atCatchUp.mem,
        memAfterGc: afterGc.mem,
        procAtCatchUp: { rssAnon: atCatchUp.rssAnon, rssFile: atCatchUp.rssFile, heapPhysical: atCatchUp.heapPhysical },
        procAfterGc: { rssAnon: afterGc.status.rssAnon, rssFile: afterGc.status.rssFile, heapPhysical: afterGc.status.heapPhysical },
        heapUsedPeakBytes: heapPeak,
        cpu: { engine: m.procs.engine ?? null, machine: m.machine },
        liveActors: atCatchUp.liveActors,
        evictions: atCatchUp.evictions,
        pendingTimers: pending(atCatchUp),
        timersInMemory: inMemory(atCatchUp),
        rssCurve: curve,
        lmdb: {
          actors: lm.actors,
          payloadBytesPerActor: lm.actors ? lm.payloadBytes / lm.actors : 0,
          pageBytesPerActor: lm.actors && lm.pageBytes !== null ? lm.pageBytes / lm.actors : null,
          fileBytes: lm.fileBlockBytes,
          fileBytesPerUser: lm.fileBlockBytes / users,
        },
        actions: atCatchUp.totals.actions,
      };
      progress(
        `  engine ${fmtInt(engineRate)}/s from start (${res.engine.seconds.toFixed(0)} s), ${fmtInt(catchUpRate)}/s after publishing (${fmtPct(res.ratio)} of raw); RSS peak ${fmtMiB(res.rssPeakBytes)} (kernel peak ${fmtMiB(res.hwmBytes)}), at catch-up ${fmtMiB(res.rssAtCatchUpBytes)}, after GC ${fmtMiB(res.rssAfterGcBytes)} (heap ${fmtMiB(res.heapAfterGcBytes)}); live actors ${fmtInt(res.liveActors)}, timers ${fmtInt(res.pendingTimers)} (${fmtInt(res.timersInMemory)} in memory), LMDB ${fmtInt(lm.actors)} actors, ${fmtMiB(lm.fileBlockBytes)}`,
      );
      return res;
    } finally {
      stall.stop();
      sampler.stop();
      await engine.kill();
    }
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Rejects `failed` when the engine child has applied nothing new for `stallMs` while it is behind
 * what was published, or has exited: an engine that stopped itself (its log says why) must not
 * leave the suite waiting for hours.
 */
function watchStall(ec: EngineChild, target: () => number, stallMs: number): { failed: Promise<never>; stop(): void } {
  let last = -1;
  let since = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const st = ec.latest;
      const applied = st?.applied ?? 0;
      if (ec.child.exitCode !== null || ec.child.signalCode !== null) {
        reject(new Error(`the engine exited (${ec.child.exitCode ?? ec.child.signalCode}): ${ec.stderr().slice(-3000)}`));
        return;
      }
      if (applied !== last || applied >= target()) {
        last = applied;
        since = performance.now();
      } else if (performance.now() - since > stallMs) {
        reject(new Error(`the engine applied nothing for ${stallMs / 1000} s at ${fmtInt(applied)} of ${fmtInt(target())} published; its stderr: ${ec.stderr().slice(-3000)}`));
      }
    }, 1_000);
  });
  failed.catch(() => undefined);
  return { failed, stop: () => clearInterval(timer) };
}

export async function runMemory(ctx: SuiteContext): Promise<MemoryResult> {
  const o = ctx.opts;
  const sizes = numberList('memory-users', o['memory-users']);
  const sessionsPerUser = positiveNumber('memory-sessions', o['memory-sessions']);
  const cap = Math.floor(Number(o['memory-session-events'] ?? 0));
  const span = o['memory-span'] === 'fixed' ? 'fixed' : 'scaled';
  if (o['memory-span'] !== undefined && o['memory-span'] !== 'fixed' && o['memory-span'] !== 'scaled') throw new Error(`--memory-span must be scaled or fixed, got ${String(o['memory-span'])}`);
  const engineCfg = describeEngineConfig(engineEnv('nats://127.0.0.1:1', join(ctx.root, 'x')));
  const actors = Math.floor(Number(o.actors ?? 20_000));
  progress(`memory: heap per live actor (${fmtInt(actors)} actors x 3 views, run.ts's measurement)`);
  const patterns = loadPatternDir(loadConfig({ dataDir: join(ctx.root, 'x') }).patternsDir).set;
  const heap = await ctx.helpers.measureHeapPerActor(ctx.gc, actors, join(ctx.root, 'memory-heap-lmdb'), patterns);
  progress(`  ${fmtInt(heap.bytesPerActor)} bytes per live actor`);
  const results: MemorySizeResult[] = [];
  const settings: MemoryResult['settings'] = { sizes, sessionsPerUser, maxSessionEvents: cap > 0 ? cap : null, span, seed: ctx.helpers.seed, engine: engineCfg };
  const heapFigures = {
    bytes: heap.bytesPerActor,
    actors: heap.actors,
    lmdbPayloadBytesPerActor: heap.lmdb.payloadBytes / heap.lmdb.actors,
    lmdbPageBytesPerActor: heap.lmdb.pageBytes !== null ? heap.lmdb.pageBytes / heap.lmdb.actors : null,
  };
  for (const users of sizes) {
    results.push(await oneSize(ctx, users, sessionsPerUser, cap > 0 ? cap : null, span));
    ctx.partial({ settings, heapPerLiveActor: heapFigures, sizes: results });
  }
  return { settings, heapPerLiveActor: heapFigures, sizes: results };
}

export function renderMemory(r: MemoryResult): string {
  const L: string[] = [];
  L.push('Memory scale (issue 7): the engine process as the users seen grow', '');
  L.push(`sample: ${r.settings.sessionsPerUser} session(s) per user${r.settings.maxSessionEvents ? `, <= ${r.settings.maxSessionEvents} events per session` : ''}, event time span ${r.settings.span === 'scaled' ? '6 h per 100k users' : '6 h'}; engine ${JSON.stringify(r.settings.engine)}`);
  L.push(`heap per live actor: ${fmtInt(r.heapPerLiveActor.bytes)} bytes (${fmtInt(r.heapPerLiveActor.actors)} actors x 3 views; stored: ${fmtInt(r.heapPerLiveActor.lmdbPayloadBytesPerActor)} key+value bytes, ${fmtInt(r.heapPerLiveActor.lmdbPageBytesPerActor ?? 0)} in pages)`, '');
  const col = (s: string, w = 14) => s.padStart(w);
  L.push(`${'users'.padEnd(12)}${col('events')}${col('raw ev/s')}${col('engine ev/s*')}${col('engine/raw', 11)}${col('RSS peak')}${col('RSS end')}${col('RSS after GC')}${col('heap after GC')}${col('live actors')}${col('timers')}${col('LMDB actors')}${col('B/actor kv')}${col('B/actor pages')}${col('LMDB file')}`);
  for (const s of r.sizes) {
    L.push(
      `${fmtInt(s.users).padEnd(12)}${col(fmtInt(s.events))}${col(fmtInt(s.raw.rate))}${col(fmtInt(s.engine.rateAfterPublishing))}${col(fmtPct(s.ratio), 11)}${col(fmtMiB(s.rssPeakBytes))}${col(fmtMiB(s.rssAtCatchUpBytes))}${col(fmtMiB(s.rssAfterGcBytes))}${col(fmtMiB(s.heapAfterGcBytes))}${col(fmtInt(s.liveActors))}${col(fmtInt(s.pendingTimers))}${col(fmtInt(s.lmdb.actors))}${col(fmtInt(s.lmdb.payloadBytesPerActor))}${col(fmtInt(s.lmdb.pageBytesPerActor ?? 0))}${col(fmtMiB(s.lmdb.fileBytes))}`,
    );
  }
  L.push('(*: once publishing had ended; the engine consumed the sample as it was published, and the ratio is of this rate to raw)');
  L.push('', 'engine process memory (engine heap: its threads\' V8 heaps in use; heap used/total/resident: the main thread\'s; RSS also holds LMDB\'s mapped pages and what V8 keeps committed, the young generation included):');
  for (const s of r.sizes) {
    const a = s.memAtCatchUp;
    const g = s.memAfterGc;
    L.push(
      `  ${fmtInt(s.users).padEnd(10)} at catch-up: engine heap ${fmtMiB(s.heapUsedAtCatchUpBytes)}, rss ${fmtMiB(a.rss)} (anonymous ${fmtMiB(s.procAtCatchUp.rssAnon)}, file/LMDB map ${fmtMiB(s.procAtCatchUp.rssFile)}), heap used/total/resident ${fmtMiB(a.heapUsed)}/${fmtMiB(a.heapTotal)}/${fmtMiB(s.procAtCatchUp.heapPhysical)}, external ${fmtMiB(a.external)} (array buffers ${fmtMiB(a.arrayBuffers)}); after GC: engine heap ${fmtMiB(s.heapAfterGcBytes)}, rss ${fmtMiB(g.rss)} (anonymous ${fmtMiB(s.procAfterGc.rssAnon)}, file ${fmtMiB(s.procAfterGc.rssFile)}), heap used/total/resident ${fmtMiB(g.heapUsed)}/${fmtMiB(g.heapTotal)}/${fmtMiB(s.procAfterGc.heapPhysical)}; heap used peak ${fmtMiB(s.heapUsedPeakBytes)}; evictions ${fmtInt(s.evictions)}; CPU engine ${s.cpu.engine === null ? '-' : s.cpu.engine.toFixed(0)}%, machine ${s.cpu.machine === null ? '-' : s.cpu.machine.toFixed(0)}% busy`,
    );
  }
  L.push('');
  for (const s of r.sizes) {
    L.push(`RSS by progress, ${fmtInt(s.users)} users: ${s.rssCurve.map((c) => `${Math.round(c.fraction * 100)}% ${fmtMiB(c.rssBytes)}`).join(', ')}`);
  }
  if (r.sizes.length >= 2) {
    const a = r.sizes[0]!;
    const b = r.sizes[r.sizes.length - 1]!;
    L.push('', `RSS after GC ${fmtInt(b.users)} vs ${fmtInt(a.users)} users: ${(b.rssAfterGcBytes / a.rssAfterGcBytes).toFixed(2)}x (${fmtInt((b.rssAfterGcBytes - a.rssAfterGcBytes) / (b.users - a.users))} bytes per extra user); heap after GC ${(b.heapAfterGcBytes / a.heapAfterGcBytes).toFixed(2)}x (${fmtInt((b.heapAfterGcBytes - a.heapAfterGcBytes) / (b.users - a.users))} bytes per extra user)`);
  }
  return `${L.join('\n')}\n`;
}
