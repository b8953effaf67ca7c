import { z } from 'zod';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The patterns shipped with nudge, found from this file so any working directory works. */
export const DEFAULT_PATTERNS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'patterns');

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const intFromEnv = (min: number) => z.coerce.number().int().min(min);

/** Where `nudge` looks for NATS when NATS_URL and --nats-url are not given (issue 2). */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** Every tunable in one place, validated once at start-up: a bad value stops the process before it touches data. */
export const configSchema = z.object({
  natsUrl: z.string().min(1).default(DEFAULT_NATS_URL),
  dataDir: z.string().min(1).default('./.nudge'),
  /** P in nats.conf's partition mapping; the engine verifies it against the server with a probe. */
  partitions: intFromEnv(1).max(1024).default(8),
  /** Which partitions this worker owns, e.g. "0-3,6"; empty means all. */
  ownedPartitions: z.string().default(''),
  /** Engine threads in this process, each owning a share of its partitions (one per core is the most that helps). */
  workers: intFromEnv(1).max(64).default(1),
  /**
   * The young generation (MiB) of the engine and analytics threads. Nearly everything the hot
   * path allocates dies within an event or two; with Node's default (16 MiB semi-spaces) it is
   * scavenged so often that the partial matches still alive are copied over and over. The
   * processors alone went 36 -> 30 µs/event at 256, but the whole engine gained 3% (12,484 ->
   * 12,845 ev/s, npm run bench -- --rounds 1) for 430 MiB more RSS, so the default is Node's.
   * Above 0 the engine runs in a worker thread started with this limit (V8 takes the flag per
   * isolate, so a running main thread cannot get it); 0 runs a single engine in the main thread.
   */
  youngGenerationMb: intFromEnv(0).max(4_096).default(0),
  /** Watermark = max event time seen in the partition minus this. */
  maxOutOfOrderMs: intFromEnv(0).default(5_000),
  /** Events behind the watermark: `process` applies them (and counts them), `dlq` dead-letters them. */
  latePolicy: z.enum(['process', 'dlq']).default('process'),
  /**
   * A checkpoint bounds the replay after a crash, not correctness: outputs are deduped either way.
   * Most events touch a user the last checkpoint did not, so each one costs a snapshot write;
   * spacing checkpoints lets a user's several events share one.
   */
  checkpointEveryEvents: intFromEnv(1).default(100_000),
  checkpointIntervalMs: intFromEnv(10).default(5_000),
  /**
   * A live actor's changes are written at most once per this many checkpoints (sooner when it is
   * evicted or dropped). An active user then costs one snapshot per so many checkpoints instead
   * of one per checkpoint; the price is a longer replay after a crash (up to this many intervals),
   * in which actors skip what their snapshots already hold. 1 writes every change at every checkpoint.
   */
  snapshotEvery: intFromEnv(1).max(1_000).default(5),
  liveActorCap: intFromEnv(1).default(50_000),
  /**
   * Timers due within this much event time past the watermark are held in memory; later ones
   * (a 7-day watch per user) wait in LMDB until then, so memory does not grow with users.
   */
  timerSpanMs: intFromEnv(1_000).default(HOUR),
  /** How long a graceful stop waits for its final checkpoint (outputs acknowledged) before stopping without it. */
  stopTimeoutMs: intFromEnv(100).default(30_000),
  /** The built-in analytics jobs over the whole stream (analytics.<job>), run by the worker that owns partition 0. */
  analytics: z.enum(['on', 'off']).default('on'),
  /** How long after its end a window still takes late events (as an update); later ones go to analytics.late. */
  analyticsLatenessMs: intFromEnv(0).default(MINUTE),
  analyticsFunnelWindowMs: intFromEnv(1_000).default(MINUTE),
  analyticsHotWindowMs: intFromEnv(1_000).default(10 * MINUTE),
  analyticsHotSlideMs: intFromEnv(1_000).default(MINUTE),
  analyticsHotTop: intFromEnv(1).max(1_000).default(10),
  analyticsUserWindowMs: intFromEnv(1_000).default(HOUR),
  /** A partition with no input for this long (wall clock) gets a watermark tick written into the stream. */
  idleTickMs: intFromEnv(10).default(1_000),
  maxEventBytes: intFromEnv(64).default(16 * 1024),
  eventsMaxAgeMs: intFromEnv(MINUTE).default(8 * DAY),
  /** Must exceed the longest outage we recover from: replayed actions are deduped by Nats-Msg-Id inside it. */
  actionsDedupeMs: intFromEnv(1_000).default(2 * HOUR),
  /** Pattern files (*.json): what an empty pattern bucket is seeded with, or what runs with patternSource=dir. */
  patternsDir: z.string().min(1).default(DEFAULT_PATTERNS_DIR),
  /** `kv`: the patterns in the nudge_patterns bucket, changed live; `dir`: the files only, fixed at start. */
  patternSource: z.enum(['kv', 'dir']).default('kv'),
  workerId: z.string().regex(/^[A-Za-z0-9_-]+$/, 'workerId must be a NATS subject token').default(`w${process.pid}`),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

const ENV: Record<keyof Config, string> = {
  natsUrl: 'NATS_URL',
  dataDir: 'NUDGE_DATA_DIR',
  partitions: 'NUDGE_PARTITIONS',
  ownedPartitions: 'NUDGE_OWNED_PARTITIONS',
  workers: 'NUDGE_WORKERS',
  youngGenerationMb: 'NUDGE_YOUNG_GEN_MB',
  timerSpanMs: 'NUDGE_TIMER_SPAN_MS',
  maxOutOfOrderMs: 'NUDGE_MAX_OUT_OF_ORDER_MS',
  latePolicy: 'NUDGE_LATE_POLICY',
  checkpointEveryEvents: 'NUDGE_CHECKPOINT_EVENTS',
  checkpointIntervalMs: 'NUDGE_CHECKPOINT_MS',
  snapshotEvery: 'NUDGE_SNAPSHOT_EVERY',
  liveActorCap: 'NUDGE_LIVE_ACTORS',
  stopTimeoutMs: 'NUDGE_STOP_TIMEOUT_MS',
  analytics: 'NUDGE_ANALYTICS',
  analyticsLatenessMs: 'NUDGE_ANALYTICS_LATENESS_MS',
  analyticsFunnelWindowMs: 'NUDGE_ANALYTICS_FUNNEL_MS',
  analyticsHotWindowMs: 'NUDGE_ANALYTICS_HOT_MS',
  analyticsHotSlideMs: 'NUDGE_ANALYTICS_HOT_SLIDE_MS',
  analyticsHotTop: 'NUDGE_ANALYTICS_HOT_TOP',
  analyticsUserWindowMs: 'NUDGE_ANALYTICS_USER_MS',
  idleTickMs: 'NUDGE_IDLE_TICK_MS',
  maxEventBytes: 'NUDGE_MAX_EVENT_BYTES',
  eventsMaxAgeMs: 'NUDGE_EVENTS_MAX_AGE_MS',
  actionsDedupeMs: 'NUDGE_ACTIONS_DEDUPE_MS',
  patternsDir: 'NUDGE_PATTERNS_DIR',
  patternSource: 'NUDGE_PATTERN_SOURCE',
  workerId: 'NUDGE_WORKER_ID',
  logLevel: 'NUDGE_LOG_LEVEL',
};

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/** Precedence: explicit overrides (CLI flags) > environment > defaults. */
export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const fromEnv: Record<string, string> = {};
  for (const [key, name] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const parsed = configSchema.safeParse({ ...fromEnv, ...defined });
  if (!parsed.success) {
    const msg = parsed.error.issues
      .map((i) => `${ENV[i.path[0] as keyof Config] ?? i.path.join('.')}: ${i.message}`)
      .join('; ');
    throw new ConfigError(`invalid configuration: ${msg}`);
  }
  const config = { ...parsed.data, dataDir: resolve(parsed.data.dataDir), patternsDir: resolve(parsed.data.patternsDir) };
  ownedPartitionList(config); // validate the range syntax now, not at first use
  return config;
}

export function ownedPartitionList(config: Pick<Config, 'partitions' | 'ownedPartitions'>): number[] {
  if (config.ownedPartitions.trim() === '') return Array.from({ length: config.partitions }, (_, i) => i);
  const owned = new Set<number>();
  for (const part of config.ownedPartitions.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new ConfigError(`NUDGE_OWNED_PARTITIONS: cannot read "${part}" (use e.g. "0-3,6")`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let p = from; p <= to; p++) {
      if (p >= config.partitions) throw new ConfigError(`NUDGE_OWNED_PARTITIONS: partition ${p} >= NUDGE_PARTITIONS (${config.partitions})`);
      owned.add(p);
    }
  }
  return [...owned].sort((a, b) => a - b);
}
