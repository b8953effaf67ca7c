/**
 * What the OutputSink costs the engine's thread per output, acks included, against a private
 * nats-server (from nats.conf, free port, temp store; never :4222).
 *
 *   node --expose-gc --import tsx bench/perf-sink.ts [--outputs 100000] [--rounds 5] [--batch 500]
 *        [--compare path/to/other/output-sink.ts]
 *
 * The outputs are coupon actions and session summaries shaped like the engine's (about 45% / 55%),
 * built from the seeded sample. A round sends them in batches of `--batch`, yielding to the event
 * loop after each batch (as the engine does between inbound chunks) and awaiting `flush()` every
 * 20 batches and at the end. It reports this process's CPU time (user + system, from
 * process.cpuUsage, so the socket writes and ack parsing count too) per output. With --compare,
 * rounds alternate between the two sinks on the same connection, so drift hits both alike; every
 * round uses fresh Msg-Ids so the server stores each output instead of answering "duplicate".
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startEmbeddedServer, ensureStreams, Subjects, AnalyticsJobs, partitionOf } from '../src/nats/index.js';
import { generateSample } from '../src/events/sample-generator.js';
import { createLogger } from '../src/log/index.js';
import { OutputSink } from '../src/runtime/output-sink.js';
import type { Output } from '../src/runtime/partition-processor.js';

const { values } = parseArgs({
  options: {
    outputs: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '500' },
    compare: { type: 'string' },
  },
});
const OUTPUTS = Number(values.outputs);
const ROUNDS = Number(values.rounds);
const BATCH = Number(values.batch);
const log = (s: string) => process.stderr.write(`${s}\n`);

type SinkClass = typeof OutputSink;
const sinks: Array<{ name: string; Sink: SinkClass }> = [{ name: 'src', Sink: OutputSink }];
if (values.compare) {
  const mod = (await import(pathToFileURL(resolve(values.compare)).href)) as { OutputSink: SinkClass };
  sinks.push({ name: 'compare', Sink: mod.OutputSink });
}

// ------------------------------------------------------------------ outputs shaped like the engine's

function buildOutputs(n: number): Output[] {
  const out: Output[] = [];
  const views: Array<{ seq: number; eventTime: number; eventType: string; productId: string; categoryId?: string; categoryCode?: string; brand?: string; price: number }> = [];
  let seq = 0;
  for (const r of generateSample({ users: Math.ceil(n / 3), seed: 1 })) {
    seq++;
    const t = Date.parse(r.event_time.replace(' UTC', 'Z').replace(' ', 'T'));
    const v: (typeof views)[number] = { seq, eventTime: t, eventType: r.event_type, productId: r.product_id, price: Number(r.price) };
    if (r.category_id) v.categoryId = r.category_id;
    if (r.category_code) v.categoryCode = r.category_code;
    if (r.brand) v.brand = r.brand;
    views.push(v);
    if (views.length > 3) views.shift();
    if (seq % 4 !== 0 || views.length < 3) continue;
    const userId = r.user_id;
    if (out.length % 9 < 4) {
      const actionId = `repeat-category:1:${userId}:${seq}`;
      out.push({
        kind: 'action',
        subject: Subjects.action('coupon', userId),
        msgId: actionId,
        body: {
          actionId,
          type: 'coupon',
          patternId: 'repeat-category',
          patternVersion: 1,
          userId,
          userSession: r.user_session,
          eventTime: t,
          emittedAt: Date.now(),
          match: { views: views.map((x) => ({ ...x })) },
          payload: { categoryId: v.categoryId ?? null, categoryCode: v.categoryCode || null, productIds: [...new Set(views.map((x) => x.productId))], views: 3 },
        },
      });
    } else {
      const summaryId = `session:${userId}:${seq - 7}`;
      out.push({
        kind: 'analytics',
        subject: Subjects.analytics(AnalyticsJobs.sessions),
        msgId: summaryId,
        body: {
          summaryId,
          userId,
          sessionStart: t - 600_000,
          sessionEnd: t + 1_800_000,
          durationMs: 2_400_000,
          events: 7,
          views: 5,
          carts: 1,
          removals: 0,
          purchases: 1,
          revenue: Number(r.price),
          converted: true,
          finalPhase: 'purchased',
          emittedAt: Date.now(),
          userSession: r.user_session,
        },
      });
    }
    if (out.length >= n) break;
  }
  if (partitionOf('x', 8) < 0) throw new Error(); // keep the import honest
  return out;
}

const outputs = buildOutputs(OUTPUTS);
const bytes = outputs.reduce((s, o) => s + (o.kind === 'dlq' ? o.data.length : JSON.stringify(o.body).length), 0);
log(`${outputs.length} outputs, ${Math.round(bytes / outputs.length)} body bytes on average`);

// ------------------------------------------------------------------ server and rounds

const dir = mkdtempSync(join(tmpdir(), 'nudge-perf-sink-'));
const server = await startEmbeddedServer({ dir });
const nc = await connect({ servers: server.url });
try {
  await ensureStreams(await jetstreamManager(nc), { eventsMaxAgeMs: 86_400_000, actionsDedupeMs: 7_200_000 });
  const logger = createLogger('warn');
  const tick = () => new Promise<void>((r) => setImmediate(r));

  async function round(Sink: SinkClass, tag: string): Promise<{ cpuNs: number; sysNs: number; wallMs: number }> {
    const sink = new Sink(nc, logger, 1 << 20);
    const mine = outputs.map((o) => ({ ...o, msgId: `${o.msgId}:${tag}` }) as Output);
    (globalThis as { gc?: () => void }).gc?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < mine.length; i += BATCH) {
      const end = Math.min(mine.length, i + BATCH);
      for (let j = i; j < end; j++) sink.send(mine[j]!);
      await tick();
      if ((i / BATCH) % 20 === 19) await sink.flush();
    }
    await sink.flush();
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (sink.acked !== mine.length || sink.duplicates !== 0) throw new Error(`${tag}: acked ${sink.acked}, duplicates ${sink.duplicates} of ${mine.length}`);
    sink.close();
    return { cpuNs: ((c.user + c.system) * 1000) / mine.length, sysNs: (c.system * 1000) / mine.length, wallMs };
  }

  const results = new Map<string, number[]>(sinks.map((s) => [s.name, []]));
  await round(sinks[0]!.Sink, 'warm-a');
  if (sinks[1]) await round(sinks[1].Sink, 'warm-b');
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? sinks : [...sinks].reverse();
    for (const s of order) {
      const { cpuNs, sysNs, wallMs } = await round(s.Sink, `${s.name}-${r}`);
      results.get(s.name)!.push(cpuNs);
      log(`round ${r + 1} ${s.name.padEnd(8)} ${cpuNs.toFixed(0).padStart(6)} ns CPU/output (system ${sysNs.toFixed(0).padStart(5)})  ${((outputs.length / wallMs) * 1000).toFixed(0).padStart(7)} outputs/s`);
    }
  }
  for (const [name, xs] of results) {
    xs.sort((a, b) => a - b);
    process.stdout.write(`${name.padEnd(8)} median ${xs[Math.floor(xs.length / 2)]!.toFixed(0).padStart(6)} ns CPU/output (min ${xs[0]!.toFixed(0)}, max ${xs[xs.length - 1]!.toFixed(0)})\n`);
  }
} finally {
  await nc.close().catch(() => undefined);
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
