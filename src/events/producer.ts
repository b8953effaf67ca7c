import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { Subjects, Headers, isSubjectToken } from '../nats/subjects.js';
import { parseEventTime } from './event-time.js';
import type { SourceItem } from './sources.js';

export interface ProduceOptions {
  /** Events per second; unlimited when absent. */
  rate?: number;
  /** Publishes in flight before waiting for their acks. */
  batch?: number;
  /** After the input, move every partition's event time this far past the last event (fires pending timers). */
  flushMs?: number;
  partitions: number;
  onProgress?: (published: number) => void;
}

export interface ProduceReport {
  published: number;
  /** Events the server dropped as repeats of an earlier eventId (Nats-Msg-Id) inside its window. */
  duplicates: number;
  deadLettered: number;
  rejections: Array<{ where: string; reason: string }>;
  maxEventTime: number | null;
  /** Stream sequence of each partition's flush tick: once a worker has applied it, it has applied the input. */
  flushSeqs: Map<number, number>;
}

const KEEP_REJECTIONS = 50;

/**
 * Publishes events to `events.<type>.<user>` with acks (the server's mapping partitions them).
 * Anything that cannot even be routed (no valid type or user) goes to the DLQ with its reason;
 * full validation is the engine's job, because other clients publish too.
 */
export async function produceEvents(nc: NatsConnection, source: AsyncIterable<SourceItem>, opts: ProduceOptions): Promise<ProduceReport> {
  const js: JetStreamClient = jetstream(nc);
  const batch = Math.max(1, opts.batch ?? 1_000);
  const report: ProduceReport = { published: 0, duplicates: 0, deadLettered: 0, rejections: [], maxEventTime: null, flushSeqs: new Map() };
  let inFlight: Promise<unknown>[] = [];
  const started = Date.now();
  let sent = 0;

  const reject = (where: string, raw: string, reason: string) => {
    report.deadLettered++;
    if (report.rejections.length < KEEP_REJECTIONS) report.rejections.push({ where, reason });
    const h = natsHeaders();
    h.set(Headers.reason, reason.replace(/[\r\n]+/g, ' ').slice(0, 1_000));
    h.set(Headers.source, where);
    inFlight.push(js.publish(Subjects.dlq, raw, { headers: h }));
  };

  for await (const item of source) {
    if (!item.ok) {
      reject(item.where, item.raw, item.reason);
    } else {
      const e = item.event;
      const type = String(e.eventType ?? '');
      const user = String(e.userId ?? '');
      const body = JSON.stringify(e);
      if (!isSubjectToken(type) || !isSubjectToken(user)) {
        reject(item.where, body, `cannot route: eventType "${type}" / userId "${user}" must be subject tokens [A-Za-z0-9_-]`);
      } else {
        const t = parseEventTime(e.eventTime);
        if (t !== null && (report.maxEventTime === null || t > report.maxEventTime)) report.maxEventTime = t;
        const msgID = typeof e.eventId === 'string' && e.eventId !== '' ? e.eventId : undefined;
        inFlight.push(
          js.publish(Subjects.event(type, user), body, msgID ? { msgID } : undefined).then((ack) => {
            if (ack.duplicate) report.duplicates++;
          }),
        );
        report.published++;
      }
    }
    sent++;
    if (inFlight.length >= batch) {
      await Promise.all(inFlight);
      inFlight = [];
      opts.onProgress?.(report.published);
    }
    if (opts.rate) {
      const due = started + (sent / opts.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 5) {
        await Promise.all(inFlight);
        inFlight = [];
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
  await Promise.all(inFlight);

  if (opts.flushMs !== undefined && report.maxEventTime !== null) {
    const eventTime = report.maxEventTime + opts.flushMs;
    for (let p = 0; p < opts.partitions; p++) {
      const ack = await js.publish(Subjects.tick('producer', p), JSON.stringify({ eventTime }));
      report.flushSeqs.set(p, ack.seq);
    }
  }
  return report;
}
