import type { ConfigInput } from '../config/index.js';
import { Streams, Subjects } from '../nats/index.js';
import { lastSeqOf, pendingAfter, formatDuration, type PartitionStats } from '../service/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import { table, iso } from './table.js';
import { withInspect, out, note } from './inspect-io.js';

export interface PartitionReport {
  partition: number;
  /** The worker that answered for the partition, or null when none owns it. */
  owner: string | null;
  seq: number | null;
  checkpointedSeq: number | null;
  /** Last EVENTS sequence stored in the partition (0: none yet). */
  streamLastSeq: number;
  /** Messages of the partition after the owner's applied sequence. */
  lag: number | null;
  watermark: number | null;
  /** Wall clock minus watermark at the time of the answer (ms). */
  watermarkBehindMs: number | null;
  actors: number | null;
  live: number | null;
  passivated: number | null;
  eventsPerSec: number | null;
  actionsPerSec: number | null;
  dlq: number | null;
  late: number | null;
  patternRevision: number | null;
}

/**
 * `nudge stats`: per partition, what its owner says (gathered from every worker on nudge.stats)
 * beside what the stream says (last sequence, and how many messages are past the owner's applied
 * sequence). Exit 1 when a partition has no owner: its events are not being processed.
 */
export async function statsCommand(flags: { json?: boolean }, over: ConfigInput): Promise<void> {
  await withInspect(over, async (c) => {
    const jsm = await c.jsm();
    try {
      await jsm.streams.info(Streams.events);
    } catch (e) {
      if (/not found/i.test((e as Error).message)) throw new CliError(`no ${Streams.events} stream on ${c.config.natsUrl} yet (the engine creates it: start \`nudge run\`; \`nudge doctor\` checks the setup)`, ExitCode.error);
      throw e;
    }
    const workers = await c.client.stats();
    const byPartition = new Map<number, { worker: string; now: number; s: PartitionStats }>();
    for (const w of workers) for (const s of w.partitions) byPartition.set(s.partition, { worker: w.worker, now: w.now, s });
    const rows: PartitionReport[] = [];
    for (let p = 0; p < c.config.partitions; p++) {
      const owned = byPartition.get(p);
      const filter = Subjects.partitionFilter(p);
      const streamLastSeq = await lastSeqOf(jsm, Streams.events, filter);
      const s = owned?.s;
      rows.push({
        partition: p,
        owner: owned?.worker ?? null,
        seq: s?.seq ?? null,
        checkpointedSeq: s?.checkpointedSeq ?? null,
        streamLastSeq,
        lag: s ? (streamLastSeq > s.seq ? await pendingAfter(jsm, Streams.events, filter, s.seq) : 0) : null,
        watermark: s?.watermark ?? null,
        watermarkBehindMs: s && s.watermark !== null ? owned!.now - s.watermark : null,
        actors: s?.actors ?? null,
        live: s?.live ?? null,
        passivated: s?.passivated ?? null,
        eventsPerSec: s?.eventsPerSec ?? null,
        actionsPerSec: s?.actionsPerSec ?? null,
        dlq: s?.counters.dlq ?? null,
        late: s?.counters.late ?? null,
        patternRevision: s?.patternRevision ?? null,
      });
    }
    let dlqStream: number | null = null;
    try {
      dlqStream = (await jsm.streams.info(Streams.dlq)).state.messages;
    } catch {
      dlqStream = null;
    }
    const unowned = rows.filter((r) => r.owner === null).map((r) => r.partition);
    if (flags.json) {
      out({ partitions: rows, workers: workers.map((w) => ({ worker: w.worker, partitions: w.partitions.map((s) => s.partition), liveActors: w.liveActors, storedActors: w.storedActors, startedAt: w.startedAt })), dlqMessages: dlqStream, unowned });
    } else {
      out(
        table(
          ['P', 'OWNER', 'APPLIED', 'CHECKPOINT', 'STREAM LAST', 'LAG', 'WATERMARK', 'BEHIND WALL', 'LIVE', 'PASSIVATED', 'EVENTS/S', 'ACTIONS/S', 'DLQ'],
          rows.map((r) => [
            r.partition,
            r.owner,
            r.seq,
            r.checkpointedSeq,
            r.streamLastSeq,
            r.lag,
            r.watermark === null ? '-' : iso(r.watermark),
            r.watermarkBehindMs === null ? '-' : formatDuration(Math.max(0, r.watermarkBehindMs)),
            r.live,
            r.passivated,
            r.eventsPerSec,
            r.actionsPerSec,
            r.dlq,
          ]),
        ),
      );
      out('');
      for (const w of workers) out(`worker ${w.worker}: partitions ${w.partitions.map((s) => s.partition).join(',')}, ${w.liveActors} live actor(s), ${w.storedActors} stored, up ${formatDuration(w.now - w.startedAt)}`);
      out(`DLQ stream: ${dlqStream === null ? 'missing' : `${dlqStream} message(s)`}`);
    }
    if (workers.length === 0) note('no worker answered on nudge.stats: is `nudge run` running against this NATS?');
    if (unowned.length) {
      note(`partition(s) ${unowned.join(',')} have no owner: their events are not processed (NUDGE_OWNED_PARTITIONS of the workers must cover 0-${c.config.partitions - 1})`);
      process.exitCode = ExitCode.error;
    }
  });
}
