import { jetstream, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { loadConfig, type ConfigInput } from '../config/index.js';
import { connectNats, requireJetStream, Streams, Headers, Subjects, AnalyticsJobs } from '../nats/index.js';
import { Inspect } from '../nats/subjects.js';
import type { Action, SessionSummaryRecord } from '../actions/index.js';
import { formatAction, formatSession } from './format.js';
import { CliError, ExitCode } from './exit-codes.js';
import { iso } from './table.js';
import { quietOnClosedStdout } from './inspect-io.js';

const FAMILIES = { actions: Streams.actions, dlq: Streams.dlq, analytics: Streams.analytics } as const;
type Family = keyof typeof FAMILIES;
const FILTER = /^[A-Za-z0-9_*>-]+(\.[A-Za-z0-9_*>-]+)*$/;

export interface TailFlags {
  json?: boolean;
  count?: number;
  all?: boolean;
}

/**
 * `nudge tail actions|dlq|analytics [filter]`: follows the family's stream (an ordered consumer, so
 * what is shown is what the stream holds, with its sequence: a replayed duplicate that JetStream
 * dropped is not shown twice). `filter` is the rest of the subject after the family, e.g.
 * `coupon.*` for actions.coupon.*, `sessions` for analytics.sessions.
 */
export async function tailCommand(family: string, filter: string | undefined, flags: TailFlags, over: ConfigInput): Promise<void> {
  if (!(family in FAMILIES)) throw new CliError(`nudge tail follows actions, dlq or analytics, not "${family}"`, ExitCode.usage);
  if (filter !== undefined && !FILTER.test(filter)) throw new CliError(`"${filter}" is not a subject filter (tokens separated by dots; * and > are wildcards)`, ExitCode.usage);
  quietOnClosedStdout();
  const subject = Inspect.follow(family as Family, filter);
  const stream = FAMILIES[family as Family];
  const config = loadConfig(over);
  const nc = await connectNats(config.natsUrl, 'nudge-tail');
  try {
    await requireJetStream(nc);
    let consumer;
    try {
      consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: subject, deliver_policy: flags.all ? DeliverPolicy.All : DeliverPolicy.New });
    } catch (e) {
      if (/not found/i.test((e as Error).message)) throw new CliError(`no ${stream} stream on ${config.natsUrl} yet (the engine creates it: start \`nudge run\`)`, ExitCode.error);
      throw e;
    }
    const messages = await consumer.consume();
    let seen = 0;
    const stop = () => void messages.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.stderr.write(`following ${subject} on ${stream}${flags.all ? ' from the start' : ''} (Ctrl-C to stop)\n`);
    try {
      for await (const m of messages) {
        process.stdout.write(`${flags.json ? JSON.stringify(toJson(family as Family, m)) : toLine(family as Family, m)}\n`);
        if (flags.count !== undefined && ++seen >= flags.count) break;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await messages.close().catch(() => undefined);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}

function body(m: JsMsg): unknown {
  try {
    return m.json<unknown>();
  } catch {
    return m.string();
  }
}

function toJson(family: Family, m: JsMsg): Record<string, unknown> {
  const base = { seq: m.seq, subject: m.subject, storedAt: Math.round(m.info.timestampNanos / 1e6) };
  if (family === 'dlq') {
    return { ...base, reason: m.headers?.get(Headers.reason) ?? null, sourceSubject: m.headers?.get(Headers.sourceSubject) ?? null, sourceSeq: Number(m.headers?.get(Headers.sourceSeq) || 0) || null, data: m.string() };
  }
  return { ...base, body: body(m) };
}

function toLine(family: Family, m: JsMsg): string {
  if (family === 'dlq') {
    const raw = m.string();
    return `#${m.seq}  ${iso(m.info.timestampNanos / 1e6)}  ${m.headers?.get(Headers.sourceSubject) || '-'} (#${m.headers?.get(Headers.sourceSeq) || '-'})  ${m.headers?.get(Headers.reason) || '-'}  ${raw.length > 160 ? `${raw.slice(0, 160)}…` : raw}`;
  }
  const b = body(m);
  if (family === 'actions' && b && typeof b === 'object' && 'actionId' in b) return `#${m.seq}  ${formatAction(b as Action)}${m.subject.startsWith('actions.shadow.') ? '  (shadow)' : ''}`;
  if (m.subject === Subjects.analytics(AnalyticsJobs.sessions) && b && typeof b === 'object' && 'sessionEnd' in b) return `#${m.seq}  ${formatSession(b as SessionSummaryRecord)}`;
  return `#${m.seq}  ${m.subject}  ${typeof b === 'string' ? b : JSON.stringify(b)}`;
}
