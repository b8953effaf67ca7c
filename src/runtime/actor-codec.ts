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
 *    [[patternId, version, caps|null, [key, runCount, …runs, key, runCount, …runs]], …] | null,
 *    [seq, eventTime, eventType, productId, categoryId, categoryCode, brand, price, userSession, seq, …]]
 *
 *   where each run is the numbers s, c, n, b, z, k, then k event indexes, then k stage indexes.
 *
 * Runs and events are flat lists rather than a list per run or event: an actor holds dozens of
 * runs, and packing (and unpacking) one array each cost more than their contents.
 *
 * `nudge actor show` and the inspect service read actors through decodeActor, never the bytes.
 */
const FORMAT = 1;

type EncodedPatternState = [string, number, Record<string, number[]> | null, Array<string | number>];
type EncodedActor = [typeof FORMAT, number | null, PersistedActor['session'] | null, PersistedActor['sent'] | null, EncodedPatternState[] | null, Array<string | number>];
const EVENT_WIDTH = 9;

// Plain arrays and objects both ways: no records (their shared structures would have to be
// stored), objects read back as objects.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

// Scratch for encodeActor (synchronous, never re-entered): the events written so far, and past
// LINEAR_MAX of them an index by identity. Most actors hold a handful of events, and scanning a
// short list beats hashing an object per reference.
const REFS: EventRef[] = [];
const INDEX = new Map<EventRef, number>();
const EVENTS: Array<string | number> = [];
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
  const refs: EventRef[] = [];
  const num = events as number[];
  const str = events as string[];
  for (let i = 0; i + EVENT_WIDTH <= events.length; i += EVENT_WIDTH) {
    refs.push(new EventRef(num[i]!, num[i + 1]!, str[i + 2]!, str[i + 3]!, str[i + 4]!, str[i + 5]!, str[i + 6]!, num[i + 7]!, str[i + 8]!));
  }
  out.cep = {};
  for (const [id, v, caps, runs] of cep) {
    const state: PatternState = { v, runs: new Map() };
    let at = 0;
    while (at < runs.length) {
      const key = runs[at++] as string;
      const count = runs[at++] as number;
      const list: Run[] = [];
      for (let r = 0; r < count; r++) at = decodeRun(runs as number[], at, refs, list);
      state.runs.set(key, list);
    }
    if (caps !== null) state.caps = caps;
    out.cep[id] = state;
  }
  return out;
}

/** Reads the run at `at` into `list`; returns where the next one starts. */
function decodeRun(f: number[], at: number, refs: EventRef[], list: Run[]): number {
  const k = f[at + 5]!;
  if (!(k > 0)) throw new Error('stored actor has a run without events');
  const ev: EventRef[] = [];
  const st: number[] = [];
  let t0 = Infinity;
  let t1 = -Infinity;
  for (let i = 0; i < k; i++) {
    const e = refs[f[at + 6 + i]!];
    if (!e) throw new Error(`stored actor names event #${f[at + 6 + i]}, which it does not hold`);
    if (e.eventTime < t0) t0 = e.eventTime;
    if (e.eventTime > t1) t1 = e.eventTime;
    ev.push(e);
    st.push(f[at + 6 + k + i]!);
  }
  list.push({ s: f[at]!, c: f[at + 1]!, n: f[at + 2]!, b: f[at + 3]!, z: f[at + 4]!, t0, t1, tl: ev[k - 1]!.eventTime, ev, st });
  return at + 6 + 2 * k;
}

function encodePatternState(id: string, state: PatternState): EncodedPatternState {
  const runs: Array<string | number> = [];
  for (const [key, list] of state.runs) {
    runs.push(key, list.length);
    for (const r of list) {
      const k = r.ev.length;
      runs.push(r.s, r.c, r.n, r.b, r.z, k);
      for (let i = 0; i < k; i++) runs.push(indexOf(r.ev[i]!));
      for (let i = 0; i < k; i++) runs.push(r.st[i]!);
    }
  }
  return [id, state.v, state.caps ?? null, runs];
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
  EVENTS.push(e.seq, e.eventTime, e.eventType, e.productId, e.categoryId, e.categoryCode, e.brand, e.price, e.userSession);
  return n;
}
