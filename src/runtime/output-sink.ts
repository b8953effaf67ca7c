import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Headers } from '../nats/subjects.js';
import type { Logger } from '../log/index.js';
import type { Output } from './partition-processor.js';

const MAX_REASON = 1_000;

/**
 * Publishes outputs to JetStream with their Msg-Id and keeps every send until the server has
 * acknowledged it. A checkpoint waits for `flush()` before committing, so an offset is never
 * recorded ahead of an action that might not have reached the stream; a failed send is retried
 * with the same Msg-Id, which JetStream dedupes.
 */
export class OutputSink {
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  acked = 0;
  /** Test hook: called after each acknowledged send (the crash tests kill the process here). */
  onAcked: ((o: Output, count: number) => void) | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly log: Logger,
    private readonly maxDlqBytes: number,
  ) {}

  get pending(): number {
    return this.inFlight.size;
  }

  send(o: Output): void {
    const p = this.sendWithRetry(o).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Resolves when everything sent before this call is acknowledged. */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  close(): void {
    this.closed = true;
  }

  private async sendWithRetry(o: Output): Promise<void> {
    const { data, hdrs } = this.encode(o);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.js.publish(o.subject, data, { msgID: o.msgId, headers: hdrs, timeout: 10_000 });
        this.acked++;
        this.onAcked?.(o, this.acked);
        return;
      } catch (e) {
        if (this.closed) throw e;
        const wait = Math.min(5_000, 100 * 2 ** Math.min(attempt, 6));
        this.log.warn({ err: (e as Error).message, subject: o.subject, msgId: o.msgId, attempt }, 'publish failed, retrying with the same Msg-Id');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private encode(o: Output) {
    const hdrs = natsHeaders();
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
