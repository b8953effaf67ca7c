/**
 * Internal child of the issue-7 suites (spawnEngineChild in bench/suite-common.ts): the engine as
 * `nudge run` starts it (startEngine with loadConfig() from the environment), plus what a benchmark
 * needs to see from outside: one JSON line per BENCH_STATUS_MS on stdout with the engine's status,
 * totals and process.memoryUsage() (RSS is the whole process: the analytics worker thread too);
 * "gc" on stdin runs two full GCs here and in each engine thread (the child runs with --expose-gc)
 * and answers with the memory after them. Each status line also carries the process's CPU time and the main thread's event-loop
 * delay since the previous line. SIGTERM is the graceful stop; SIGKILL is a crash.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/index.js';
import { startEngine, type RunningEngine } from '../src/runtime/engine-pool.js';

const write = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

/**
 * From /proc/self/status, bytes (0 where /proc is missing): the peak resident set (VmHWM), and the
 * resident set split into anonymous memory (heaps, malloc) and file pages (LMDB's memory map, code).
 */
function procStatus(): { hwm: number; rssAnon: number; rssFile: number } {
  try {
    const text = readFileSync('/proc/self/status', 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
    return { hwm: kb('VmHWM'), rssAnon: kb('RssAnon'), rssFile: kb('RssFile') };
  } catch {
    return { hwm: 0, rssAnon: 0, rssFile: 0 };
  }
}
const hwm = () => procStatus().hwm;

/** The main thread's event-loop delay since the previous status line (a stall shows here). */
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

function status(engine: RunningEngine) {
  const loopDelayMaxMs = loop.max / 1e6;
  const loopDelayP99Ms = loop.percentile(99) / 1e6;
  loop.reset();
  const cpu = process.cpuUsage();
  const st = engine.status();
  const totals = engine.totals();
  return {
    type: 'status',
    uptimeMs: performance.now(),
    wall: Date.now(),
    applied: totals.events + totals.dlq,
    totals,
    partitions: st.partitions.map((p) => ({ partition: p.partition, seq: p.seq, checkpointedSeq: p.checkpointedSeq, pendingTimers: p.pendingTimers, timersInMemory: p.timersInMemory, replayed: p.replayed })),
    liveActors: st.liveActors,
    evictions: st.evictions,
    checkpoints: st.checkpoints,
    outputsInFlight: st.outputsInFlight,
    analyticsSeq: st.analytics?.seq ?? null,
    mem: process.memoryUsage(),
    /** The engine's V8 heap in use: its threads' heaps (garbage included), or this thread's when it runs here. */
    engineHeapUsedBytes: st.heapUsedBytes,
    ...procStatus(),
    /** The main thread's V8 heap actually resident (committed and touched). */
    heapPhysical: getHeapStatistics().total_physical_size,
    /** Process CPU time so far (every thread), ms. */
    cpuMs: (cpu.user + cpu.system) / 1000,
    loopDelayMaxMs,
    loopDelayP99Ms,
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'nudge-bench-engine');
  const t0 = performance.now();
  const engine = await startEngine(config, log);
  write({ type: 'started', uptimeMs: performance.now(), wall: Date.now(), startMs: performance.now() - t0 });
  const every = Math.max(10, Number(process.env.BENCH_STATUS_MS ?? 250));
  const timer = setInterval(() => write(status(engine)), every);
  write(status(engine));

  let input = '';
  process.stdin.on('data', (d: Buffer) => {
    input += d.toString();
    let nl: number;
    while ((nl = input.indexOf('\n')) >= 0) {
      const cmd = input.slice(0, nl).trim();
      input = input.slice(nl + 1);
      if (cmd === 'gc') {
        const gc = (globalThis as { gc?: () => void }).gc;
        gc?.();
        gc?.();
        void (engine.collectGarbage?.() ?? Promise.resolve()).then(() => write({ type: 'gc', mem: process.memoryUsage(), status: status(engine) }));
      }
    }
  });
  process.stdin.on('error', () => undefined);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    const t1 = performance.now();
    void engine.stop().finally(() => {
      write({ type: 'stopped', uptimeMs: performance.now(), stopMs: performance.now() - t1, mem: process.memoryUsage(), hwm: hwm() });
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await engine.done;
  } catch (e) {
    write({ type: 'error', message: (e as Error).stack ?? String(e) });
    process.exit(1);
  }
}

main().catch((e: unknown) => {
  write({ type: 'error', message: (e as Error).stack ?? String(e) });
  process.exit(1);
});
