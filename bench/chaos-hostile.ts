/**
 * Hostile input at volume: bad messages of every kind (chaos-hostile-gen.ts) mixed at seeded
 * random places into the seeded sample, through one `nudge run` that must never restart. Every
 * hostile message must land in the DLQ with a reason (and its original bytes); the normal events
 * must produce exactly the actions and analytics they produce alone (a second server, the normal
 * events only). Stream sequences differ between the two streams, so outputs are compared with each
 * sequence replaced by the position of its normal event (chaos-outputs.ts normalizeId).
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { prng } from '../test/support/prng.js';
import { tempDir } from '../test/support/harness.js';
import { Streams, Headers } from '../src/nats/index.js';
import { ChaosServer, startEngine, alive, waitCaughtUp, rssBytes, log, type EngineLife } from './chaos-nats.js';
import { sampleItems, prepareStreams, publishFlushTicks, FLUSH_MS } from './chaos-publish.js';
import { hostileMessages, HostileKinds, type HostileKind } from './chaos-hostile-gen.js';
import { digestStream, compareDigests, identical, forEachMessage, type Comparison } from './chaos-outputs.js';
import { check, describeComparison, fmtInt, fmtMiB, fmtSec, table, type Check, type Row } from './chaos-report.js';

export interface HostileOptions {
  /** Users of the normal sample. */
  users: number;
  seed: number;
  hostile: number;
}

export interface KindTally {
  sent: number;
  inDlq: number;
  /** Their DLQ reasons, by the reason's leading words. */
  reasons: Record<string, number>;
}

export interface HostileResult {
  normalEvents: number;
  hostileSent: number;
  hostileBytes: number;
  dlqMessages: number;
  hostileInDlq: number;
  /** Hostile messages with no DLQ entry. */
  notInDlq: number;
  /** DLQ entries that are not for a hostile message (a normal event dead-lettered). */
  dlqNotHostile: number;
  dlqWithoutReason: number;
  dlqBytesChanged: number;
  internalErrors: number;
  byKind: Record<string, KindTally>;
  byReason: Record<string, number>;
  engineStarts: number;
  engineRestarts: number;
  errorLogLines: number;
  rssPeakBytes: number;
  runMs: number;
  actions: Comparison;
  analytics: Comparison;
  checks: Check[];
}

interface Item {
  subject: string;
  data: Uint8Array;
  /** Index among the normal messages (events, then flush ticks); -1 for a hostile one. */
  normal: number;
  kind?: HostileKind;
}

/** The reason's category: its text up to the first colon or quoted value ("invalid JSON", "payload too large", …). */
export const reasonCategory = (r: string) => r.split(/:| "/)[0]!.trim();

async function publishAcked(nc: NatsConnection, items: Item[], onSeq: (item: Item, seq: number) => void): Promise<void> {
  const js = jetstream(nc);
  let batch: Promise<void>[] = [];
  let bytes = 0;
  for (const it of items) {
    batch.push(js.publish(it.subject, it.data).then((ack) => onSeq(it, ack.seq)));
    bytes += it.data.byteLength;
    if (batch.length >= 1_000 || bytes > 8_000_000) {
      await Promise.all(batch);
      batch = [];
      bytes = 0;
    }
  }
  await Promise.all(batch);
}

interface StreamRun {
  server: ChaosServer;
  life: EngineLife;
  dataDir: string;
  /** Stream sequence → normal index. */
  normalOf: Map<number, number>;
  /** Stream sequence → hostile message (its index in `items`). */
  hostileOf: Map<number, Item>;
  rssPeak: number;
  ms: number;
}

/** Starts an engine on a fresh server, publishes the items with acks while it runs, then flush ticks, and waits for the end. */
async function runStream(label: string, items: Item[], normalCount: number, maxEventTime: number, timeoutMs: number): Promise<StreamRun> {
  const server = await ChaosServer.start(label);
  await prepareStreams(server.nc);
  const dataDir = tempDir(`chaos-${label}`);
  const t0 = Date.now();
  const life = await startEngine({ NATS_URL: server.url, NUDGE_DATA_DIR: dataDir });
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssBytes(life.pid))), 250);
  const normalOf = new Map<number, number>();
  const hostileOf = new Map<number, Item>();
  try {
    await publishAcked(server.nc, items, (it, seq) => (it.normal >= 0 ? normalOf.set(seq, it.normal) : hostileOf.set(seq, it)));
    const flushSeqs = await publishFlushTicks(server.nc, maxEventTime + FLUSH_MS);
    flushSeqs.forEach((seq, p) => normalOf.set(seq, normalCount + p));
    await waitCaughtUp(life, dataDir, flushSeqs, Math.max(...flushSeqs), timeoutMs);
  } finally {
    clearInterval(sampler);
  }
  return { server, life, dataDir, normalOf, hostileOf, rssPeak, ms: Date.now() - t0 };
}

export async function runHostile(o: HostileOptions): Promise<HostileResult> {
  const rnd = prng(o.seed ^ 0x0bad_f00d);
  const normal: Item[] = [];
  let maxEventTime = -Infinity;
  const users = new Set<string>();
  for (const it of sampleItems(o.users, o.seed)) {
    normal.push({ subject: it.subject, data: Buffer.from(it.body), normal: normal.length });
    if (it.eventTime > maxEventTime) maxEventTime = it.eventTime;
    users.add(it.subject.slice(it.subject.lastIndexOf('.') + 1));
  }
  const hostile: Item[] = hostileMessages(o.hostile, rnd, [...users]).map((h) => ({ subject: h.subject, data: h.data, normal: -1, kind: h.kind }));
  // Merged at random places: at each step a hostile message with the odds of what is left.
  const mixed: Item[] = [];
  for (let i = 0, j = 0; i < normal.length || j < hostile.length; ) {
    if (j < hostile.length && (i >= normal.length || rnd() * (normal.length - i + hostile.length - j) < hostile.length - j)) mixed.push(hostile[j++]!);
    else mixed.push(normal[i++]!);
  }
  const hostileBytes = hostile.reduce((a, h) => a + h.data.byteLength, 0);
  const timeoutMs = Math.max(180_000, (normal.length + hostile.length) * 3);
  const runs: StreamRun[] = [];
  try {
    log(`hostile: ${fmtInt(hostile.length)} hostile messages (${fmtMiB(hostileBytes)}) mixed into ${fmtInt(normal.length)} events of ${fmtInt(o.users)} users`);
    const h = await runStream('hostile', mixed, normal.length, maxEventTime, timeoutMs);
    runs.push(h);
    const restartsBeforeStop = alive(h.life.proc) ? 0 : 1;
    const exit = await h.life.proc.stop();
    log(`  engine applied the mixed stream in ${fmtSec(h.ms)}, stopped with exit ${exit}`);

    // The DLQ: every hostile message once, with a reason and its bytes; nothing else.
    const byKind: Record<string, KindTally> = Object.fromEntries(HostileKinds.map((k) => [k, { sent: 0, inDlq: 0, reasons: {} }]));
    for (const it of hostile) byKind[it.kind!]!.sent++;
    const byReason: Record<string, number> = {};
    const seen = new Set<number>();
    let dlqMessages = 0;
    let dlqNotHostile = 0;
    let dlqWithoutReason = 0;
    let dlqBytesChanged = 0;
    let internalErrors = 0;
    await forEachMessage(h.server.nc, Streams.dlq, (m) => {
      dlqMessages++;
      const seq = Number(m.headers?.get(Headers.sourceSeq));
      const reason = m.headers?.get(Headers.reason) ?? '';
      const item = h.hostileOf.get(seq);
      if (!item || seen.has(seq)) {
        dlqNotHostile++;
        return;
      }
      seen.add(seq);
      if (reason === '') dlqWithoutReason++;
      if (reason.startsWith('internal error')) internalErrors++;
      const cat = reasonCategory(reason);
      byReason[cat] = (byReason[cat] ?? 0) + 1;
      const k = byKind[item.kind!]!;
      k.inDlq++;
      k.reasons[cat] = (k.reasons[cat] ?? 0) + 1;
      if (createHash('sha1').update(m.data).digest('hex') !== createHash('sha1').update(item.data).digest('hex')) dlqBytesChanged++;
    });
    const notInDlq = hostile.length - seen.size;

    const gotActions = await digestStream(h.server.nc, Streams.actions, (s) => h.normalOf.get(s));
    const gotAnalytics = await digestStream(h.server.nc, Streams.analytics, (s) => h.normalOf.get(s));
    const engineStarts = h.life.startedLines;
    const errorLogLines = h.life.errorLines;

    log(`hostile: the same ${fmtInt(normal.length)} events alone`);
    const a = await runStream('alone', normal, normal.length, maxEventTime, timeoutMs);
    runs.push(a);
    const aloneExit = await a.life.proc.stop();
    const actions = compareDigests(await digestStream(a.server.nc, Streams.actions, (s) => a.normalOf.get(s)), gotActions);
    const analytics = compareDigests(await digestStream(a.server.nc, Streams.analytics, (s) => a.normalOf.get(s)), gotAnalytics);

    const checks: Check[] = [
      check('every hostile message is in the DLQ', notInDlq === 0 && seen.size === hostile.length, `${fmtInt(seen.size)} of ${fmtInt(hostile.length)}`),
      check('every DLQ entry has a reason', dlqWithoutReason === 0, `${dlqWithoutReason} without`),
      check('the DLQ keeps the original bytes', dlqBytesChanged === 0, `${dlqBytesChanged} changed`),
      check('no normal event in the DLQ, no hostile one twice', dlqNotHostile === 0, `${dlqNotHostile} other entries`),
      check('every kind of hostile input was sent and dead-lettered', HostileKinds.every((k) => byKind[k]!.sent > 0 && byKind[k]!.inDlq === byKind[k]!.sent), HostileKinds.map((k) => `${k} ${byKind[k]!.inDlq}/${byKind[k]!.sent}`).join(', ')),
      check('no internal errors', internalErrors === 0 && errorLogLines === 0, `${internalErrors} internal-error reasons, ${errorLogLines} error log lines`),
      check('the worker never restarted', engineStarts === 1 && restartsBeforeStop === 0 && exit === 0, `${engineStarts} start(s), stop exit ${exit}`),
      check('the normal events alone ran cleanly', aloneExit === 0 && actions.expected > 0, `exit ${aloneExit}, ${actions.expected} actions`),
      check('actions identical to the normal events alone', identical(actions), describeComparison(actions)),
      check('analytics identical to the normal events alone', identical(analytics), describeComparison(analytics)),
    ];
    return {
      normalEvents: normal.length,
      hostileSent: hostile.length,
      hostileBytes,
      dlqMessages,
      hostileInDlq: seen.size,
      notInDlq,
      dlqNotHostile,
      dlqWithoutReason,
      dlqBytesChanged,
      internalErrors,
      byKind,
      byReason,
      engineStarts,
      engineRestarts: engineStarts - 1 + restartsBeforeStop,
      errorLogLines,
      rssPeakBytes: h.rssPeak,
      runMs: h.ms,
      actions,
      analytics,
      checks,
    };
  } finally {
    for (const r of runs) {
      if (alive(r.life.proc)) await r.life.proc.kill();
      await r.server.stop().catch(() => undefined);
      rmSync(r.dataDir, { recursive: true, force: true });
    }
  }
}



export function hostileTable(r: HostileResult): string {
  const rows: Row[] = [
    ['normal events', fmtInt(r.normalEvents)],
    ['hostile sent', `${fmtInt(r.hostileSent)} (${fmtMiB(r.hostileBytes)})`],
    ...HostileKinds.map((k): Row => [`  ${k}: sent / in DLQ`, `${fmtInt(r.byKind[k]!.sent)} / ${fmtInt(r.byKind[k]!.inDlq)}`]),
    ['hostile in DLQ (with a reason, original bytes)', `${fmtInt(r.hostileInDlq)} (${fmtInt(r.hostileInDlq - r.dlqWithoutReason)}, ${fmtInt(r.hostileInDlq - r.dlqBytesChanged)})`],
    ...Object.entries(r.byReason).sort((a, b) => b[1] - a[1]).map(([reason, n]): Row => [`  reason "${reason}"`, fmtInt(n)]),
    ['hostile missing from DLQ / other DLQ entries', `${r.notInDlq} / ${r.dlqNotHostile}`],
    ['engine restarts / internal errors / error log lines', `${r.engineRestarts} / ${r.internalErrors} / ${r.errorLogLines}`],
    ['engine RSS peak', fmtMiB(r.rssPeakBytes)],
    ['mixed stream applied in', fmtSec(r.runMs)],
    ['actions expected (alone) / got (mixed)', `${fmtInt(r.actions.expected)} / ${fmtInt(r.actions.got)}`],
    ['actions missing / duplicated / unexpected / different', `${r.actions.missing} / ${r.actions.duplicated} / ${r.actions.unexpected} / ${r.actions.different}`],
    ['analytics expected (alone) / got (mixed)', `${fmtInt(r.analytics.expected)} / ${fmtInt(r.analytics.got)}`],
    ['analytics missing / duplicated / unexpected / different', `${r.analytics.missing} / ${r.analytics.duplicated} / ${r.analytics.unexpected} / ${r.analytics.different}`],
  ];
  return table('Hostile input mixed into a normal stream', rows);
}
