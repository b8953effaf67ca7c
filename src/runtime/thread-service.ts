import { parentPort, workerData, Worker } from 'node:worker_threads';
import type { Config } from '../config/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { NatsSetupError } from '../nats/index.js';

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
  /** `code`: a NatsSetupError's, so the host can raise the same clear error the service did. */
  | { type: 'failed'; message: string; code?: string };
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
  /** Runs when the service has ended, before the host hears so (e.g. writing a profile). */
  ended?: () => Promise<void>;
}): Promise<void> {
  const port = parentPort!;
  const config = (workerData as { config: Config }).config;
  const post = (m: ToHost<R>) => port.postMessage(m);
  const log = createLogger(config.logLevel).child(opts.bindings(config));
  let service: S;
  try {
    service = await opts.start(config, log);
  } catch (e) {
    const code = e instanceof NatsSetupError ? e.code : undefined;
    post({ type: 'failed', message: (e as Error).message, code });
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
  const after = (last: ToHost<R>) => () =>
    (opts.ended?.() ?? Promise.resolve()).then(
      () => end(last),
      () => end(last),
    );
  service.done.then(
    () => after({ type: 'stopped' })(),
    (e: Error) => after({ type: 'failed', message: e.message })(),
  );
  port.on('message', (m: ToThread) => {
    if (m.type === 'stop') void service.stop();
    else {
      const call = opts.calls?.[m.name];
      if (!call) return post({ type: 'failed', message: `no call "${m.name}" in this thread` });
      void call(service).then(
        () => {
          report();
          post({ type: 'replied', id: m.id });
        },
        (e: Error) => post({ type: 'failed', message: e.message }),
      );
    }
  });
}

/** Host side: a worker thread running `module` (a file calling serveInThread) with this Config. */
export function startThread(module: URL, config: Config): Worker {
  const resourceLimits = config.youngGenerationMb > 0 ? { maxYoungGenerationSizeMb: config.youngGenerationMb } : undefined;
  return new Worker(new URL('./thread-entry.mjs', import.meta.url), { workerData: { module: module.href, config }, resourceLimits });
}
