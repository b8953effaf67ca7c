import { Command, InvalidArgumentError, CommanderError } from 'commander';
import { ConfigError, DEFAULT_NATS_URL, type ConfigInput } from '../config/index.js';
import { NatsSetupError } from '../nats/index.js';
import { ExitCode, CliError } from './exit-codes.js';
import { runCommand } from './run-command.js';
import { publishCommand } from './publish-command.js';
import { demoCommand } from './demo-command.js';
import { sampleCommand } from './sample-command.js';
import { validateCommand, patternsTestCommand } from './patterns-command.js';
import { analyticsTailCommand, analyticsShowCommand } from './analytics-command.js';
import {
  patternsPutCommand,
  patternsListCommand,
  patternsShowCommand,
  patternsHistoryCommand,
  patternsRemoveCommand,
  patternsEnableCommand,
  patternsImportCommand,
  type ImportFlags,
} from './patterns-store-command.js';
import { actorShowCommand, actorEventsCommand, actorActionsCommand, actorWhyCommand, actorsListCommand } from './actor-command.js';
import { statsCommand } from './stats-command.js';
import { tailCommand, type TailFlags } from './tail-command.js';
import { doctorCommand } from './doctor-command.js';

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

interface CommonFlags {
  dataDir?: string;
  natsUrl?: string;
}
const overrides = (f: CommonFlags): ConfigInput => ({ dataDir: f.dataDir, natsUrl: f.natsUrl });

const program = new Command()
  .name('nudge')
  .description('Real-time marketing events on NATS JetStream: per-user XState actors, patterns, actions.')
  .showHelpAfterError()
  .exitOverride();

program
  .command('run')
  .description('run the engine against NATS_URL until SIGINT/SIGTERM')
  .option('--data-dir <dir>', 'LMDB state directory (env NUDGE_DATA_DIR, default ./.nudge)')
  .option('--nats-url <url>', `NATS server (env NATS_URL, default ${DEFAULT_NATS_URL})`)
  .option('--workers <n>', 'engine threads, each owning a share of the partitions (env NUDGE_WORKERS, default 1)', positiveInt('--workers'))
  .action((f: CommonFlags & { workers?: number }) => runCommand({ ...overrides(f), workers: f.workers }));

program
  .command('publish')
  .description('publish events from a REES46 CSV or NDJSON file to events.<type>.<user>')
  .requiredOption('--file <path>', 'a REES46 export (.csv) or one JSON event per line')
  .option('--rate <n>', 'events per second (default: as fast as acks allow)', positiveNumber('--rate'))
  .option('--flush', 'afterwards, advance every partition\'s event time a day past the last event so pending timers fire')
  .option('--json', 'machine-readable report')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((f: { file: string; rate?: number; flush?: boolean; json?: boolean } & CommonFlags) => publishCommand(f, overrides(f)));

program
  .command('demo')
  .description('embedded quick start: private nats-server from nats.conf, the engine, a sample replay, actions as they happen')
  .option('--file <path>', 'replay a REES46 CSV or NDJSON file instead of the seeded sample')
  .option('--users <n>', 'users in the seeded sample', positiveInt('--users'), 300)
  .option('--seed <n>', 'seed of the sample', positiveInt('--seed'), 7)
  .option('--json', 'NDJSON actions and a JSON summary')
  .option('--data-dir <dir>', 'where the demo keeps its server store and state (default ./.nudge)')
  .action((f: { file?: string; users: number; seed: number; json?: boolean } & CommonFlags) => demoCommand(f, overrides(f)));

program
  .command('sample')
  .description('write the seeded shopper-session sample as a REES46 CSV to stdout')
  .option('--users <n>', 'number of users', positiveInt('--users'), 300)
  .option('--seed <n>', 'seed', positiveInt('--seed'), 7)
  .action((f: { users: number; seed: number }) => sampleCommand(f));

const patterns = program.command('patterns').description('behaviour patterns: check and try them offline; put, list and change them in the nudge_patterns bucket of a running cluster');
const collect = (v: string, prev: string[] = []) => [...prev, v];

patterns
  .command('validate')
  .description('check pattern files (a file or a directory of *.json): schema and expression errors with paths and positions')
  .argument('<path>', 'a pattern .json file or a directory of them')
  .option('--json', 'one JSON result per pattern')
  .action((path: string, f: { json?: boolean }) => validateCommand(path, f));

patterns
  .command('test')
  .description('run patterns offline over a recorded stream (no NATS), with the engine\'s event-time rules; prints each action and a count per pattern')
  .argument('<path>', 'a pattern .json file or a directory of them')
  .requiredOption('--events <file>', 'a REES46 export (.csv) or NDJSON events')
  .option('--no-flush', 'stop at the last event instead of letting time run past every time limit (absences stay undecided)')
  .option('--json', 'NDJSON actions, then a summary object')
  .action((path: string, f: { events: string; json?: boolean; flush?: boolean }) => patternsTestCommand(path, f));

patterns
  .command('put')
  .description('validate a pattern file and store it as a new revision in the nudge_patterns bucket (the engine picks it up within a second)')
  .argument('<file>', 'a pattern .json file')
  .option('--json', 'machine-readable result')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((file: string, f: { json?: boolean } & CommonFlags) => patternsPutCommand(file, f, overrides(f)));

patterns
  .command('list')
  .description('the patterns in the bucket: version, revision, mode, enabled, and whether the latest revision was rejected')
  .option('--json', 'one JSON object per pattern')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((f: { json?: boolean } & CommonFlags) => patternsListCommand(f, overrides(f)));

patterns
  .command('show')
  .description('the latest stored document of a pattern')
  .argument('<id>', 'pattern id')
  .option('--json', 'the document with its revision and status')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((id: string, f: { json?: boolean } & CommonFlags) => patternsShowCommand(id, f, overrides(f)));

patterns
  .command('history')
  .description('every retained revision of a pattern (up to 64), oldest first')
  .argument('<id>', 'pattern id')
  .option('--json', 'one JSON object per revision')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((id: string, f: { json?: boolean } & CommonFlags) => patternsHistoryCommand(id, f, overrides(f)));

patterns
  .command('rm')
  .description('delete a pattern: running engines stop it within a second (its partial matches are dropped)')
  .argument('<id>', 'pattern id')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((id: string, f: CommonFlags) => patternsRemoveCommand(id, overrides(f)));

for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
  patterns
    .command(name)
    .description(`${name} a pattern (a new revision with enabled: ${enabled})`)
    .argument('<id>', 'pattern id')
    .option('--nats-url <url>', 'NATS server (env NATS_URL)')
    .action((id: string, f: CommonFlags) => patternsEnableCommand(id, enabled, overrides(f)));
}

patterns
  .command('import')
  .description('convert a Flink dynamic-CEP JSON pattern into a Nudge pattern (stdout); what cannot be converted is reported, exit 1')
  .argument('<file>', 'the Flink pattern JSON')
  .requiredOption('--from <format>', 'source format: flink')
  .option('--id <id>', 'pattern id (default: from the graph name)')
  .option('--version <n>', 'pattern version', positiveInt('--version'))
  .option('--action-type <type>', 'action type of the result (default flink_match)')
  .option('--field <flink=nudge>', 'map a Flink field name to an event field, e.g. action=eventType (repeatable)', collect)
  .option('--value <field:flink=nudge>', 'map a Flink value of a mapped field, e.g. action:0=view (repeatable)', collect)
  .option('--put', 'also store the converted pattern in the bucket')
  .option('--json', 'the result with notes as one JSON object')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((file: string, f: ImportFlags & CommonFlags) => patternsImportCommand(file, f, overrides(f)));

const analytics = program.command('analytics').description('windowed analytics results on analytics.<job>: funnel, hot_products, user_activity, session_funnel (tail also late, sessions)');

analytics
  .command('tail')
  .description('print results of a job as they arrive (until Ctrl-C)')
  .argument('<job>', 'funnel | hot_products | user_activity | session_funnel | late | sessions')
  .option('--json', 'NDJSON: one result as published per line')
  .option('--count <n>', 'exit after n results', positiveInt('--count'))
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((job: string, f: { json?: boolean; count?: number } & CommonFlags) => analyticsTailCommand(job, f, overrides(f)));

analytics
  .command('show')
  .description('the latest closed window of a job, every key, as a table (exit 3 when there is none yet)')
  .argument('<job>', 'funnel | hot_products | user_activity | session_funnel')
  .option('--json', 'one JSON object: job, windowStart, windowEnd, results')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((job: string, f: { json?: boolean } & CommonFlags) => analyticsShowCommand(job, f, overrides(f)));

// Inspecting a running cluster: the `nudge` micro service of each worker (nudge.>), the streams, and offline replays.
const partitionNumber = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('--partition must be a partition number (0, 1, …)');
  return n;
};
const actor = program.command('actor').description("one user's actor, live, whether it is in memory or passivated: show, events, actions, why");

actor
  .command('show')
  .description('XState state and context, partial matches per pattern (stage, events with stream sequences, deadline), timers, caps, live or passivated, checkpointed sequence')
  .argument('<userId>', 'user id')
  .option('--json', 'the whole view as one JSON object')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((userId: string, f: { json?: boolean } & CommonFlags) => actorShowCommand(userId, f, overrides(f)));

actor
  .command('events')
  .description("the user's recent events, read straight from the EVENTS stream, with stream sequences")
  .argument('<userId>', 'user id')
  .option('--limit <n>', 'the last n events', positiveInt('--limit'), 50)
  .option('--json', 'NDJSON: one stored event per line')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((userId: string, f: { json?: boolean; limit: number } & CommonFlags) => actorEventsCommand(userId, f, overrides(f)));

actor
  .command('actions')
  .description('the actions sent to the user, from the ACTIONS stream (shadow ones marked)')
  .argument('<userId>', 'user id')
  .option('--limit <n>', 'the last n actions', positiveInt('--limit'), 50)
  .option('--json', 'NDJSON: one action per line')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((userId: string, f: { json?: boolean; limit: number } & CommonFlags) => actorActionsCommand(userId, f, overrides(f)));

actor
  .command('why')
  .description("replay the user's retained events through a pattern offline and explain, event by event, which stage each advanced, which condition failed, and why it did or did not fire")
  .argument('<userId>', 'user id')
  .argument('<patternId>', 'pattern id (the revision in force in nudge_patterns)')
  .option('--file <pattern.json>', 'explain with this pattern file instead of the one in force')
  .option('--json', 'every step and the verdict as one JSON object')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((userId: string, patternId: string, f: { json?: boolean; file?: string } & CommonFlags) => actorWhyCommand(userId, patternId, f, overrides(f)));

program
  .command('actors')
  .description('actors by machine state')
  .command('list')
  .description('users with an actor, by machine state (idle, browsing, carting, purchased; none = no open session)')
  .option('--state <value>', 'only actors in this machine state')
  .option('--partition <n>', 'only this partition', partitionNumber)
  .option('--limit <n>', 'at most n actors', positiveInt('--limit'), 100)
  .option('--json', 'NDJSON: one actor per line')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((f: { json?: boolean; state?: string; partition?: number; limit: number } & CommonFlags) => actorsListCommand(f, overrides(f)));

program
  .command('stats')
  .description('per partition: owner, checkpointed and stream sequences, lag, watermark, live and passivated actors, events/s and actions/s over the last minute, DLQ')
  .option('--json', 'one JSON object')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((f: { json?: boolean } & CommonFlags) => statsCommand(f, overrides(f)));

program
  .command('tail')
  .description('follow actions, dead letters or analytics as they are stored (until Ctrl-C)')
  .argument('<what>', 'actions | dlq | analytics')
  .argument('[filter]', 'the rest of the subject, e.g. coupon.* (actions.coupon.*) or sessions (analytics.sessions)')
  .option('--json', 'NDJSON: one message per line, with its stream sequence')
  .option('--count <n>', 'exit after n messages', positiveInt('--count'))
  .option('--all', 'start from the beginning of the stream instead of new messages')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((what: string, filter: string | undefined, f: TailFlags & CommonFlags) => tailCommand(what, filter, f, overrides(f)));

program
  .command('doctor')
  .description('check the NATS side (no engine needed): server, version, JetStream, partition mapping, streams, pattern bucket, consumers, workers; each failure with its fix')
  .option('--json', 'one JSON report')
  .option('--nats-url <url>', 'NATS server (env NATS_URL)')
  .action((f: { json?: boolean } & CommonFlags) => doctorCommand(f, overrides(f)));

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else if (e instanceof CliError) {
    process.stderr.write(`nudge: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else if (e instanceof ConfigError) {
    process.stderr.write(`nudge: ${e.message}\n`);
    process.exitCode = ExitCode.usage;
  } else if (e instanceof NatsSetupError) {
    process.stderr.write(`nudge: ${e.message}\n`);
    process.exitCode = ExitCode.error;
  } else {
    process.stderr.write(`nudge: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = ExitCode.error;
  }
}
