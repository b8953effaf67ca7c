import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { loadConfig, type ConfigInput } from '../config/index.js';
import { connectNats, Streams, Subjects, AnalyticsJobs } from '../nats/index.js';
import type { SessionSummaryRecord } from '../actions/index.js';
import type { JobResult } from '../analytics/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import { formatSession } from './format.js';

/**
 * `nudge analytics tail <job>` and `nudge analytics show <job>`: the results on `analytics.<job>`,
 * as they arrive, or the latest closed window as a table.
 */

/** Jobs that emit windows (`show` reads these); `tail` also follows `late` and `sessions`. */
const WINDOW_JOBS: readonly string[] = [AnalyticsJobs.funnel, AnalyticsJobs.hotProducts, AnalyticsJobs.userActivity, AnalyticsJobs.sessionFunnel];
const TAIL_JOBS: readonly string[] = [...WINDOW_JOBS, AnalyticsJobs.late, AnalyticsJobs.sessions];

/** A window result as published. */
type Result = JobResult<Record<string, unknown>>;

interface Late {
  kind: 'late';
  job: string;
  id: string;
  event: { seq: number; eventTime: number; eventType: string; userId: string; productId: string };
  watermark: number;
  missedWindows: number;
  reason: string;
}

export interface TailFlags {
  json?: boolean;
  count?: number;
}

export interface ShowFlags {
  json?: boolean;
}

const write = (s: string) => process.stdout.write(`${s}\n`);
const iso = (ms: number) => new Date(ms).toISOString().replace(/:00\.000Z$/, 'Z').replace(/\.000Z$/, 'Z');
const pct = (x: unknown) => (typeof x === 'number' ? `${(x * 100).toFixed(1)}%` : String(x));

function checkJob(job: string, allowed: readonly string[]): void {
  if (!allowed.includes(job)) throw new CliError(`unknown analytics job "${job}"; one of: ${allowed.join(', ')}`, ExitCode.usage);
}

async function withNats<T>(over: ConfigInput, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const config = loadConfig(over);
  const nc = await connectNats(config.natsUrl, 'nudge-cli-analytics');
  try {
    return await fn(nc);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

async function requireAnalyticsStream(nc: NatsConnection): Promise<{ first: number; last: number }> {
  try {
    const info = await (await jetstreamManager(nc)).streams.info(Streams.analytics);
    return { first: info.state.first_seq, last: info.state.last_seq };
  } catch (e) {
    if (/not found|no responders|jetstream not enabled/i.test((e as Error).message)) {
      throw new CliError(`no ${Streams.analytics} stream on this server yet (start the engine: nudge run)`, ExitCode.notFound);
    }
    throw e;
  }
}

// ------------------------------------------------------------------ human lines

const window = (r: Result) => `${iso(r.windowStart)} – ${iso(r.windowEnd)}`;
const rev = (r: Result) => (r.update ? `  (update r${r.revision})` : '');
const products = (list: unknown) =>
  Array.isArray(list) && list.length ? (list as Array<{ productId: string; count: number }>).map((p) => `${p.productId}×${p.count}`).join(' ') : '-';

export function formatResult(r: Result): string {
  const x = r.record;
  switch (r.job) {
    case AnalyticsJobs.funnel:
      return `${window(r)}  funnel  ${r.key.padEnd(14)} views ${x.views}  carts ${x.carts}  purchases ${x.purchases}  users ${x.viewers}/${x.carters}/${x.purchasers}  view→cart ${pct(x.viewToCart)}  cart→purchase ${pct(x.cartToPurchase)}  view→purchase ${pct(x.viewToPurchase)}${rev(r)}`;
    case AnalyticsJobs.hotProducts:
      return `${window(r)}  hot_products  views: ${products(x.views)}  purchases: ${products(x.purchases)}${rev(r)}`;
    case AnalyticsJobs.userActivity:
      return `${window(r)}  user ${r.key.padEnd(10)} views ${x.views}  purchases ${x.purchases}  revenue ${x.revenue}${x.converted ? '  converted' : ''}${rev(r)}`;
    case AnalyticsJobs.sessionFunnel:
      return `${window(r)}  session_funnel  sessions ${x.sessions}  viewed ${x.viewed}  carted ${x.carted}  purchased ${x.purchased}  revenue ${x.revenue}  conversion ${pct(x.conversion)}${rev(r)}`;
    default:
      return `${window(r)}  ${r.job}  ${r.key}  ${JSON.stringify(x)}${rev(r)}`;
  }
}

export function formatLate(l: Late): string {
  return `${iso(l.event.eventTime)}  late  ${l.job.padEnd(14)} seq ${l.event.seq} ${l.event.eventType} user ${l.event.userId} product ${l.event.productId}: ${l.reason}`;
}

function formatMessage(job: string, body: unknown): string {
  if (job === AnalyticsJobs.sessions) return formatSession(body as SessionSummaryRecord);
  const b = body as { kind?: string };
  if (b.kind === 'late') return formatLate(body as Late);
  if (b.kind === 'result') return formatResult(body as Result);
  return JSON.stringify(body);
}

// ------------------------------------------------------------------ tail

/** `nudge analytics tail <job> [--json] [--count N]`: new results on analytics.<job>, until SIGINT (or N results). */
export async function analyticsTailCommand(job: string, flags: TailFlags, over: ConfigInput): Promise<void> {
  checkJob(job, TAIL_JOBS);
  await withNats(over, async (nc) => {
    await requireAnalyticsStream(nc);
    const consumer = await jetstream(nc).consumers.get(Streams.analytics, { filter_subjects: Subjects.analytics(job), deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume();
    const stop = () => void messages.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.stderr.write(`following ${Subjects.analytics(job)} (Ctrl-C to stop)\n`);
    let n = 0;
    try {
      for await (const m of messages) {
        const body = parse(m);
        if (body === undefined) continue;
        write(flags.json ? JSON.stringify(body) : formatMessage(job, body));
        if (flags.count !== undefined && ++n >= flags.count) break;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await messages.close().catch(() => undefined);
    }
  });
}

function parse(m: JsMsg): unknown {
  try {
    return m.json<unknown>();
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ show

/**
 * The results of the latest closed window of a job: every key of the highest windowEnd, each at
 * its highest revision. Windows close in windowEnd order, all keys of one window at once, so the
 * latest window's first results are one run at the end of the subject (followed at most by late
 * updates): read back from the end in growing steps until the run's start is inside what was read.
 */
export async function latestWindow(nc: NatsConnection, job: string): Promise<Result[] | undefined> {
  const { first } = await requireAnalyticsStream(nc);
  const jsm = await jetstreamManager(nc);
  const newest = await jsm.streams.getMessage(Streams.analytics, { last_by_subj: Subjects.analytics(job) });
  if (newest === null) return undefined;
  const last = newest.seq;
  const js = jetstream(nc);
  for (let back = 1_000; ; back *= 8) {
    const from = Math.max(first, last - back + 1);
    const results = (await readRange(js, job, from, last)).filter((r) => r.kind === 'result' && typeof r.windowEnd === 'number') as Result[];
    if (results.length === 0) {
      if (from === first) return undefined;
      continue;
    }
    const end = results.reduce((m, r) => Math.max(m, r.windowEnd), Number.NEGATIVE_INFINITY);
    const firstOfRun = results.findIndex((r) => r.windowEnd === end);
    if (firstOfRun > 0 || from === first) {
      const byKey = new Map<string, Result>();
      for (const r of results) if (r.windowEnd === end && (byKey.get(r.key)?.revision ?? -1) < r.revision) byKey.set(r.key, r);
      return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
  }
}

/** The job's messages from stream sequence `from` through `last` (a message of this subject). */
async function readRange(js: ReturnType<typeof jetstream>, job: string, from: number, last: number): Promise<Array<{ kind?: unknown; windowEnd?: unknown }>> {
  const consumer = await js.consumers.get(Streams.analytics, { filter_subjects: Subjects.analytics(job), deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
  const out: Array<{ kind?: unknown; windowEnd?: unknown }> = [];
  const iter = await consumer.consume();
  for await (const m of iter) {
    const body = parse(m);
    if (body && typeof body === 'object') out.push(body);
    if (m.seq >= last || m.info.pending === 0) break;
  }
  await iter.close().catch(() => undefined);
  return out;
}

/** `nudge analytics show <job> [--json]`: the latest closed window, every key, as a table. */
export async function analyticsShowCommand(job: string, flags: ShowFlags, over: ConfigInput): Promise<void> {
  checkJob(job, WINDOW_JOBS);
  await withNats(over, async (nc) => {
    const rows = await latestWindow(nc, job);
    if (!rows || rows.length === 0) throw new CliError(`no results on ${Subjects.analytics(job)} yet (windows close as event time passes their end)`, ExitCode.notFound);
    const { windowStart, windowEnd } = rows[0]!;
    if (flags.json) {
      write(JSON.stringify({ job, windowStart, windowEnd, results: rows }));
      return;
    }
    write(`${job}  window ${iso(windowStart)} – ${iso(windowEnd)}  (${rows.length} ${rows.length === 1 ? 'key' : 'keys'})`);
    write('');
    for (const line of table(job, rows)) write(line);
  });
}

function table(job: string, rows: Result[]): string[] {
  if (job === AnalyticsJobs.hotProducts) {
    const r = rows[0]!.record as { views: Array<{ productId: string; count: number }>; purchases: Array<{ productId: string; count: number }> };
    const n = Math.max(r.views.length, r.purchases.length);
    const body = Array.from({ length: n }, (_, i) => [String(i + 1), r.views[i]?.productId ?? '', r.views[i] ? String(r.views[i]!.count) : '', r.purchases[i]?.productId ?? '', r.purchases[i] ? String(r.purchases[i]!.count) : '']);
    return render(['rank', 'viewed', 'views', 'purchased', 'purchases'], body);
  }
  const keyName = job === AnalyticsJobs.funnel ? 'category' : job === AnalyticsJobs.userActivity ? 'user' : 'key';
  const fields = Object.keys(rows[0]!.record).filter((f) => f !== 'category' && f !== 'userId');
  const cell = (f: string, v: unknown) => (typeof v === 'number' && /^(view|cart)To|conversion/.test(f) ? pct(v) : v === undefined ? '' : String(v));
  const body = rows.map((r) => [r.key, ...fields.map((f) => cell(f, r.record[f])), r.revision > 0 ? `r${r.revision}` : '']);
  return render([keyName, ...fields, 'rev'], body);
}

/** Columns padded to their widest cell; numbers right-aligned. */
function render(header: string[], body: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => body.length > 0 && body.every((r) => r[i] === '' || /^-?[\d.]+%?$/.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}
