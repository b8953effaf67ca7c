import { headers as natsHeaders, createInbox, type NatsConnection, type Subscription, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import { Headers } from '../nats/subjects.js';
import type { Logger } from '../log/index.js';
import type { Output } from './partition-processor.js';

const MAX_REASON = 1_000;
const RESEND_AFTER_MS = 5_000;

interface InFlight {
  output: Output;
  data: Uint8Array | string;
  hdrs: MsgHdrs;
  sentAt: number;
  attempts: number;
}

/**
 * Publishes outputs to JetStream with their Msg-Id and keeps every one until the server has
 * acknowledged it. A checkpoint waits for `flush()` before committing, so an offset is never
 * recorded ahead of an output that might not have reached its stream; an output that gets an
 * error or no ack in time is sent again with the same Msg-Id, which JetStream dedupes.
 *
 * Acks come back on one wildcard inbox (reply subject `<inbox>.<n>`) instead of a request per
 * message: the per-request promise, timer and mux entry of `js.publish` cost more than the
 * engine's whole per-event work.
 */
export class OutputSink {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  /** Insertion order = send order, so the first key is the oldest unacknowledged output. */
  private readonly inFlight = new Map<number, InFlight>();
  private waiters: Array<{ upTo: number; resolve: () => void }> = [];
  private next = 0;
  private readonly resendTimer: NodeJS.Timeout;
  private closed = false;
  acked = 0;
  duplicates = 0;
  /** Test hook: called after each acknowledged send (the crash tests kill the process here). */
  onAcked: ((o: Output, count: number) => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly maxDlqBytes: number,
  ) {
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (_e, m) => this.onAck(m) });
    this.resendTimer = setInterval(() => this.resendStale(), 1_000);
    this.resendTimer.unref();
  }

  get pending(): number {
    return this.inFlight.size;
  }

  send(o: Output): void {
    const id = ++this.next;
    const { data, hdrs } = this.encode(o);
    const entry: InFlight = { output: o, data, hdrs, sentAt: Date.now(), attempts: 1 };
    this.inFlight.set(id, entry);
    this.transmit(id, entry);
  }

  /** Resolves when everything sent before this call is acknowledged. */
  flush(): Promise<void> {
    const upTo = this.next;
    if (this.drainedUpTo(upTo)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ upTo, resolve }));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.resendTimer);
    this.sub.unsubscribe();
  }

  private transmit(id: number, e: InFlight): void {
    if (this.closed) return;
    try {
      this.nc.publish(e.output.subject, e.data, { headers: e.hdrs, reply: `${this.inbox}.${id}` });
    } catch (err) {
      // Connection closed or draining: the resend timer tries again while we are open.
      this.log.warn({ err: (err as Error).message, msgId: e.output.msgId }, 'publish failed, will resend with the same Msg-Id');
    }
  }

  private onAck(m: Msg): void {
    const id = Number(m.subject.slice(this.inbox.length + 1));
    const entry = this.inFlight.get(id);
    if (!entry) return; // a late ack for something already acknowledged
    let failure: string | null = null;
    if (m.headers?.hasError) failure = `${m.headers.code} ${m.headers.description}`;
    else {
      try {
        const ack = JSON.parse(m.string()) as { error?: { description?: string }; duplicate?: boolean };
        if (ack.error) failure = ack.error.description ?? 'error';
        else if (ack.duplicate) this.duplicates++;
      } catch {
        failure = 'unreadable ack';
      }
    }
    if (failure !== null) {
      // Leave it in flight: the resend timer retries it, with backoff by attempt count.
      this.log.warn({ failure, subject: entry.output.subject, msgId: entry.output.msgId, attempts: entry.attempts }, 'output not stored yet, will resend');
      entry.sentAt = Date.now() - RESEND_AFTER_MS + Math.min(5_000, 100 * 2 ** Math.min(entry.attempts, 6));
      return;
    }
    this.inFlight.delete(id);
    this.acked++;
    this.onAcked?.(entry.output, this.acked);
    if (this.waiters.length) this.wakeWaiters();
  }

  private resendStale(): void {
    const now = Date.now();
    for (const [id, e] of this.inFlight) {
      if (now - e.sentAt < RESEND_AFTER_MS) continue;
      e.sentAt = now;
      e.attempts++;
      this.transmit(id, e);
    }
  }

  private drainedUpTo(upTo: number): boolean {
    const oldest = this.inFlight.keys().next();
    return oldest.done === true || oldest.value > upTo;
  }

  private wakeWaiters(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (this.drainedUpTo(w.upTo) ? w.resolve() : still.push(w));
    this.waiters = still;
  }

  private encode(o: Output): { data: Uint8Array | string; hdrs: MsgHdrs } {
    const hdrs = natsHeaders();
    hdrs.set(Headers.msgId, o.msgId);
    if (o.kind !== 'dlq') return { data: JSON.stringify(o.body), hdrs };
    hdrs.set(Headers.reason, o.reason.replace(/[\r\n]+/g, ' ').slice(0, MAX_REASON));
    hdrs.set(Headers.sourceSubject, o.sourceSubject);
    hdrs.set(Headers.sourceSeq, String(o.sourceSeq));
    // The original bytes, unless they would not fit beside the headers in one message.
    if (o.data.byteLength > this.maxDlqBytes) {
      hdrs.set('Nudge-Truncated', String(o.data.byteLength));
      return { data: o.data.subarray(0, this.maxDlqBytes), hdrs };
    }
    return { data: o.data, hdrs };
  }
}
