/**
 * Issue 7, recovery: time from restart to caught up after a SIGKILL at ~1,000,000 applied events,
 * and the replay rate, beside the raw consume rate of the same stream.
 *
 *   npm run bench -- --suite recovery [--recovery-kill-at 1000000] [--users 100000] [--seed 1]
 *
 * On a fresh private nats-server: run.ts's publisher child publishes the seeded sample (--users,
 * default 100,000 users = 1,279,471 events, verified); run.ts's RAW pass times the stream (once
 * before the engine, once after the recovery). Then the engine in a child process
 * (bench/engine-child.ts, default config, empty data dir, status every 50 ms) runs until it has
 * applied --recovery-kill-at events and is SIGKILLed: no graceful stop, no final checkpoint. What the
 * last checkpoint held is read from LMDB (openCheckpointStore(dataDir).loadPartition(p)). The
 * engine is started again on the same data dir and timed from the spawn: to its "started" line
 * (process start, restoring the partitions and the timers due soon (the rest stay in LMDB), consumers
 * created), to the point where it has re-applied everything it had applied when killed, and to
 * caught up (every partition at its last sequence). Replay rate = events applied after the restart
 * (the stream's events minus the checkpoint's) / time from started to caught up; it is also given
 * from the spawn.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { openCheckpointStore } from '../src/store/index.js';
import {
  PARTITIONS,
  describeEngineConfig,
  engineEnv,
  fmtInt,
  fmtMs,
  fmtPct,
  positiveNumber,
  progress,
  spawnEngineChild,
  startPrivateNats,
  waitForStatus,
  type ChildStatus,
  type SuiteContext,
} from './suite-common.js';

export const RECOVERY_OPTIONS = {
  'recovery-kill-at': { type: 'string', default: '1000000' },
} as const;

export interface RecoveryResult {
  settings: { users: number; seed: number; killAt: number; engine: Record<string, unknown> };
  events: number;
  raw: Array<{ rate: number; seconds: number }>;
  rawRate: number;
  /** The run that was killed: from its "started" line to the kill. */
  firstRun: { startMs: number; appliedAtKill: number; seconds: number; rate: number; checkpointsBeforeKill: number };
  checkpoint: { events: number; seqs: number[]; behindKill: number };
  restart: {
    /** ms from spawn to the engine's "started" line; inside it, Engine.start's own time. */
    toStartedMs: number;
    engineStartMs: number;
    /** ms from spawn until it had re-applied what it had applied when killed, and until caught up. */
    toKillPointMs: number;
    toCaughtUpMs: number;
    /** Events applied after the restart: those past the checkpoint's counts, plus those re-read before them (rereadBeforeCounted). */
    eventsAfterRestart: number;
    /** Live actors' changes wait up to NUDGE_SNAPSHOT_EVERY checkpoints, so replay starts before what the counters cover. */
    rereadBeforeCounted: number;
    replayRateFromStarted: number;
    replayRateFromSpawn: number;
    storedActorsAtRestart: number;
  };
  replayVsRaw: number;
  replayVsFirstRun: number;
  finalApplied: number;
}

export async function runRecovery(ctx: SuiteContext): Promise<RecoveryResult> {
  const killAt = Math.floor(positiveNumber('recovery-kill-at', ctx.opts['recovery-kill-at']));
  const dir = join(ctx.root, 'recovery');
  const nats = await startPrivateNats(join(dir, 'nats'), 'nudge-bench-recovery');
  const dataDir = join(dir, 'engine');
  const env = engineEnv(nats.url, dataDir);
  const engineCfg = describeEngineConfig(env);
  try {
    progress(`recovery: publishing run.ts's sample (${fmtInt(ctx.helpers.users)} users, seed ${ctx.helpers.seed})`);
    const pub = await ctx.helpers.runPublisher(nats.url);
    const events = pub.events;
    if (events <= killAt) throw new Error(`the sample has ${fmtInt(events)} events, not more than --recovery-kill-at ${fmtInt(killAt)}: raise --users`);
    const lastSeq = await ctx.helpers.partitionLastSeqs(nats.jsm);
    progress(`  ${fmtInt(events)} events; raw pass`);
    const raw: RecoveryResult['raw'] = [];
    const rawPass = async () => {
      const r = await ctx.helpers.rawPass(nats.url, lastSeq);
      if (r.messages !== events) throw new Error(`raw pass saw ${r.messages} messages, ${events} published`);
      raw.push({ rate: r.rate, seconds: r.ms / 1000 });
      progress(`  raw ${fmtInt(r.rate)}/s (${(r.ms / 1000).toFixed(1)} s)`);
    };
    await rawPass();

    // 1. Run until ~killAt events are applied, then SIGKILL.
    progress(`  engine from an empty data dir until ${fmtInt(killAt)} events are applied, then SIGKILL`);
    const first = spawnEngineChild(env, { statusMs: 50, keepHistory: false });
    let killedAt: ChildStatus;
    let firstStart: { at: number; startMs: number };
    let firstSeconds: number;
    try {
      firstStart = await first.started;
      const hit = await waitForStatus(first, `${fmtInt(killAt)} applied events`, (s) => s.applied >= killAt, Math.max(600_000, killAt), (s) =>
        progress(`    engine ${fmtInt(s.applied)} applied (${fmtInt(s.applied / ((performance.now() - firstStart.at) / 1000))}/s)`),
      );
      killedAt = hit.s;
      await first.kill();
      firstSeconds = (hit.at - firstStart.at) / 1000;
      progress(`  SIGKILL at ${fmtInt(killedAt.applied)} applied (${fmtInt(killedAt.applied / firstSeconds)}/s since started, ${killedAt.checkpoints} checkpoints)`);
    } finally {
      await first.kill();
    }
    if (first.child.signalCode !== 'SIGKILL') throw new Error(`the engine exited with ${first.child.exitCode ?? first.child.signalCode}, not by the SIGKILL`);
    const firstRun = {
      startMs: firstStart.startMs,
      appliedAtKill: killedAt.applied,
      seconds: firstSeconds,
      rate: killedAt.applied / firstSeconds,
      checkpointsBeforeKill: killedAt.checkpoints,
    };

    // 2. What the last checkpoint holds.
    const store = openCheckpointStore(dataDir);
    const seqs: number[] = [];
    let checkpointEvents = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const c = store.loadPartition(p);
      seqs.push(c?.seq ?? 0);
      checkpointEvents += (c?.counters.events ?? 0) + (c?.counters.dlq ?? 0);
    }
    const storedActors = store.actorCount();
    await store.close();
    progress(`  the last checkpoint: ${fmtInt(checkpointEvents)} events (${fmtInt(killedAt.applied - checkpointEvents)} behind the kill), ${fmtInt(storedActors)} stored actors`);

    // 3. Restart on the same data dir, timed from the spawn.
    const second = spawnEngineChild(env, { statusMs: 50, keepHistory: false });
    try {
      const st = await second.started;
      const toStartedMs = st.at - second.spawnedAt;
      progress(`  restarted: "started" after ${fmtMs(toStartedMs)} (Engine.start ${fmtMs(st.startMs)})`);
      const atKill = await waitForStatus(second, 'the kill point', (s) => s.applied >= killedAt.applied, 600_000);
      const caught = await waitForStatus(
        second,
        'caught up',
        (s) => s.partitions.length === PARTITIONS && s.partitions.every((p) => p.seq >= lastSeq[p.partition]!),
        600_000,
        (s) => progress(`    replay ${fmtInt(s.applied)} / ${fmtInt(events)}`),
      );
      // The counters cover more than the replay point: what the restart applied again before the counted point is `replayed`.
      const reread = caught.s.partitions.reduce((a, p) => a + (p.replayed ?? 0), 0);
      const eventsAfterRestart = events - checkpointEvents + reread;
      const restart = {
        toStartedMs,
        engineStartMs: st.startMs,
        toKillPointMs: atKill.at - second.spawnedAt,
        toCaughtUpMs: caught.at - second.spawnedAt,
        eventsAfterRestart,
        rereadBeforeCounted: reread,
        replayRateFromStarted: eventsAfterRestart / ((caught.at - st.at) / 1000),
        replayRateFromSpawn: eventsAfterRestart / ((caught.at - second.spawnedAt) / 1000),
        storedActorsAtRestart: storedActors,
      };
      progress(`  caught up ${(restart.toCaughtUpMs / 1000).toFixed(1)} s after the restart (back at the kill point after ${(restart.toKillPointMs / 1000).toFixed(1)} s): ${fmtInt(eventsAfterRestart)} events at ${fmtInt(restart.replayRateFromStarted)}/s`);
      const finalApplied = caught.s.applied;
      await second.stop(120_000);
      await rawPass();
      const rawRate = raw.reduce((a, b) => a + b.rate, 0) / raw.length;
      return {
        settings: { users: ctx.helpers.users, seed: ctx.helpers.seed, killAt, engine: engineCfg },
        events,
        raw,
        rawRate,
        firstRun,
        checkpoint: { events: checkpointEvents, seqs, behindKill: killedAt.applied - checkpointEvents },
        restart,
        replayVsRaw: restart.replayRateFromStarted / rawRate,
        replayVsFirstRun: restart.replayRateFromStarted / firstRun.rate,
        finalApplied,
      };
    } finally {
      await second.kill();
    }
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderRecovery(r: RecoveryResult): string {
  const L: string[] = [];
  L.push('Recovery (issue 7): SIGKILL at ~1M applied events, restart on the same data dir', '');
  L.push(`sample: ${fmtInt(r.settings.users)} users, seed ${r.settings.seed}: ${fmtInt(r.events)} events; engine ${JSON.stringify(r.settings.engine)}`);
  L.push(`raw consume: ${r.raw.map((x) => `${fmtInt(x.rate)}/s`).join(', ')} (mean ${fmtInt(r.rawRate)}/s)`);
  L.push(`first run: killed at ${fmtInt(r.firstRun.appliedAtKill)} applied events, ${fmtInt(r.firstRun.rate)}/s since started, after ${r.firstRun.checkpointsBeforeKill} checkpoints`);
  L.push(`last checkpoint before the kill: ${fmtInt(r.checkpoint.events)} events counted (${fmtInt(r.checkpoint.behindKill)} behind the kill point); replay from stream seqs ${Math.min(...r.checkpoint.seqs).toLocaleString('en-US')}–${Math.max(...r.checkpoint.seqs).toLocaleString('en-US')}`);
  L.push(`restart -> started: ${fmtMs(r.restart.toStartedMs)} (Engine.start ${fmtMs(r.restart.engineStartMs)}; ${fmtInt(r.restart.storedActorsAtRestart)} actors stored at the restart, read lazily)`);
  L.push(`restart -> back at the kill point: ${(r.restart.toKillPointMs / 1000).toFixed(2)} s`);
  L.push(`restart -> caught up: ${(r.restart.toCaughtUpMs / 1000).toFixed(2)} s (${fmtInt(r.restart.eventsAfterRestart)} events applied after the restart, ${fmtInt(r.restart.rereadBeforeCounted)} of them re-read from before the counted point)`);
  L.push(`replay rate: ${fmtInt(r.restart.replayRateFromStarted)}/s from started (${fmtInt(r.restart.replayRateFromSpawn)}/s from the spawn) = ${fmtPct(r.replayVsRaw)} of raw; before the kill ${fmtInt(r.firstRun.rate)}/s (replay/first run ${r.replayVsFirstRun.toFixed(2)}x)`);
  L.push(`applied after recovery: ${fmtInt(r.finalApplied)} of ${fmtInt(r.events)}`);
  return `${L.join('\n')}\n`;
}
