import { parentPort, workerData, Worker } from 'node:worker_threads';
import type { Config } from '../config/index.js';
import { createLogger, type Logger } from '../log/index.js';

/**
 * Running a long-lived service (an Engine, the AnalyticsRunner) in a worker thread, both sides.
 * The thread reports the service's status every STATUS_MS and once more when it ends, so the host
 * answers status() synchronously, as the service itself would; the host may also ask for a named
 * call (e.g. a checkpoint) and gets a reply when it settles.
 */

const STATUS_MS = 50;

export type ToHost<R> =
  | { type: 'started' }
  | { type: 'status'; report: R }
  | { type: 'stopped' }
  | { type: 'replied'; id: number }
  | { type: 'failed'; message: string };
export type ToThread = { type: 'stop' } | { type: 'call'; id: number; name: string };

interface Service {
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** Thread side: starts the service from the Config in workerData and serves the host until it ends. */
export async function serveInThread<S extends Service, R>(opts: {
  start(config: Config, log: Logger): Promise<S>;
  report(s: S): R;
  bindings: (config: Config) => Record<string, string>;
  calls?: Record<string, (s: S) => Promise<void>>;
}): Promise<void> {
  const port = parentPort!;
  const config = (workerData as { config: Config }).config;
  const post = (m: ToHost<R>) => port.postMessage(m);
  const log = createLogger(config.logLevel).child(opts.bindings(config));
  let service: S;
  try {
    service = await opts.start(config, log);
  } catch (e) {
    post({ type: 'failed', message: (e as Error).message });
    process.exit(1);
  }
  const report = () => post({ type: 'status', report: opts.report(service) });
  report();
  post({ type: 'started' });
  const timer = setInterval(report, STATUS_MS);
  const end = (last: ToHost<R>) => {
    clearInterval(timer);
    report();
    post(last);
    port.close();
  };
  service.done.then(
    () => end({ type: 'stopped' }),
    (e: Error) => end({ type: 'failed', message: e.message }),
  );
  port.on('message', (m: ToThread) => {
    if (m.type === 'stop') void service.stop();
    else {
      const call = opts.calls?.[m.name];
      if (!call) return post({ type: 'failed', message: `no call "${m.name}" in this thread` });
      void call(service).then(
        () => post({ type: 'replied', id: m.id }),
        (e: Error) => post({ type: 'failed', message: e.message }),
      );
    }
  });
}

/** Host side: a worker thread running `module` (a file calling serveInThread) with this Config. */
export function startThread(module: URL, config: Config): Worker {
  return new Worker(new URL('./thread-entry.mjs', import.meta.url), { workerData: { module: module.href, config } });
}
