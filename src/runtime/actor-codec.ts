import { Packr } from 'msgpackr';
import { EventRef } from '../../actors/index.js';
import type { PatternState, Run } from '../cep/index.js';
import type { PersistedActor } from './user-actor.js';

/**
 * The stored form of a persisted actor: MessagePack of nested arrays. It is on the checkpoint
 * path for every actor an event touched since the last checkpoint — at 100k users that is most
 * events — so it is built for speed, not for reading:
 *
 * - binary, because every event time and price is a double, and printing doubles as text
 *   (what the session-5 JSON form did) cost more than everything else in a capture together;
 * - each event is written once per actor, and runs name events by their index in that list,
 *   because the same views sit in many partial matches at once (every repeat-category run of a
 *   user holds them);
 * - a run's time bounds (t0, t1, tl) are not written: they are the earliest, the latest and the
 *   last of its events' times, which is exactly how the matcher keeps them.
 *
 *   [FORMAT, due|null, session|null, sent|null,
 *    [[patternId, version, [[key, [[s, c, n, b, z, [eventIndex…], [stage…]], …]], …], caps|null], …] | null,
 *    [[seq, eventTime, eventType, productId, categoryId, categoryCode, brand, price, userSession], …]]
 *
 * `nudge actor show` and the inspect service read actors through decodeActor, never the bytes.
 */
const FORMAT = 1;

type EncodedRun = [number, number, number, number, number, number[], number[]];
type EncodedEvent = [number, number, string, string, string, string, string, number, string];
type EncodedPatternState = [string, number, Array<[string, EncodedRun[]]>, Record<string, number[]> | null];
type EncodedActor = [
  typeof FORMAT,
  number | null,
  PersistedActor['session'] | null,
  PersistedActor['sent'] | null,
  EncodedPatternState[] | null,
  EncodedEvent[],
];

// Plain arrays and objects both ways: no records (their shared structures would have to be
// stored), objects read back as objects.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

// Scratch for encodeActor (synchronous, never re-entered): the events written so far, and past
// LINEAR_MAX of them an index by identity. Most actors hold a handful of events, and scanning a
// short list beats hashing an object per reference.
const REFS: EventRef[] = [];
const INDEX = new Map<EventRef, number>();
const EVENTS: EncodedEvent[] = [];
const LINEAR_MAX = 32;

export function encodeActor(actor: PersistedActor): Uint8Array {
  try {
    let cep: EncodedPatternState[] | null = null;
    if (actor.cep) {
      cep = [];
      for (const id in actor.cep) cep.push(encodePatternState(id, actor.cep[id]!));
    }
    const encoded: EncodedActor = [FORMAT, actor.due ?? null, actor.session ?? null, actor.sent ?? null, cep, EVENTS];
    return packr.pack(encoded);
  } finally {
    if (REFS.length > LINEAR_MAX) INDEX.clear();
    REFS.length = 0;
    EVENTS.length = 0;
  }
}

export function decodeActor(bytes: Uint8Array): PersistedActor {
  const enc = packr.unpack(bytes) as EncodedActor;
  if (!Array.isArray(enc) || enc[0] !== FORMAT) throw new Error(`stored actor is not in actor format ${FORMAT}`);
  const [, due, session, sent, cep, events] = enc;
  const out: PersistedActor = {};
  if (due !== null) out.due = due;
  if (session !== null) out.session = session;
  if (sent !== null) out.sent = sent;
  if (cep === null) return out;
  const refs = events.map((t) => new EventRef(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]));
  out.cep = {};
  for (const [id, v, runs, caps] of cep) {
    const state: PatternState = { v, runs: new Map() };
    for (const [key, list] of runs) state.runs.set(key, list.map((r) => decodeRun(r, refs)));
    if (caps !== null) state.caps = caps;
    out.cep[id] = state;
  }
  return out;
}

function decodeRun(r: EncodedRun, refs: EventRef[]): Run {
  const ev = r[5].map((i) => {
    const e = refs[i];
    if (!e) throw new Error(`stored actor names event #${i}, which it does not hold`);
    return e;
  });
  if (ev.length === 0) throw new Error('stored actor has a run without events');
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const e of ev) {
    if (e.eventTime < t0) t0 = e.eventTime;
    if (e.eventTime > t1) t1 = e.eventTime;
  }
  return { s: r[0], c: r[1], n: r[2], b: r[3], z: r[4], t0, t1, tl: ev[ev.length - 1]!.eventTime, ev, st: r[6] };
}

function encodePatternState(id: string, state: PatternState): EncodedPatternState {
  const runs: Array<[string, EncodedRun[]]> = [];
  for (const [key, list] of state.runs) {
    const encoded: EncodedRun[] = [];
    for (const r of list) encoded.push([r.s, r.c, r.n, r.b, r.z, r.ev.map(indexOf), r.st]);
    runs.push([key, encoded]);
  }
  return [id, state.v, runs, state.caps ?? null];
}

function indexOf(e: EventRef): number {
  const n = REFS.length;
  if (n <= LINEAR_MAX) {
    for (let i = n - 1; i >= 0; i--) if (REFS[i] === e) return i;
  } else {
    const i = INDEX.get(e);
    if (i !== undefined) return i;
  }
  REFS.push(e);
  if (n === LINEAR_MAX) for (let i = 0; i <= n; i++) INDEX.set(REFS[i]!, i);
  else if (n > LINEAR_MAX) INDEX.set(e, n);
  EVENTS.push([e.seq, e.eventTime, e.eventType, e.productId, e.categoryId, e.categoryCode, e.brand, e.price, e.userSession]);
  return n;
}
