import { PartitionProcessor, type Output, type ProcessorOptions } from './partition-processor.js';
import { ActorHost } from './actor-host.js';
import type { PatternSet } from '../cep/index.js';
import type { SourceItem } from '../events/index.js';
import type { Action } from '../actions/index.js';
import type { PartitionCounters } from '../store/index.js';
import { Subjects, isSubjectToken, partitionOf } from '../nats/subjects.js';
import { emptyCounters } from '../store/index.js';

export interface OfflineOptions {
  patterns: PatternSet;
  partitions: number;
  maxOutOfOrderMs: number;
  latePolicy: ProcessorOptions['latePolicy'];
  maxEventBytes: number;
  /**
   * After the last event, move every partition's event time this far on, so pending time limits
   * (absences) are decided. null = stop at the last event, as a live engine would at that moment.
   */
  flushMs: number | null;
  onAction?: (a: Action) => void;
}

export interface OfflineReport {
  actions: Action[];
  counters: PartitionCounters;
  /** Input lines that never became a message (unreadable) or were dead-lettered, with reasons. */
  rejected: Array<{ where: string; reason: string }>;
}

/**
 * Runs a recorded stream through the engine's own processing (PartitionProcessor, actors,
 * patterns, watermarks) without NATS or LMDB: events are numbered 1, 2, … in file order as if
 * they were stream sequences, and spread over partitions exactly as nats.conf's mapping would.
 * This is what `nudge patterns test` runs, so a rule checked here behaves the same live.
 */
export async function runOffline(source: AsyncIterable<SourceItem>, opts: OfflineOptions): Promise<OfflineReport> {
  const host = new ActorHost({ loadActor: () => undefined }, Number.MAX_SAFE_INTEGER, opts.patterns);
  const processors = Array.from(
    { length: opts.partitions },
    (_, p) => new PartitionProcessor({ partition: p, partitions: opts.partitions, maxOutOfOrderMs: opts.maxOutOfOrderMs, latePolicy: opts.latePolicy, maxEventBytes: opts.maxEventBytes, now: () => 0 }, host),
  );
  const report: OfflineReport = { actions: [], counters: emptyCounters(), rejected: [] };
  const where = new Map<number, string>();
  let seq = 0;
  let maxTime = -Infinity;
  const collect = (out: Output[]) => {
    for (const o of out) {
      if (o.kind === 'action') {
        report.actions.push(o.body);
        opts.onAction?.(o.body);
      } else if (o.kind === 'dlq') report.rejected.push({ where: where.get(o.sourceSeq) ?? `seq ${o.sourceSeq}`, reason: o.reason });
    }
  };
  for await (const item of source) {
    if (!item.ok) {
      report.rejected.push({ where: item.where, reason: item.reason });
      continue;
    }
    const type = String(item.event.eventType ?? '');
    const user = String(item.event.userId ?? '');
    if (!isSubjectToken(type) || !isSubjectToken(user)) {
      report.rejected.push({ where: item.where, reason: 'eventType and userId must be subject tokens (A-Z a-z 0-9 _ -)' });
      continue;
    }
    const p = partitionOf(user, opts.partitions);
    const out: Output[] = [];
    where.set(++seq, item.where);
    processors[p]!.process({ seq, subject: `${Subjects.event(type, user)}.${p}`, data: Buffer.from(JSON.stringify(item.event)) }, out);
    where.delete(seq - 1_000); // keep the map small: dead letters come back at once
    maxTime = Math.max(maxTime, processors[p]!.maxEventTime);
    collect(out);
  }
  if (opts.flushMs !== null && maxTime > -Infinity) {
    for (const proc of processors) {
      const out: Output[] = [];
      proc.process({ seq: ++seq, subject: Subjects.tick('offline', proc.partition), data: Buffer.from(JSON.stringify({ eventTime: maxTime + opts.flushMs })) }, out);
      collect(out);
    }
  }
  for (const proc of processors) for (const [k, v] of Object.entries(proc.counters)) report.counters[k as keyof PartitionCounters] += v;
  return report;
}
