/**
 * Crash chaos: the seeded sample through `nudge run` on one server without interruption (the
 * reference), and through `nudge run` on a second server with the same events at the same stream
 * sequences, SIGKILLed at seeded random moments and with its nats-server restarted once. The
 * actions and analytics of the two must be identical: none missing, none duplicated, none changed.
 */
import { prng } from '../test/support/prng.js';
import { tempDir } from '../test/support/harness.js';
import { Streams } from '../src/nats/index.js';
import { rmSync } from 'node:fs';
import { ChaosServer, startEngine, alive, engineProgress, waitCaughtUp, caughtUp, checkpointedEvents, log, sleep, type EngineLife } from './chaos-nats.js';
import { publishSample, type PublishedSample } from './chaos-publish.js';
import { digestStream, compareDigests, identical, type Comparison, type Digest } from './chaos-outputs.js';
import { check, describeComparison, fmtInt, fmtSec, table, type Check, type Row } from './chaos-report.js';

export interface CrashOptions {
  users: number;
  seed: number;
  kills: number;
  serverRestarts: number;
  /** NUDGE_CHECKPOINT_MS of both runs. */
  checkpointMs: number;
  /** NUDGE_WORKERS of both runs. */
  workers: number;
}

export type KillMode = 'signal' | 'after-output' | 'after-analytics';

export interface KillRecord {
  life: number;
  mode: KillMode;
  /** The fraction of the events applied at which we kill it (if it has not died by its fault first). */
  target: number;
  /** NUDGE_FAULT_KILL_AFTER_* for the fault modes. */
  faultN?: number;
  /** How it actually died: SIGKILL by us at progress x, or by its own fault injection. */
  how: 'signal' | 'fault' | 'none';
  /** Events applied (partition counters) at the last progress reading before the kill. */
  atEvents: number;
  lifeMs: number;
}

export interface CrashResult {
  events: number;
  users: number;
  publishMethod: string;
  referenceMs: number;
  chaosMs: number;
  kills: KillRecord[];
  killsDone: number;
  serverRestarts: number;
  /** After the nats-server restart, the longest a partition with a backlog went without applying anything (-1: no restart). */
  stallAfterRestartMs: number;
  engineStarts: number;
  actions: Comparison;
  analytics: Comparison;
  checks: Check[];
}

const lifeEnv = (o: CrashOptions, url: string, dataDir: string): Record<string, string> => ({
  NATS_URL: url,
  NUDGE_DATA_DIR: dataDir,
  NUDGE_CHECKPOINT_MS: String(o.checkpointMs),
  NUDGE_WORKERS: String(o.workers),
});

/** Generous: a healthy engine applies thousands of events per second even on a loaded machine. */
const runTimeoutMs = (events: number) => Math.max(180_000, events * 2);

interface Collected {
  actions: Digest;
  analytics: Digest;
}

async function collect(server: ChaosServer): Promise<Collected> {
  return { actions: await digestStream(server.nc, Streams.actions), analytics: await digestStream(server.nc, Streams.analytics) };
}

/** One uninterrupted run to the end of the stream, then a graceful stop. */
async function runToEnd(server: ChaosServer, o: CrashOptions, dataDir: string, sample: PublishedSample): Promise<number | null> {
  const life = await startEngine(lifeEnv(o, server.url, dataDir));
  await waitCaughtUp(life, dataDir, sample.flushSeqs, sample.lastSeq, runTimeoutMs(sample.events));
  return life.proc.stop();
}

export async function runCrash(o: CrashOptions): Promise<CrashResult> {
  const checks: Check[] = [];
  const dirs: string[] = [];
  const servers: ChaosServer[] = [];
  try {
    // ---- the reference: same events, no interruption
    log(`crash: reference run (${fmtInt(o.users)} users, seed ${o.seed})`);
    const refServer = await ChaosServer.start('ref');
    servers.push(refServer);
    const ref = await publishSample(refServer.nc, o.users, o.seed);
    log(`  ${fmtInt(ref.events)} events published (${ref.method}) in ${ref.seconds.toFixed(1)} s`);
    const refDir = tempDir('chaos-ref');
    dirs.push(refDir);
    const t0 = Date.now();
    const refExit = await runToEnd(refServer, o, refDir, ref);
    const referenceMs = Date.now() - t0;
    checks.push(check('reference run stops cleanly', refExit === 0, `exit ${refExit}`));
    const expected = await collect(refServer);
    log(`  reference: ${fmtInt(expected.actions.byId.size)} actions, ${fmtInt(expected.analytics.byId.size)} analytics results in ${fmtSec(referenceMs)}`);
    await refServer.stop();
    servers.splice(servers.indexOf(refServer), 1);

    // ---- the same events on a second server, killed and restarted
    const server = await ChaosServer.start('crash');
    servers.push(server);
    const sample = await publishSample(server.nc, o.users, o.seed);
    if (sample.events !== ref.events || sample.flushSeqs.join() !== ref.flushSeqs.join()) {
      throw new Error(`the second server's stream differs from the reference's (${sample.events} events, flush at ${sample.flushSeqs} vs ${ref.flushSeqs})`);
    }
    const dataDir = tempDir('chaos-crash');
    dirs.push(dataDir);
    const rnd = prng(o.seed ^ 0x5eed_c4a0);
    const targets = Array.from({ length: o.kills }, () => 0.05 + 0.9 * rnd()).sort((a, b) => a - b);
    const restartLives = new Set<number>();
    while (restartLives.size < Math.min(o.serverRestarts, o.kills)) restartLives.add(Math.floor(rnd() * o.kills));
    const kills: KillRecord[] = [];
    const stall = { ms: -1 };
    let engineStarts = 0;
    const tc = Date.now();
    log(`crash: ${o.kills} kills at ${targets.map((t) => `${(t * 100).toFixed(0)}%`).join(', ')} of the events; nats-server restart in life ${[...restartLives].map((l) => l + 1).join(', ')}`);
    for (let i = 0; i < o.kills; i++) {
      const r = rnd();
      // A server restart needs a life that lives to its moment: those are killed by signal.
      const mode: KillMode = restartLives.has(i) || r < 0.5 ? 'signal' : r < 0.75 ? 'after-output' : 'after-analytics';
      const rec: KillRecord = { life: i + 1, mode, target: targets[i]!, how: 'none', atEvents: 0, lifeMs: 0 };
      const env = lifeEnv(o, server.url, dataDir);
      if (mode === 'after-output') env.NUDGE_FAULT_KILL_AFTER_OUTPUTS = String((rec.faultN = 1 + Math.floor(rnd() * 2_000)));
      if (mode === 'after-analytics') env.NUDGE_FAULT_KILL_AFTER_ANALYTICS = String((rec.faultN = 1 + Math.floor(rnd() * 500)));
      const jitterMs = Math.floor(rnd() * 250);
      const downMs = 500 + Math.floor(rnd() * 1_500);
      const restartAt = i === 0 ? targets[0]! / 2 : (targets[i - 1]! + targets[i]!) / 2;
      const born = Date.now();
      const life = await startEngine(env, true);
      engineStarts++;
      await surviveUntil(life, server, o.workers, rec, sample.events, restartLives.has(i) ? { at: restartAt, downMs, stall, lastSeqs: sample.flushSeqs } : undefined, jitterMs);
      rec.lifeMs = Date.now() - born;
      // A self-kill may come before any reading: its checkpoint says at least how far it got.
      if (rec.how === 'fault') rec.atEvents = Math.max(rec.atEvents, await checkpointedEvents(dataDir));
      kills.push(rec);
      log(`  life ${rec.life}: ${rec.how === 'fault' ? `killed itself (${rec.mode} ${rec.faultN})` : rec.how === 'signal' ? 'SIGKILL' : 'not killed'} at ~${fmtInt(rec.atEvents)} events applied (${(rec.atEvents / sample.events * 100).toFixed(1)}%), after ${fmtSec(rec.lifeMs)}`);
      if (await caughtUp(dataDir, sample.flushSeqs, sample.lastSeq)) break;
    }
    log('crash: last life, to the end of the stream');
    const finalExit = await runToEnd(server, o, dataDir, sample);
    engineStarts++;
    const chaosMs = Date.now() - tc;
    checks.push(check('crashed run stops cleanly at the end', finalExit === 0, `exit ${finalExit}`));
    const got = await collect(server);
    const actions = compareDigests(expected.actions, got.actions);
    const analytics = compareDigests(expected.analytics, got.analytics);
    const killsDone = kills.filter((k) => k.how !== 'none').length;
    checks.push(check(`SIGKILL at >= ${o.kills} moments mid-stream`, killsDone >= o.kills, `${killsDone} kills`));
    checks.push(check(`nats-server restarted ${o.serverRestarts} time(s)`, server.restarts >= o.serverRestarts, `${server.restarts} restarts`));
    checks.push(check('no partition stalled over 20 s after the nats-server restart', o.serverRestarts === 0 || (stall.ms >= 0 && stall.ms <= 20_000), stall.ms >= 0 ? `longest stall ${fmtSec(stall.ms)}` : 'not measured'));
    checks.push(check('reference run produced actions and analytics', expected.actions.byId.size > 0 && expected.analytics.byId.size > 0, `${expected.actions.byId.size} / ${expected.analytics.byId.size}`));
    checks.push(check('actions identical to the uninterrupted run', identical(actions), describeComparison(actions)));
    checks.push(check('analytics identical to the uninterrupted run', identical(analytics), describeComparison(analytics)));
    return { events: sample.events, users: o.users, publishMethod: sample.method, referenceMs, chaosMs, kills, killsDone, serverRestarts: server.restarts, stallAfterRestartMs: stall.ms, engineStarts, actions, analytics, checks };
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}


/**
 * Lets one life run until it has applied `target` of the events (then SIGKILL, after a little
 * jitter) or kills itself by fault injection; restarts the nats-server on the way if asked. A life
 * that stops making progress for two minutes fails the run.
 */
async function surviveUntil(life: EngineLife, server: ChaosServer, threads: number, rec: KillRecord, events: number, restart: { at: number; downMs: number; stall: { ms: number }; lastSeqs: number[] } | undefined, jitterMs: number): Promise<void> {
  let lastEvents = -1;
  let lastChange = Date.now();
  let restarted = false;
  const moved: number[] = [];
  let seqs: number[] = [];
  let backAt = 0;
  // The restart's life is not killed before every partition with a backlog has moved again.
  const resumedAll = (now: number[]) => now.every((seq, q) => moved[q]! >= backAt || seq >= restart!.lastSeqs[q]!);
  for (;;) {
    if (!alive(life.proc)) {
      rec.how = life.proc.child.signalCode === 'SIGKILL' ? 'fault' : 'none';
      if (rec.how === 'none') throw new Error(`engine exited by itself (${life.proc.child.exitCode}):\n${life.proc.stderr().slice(-3_000)}`);
      return;
    }
    const p = await engineProgress(server.nc, 1_000, threads);
    if (p) {
      rec.atEvents = p.events;
      if (p.events !== lastEvents) {
        lastEvents = p.events;
        lastChange = Date.now();
      }
      if (restarted) {
        // Per partition with a backlog: the longest time its applied sequence stood still.
        const now = Date.now();
        p.seqs.forEach((seq, q) => {
          if (seq !== seqs[q]) moved[q] = now;
          else if (seq < restart!.lastSeqs[q]!) restart!.stall.ms = Math.max(restart!.stall.ms, now - moved[q]!);
        });
        seqs = p.seqs;
      }
      if (restart && !restarted && p.events >= restart.at * events) {
        restarted = true;
        log(`  restarting nats-server at ~${fmtInt(p.events)} events applied (down ${restart.downMs} ms)`);
        await server.restart(restart.downMs);
        backAt = lastChange = Date.now();
        // Stalls count from the stop: the server's downtime is part of them.
        seqs = p.seqs;
        seqs.forEach((_, q) => (moved[q] = lastChange - restart.downMs));
        restart.stall.ms = 0;
      } else if (p.events >= rec.target * events && (!restart || (restarted && resumedAll(p.seqs)))) {
        await sleep(jitterMs);
        if (!alive(life.proc)) continue;
        await life.proc.kill();
        rec.how = 'signal';
        return;
      }
    }
    if (Date.now() - lastChange > 120_000) {
      await life.proc.kill();
      throw new Error(`engine made no progress for 2 minutes (at ${lastEvents} events)${restarted ? ' after the nats-server restart' : ''}:\n${life.proc.stderr().slice(-3_000)}`);
    }
    // A stats answer walks every actor's timer: polled a few times a second, not more.
    await sleep(200);
  }
}

export function crashTable(r: CrashResult): string {
  const rows: Row[] = [
    ['events (users)', `${fmtInt(r.events)} (${fmtInt(r.users)})`],
    ['uninterrupted run', fmtSec(r.referenceMs)],
    ['run with kills and restart', fmtSec(r.chaosMs)],
    ['engine kills (SIGKILL) done', `${r.killsDone} (${r.kills.filter((k) => k.how === 'signal').length} by signal, ${r.kills.filter((k) => k.how === 'fault').length} right after an acked output)`],
    ['kill points (% of events applied; * self-kill, at least)', r.kills.map((k) => `${((k.atEvents / r.events) * 100).toFixed(0)}%${k.how === 'fault' ? '*' : ''}`).join(' ')],
    ['engine starts', String(r.engineStarts)],
    ['nats-server restarts (longest partition stall after)', `${r.serverRestarts} (${r.stallAfterRestartMs >= 0 ? fmtSec(r.stallAfterRestartMs) : '—'})`],
    ['actions expected / got', `${fmtInt(r.actions.expected)} / ${fmtInt(r.actions.got)}`],
    ['actions missing / duplicated / unexpected / different', `${r.actions.missing} / ${r.actions.duplicated} / ${r.actions.unexpected} / ${r.actions.different}`],
    ['analytics expected / got', `${fmtInt(r.analytics.expected)} / ${fmtInt(r.analytics.got)}`],
    ['analytics missing / duplicated / unexpected / different', `${r.analytics.missing} / ${r.analytics.duplicated} / ${r.analytics.unexpected} / ${r.analytics.different}`],
  ];
  return table('Crash: SIGKILLs and a nats-server restart vs an uninterrupted run', rows);
}
