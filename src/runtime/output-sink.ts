import { headers as natsHeaders, createInbox, MsgHdrsImpl, type NatsConnection, type Subscription, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import { Headers } from '../nats/subjects.js';
import type { Logger } from '../log/index.js';
import type { Output } from './partition-processor.js';

const MAX_REASON = 1_000;
const RESEND_AFTER_MS = 5_000;

interface InFlight {
  output: Output;
  data: Uint8Array;
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
 *
 * Per output, the header block and the JSON body are written as UTF-8 into a shared slab (see
 * `WireSlab`) once, at send: handing nats.js a string or a `headers()` object makes it run a
 * TextEncoder per publish, and each of those allocates an ArrayBuffer of its own (about 1 us for
 * an action's body). Acks in the usual shape are recognised from their bytes (`parsePubAck`).
 */
export class OutputSink {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  /** Insertion order = send order, so the first key is the oldest unacknowledged output. */
  private readonly inFlight = new Map<number, InFlight>();
  private waiters: Array<{ upTo: number; resolve: () => void }> = [];
  private next = 0;
  private readonly resendTimer: NodeJS.Timeout;
  private readonly slab = new WireSlab();
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
    const entry = this.encode(o);
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
    const id = ackId(m.subject, this.inbox.length + 1);
    const entry = this.inFlight.get(id);
    if (!entry) return; // a late ack for something already acknowledged
    let failure: string | null = null;
    if (m.headers?.hasError) failure = `${m.headers.code} ${m.headers.description}`;
    else {
      const ack = parsePubAck(m.data);
      if (ack.failure !== undefined) failure = ack.failure;
      else if (ack.duplicate) this.duplicates++;
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

  private encode(o: Output): InFlight {
    const sentAt = Date.now();
    if (o.kind !== 'dlq') {
      const json = JSON.stringify(o.body);
      const hdrs = msgIdHeaderBlock(o.msgId);
      if (hdrs !== undefined) {
        const [h, data] = this.slab.write2(hdrs, json);
        return { output: o, data, hdrs: new EncodedHeaders(h, o.msgId), sentAt, attempts: 1 };
      }
      // A Msg-Id the header block cannot carry as is: nats.js decides (trims it, or refuses it).
      const slow = natsHeaders();
      slow.set(Headers.msgId, o.msgId);
      return { output: o, data: this.slab.write(json), hdrs: slow, sentAt, attempts: 1 };
    }
    const hdrs = natsHeaders();
    hdrs.set(Headers.msgId, o.msgId);
    hdrs.set(Headers.reason, o.reason.replace(/[\r\n]+/g, ' ').slice(0, MAX_REASON));
    hdrs.set(Headers.sourceSubject, o.sourceSubject);
    hdrs.set(Headers.sourceSeq, String(o.sourceSeq));
    // The original bytes, unless they would not fit beside the headers in one message.
    if (o.data.byteLength > this.maxDlqBytes) {
      hdrs.set('Nudge-Truncated', String(o.data.byteLength));
      return { output: o, data: o.data.subarray(0, this.maxDlqBytes), hdrs, sentAt, attempts: 1 };
    }
    return { output: o, data: o.data, hdrs, sentAt, attempts: 1 };
  }
}

// ------------------------------------------------------------------ wire encoding

const NOT_PLAIN = /^\s|[\r\n]|\s$/;

/**
 * The header block `headers().set('Nats-Msg-Id', msgId)` encodes to, as a string; undefined when
 * nats.js would change the value (it trims whitespace) or refuse it (CR or LF), so that the
 * caller can leave those cases to nats.js.
 */
export function msgIdHeaderBlock(msgId: string): string | undefined {
  if (msgId === '' || NOT_PLAIN.test(msgId)) return undefined;
  return `NATS/1.0\r\n${Headers.msgId}: ${msgId}\r\n\r\n`;
}

/**
 * A Msg-Id header whose wire form is already encoded: nats.js calls `encode()` on every publish,
 * which for a plain `headers()` object means building its string and running a TextEncoder.
 * Everything else reads the one header as usual.
 */
class EncodedHeaders extends MsgHdrsImpl {
  constructor(
    private readonly wire: Uint8Array,
    msgId: string,
  ) {
    super();
    this.headers.set(Headers.msgId, [msgId]);
  }

  override encode(): Uint8Array {
    return this.wire;
  }
}

const SLAB_BYTES = 256 * 1024;

/**
 * Bump allocation of UTF-8 bytes in 256 KiB slabs, like Node's own Buffer pool but larger and
 * written with one `Buffer.write` per string. A slab stays alive while any output in it is in
 * flight; nothing written is ever overwritten.
 */
class WireSlab {
  private buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private used = 0;

  /** Room for `units` UTF-16 code units: at most 3 bytes each in UTF-8. */
  private reserve(units: number): Buffer {
    const need = units * 3;
    if (need > SLAB_BYTES / 4) return Buffer.allocUnsafeSlow(need);
    if (this.used + need > SLAB_BYTES) {
      this.buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.used = 0;
    }
    return this.buf;
  }

  write(s: string): Uint8Array {
    const buf = this.reserve(s.length);
    const at = buf === this.buf ? this.used : 0;
    const n = buf.write(s, at);
    if (buf === this.buf) this.used += n;
    return new Uint8Array(buf.buffer, buf.byteOffset + at, n);
  }

  /** Two strings, back to back: one reservation, two views. */
  write2(a: string, b: string): [Uint8Array, Uint8Array] {
    const buf = this.reserve(a.length + b.length);
    const at = buf === this.buf ? this.used : 0;
    const na = buf.write(a, at);
    const nb = buf.write(b, at + na);
    if (buf === this.buf) this.used += na + nb;
    return [new Uint8Array(buf.buffer, buf.byteOffset + at, na), new Uint8Array(buf.buffer, buf.byteOffset + at + na, nb)];
  }
}

// ------------------------------------------------------------------ acks

/** The `<n>` of an ack's subject `<inbox>.<n>` (from = inbox length + 1); NaN when it is not digits. */
function ackId(subject: string, from: number): number {
  let n = 0;
  if (from >= subject.length || subject.length - from > 15) return Number(subject.slice(from));
  for (let i = from; i < subject.length; i++) {
    const c = subject.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number(subject.slice(from));
    n = n * 10 + c;
  }
  return n;
}

export interface PubAckResult {
  /** Set when the ack says the message was not stored (or cannot be read): why. */
  failure?: string;
  duplicate?: boolean;
}

const OK: PubAckResult = {};
const DUPLICATE: PubAckResult = { duplicate: true };
const td = new TextDecoder();

const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const STREAM_PREFIX = enc('{"stream":"');
const SEQ_KEY = enc('","seq":');
const DUPLICATE_TAIL = enc(',"duplicate":true}');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE = 0x7d;

/**
 * A JetStream publish ack → stored, stored as a duplicate, or the failure. The two shapes the server
 * sends for a stored message, `{"stream":"S","seq":N}` and `{"stream":"S","seq":N,"duplicate":true}`,
 * are recognised byte by byte; anything else (an error, a domain, another field order) gets the
 * full JSON.parse reading.
 */
export function parsePubAck(data: Uint8Array): PubAckResult {
  const fast = fastPubAck(data);
  if (fast !== undefined) return fast;
  try {
    const ack = JSON.parse(td.decode(data)) as { error?: { description?: string }; duplicate?: boolean };
    if (ack.error) return { failure: ack.error.description ?? 'error' };
    return ack.duplicate ? DUPLICATE : OK;
  } catch {
    return { failure: 'unreadable ack' };
  }
}

function startsAt(data: Uint8Array, at: number, what: Uint8Array): boolean {
  if (at + what.length > data.length) return false;
  for (let i = 0; i < what.length; i++) if (data[at + i] !== what[i]) return false;
  return true;
}

function fastPubAck(data: Uint8Array): PubAckResult | undefined {
  if (!startsAt(data, 0, STREAM_PREFIX)) return undefined;
  let i = STREAM_PREFIX.length;
  // The stream name: any bytes but a quote or an escape, up to the closing quote.
  for (; i < data.length; i++) {
    const c = data[i]!;
    if (c === QUOTE) break;
    if (c === BACKSLASH || c < 0x20) return undefined;
  }
  if (!startsAt(data, i, SEQ_KEY)) return undefined;
  i += SEQ_KEY.length;
  const digits = i;
  while (i < data.length && data[i]! >= 0x30 && data[i]! <= 0x39) i++;
  if (i === digits) return undefined;
  if (i === data.length - 1 && data[i] === CLOSE) return OK;
  if (i + DUPLICATE_TAIL.length === data.length && startsAt(data, i, DUPLICATE_TAIL)) return DUPLICATE;
  return undefined;
}
