/**
 * The outputs of a run, as compact digests (Msg-Id → hash of the body without its wall-clock
 * field), and their comparison with a reference run: missing, unexpected, duplicated, different.
 * Digests, not bodies: a million-event run writes hundreds of thousands of outputs.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { Headers } from '../src/nats/index.js';

/** Calls `each` for every message in the stream, in order, up to its last sequence at the call. */
export async function forEachMessage(nc: NatsConnection, stream: string, each: (m: JsMsg) => void, timeoutMs = 600_000): Promise<number> {
  const info = await (await jetstreamManager(nc)).streams.info(stream);
  if (info.state.messages === 0) return 0;
  const last = info.state.last_seq;
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  let n = 0;
  let finish!: (e?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => (finish = (e) => (e ? reject(e) : resolve())));
  const msgs = await consumer.consume({
    callback: (m) => {
      if (m.seq > last) return;
      n++;
      try {
        each(m);
      } catch (e) {
        return finish(e as Error);
      }
      if (m.seq === last) finish();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`reading ${stream}: ${n} of ${info.state.messages} messages after ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
    msgs.stop();
  }
  return n;
}

/** Maps stream sequences of one run onto another's (the hostile runs); undefined = no counterpart. */
export type SeqMap = (seq: number) => number | undefined;

const mapSeq = (seq: number, map: SeqMap) => {
  const m = map(seq);
  return m === undefined ? `?${seq}` : m;
};

/** The trailing sequence(s) of an output id: `…:<seq>`, `…:<seq>.<n>`, `…:<first>-<last>`. */
const TRAILING_SEQS = /:(\d+)(?:-(\d+))?(\.\d+)?$/;

export function normalizeId(id: string, map: SeqMap): string {
  return id.replace(TRAILING_SEQS, (_m, a: string, b: string | undefined, nth: string | undefined) => `:${mapSeq(Number(a), map)}${b !== undefined ? `-${mapSeq(Number(b), map)}` : ''}${nth ?? ''}`);
}

function normalizeBody(v: unknown, map: SeqMap): unknown {
  if (Array.isArray(v)) return v.map((x) => normalizeBody(x, map));
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (k === 'seq' && typeof x === 'number') o[k] = mapSeq(x, map);
    else if ((k === 'actionId' || k === 'summaryId' || k === 'id') && typeof x === 'string') o[k] = normalizeId(x, map);
    else o[k] = normalizeBody(x, map);
  }
  return o;
}

export interface Digest {
  /** Msg-Id → hash of the body without emittedAt. */
  byId: Map<string, string>;
  messages: number;
  /** Ids stored more than once. */
  duplicateIds: number;
}

/** Every output of a stream as a digest; `map` rewrites stream sequences (ids and `seq` fields) first. */
export async function digestStream(nc: NatsConnection, stream: string, map?: SeqMap): Promise<Digest> {
  const d: Digest = { byId: new Map(), messages: 0, duplicateIds: 0 };
  await forEachMessage(nc, stream, (m) => {
    d.messages++;
    let id = m.headers?.get(Headers.msgId) ?? `(no Msg-Id, seq ${m.seq})`;
    let body = m.json<Record<string, unknown>>();
    delete body.emittedAt;
    if (map) {
      id = normalizeId(id, map);
      body = normalizeBody(body, map) as Record<string, unknown>;
    }
    const hash = createHash('sha1').update(JSON.stringify(body)).digest('base64');
    if (d.byId.has(id)) d.duplicateIds++;
    else d.byId.set(id, hash);
  });
  return d;
}

export interface Comparison {
  expected: number;
  got: number;
  /** Messages stored (got counts distinct ids). */
  messages: number;
  missing: number;
  unexpected: number;
  duplicated: number;
  different: number;
  examples: string[];
}

export function compareDigests(ref: Digest, got: Digest): Comparison {
  const c: Comparison = { expected: ref.byId.size, got: got.byId.size, messages: got.messages, missing: 0, unexpected: 0, duplicated: got.duplicateIds, different: 0, examples: [] };
  const note = (s: string) => {
    if (c.examples.length < 5) c.examples.push(s);
  };
  for (const [id, h] of ref.byId) {
    const g = got.byId.get(id);
    if (g === undefined) {
      c.missing++;
      note(`missing ${id}`);
    } else if (g !== h) {
      c.different++;
      note(`different ${id}`);
    }
  }
  for (const id of got.byId.keys()) {
    if (ref.byId.has(id)) continue;
    c.unexpected++;
    note(`unexpected ${id}`);
  }
  return c;
}

export const identical = (c: Comparison) => c.missing === 0 && c.unexpected === 0 && c.duplicated === 0 && c.different === 0 && c.expected === c.got;
