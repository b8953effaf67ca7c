import { AnalyticsRunner } from './analytics-runner.js';
import { serveInThread } from './thread-service.js';

/** The AnalyticsRunner in a worker thread of its own (see AnalyticsThread in analytics-runner.ts). */
await serveInThread({
  start: (config, log) => AnalyticsRunner.start(config, log),
  report: (runner) => runner.status(),
  bindings: (config) => ({ worker: config.workerId, thread: 'analytics' }),
});
