import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/index.js';
import { createLogger } from '../log/index.js';
import { Engine } from './engine.js';
import type { ToPool, ToThread } from './engine-pool.js';

/**
 * One Engine in a worker thread, owning the partitions the pool gave it. It reports its status
 * to the pool every STATUS_MS (and once more after stopping), so the pool answers status() and
 * totals() synchronously, the way a single Engine does.
 */
const STATUS_MS = 50;
const port = parentPort!;
const config = workerData as Config;
const post = (m: ToPool) => port.postMessage(m);

const log = createLogger(config.logLevel).child({ worker: config.workerId });
let engine: Engine;
try {
  engine = await Engine.start(config, log);
} catch (e) {
  post({ type: 'failed', message: (e as Error).message });
  process.exit(1);
}
const report = () => post({ type: 'status', status: engine.status(), totals: engine.totals() });
report();
post({ type: 'started' });
const timer = setInterval(report, STATUS_MS);
engine.done.then(
  () => {
    clearInterval(timer);
    report();
    post({ type: 'stopped' });
    port.close();
  },
  (e: Error) => {
    clearInterval(timer);
    post({ type: 'failed', message: e.message });
    port.close();
  },
);
port.on('message', (m: ToThread) => {
  if (m.type === 'stop') void engine.stop();
  else if (m.type === 'checkpoint') {
    void engine.checkpoint().then(
      () => post({ type: 'checkpointed', id: m.id }),
      (e: Error) => post({ type: 'failed', message: e.message }),
    );
  }
});
