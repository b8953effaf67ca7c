import type { NatsConnection, MsgHdrs } from '@nats-io/transport-node';
import { jetstream, AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';

export interface StoredMsg {
  seq: number;
  subject: string;
  /** When the server stored it (wall clock). */
  time: Date;
  data: Uint8Array;
  headers?: MsgHdrs;
}

export class StreamMissingError extends Error {}

/**
 * Every message of a stream matching one subject filter, in stream order: an ordered consumer,
 * read until nothing is pending. For a user's events or actions, a few to a few thousand.
 */
export async function readFiltered(nc: NatsConnection, stream: string, filter: string): Promise<StoredMsg[]> {
  const js = jetstream(nc);
  let consumer;
  try {
    consumer = await js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  } catch (e) {
    if (/not found/i.test((e as Error).message)) throw new StreamMissingError(`no ${stream} stream on this server yet (the engine creates it: start \`nudge run\`)`);
    throw e;
  }
  const out: StoredMsg[] = [];
  try {
    const info = await consumer.info();
    if (info.num_pending === 0) return out;
    const iter = await consumer.consume();
    try {
      for await (const m of iter) {
        out.push({ seq: m.seq, subject: m.subject, time: new Date(m.info.timestampNanos / 1e6), data: m.data, headers: m.headers });
        if (m.info.pending === 0) break;
      }
    } finally {
      await iter.close().catch(() => undefined);
    }
  } finally {
    // Not left to its inactivity timeout: a debugging session should not pile consumers on EVENTS.
    await consumer.delete().catch(() => undefined);
  }
  return out;
}

/** The last stream sequence stored under a filter, 0 when there is none. */
export async function lastSeqOf(jsm: JetStreamManager, stream: string, filter: string): Promise<number> {
  try {
    const m = await jsm.streams.getMessage(stream, { last_by_subj: filter });
    return m?.seq ?? 0;
  } catch (e) {
    if (/no message found|not found/i.test((e as Error).message)) return 0;
    throw e;
  }
}

/** How many messages under a filter come after `seq`: a short-lived consumer's pending count. */
export async function pendingAfter(jsm: JetStreamManager, stream: string, filter: string, seq: number): Promise<number> {
  const ci = await jsm.consumers.add(stream, {
    filter_subject: filter,
    ack_policy: AckPolicy.None,
    mem_storage: true,
    inactive_threshold: 10_000_000_000,
    ...(seq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq + 1 } : { deliver_policy: DeliverPolicy.All }),
  });
  await jsm.consumers.delete(stream, ci.name).catch(() => undefined);
  return ci.num_pending;
}
