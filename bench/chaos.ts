/**
 * Chaos (`npm run chaos`, issue 7): the engine under crashes, hostile input and backpressure.
 *
 *   npm run chaos -- [--events N=1000000] [--kills N=10] [--hostile N=100000] [--hostile-users N=10000] [--backpressure-seconds N=60]
 *                    [--only crash|hostile|backpressure] [--seed S=7] [--json]
 *
 * Each part starts its own private nats-server(s) from nats.conf on a free port with a temporary
 * store (never the machine's :4222) and runs `nudge run` as a child process:
 *   crash         the seeded sample (users chosen to give at least --events events) through an
 *                 uninterrupted run and through a run SIGKILLed at --kills seeded random moments with
 *                 its nats-server restarted once: the actions and analytics must be identical;
 *   hostile       --hostile bad messages of every kind mixed into a normal stream: each must land in
 *                 the DLQ with a reason, the normal events must give exactly the outputs they give
 *                 alone, and the worker must never restart;
 *   backpressure  events published with acks faster than the engine applies them for
 *                 --backpressure-seconds (--backpressure-users users, pass after pass): none lost,
 *                 the engine's RSS under --rss-limit-mb while the lag grows (its heap over time is
 *                 in the table), the lag drained afterwards.
 * Progress goes to stderr; the tables (or one JSON object with --json) to stdout. Exit 0 only if
 * every check passes, 1 otherwise, 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import { log } from './chaos-nats.js';
import { runCrash, crashTable, type CrashResult } from './chaos-crash.js';
import { runHostile, hostileTable, type HostileResult } from './chaos-hostile.js';
import { runBackpressure, backpressureTable, type BackpressureResult } from './chaos-backpressure.js';
import { usersForEvents } from './chaos-sizing.js';
import { checksTable, type Check } from './chaos-report.js';

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    kills: { type: 'string', default: '10' },
    hostile: { type: 'string', default: '100000' },
    /** Users of the normal stream the hostile messages are mixed into (10,000 → ~128k events). */
    'hostile-users': { type: 'string', default: '10000' },
    'backpressure-seconds': { type: 'string', default: '60' },
    /** The backpressure run's bound on the engine's peak RSS. */
    'rss-limit-mb': { type: 'string', default: '1536' },
    /** Users of the backpressure stream (the sample, published pass after pass). */
    'backpressure-users': { type: 'string', default: '5000' },
    only: { type: 'string' },
    seed: { type: 'string', default: '7' },
    workers: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

const USAGE = 'usage: npm run chaos -- [--events N=1000000] [--kills N=10] [--hostile N=100000] [--hostile-users N=10000] [--backpressure-seconds N=60] [--rss-limit-mb N=1536] [--backpressure-users N=5000] [--only crash|hostile|backpressure] [--seed S=7] [--workers N=1] [--json]\n';
if (opts.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function int(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`chaos: --${name} must be an integer >= ${min}, got ${v}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const parts = ['crash', 'hostile', 'backpressure'] as const;
type Part = (typeof parts)[number];
if (opts.only !== undefined && !parts.includes(opts.only as Part)) {
  process.stderr.write(`chaos: --only must be one of ${parts.join(', ')}\n${USAGE}`);
  process.exit(2);
}
const run = (p: Part) => opts.only === undefined || opts.only === p;
const events = int('events', opts.events, 1_000);
const kills = int('kills', opts.kills, 0);
const seed = int('seed', opts.seed, 0);
const workers = int('workers', opts.workers, 1);
const hostile = int('hostile', opts.hostile, 1);
const hostileUsers = int('hostile-users', opts['hostile-users'], 1);
const bpSeconds = int('backpressure-seconds', opts['backpressure-seconds'], 1);
const rssLimitMb = int('rss-limit-mb', opts['rss-limit-mb'], 64);
const bpUsers = int('backpressure-users', opts['backpressure-users'], 1);

const results: { crash?: CrashResult; hostile?: HostileResult; backpressure?: BackpressureResult } = {};
const checks: Check[] = [];
const tables: string[] = [];

try {
  if (run('crash')) {
    const users = usersForEvents(events, seed);
    const r = await runCrash({ users, seed, kills, serverRestarts: 1, checkpointMs: 1_000, workers });
    results.crash = r;
    checks.push(...r.checks.map((c) => ({ ...c, name: `crash: ${c.name}` })));
    tables.push(crashTable(r));
  }
  if (run('hostile')) {
    const r = await runHostile({ users: hostileUsers, seed, hostile });
    results.hostile = r;
    checks.push(...r.checks.map((c) => ({ ...c, name: `hostile: ${c.name}` })));
    tables.push(hostileTable(r));
  }
  if (run('backpressure')) {
    const r = await runBackpressure({ seconds: bpSeconds, seed, users: bpUsers, rssLimitBytes: rssLimitMb * 1024 * 1024 });
    results.backpressure = r;
    checks.push(...r.checks.map((c) => ({ ...c, name: `backpressure: ${c.name}` })));
    tables.push(backpressureTable(r));
  }
} catch (e) {
  checks.push({ name: 'chaos run', ok: false, detail: (e as Error).stack ?? String(e) });
}

const ok = checks.every((c) => c.ok);
if (opts.json) process.stdout.write(`${JSON.stringify({ ok, checks, ...results }, null, 2)}\n`);
else process.stdout.write(`${tables.join('\n')}\n${checksTable(checks)}\n${ok ? 'chaos: every check passed' : 'chaos: FAILED'}\n`);
log(ok ? 'done: every check passed' : 'done: FAILED');
process.exit(ok ? 0 : 1);
