import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';
import type { Config } from '../config/index.js';
import { Engine } from './engine.js';
import { serveInThread } from './thread-service.js';

/**
 * NUDGE_CPU_PROFILE_DIR: this thread profiles itself from start to stop and writes
 * engine-<workerId>.cpuprofile there. A main-thread profiler (or the bench's) cannot see into a
 * worker, and `--cpu-prof` profiles the whole process life, start-up and all.
 */
async function startProfiler(): Promise<(() => Promise<void>) | undefined> {
  const dir = process.env.NUDGE_CPU_PROFILE_DIR;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  const file = join(dir, `engine-${(workerData as { config: Config }).config.workerId}.cpuprofile`);
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

const stopProfiler = await startProfiler();

/** One Engine in a worker thread (see engine-pool.ts), owning the partitions the pool gave it. */
await serveInThread({
  start: (config, log) => Engine.start(config, log),
  report: (engine) => ({ status: engine.status(), totals: engine.totals() }),
  bindings: (config) => ({ worker: config.workerId }),
  calls: {
    checkpoint: (engine) => engine.checkpoint(),
    collectGarbage: async () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
    },
  },
  ended: stopProfiler,
});
