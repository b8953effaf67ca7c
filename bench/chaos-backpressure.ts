/**
 * Backpressure: events published at a fixed offered load (core publishes, flushed every 1,000 and
 * paced) for N seconds, into a `nudge run` that applies them more slowly. Nothing may be lost
 * (every event the stream stored applied once, checkpointed, and read by the analytics), the
 * engine's RSS must stay under a bound while its lag grows, and the lag must drain once
 * publishing stops. Publishing with a JetStream ack per event was slower than the engine here.
 */
import { rmSync } from 'node:fs';
import { tempDir } from '../test/support/harness.js';
import { ChaosServer, startEngine, alive, engineProgress, caughtUp, memOf, waitUntil, log, sleep, PARTITIONS } from './chaos-nats.js';
import { sampleItems, prepareStreams, streamCount, settledCount, publishFlushTicks } from './chaos-publish.js';
import { check, fmtInt, fmtMiB, fmtSec, table, type Check, type Row } from './chaos-report.js';

export interface BackpressureOptions {
  seconds: number;
  seed: number;
  /** Pass/fail bound on the engine process's peak RSS. */
  rssLimitBytes: number;
  /**
   * Users of the generated stream. The sample (6 hours of event time) is published again and again,
   * each pass 7 hours later in event time with the next seed, for as long as the burst lasts: the
   * same users, so what the engine holds grows only with the state its patterns keep per user
   * (e.g. churn-risk watches a week of event time), not with the number of users.
   */
  users: number;
  /** Offered load, events/s (default 40,000): above what the engine applies, within what the server stores. */
  rate?: number;
}

export interface BackpressureResult {
  seconds: number;
  published: number;
  publishRate: number;
  /** Events applied by the end of the burst, and their rate over it. */
  appliedInBurst: number;
  applyRateInBurst: number;
  lagAtBurstEnd: number;
  lagPeak: number;
  users: number;
  passes: number;
  rssStartBytes: number;
  rssMidBurstBytes: number;
  rssBurstEndBytes: number;
  rssPeakBytes: number;
  rssAfterDrainBytes: number;
  rssLimitBytes: number;
  /** Anonymous memory (heaps) at mid-burst and at its end, and the lag at those moments. */
  anonMidBurstBytes: number;
  anonBurstEndBytes: number;
  anonPeakBytes: number;
  lagMidBurst: number;
  drainMs: number;
  /** Until the checkpoints and the analytics covered the whole stream too. */
  settleMs: number;
  applied: number;
  dlq: number;
  samples: number;
  checks: Check[];
}

const PASS_START = Date.UTC(2019, 10, 1);
const PASS_MS = 7 * 3_600_000;

export async function runBackpressure(o: BackpressureOptions): Promise<BackpressureResult> {
  const server = await ChaosServer.start('backpressure');
  const dataDir = tempDir('chaos-backpressure');
  let life: Awaited<ReturnType<typeof startEngine>> | undefined;
  try {
    const jsm = await prepareStreams(server.nc);
    life = await startEngine({ NATS_URL: server.url, NUDGE_DATA_DIR: dataDir });
    const pid = life.pid;
    const rssStart = memOf(pid).rss;
    let published = 0;
    let rssPeak = rssStart;
    let anonPeak = 0;
    let lagPeak = 0;
    let lastApplied = 0;
    let samples = 0;
    let sampling = false;
    let lastSeqs = new Array<number>(PARTITIONS).fill(0);
    const sample = async () => {
      const m = memOf(pid);
      rssPeak = Math.max(rssPeak, m.rss);
      anonPeak = Math.max(anonPeak, m.anon);
      if (sampling) return;
      sampling = true;
      try {
        const p = await engineProgress(server.nc, 1_000);
        if (p) {
          samples++;
          lastApplied = p.events;
          lagPeak = Math.max(lagPeak, published - p.events);
        }
      } finally {
        sampling = false;
      }
    };
    const sampler = setInterval(() => void sample(), 250);

    const rate = o.rate ?? 40_000;
    log(`backpressure: publishing ${fmtInt(rate)} events/s for ${o.seconds} s`);
    const stored0 = await streamCount(jsm);
    const t0 = Date.now();
    const until = t0 + o.seconds * 1000;
    let mid = { rss: 0, anon: 0 };
    let lagMid = 0;
    let pass = 0;
    let sent = 0;
    let maxEventTime = 0;
    outer: for (;;) {
      for (const it of sampleItems(o.users, o.seed + pass, PASS_START + pass * PASS_MS)) {
        server.nc.publish(it.subject, it.body);
        if (it.eventTime > maxEventTime) maxEventTime = it.eventTime;
        published = ++sent;
        if (sent % 1_000 === 0) {
          await server.nc.flush();
          const ahead = t0 + (sent / rate) * 1000 - Date.now();
          if (ahead > 0) await sleep(ahead);
          if (mid.rss === 0 && Date.now() >= t0 + o.seconds * 500) {
            mid = memOf(pid);
            lagMid = published - lastApplied;
          }
          if (Date.now() >= until) break outer;
        }
      }
      pass++;
    }
    await server.nc.flush();
    const burstMs = Date.now() - t0;
    await sample();
    const appliedInBurst = lastApplied;
    const lagAtBurstEnd = published - appliedInBurst;
    const burstEnd = memOf(pid);
    log(`  published ${fmtInt(published)} in ${fmtSec(burstMs)}; the engine had applied ${fmtInt(appliedInBurst)} (lag ${fmtInt(lagAtBurstEnd)}, RSS ${fmtMiB(burstEnd.rss)}, anonymous ${fmtMiB(burstEnd.anon)})`);

    const tDrain = Date.now();
    const end = await waitUntil('the lag to drain', async () => {
      if (!alive(life!.proc)) throw new Error(`engine exited (${life!.proc.child.exitCode ?? life!.proc.child.signalCode}) while draining:\n${life!.proc.stderr().slice(-3_000)}`);
      await sample();
      const p = await engineProgress(server.nc, 1_000);
      return p && p.events >= published ? p : undefined;
    }, Math.max(300_000, published * 2), 250);
    const drainMs = Date.now() - tDrain;
    await waitUntil('checkpoints and analytics to cover the stream', () => caughtUp(dataDir, lastSeqs, Math.max(...lastSeqs)), 300_000, 500);
    const settleMs = Date.now() - tDrain;
    clearInterval(sampler);
    const rssAfterDrain = memOf(pid).rss;
    log(`  drained in ${fmtSec(drainMs)} (checkpointed, analytics caught up after ${fmtSec(settleMs)}); RSS peak ${fmtMiB(rssPeak)}`);
    const exit = await life.proc.stop();

    const publishRate = published / (burstMs / 1000);
    const applyRateInBurst = appliedInBurst / (burstMs / 1000);
    const checks: Check[] = [
      check('published faster than the engine applied', publishRate > applyRateInBurst && lagAtBurstEnd > 0, `${fmtInt(publishRate)}/s published, ${fmtInt(applyRateInBurst)}/s applied during the burst`),
      check('nothing lost: every stored event applied once', end.events === published && end.dlq === 0, `${fmtInt(end.events)} applied of ${fmtInt(published)}, ${end.dlq} dead-lettered`),
      check('checkpoints and analytics cover the whole stream', true, `after ${fmtSec(settleMs)}`),
      check('memory bounded', rssPeak <= o.rssLimitBytes, `RSS peak ${fmtMiB(rssPeak)} <= ${fmtMiB(o.rssLimitBytes)} (lag peak ${fmtInt(lagPeak)} events)`),
      check('lag drained', end.events - published === 0, `in ${fmtSec(drainMs)}`),
      check('the engine ran throughout and stopped cleanly', exit === 0 && life.startedLines === 1, `${life.startedLines} start(s), exit ${exit}`),
    ];
    return {
      seconds: burstMs / 1000,
      published,
      publishRate,
      appliedInBurst,
      applyRateInBurst,
      lagAtBurstEnd,
      lagPeak: Math.max(lagPeak, lagAtBurstEnd),
      users: o.users,
      passes: pass + 1,
      rssStartBytes: rssStart,
      rssMidBurstBytes: mid.rss,
      rssBurstEndBytes: burstEnd.rss,
      anonMidBurstBytes: mid.anon,
      anonBurstEndBytes: burstEnd.anon,
      anonPeakBytes: anonPeak,
      lagMidBurst: lagMid,
      rssPeakBytes: rssPeak,
      rssAfterDrainBytes: rssAfterDrain,
      rssLimitBytes: o.rssLimitBytes,
      drainMs,
      settleMs,
      applied: end.events,
      dlq: end.dlq,
      samples,
      checks,
    };
  } finally {
    if (life && alive(life.proc)) await life.proc.kill();
    await server.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    await sleep(0);
  }
}

export function backpressureTable(r: BackpressureResult): string {
  const rows: Row[] = [
    ['burst', fmtSec(r.seconds * 1000)],
    ['published (acked)', `${fmtInt(r.published)} (${fmtInt(r.publishRate)}/s; ${fmtInt(r.users)} users, ${r.passes} pass(es) of the sample)`],
    ['applied during the burst', `${fmtInt(r.appliedInBurst)} (${fmtInt(r.applyRateInBurst)}/s)`],
    ['lag at mid-burst / burst end / peak', `${fmtInt(r.lagMidBurst)} / ${fmtInt(r.lagAtBurstEnd)} / ${fmtInt(r.lagPeak)}`],
    ['applied in the end / dead-lettered', `${fmtInt(r.applied)} / ${fmtInt(r.dlq)}`],
    ['drain time (lag 0)', fmtSec(r.drainMs)],
    ['until checkpointed and analytics caught up', fmtSec(r.settleMs)],
    ['engine RSS: start / mid-burst / burst end / after drain', `${fmtMiB(r.rssStartBytes)} / ${fmtMiB(r.rssMidBurstBytes)} / ${fmtMiB(r.rssBurstEndBytes)} / ${fmtMiB(r.rssAfterDrainBytes)}`],
    ['engine anonymous memory: mid-burst / burst end / peak', `${fmtMiB(r.anonMidBurstBytes)} / ${fmtMiB(r.anonBurstEndBytes)} / ${fmtMiB(r.anonPeakBytes)}`],
    ['engine RSS peak (limit)', `${fmtMiB(r.rssPeakBytes)} (${fmtMiB(r.rssLimitBytes)})`],
  ];
  return table('Backpressure: publishing faster than the engine applies', rows);
}
