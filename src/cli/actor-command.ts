import { readFileSync, existsSync } from 'node:fs';
import type { ConfigInput } from '../config/index.js';
import { compilePatternText, type CompiledPattern } from '../cep/index.js';
import { PatternBucket, checkEntry } from '../pattern-store/index.js';
import { Buckets } from '../nats/index.js';
import { explainWhy, conditionText, formatDuration, InspectError, type ActorShowResponse, type ActorListItem, type WhyResult, type RunNote } from '../service/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import { table, iso } from './table.js';
import { withInspect, requireUserId, userEvents, userEventCount, userActions, out, note, type InspectContext } from './inspect-io.js';

/**
 * `nudge actor show|events|actions|why` and `nudge actors list`: one user's actor from the
 * terminal, live, whether it is in memory or passivated. `show` and `list` ask the worker owning
 * the user's partition (nudge.actor.show.<p>, nudge.actors.list.<p>); `events` and `actions` read
 * the streams; `why` replays the user's events through a pattern offline and explains each step.
 */

interface JsonFlag {
  json?: boolean;
}

export async function actorShowCommand(userId: string, flags: JsonFlag, over: ConfigInput): Promise<void> {
  requireUserId(userId);
  await withInspect(over, async (c) => {
    const view = await c.client.show(userId);
    if (view.status === 'none') {
      const events = await userEventCount(c, userId);
      if (events === 0) throw new CliError(`unknown user ${userId}: no actor and no events in EVENTS (partition ${view.partition})`, ExitCode.notFound);
      if (flags.json) return out({ ...view, eventsInStream: events });
      out(`user ${userId}  partition ${view.partition} (worker ${view.partitionState.worker})  actor: none`);
      out(`the actor holds nothing now (no open session, no partial match, no cap), so it was released; ${events} event(s) of the user are in EVENTS (\`nudge actor events ${userId}\`)`);
      out(partitionLine(view));
      return;
    }
    if (flags.json) return out(view);
    printActor(view);
  });
}

function partitionLine(v: ActorShowResponse): string {
  const s = v.partitionState;
  return `partition ${s.partition}: applied seq ${s.seq}, checkpointed seq ${s.checkpointedSeq}, watermark ${iso(s.watermark)}, pattern revision ${s.patternRevision}`;
}

function printActor(v: ActorShowResponse): void {
  out(`user ${v.userId}  partition ${v.partition} (worker ${v.partitionState.worker})  actor: ${v.status}`);
  out(partitionLine(v));
  out('');
  if (v.machine) out(`machine   ${v.machine.value}  context ${JSON.stringify(v.machine.context)}`);
  else out('machine   (no open session)');
  if (v.session) {
    const s = v.session;
    out(`session   ${s.userSession ?? '-'}: started ${iso(s.sessionStart)}, last event ${iso(s.lastEventTime)}, ends ${iso(s.endsAt)}`);
    out(`          views ${s.views}, carts ${s.carts}, removes ${s.removes}, purchases ${s.purchases}, others ${s.others}, revenue ${s.revenue}`);
  }
  out('');
  const runs = v.patterns.flatMap((p) => p.runs.map((r) => ({ p, r })));
  if (runs.length === 0) out('partial matches: none');
  else {
    out('partial matches');
    out(
      indent(
        table(
          ['PATTERN', 'VER', 'KEY', 'STAGE', 'EVENTS', 'DEADLINE', 'WAITS FOR'],
          runs.map(({ p, r }) => [
            p.patternId + (p.stale ? ' (stale)' : ''),
            p.version,
            r.key || '-',
            `${r.stage} ${r.count}/${r.mayTake === r.needs ? r.needs : r.mayTake === null ? `${r.needs}+` : `${r.needs}..${r.mayTake}`}`,
            r.events.map((e) => `#${e.seq} ${e.eventType}${e.stage ? `→${e.stage}` : ''}`).join(', '),
            r.deadline === null ? '-' : iso(r.deadline),
            r.next,
          ]),
        ),
      ),
    );
  }
  const caps = v.patterns.flatMap((p) => p.caps.map((c) => ({ p, c })));
  if (caps.length || v.typeCaps.length) {
    out('');
    out('frequency caps');
    const rows = caps.map(({ p, c }) => [`${p.patternId}`, c.key || '-', c.sent.map(iso).join(', '), `${c.max} per ${formatDuration(c.windowMs)}`, c.heldUntil === null ? 'no' : `until ${iso(c.heldUntil)}`]);
    for (const t of v.typeCaps) rows.push([`type ${t.ledger}`, '-', t.sent.map(iso).join(', '), `window ${formatDuration(t.windowMs)}`, '-']);
    out(indent(table(['CAP', 'KEY', 'SENT AT', 'LIMIT', 'HOLDING'], rows)));
  } else out('frequency caps: none');
  out('');
  out(`timer: ${v.timer === null ? 'none' : `wakes at ${iso(v.timer)} (event time)`}`);
  if (v.deadlines.length) out(indent(table(['AT (EVENT TIME)', 'WHAT'], v.deadlines.map((d) => [iso(d.at), d.what]))));
}

const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

export async function actorEventsCommand(userId: string, flags: JsonFlag & { limit: number }, over: ConfigInput): Promise<void> {
  requireUserId(userId);
  await withInspect(over, async (c) => {
    const all = await userEvents(c, userId);
    if (all.length === 0) throw new CliError(`unknown user ${userId}: no events in EVENTS (partition ${c.client.partitionOf(userId)})`, ExitCode.notFound);
    const events = all.slice(-flags.limit);
    if (flags.json) {
      for (const e of events) out({ seq: e.seq, subject: e.subject, storedAt: e.storedAt, event: e.event, rejected: e.rejected });
      return;
    }
    out(
      table(
        ['SEQ', 'EVENT TIME', 'TYPE', 'PRODUCT', 'CATEGORY', 'PRICE', 'SESSION', 'NOTE'],
        events.map((e) =>
          e.event
            ? [e.seq, iso(e.event.eventTime), e.event.eventType, e.event.productId, e.event.categoryCode || e.event.categoryId || '-', e.event.price, e.event.userSession ?? '-', '']
            : [e.seq, '-', e.subject.split('.')[1], '-', '-', '-', '-', `dead-lettered: ${e.rejected}`],
        ),
      ),
    );
    note(`${events.length} of ${all.length} retained event(s) of ${userId} in EVENTS (partition ${c.client.partitionOf(userId)})`);
  });
}

export async function actorActionsCommand(userId: string, flags: JsonFlag & { limit: number }, over: ConfigInput): Promise<void> {
  requireUserId(userId);
  await withInspect(over, async (c) => {
    const all = await userActions(c, userId);
    if (all.length === 0) {
      const events = await userEventCount(c, userId);
      if (events === 0) throw new CliError(`unknown user ${userId}: no actions and no events`, ExitCode.notFound);
      if (!flags.json) note(`no actions for ${userId} in ACTIONS (${events} event(s) in EVENTS; \`nudge actor why ${userId} <pattern>\` says why)`);
      return;
    }
    const list = all.slice(-flags.limit);
    if (flags.json) {
      for (const a of list) out({ seq: a.seq, subject: a.subject, shadow: a.shadow, ...a.action });
      return;
    }
    out(
      table(
        ['SEQ', 'EVENT TIME', 'EMITTED', 'TYPE', 'PATTERN', 'ACTION ID', 'PAYLOAD'],
        list.map((a) => [a.seq, iso(a.action.eventTime), iso(a.action.emittedAt), a.shadow ? `${a.action.type} (shadow)` : a.action.type, `${a.action.patternId}@${a.action.patternVersion}`, a.action.actionId, JSON.stringify(a.action.payload)]),
      ),
    );
    note(`${list.length} of ${all.length} action(s) sent to ${userId}`);
  });
}

export async function actorsListCommand(flags: JsonFlag & { state?: string; partition?: number; limit: number }, over: ConfigInput): Promise<void> {
  await withInspect(over, async (c) => {
    const P = c.config.partitions;
    if (flags.partition !== undefined && flags.partition >= P) throw new CliError(`--partition must be below NUDGE_PARTITIONS (${P})`, ExitCode.usage);
    const partitions = flags.partition !== undefined ? [flags.partition] : Array.from({ length: P }, (_, i) => i);
    const req = { limit: flags.limit, ...(flags.state !== undefined ? { state: flags.state } : {}) };
    const answers = await Promise.all(
      partitions.map((p) =>
        c.client.list(p, req).then(
          (r) => ({ p, r, err: null as InspectError | null }),
          (e) => {
            if (e instanceof InspectError && (e.kind === 'no-owner' || e.kind === 'timeout')) return { p, r: null, err: e };
            throw e;
          },
        ),
      ),
    );
    const missing = answers.filter((a) => a.r === null);
    if (missing.length === answers.length) throw new CliError(`no worker answers for ${partitions.length === 1 ? `partition ${partitions[0]}` : 'any partition'}: is \`nudge run\` running against this NATS?`, ExitCode.error);
    for (const m of missing) note(`partition ${m.p}: ${m.err!.message}`);
    const total = answers.reduce((n, a) => n + (a.r?.total ?? 0), 0);
    const actors: ActorListItem[] = answers
      .flatMap((a) => a.r?.actors ?? [])
      .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
      .slice(0, flags.limit);
    if (flags.json) {
      for (const a of actors) out(a);
    } else if (actors.length) {
      out(table(['USER', 'PARTITION', 'STATE', 'ACTOR', 'PATTERNS', 'TIMER (EVENT TIME)'], actors.map((a) => [a.userId, a.partition, a.state, a.live ? 'live' : 'passivated', a.patterns.join(',') || '-', iso(a.timer)])));
    }
    note(`${actors.length} of ${total} actor(s)${flags.state !== undefined ? ` in state ${flags.state}` : ''}${missing.length ? `; ${missing.length} partition(s) did not answer` : ''}`);
    if (missing.length) process.exitCode = ExitCode.error;
  });
}

export async function actorWhyCommand(userId: string, patternId: string, flags: JsonFlag & { file?: string }, over: ConfigInput): Promise<void> {
  requireUserId(userId);
  await withInspect(over, async (c) => {
    const { pattern, source } = flags.file ? patternFromFile(flags.file, patternId) : await patternInForce(c, patternId);
    const events = await userEvents(c, userId);
    let view: ActorShowResponse | null = null;
    try {
      view = await c.client.show(userId);
    } catch (e) {
      if (!(e instanceof InspectError) || e.kind === 'bad-request') throw e;
      note(`note: ${e.message}; explaining without the partition's current watermark`);
    }
    if (events.length === 0 && (view === null || view.status === 'none')) {
      throw new CliError(`unknown user ${userId}: no events in EVENTS (partition ${c.client.partitionOf(userId)})`, ExitCode.notFound);
    }
    const actions = await userActions(c, userId);
    const shadow = pattern.spec.mode === 'shadow';
    const result = explainWhy({
      pattern,
      userId,
      events: events.flatMap((e) => (e.ref ? [e.ref] : [])),
      maxOutOfOrderMs: view?.partitionState.maxOutOfOrderMs ?? c.config.maxOutOfOrderMs,
      latePolicy: c.config.latePolicy,
      partitionWatermark: view?.partitionState.watermark ?? null,
      otherTypeSent: actions.filter((a) => a.action.type === pattern.action.type && a.action.patternId !== pattern.id && a.shadow === shadow).map((a) => a.action.eventTime),
      sentActionIds: new Set(actions.filter((a) => a.action.patternId === pattern.id).map((a) => a.action.actionId)),
    });
    const rejected = events.filter((e) => e.rejected).length;
    const live = view?.patterns.find((p) => p.patternId === pattern.id) ?? null;
    if (flags.json) {
      out({ ...result, pattern: { id: pattern.id, version: pattern.version, source }, deadLettered: rejected, engine: view ? { status: view.status, partition: view.partitionState, state: live } : null });
      return;
    }
    printWhy(result, pattern, source, rejected, view, live);
  });
}

async function patternInForce(c: InspectContext, id: string): Promise<{ pattern: CompiledPattern; source: string }> {
  let bucket: PatternBucket;
  try {
    bucket = await PatternBucket.open(c.nc, { create: false });
  } catch {
    throw new CliError(`no pattern bucket on ${c.config.natsUrl} (start the engine, or use --file <pattern.json>)`, ExitCode.notFound);
  }
  const fold = await bucket.inForce();
  const revision = fold.revisionOf(id);
  if (revision === undefined) {
    const rejected = fold.rejected.find((r) => r.id === id);
    throw new CliError(rejected ? `pattern ${id} has no valid revision in force (revision ${rejected.revision} was rejected: ${rejected.reason})` : `no pattern "${id}" in force (\`nudge patterns list\`)`, ExitCode.notFound);
  }
  const entry = (await bucket.history(id)).find((e) => e.revision === revision);
  const check = entry ? checkEntry(entry) : null;
  if (!check?.ok) throw new CliError(`pattern ${id} at revision ${revision} is no longer retained in the bucket`, ExitCode.notFound);
  return { pattern: check.pattern, source: `bucket ${Buckets.patterns} revision ${revision}` };
}

function patternFromFile(file: string, id: string): { pattern: CompiledPattern; source: string } {
  if (!existsSync(file)) throw new CliError(`no such file: ${file}`, ExitCode.notFound);
  const r = compilePatternText(readFileSync(file, 'utf8'));
  if (!r.ok) throw new CliError(`${file}: ${r.reason}`, ExitCode.error);
  if (r.pattern.id !== id) throw new CliError(`${file} defines pattern "${r.pattern.id}", not "${id}"`, ExitCode.usage);
  return { pattern: r.pattern, source: `file ${file}` };
}

function printWhy(r: WhyResult, p: CompiledPattern, source: string, rejected: number, view: ActorShowResponse | null, live: ActorShowResponse['patterns'][number] | null): void {
  out(`why ${p.id} for user ${r.userId}: pattern v${p.version} from ${source}; key ${p.key}, within ${r.within ?? '-'}, skip ${p.skip.kind}${p.spec.mode === 'shadow' ? ', shadow' : ''}${p.spec.enabled ? '' : ', DISABLED'}`);
  out(`stages: ${p.stages.map((s) => `${s.name}${s.lo === 1 && s.hi === 1 ? '' : ` ×${s.hi === Infinity ? `${s.lo}+` : s.lo === s.hi ? s.lo : `${s.lo}..${s.hi}`}`}${s.optional ? '?' : ''} (${conditionText(p, s.name)})`).join(' → ')}${p.endGuards.length ? ` → then no ${p.endGuards.map((g) => `${g.name} (${conditionText(p, g.name)})`).join(' / ')} within the time limit` : ''}`);
  out('');
  const runLine = (n: RunNote) => `${n.run} at ${n.at}: ${n.text}`;
  for (const s of r.steps) {
    out(`#${s.seq}  ${iso(s.eventTime)}  ${s.eventType} ${s.productId}${s.key ? `  [key ${s.key}]` : ''}${s.late ? '  (late: behind the watermark)' : ''}`);
    for (const t of s.time) out(`    time ${iso(t.time)}: ${t.run} ${t.text}`);
    if (!s.read) {
      out(`    not read: the pattern looks only at ${[...(p.relevantTypes ?? [])].join(', ')}`);
      continue;
    }
    for (const n of s.runs) out(`    ${runLine(n)}`);
    if (s.start) out(`    start: ${s.start.text}`);
    for (const c of s.completions) out(`    → ${c.capped ? `completed, held back: ${c.capped}` : `completed: action ${c.actionId}${c.sent === true ? ' (in ACTIONS)' : c.sent === false ? ' (not in ACTIONS)' : ''}`}`);
  }
  for (const t of r.after) out(`time ${iso(t.time)} (partition watermark): ${t.run} ${t.text}`);
  if (rejected) out(`(${rejected} of the user's events were dead-lettered and never reached the pattern)`);
  out('');
  out(`verdict: ${r.verdict.summary}`);
  for (const d of r.verdict.details) out(`  - ${d}`);
  if (view) {
    const now = live ? `${live.runs.length} partial match(es)${live.runs.length ? `, furthest at stage ${[...live.runs].sort((a, b) => b.stageIndex - a.stageIndex || b.count - a.count)[0]!.stage}` : ''}${live.stale ? ' (of another version)' : ''}` : 'no state for this pattern';
    out(`  - the engine now (actor ${view.status}): ${now}`);
  }
}
