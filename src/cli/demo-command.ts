import { rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ConfigInput } from '../config/index.js';
import { createLogger } from '../log/index.js';
import { connectNats, startEmbeddedServer, Subjects, AnalyticsJobs, type EmbeddedServer } from '../nats/index.js';
import { fileSource, sampleSource, produceEvents } from '../events/index.js';
import { startEngine, type RunningEngine } from '../runtime/index.js';
import type { Action, SessionSummaryRecord } from '../actions/index.js';
import { formatAction } from './format.js';
import { CliError, ExitCode } from './exit-codes.js';

export interface DemoFlags {
  file?: string;
  users: number;
  seed: number;
  json?: boolean;
}

const DAY_MS = 86_400_000;

/**
 * The quick start: a private nats-server from nats.conf (own port, store under the data dir),
 * the engine, a replay of the seeded sample (or --file), actions printed as they arrive on
 * `actions.>`, then a summary. Starts clean every time so two runs print the same actions.
 */
export async function demoCommand(flags: DemoFlags, overrides: ConfigInput): Promise<void> {
  if (flags.file && !existsSync(flags.file)) throw new CliError(`no such file: ${flags.file}`, ExitCode.usage);
  const base = loadConfig(overrides);
  const log = createLogger(base.logLevel === 'info' ? 'warn' : base.logLevel);
  const demoDir = join(base.dataDir, 'demo');
  rmSync(demoDir, { recursive: true, force: true });

  // The machine's own NATS is only used when the user says so.
  const external = process.env.NATS_URL !== undefined && process.env.NATS_URL !== '';
  let server: EmbeddedServer | undefined;
  if (!external) {
    server = await startEmbeddedServer({ dir: join(demoDir, 'nats') });
    process.stderr.write(`nudge demo: nats-server ${server.url} (store ${join(demoDir, 'nats')})\n`);
  }
  const config = { ...base, natsUrl: server?.url ?? base.natsUrl, dataDir: join(demoDir, 'state') };
  let engine: RunningEngine | undefined;
  const watcher = await connectNats(config.natsUrl, 'nudge-demo-watch');
  try {
    engine = await startEngine(config, log);
    const actionsByType = new Map<string, number>();
    let sessions = 0;
    let converted = 0;
    watcher.subscribe(Subjects.actionsAll, {
      callback: (_e, m) => {
        const a = m.json<Action>();
        actionsByType.set(a.type, (actionsByType.get(a.type) ?? 0) + 1);
        process.stdout.write((flags.json ? JSON.stringify(a) : formatAction(a)) + '\n');
      },
    });
    watcher.subscribe(Subjects.analytics(AnalyticsJobs.sessions), {
      callback: (_e, m) => {
        sessions++;
        if (m.json<SessionSummaryRecord>().converted) converted++;
      },
    });
    await watcher.flush();

    const source = flags.file ? fileSource(flags.file) : sampleSource({ users: flags.users, seed: flags.seed });
    process.stderr.write(`nudge demo: replaying ${flags.file ?? `the seeded sample (${flags.users} users, seed ${flags.seed})`}\n`);
    const report = await produceEvents(watcher, source, { partitions: config.partitions, flushMs: DAY_MS });
    for (const [p, seq] of report.flushSeqs) await engine.waitForSeq(p, seq, 120_000);
    await engine.checkpoint();
    const totals = engine.totals();
    // Core subscriptions trail the acks a little; wait for the counts to meet.
    const until = Date.now() + 5_000;
    const seen = () => [...actionsByType.values()].reduce((a, b) => a + b, 0);
    while ((seen() < totals.actions || sessions < totals.summaries) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));

    const summary = {
      eventsPublished: report.published,
      eventsProcessed: totals.events,
      actions: totals.actions,
      actionsByType: Object.fromEntries([...actionsByType].sort()),
      sessionsClosed: totals.summaries,
      sessionsConverted: converted,
      deadLetters: report.deadLettered + totals.dlq,
      lateEvents: totals.late,
    };
    if (flags.json) process.stdout.write(JSON.stringify({ summary }) + '\n');
    else {
      process.stdout.write(
        `\nsummary: ${summary.eventsPublished} events in, ${summary.actions} actions out (${[...actionsByType].map(([t, n]) => `${t} ${n}`).join(', ') || 'none'}), ` +
          `${summary.sessionsClosed} sessions closed (${summary.sessionsConverted} converted), ${summary.deadLetters} dead letters, ${summary.lateEvents} late events\n`,
      );
      for (const r of report.rejections.slice(0, 5)) process.stdout.write(`  dead letter ${r.where}: ${r.reason}\n`);
    }
  } finally {
    await engine?.stop().catch(() => undefined);
    await watcher.close().catch(() => undefined);
    await server?.stop();
  }
}
