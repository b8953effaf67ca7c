import { existsSync } from 'node:fs';
import { loadConfig, type ConfigInput } from '../config/index.js';
import { createLogger } from '../log/index.js';
import { connectNats, requireJetStream, ensureStreams } from '../nats/index.js';
import { fileSource, produceEvents, type ProduceReport } from '../events/index.js';
import { CliError, ExitCode } from './exit-codes.js';

export interface PublishFlags {
  file: string;
  rate?: number;
  flush?: boolean;
  json?: boolean;
}

const DAY_MS = 86_400_000;

export function printProduceReport(r: ProduceReport, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(JSON.stringify({ published: r.published, duplicates: r.duplicates, deadLettered: r.deadLettered, rejections: r.rejections }) + '\n');
    return;
  }
  process.stdout.write(`published ${r.published} events${r.duplicates ? ` (${r.duplicates} dropped by the server as repeated eventIds)` : ''}, dead-lettered ${r.deadLettered}\n`);
  for (const x of r.rejections) process.stdout.write(`  rejected ${x.where}: ${x.reason}\n`);
}

/** `nudge publish --file <rees46.csv|events.jsonl> [--rate N] [--flush]` */
export async function publishCommand(flags: PublishFlags, overrides: ConfigInput): Promise<void> {
  const config = loadConfig(overrides);
  const log = createLogger(config.logLevel);
  if (!existsSync(flags.file)) throw new CliError(`no such file: ${flags.file}`, ExitCode.usage);
  if (flags.rate !== undefined && !(flags.rate > 0)) throw new CliError('--rate must be a positive number of events per second', ExitCode.usage);
  const nc = await connectNats(config.natsUrl, 'nudge-publish');
  try {
    // Publishing before any engine ran must not fail with "no responders": the streams are ours to create.
    await ensureStreams(await requireJetStream(nc), config);
    const report = await produceEvents(nc, fileSource(flags.file), {
      partitions: config.partitions,
      ...(flags.rate ? { rate: flags.rate } : {}),
      ...(flags.flush ? { flushMs: DAY_MS } : {}),
      onProgress: (n) => log.debug({ published: n }, 'progress'),
    });
    printProduceReport(report, flags.json);
  } finally {
    await nc.drain();
  }
}
