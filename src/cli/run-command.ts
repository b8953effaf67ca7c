import { loadConfig, type ConfigInput } from '../config/index.js';
import { createLogger } from '../log/index.js';
import { startEngine } from '../runtime/index.js';

/** `nudge run`: the engine against the NATS in NATS_URL, until SIGINT/SIGTERM. */
export async function runCommand(overrides: ConfigInput): Promise<void> {
  const config = loadConfig(overrides);
  const log = createLogger(config.logLevel);
  const engine = await startEngine(config, log);
  let last = engine.totals();
  let lastAt = Date.now();
  const progress = setInterval(() => {
    const t = engine.totals();
    const dt = (Date.now() - lastAt) / 1000;
    log.info({ ...t, eventsPerSec: Math.round((t.events - last.events) / dt), liveActors: engine.status().liveActors }, 'progress');
    last = t;
    lastAt = Date.now();
  }, 10_000);
  const stop = () => {
    clearInterval(progress);
    void engine.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await engine.done;
  } finally {
    clearInterval(progress);
  }
}
