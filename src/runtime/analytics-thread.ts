import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/index.js';
import { createLogger } from '../log/index.js';
import { AnalyticsRunner, type ToAnalyticsHost, type ToAnalyticsThread } from './analytics-runner.js';

/**
 * The AnalyticsRunner in a worker thread of its own (see AnalyticsThread): it reports its status
 * every STATUS_MS, and once more after stopping, so the host answers status() synchronously.
 */
const STATUS_MS = 50;
const port = parentPort!;
const config = workerData as Config;
const post = (m: ToAnalyticsHost) => port.postMessage(m);
const log = createLogger(config.logLevel).child({ worker: config.workerId, thread: 'analytics' });

let runner: AnalyticsRunner;
try {
  runner = await AnalyticsRunner.start(config, log);
} catch (e) {
  post({ type: 'failed', message: (e as Error).message });
  process.exit(1);
}
const report = () => post({ type: 'status', status: runner.status() });
report();
const timer = setInterval(report, STATUS_MS);
runner.done.then(
  () => {
    clearInterval(timer);
    report();
    post({ type: 'stopped' });
    port.close();
  },
  (e: Error) => {
    clearInterval(timer);
    report();
    post({ type: 'failed', message: e.message });
    port.close();
  },
);
port.on('message', (m: ToAnalyticsThread) => {
  if (m.type === 'stop') void runner.stop();
});
