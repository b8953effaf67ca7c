import { Engine } from './engine.js';
import { serveInThread } from './thread-service.js';

/** One Engine in a worker thread (see engine-pool.ts), owning the partitions the pool gave it. */
await serveInThread({
  start: (config, log) => Engine.start(config, log),
  report: (engine) => ({ status: engine.status(), totals: engine.totals() }),
  bindings: (config) => ({ worker: config.workerId }),
  calls: { checkpoint: (engine) => engine.checkpoint() },
});
