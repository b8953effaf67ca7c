import { EventRef, sessionTransitions, type SessionLedger } from '../../actors/index.js';
import { Run, type PatternState, type RunEvent } from '../cep/index.js';
import type { PersistedActor } from './user-actor.js';
import { ByteWriter, ByteReader } from './byte-codec.js';

/**
 * The stored form of a persisted actor. It is on the checkpoint path for every actor an event
 * touched since the last checkpoint — at 100k users that is most events — so it is built for
 * speed, not for reading (byte-codec.ts has the primitives):
 *
 * - each event is written once per actor, and runs name events by their index in that list,
 *   because the same views sit in many partial matches at once (every repeat-category run of a
 *   user holds them);
 * - a run's time bounds are not written: they are the earliest, the latest and the last of its
 *   events' times, which is exactly how the matcher keeps them;
 * - the session machine is written as its phase: its XState snapshot is a function of the phase
 *   (session-transitions.ts).
 *
 *   FORMAT, u32 where the events start, flags, [due], [position], [session], [sent], [cep],
 *   then the events: count, and per event seq, eventTime, eventType, productId, categoryId,
 *   categoryCode, brand, price, userSession.
 *
 * The events are written last because walking the runs is what finds them, and read first
 * because the runs name them. An event's strings are written as "same as the event before"
 * where they are (the session id, the type and the category mostly are).
 *
 * `nudge actor show` and the inspect service read actors through decodeActor, never the bytes.
 */
const FORMAT = 2;

const HAS_DUE = 1;
const HAS_POSITION = 2;
const HAS_SESSION = 4;
const HAS_LEDGER = 8;
const HAS_SENT = 16;
const HAS_CEP = 32;

const w = new ByteWriter();
// Scratch for encodeActor (synchronous, never re-entered): the events written so far, and past
// LINEAR_MAX of them an index by identity. Most actors hold a handful of events, and scanning a
// short list beats hashing an object per reference.
const REFS: EventRef[] = [];
const INDEX = new Map<EventRef, number>();
const LINEAR_MAX = 32;
/** A run's nodes, newest first, while its events are written oldest first. */
const NODES: RunEvent[] = [];

export function encodeActor(actor: PersistedActor): Uint8Array {
  try {
    w.reset();
    w.byte(FORMAT);
    const eventsAt = w.reserveU32();
    const session = actor.session;
    let flags = 0;
    if (actor.due !== undefined) flags |= HAS_DUE;
    if (actor.position !== undefined) flags |= HAS_POSITION;
    if (session) flags |= HAS_SESSION | (session.ledger ? HAS_LEDGER : 0);
    if (actor.sent) flags |= HAS_SENT;
    if (actor.cep) flags |= HAS_CEP;
    w.uint(flags);
    if (actor.due !== undefined) w.f64(actor.due);
    if (actor.position !== undefined) w.uint(actor.position);
    if (session) {
      w.str(sessionTransitions.phaseOf(session.machine));
      if (session.ledger) writeLedger(session.ledger);
    }
    if (actor.sent) writeTimes(actor.sent);
    if (actor.cep) {
      const ids = Object.keys(actor.cep);
      w.uint(ids.length);
      for (const id of ids) writePatternState(id, actor.cep[id]!);
    }
    w.patchU32(eventsAt, w.length);
    w.uint(REFS.length);
    let p: EventRef | undefined;
    for (const e of REFS) {
      w.uint(e.seq);
      w.f64(e.eventTime);
      w.str(e.eventType, p?.eventType);
      w.str(e.productId, p?.productId);
      w.str(e.categoryId, p?.categoryId);
      w.str(e.categoryCode, p?.categoryCode);
      w.str(e.brand, p?.brand);
      w.f64(e.price);
      w.str(e.userSession, p?.userSession);
      p = e;
    }
    return w.bytes();
  } finally {
    if (REFS.length > LINEAR_MAX) INDEX.clear();
    REFS.length = 0;
  }
}

export function decodeActor(bytes: Uint8Array): PersistedActor {
  const r = new ByteReader(bytes);
  if (bytes.length < 5 || r.byte() !== FORMAT) throw new Error(`stored actor is not in actor format ${FORMAT}`);
  const eventsAt = r.u32();
  const flags = r.uint();
  const out: PersistedActor = {};
  if (flags & HAS_DUE) out.due = r.f64();
  if (flags & HAS_POSITION) out.position = r.uint();
  if (flags & HAS_SESSION) {
    const machine = sessionTransitions.persistedOf(sessionTransitions.phaseOf({ value: r.str() }));
    out.session = { machine, ledger: flags & HAS_LEDGER ? readLedger(r) : null };
  }
  if (flags & HAS_SENT) out.sent = readTimes(r);
  if (flags & HAS_CEP) {
    const refs = readEvents(new ByteReader(bytes, eventsAt));
    out.cep = {};
    for (let i = r.uint(); i > 0; i--) {
      const id = r.str();
      out.cep[id] = readPatternState(r, refs);
    }
  }
  if (r.pos !== eventsAt) throw new Error('stored actor is malformed: its sections do not meet');
  return out;
}

function writeLedger(l: SessionLedger): void {
  w.f64(l.sessionStart);
  w.f64(l.lastEventTime);
  w.uint(l.firstSeq);
  if (l.userSession === null) w.byte(0);
  else {
    w.byte(1);
    w.str(l.userSession);
  }
  w.uint(l.views);
  w.uint(l.carts);
  w.uint(l.removes);
  w.uint(l.purchases);
  w.uint(l.others);
  w.f64(l.revenue);
}

function readLedger(r: ByteReader): SessionLedger {
  const sessionStart = r.f64();
  const lastEventTime = r.f64();
  const firstSeq = r.uint();
  const userSession = r.byte() === 1 ? r.str() : null;
  return { sessionStart, lastEventTime, firstSeq, userSession, views: r.uint(), carts: r.uint(), removes: r.uint(), purchases: r.uint(), others: r.uint(), revenue: r.f64() };
}

/** A ledger of event times by key (caps, type caps). Written as count + 1 so an empty one stays empty, not absent. */
function writeTimes(ledger: Record<string, number[]>): void {
  const keys = Object.keys(ledger);
  w.uint(keys.length);
  for (const k of keys) {
    const times = ledger[k]!;
    w.str(k);
    w.uint(times.length);
    for (const t of times) w.f64(t);
  }
}

function readTimes(r: ByteReader): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (let i = r.uint(); i > 0; i--) {
    const k = r.str();
    const times: number[] = [];
    for (let j = r.uint(); j > 0; j--) times.push(r.f64());
    out[k] = times;
  }
  return out;
}

function writePatternState(id: string, state: PatternState): void {
  w.str(id);
  w.uint(state.v);
  if (state.caps) {
    w.byte(1);
    writeTimes(state.caps);
  } else w.byte(0);
  w.uint(state.runs.size);
  for (const [key, list] of state.runs) {
    w.str(key);
    w.uint(list.length);
    for (const run of list) {
      w.uint(run.s);
      w.uint(run.c);
      w.uint(run.n);
      w.int32(run.b);
      w.uint(run.z);
      w.uint(run.len);
      for (let x: RunEvent | null = run.last; x !== null; x = x.prev) NODES.push(x);
      for (let i = NODES.length - 1; i >= 0; i--) w.uint(indexOf(NODES[i]!.e));
      for (let i = NODES.length - 1; i >= 0; i--) w.uint(NODES[i]!.k);
      NODES.length = 0;
    }
  }
}

function readPatternState(r: ByteReader, refs: EventRef[]): PatternState {
  const v = r.uint();
  const state: PatternState = { v, runs: new Map() };
  if (r.byte() === 1) state.caps = readTimes(r);
  for (let keys = r.uint(); keys > 0; keys--) {
    const key = r.str();
    const list: Run[] = [];
    for (let n = r.uint(); n > 0; n--) list.push(readRun(r, refs));
    state.runs.set(key, list);
  }
  return state;
}

const EV: EventRef[] = [];
const ST: number[] = [];

function readRun(r: ByteReader, refs: EventRef[]): Run {
  const s = r.uint();
  const c = r.uint();
  const n = r.uint();
  const b = r.int32();
  const z = r.uint();
  const k = r.uint();
  if (!(k > 0)) throw new Error('stored actor has a run without events');
  try {
    for (let i = 0; i < k; i++) {
      const at = r.uint();
      const e = refs[at];
      if (!e) throw new Error(`stored actor names event #${at}, which it does not hold`);
      EV.push(e);
    }
    for (let i = 0; i < k; i++) ST.push(r.uint());
    return Run.of(s, c, n, b, z, EV, ST);
  } finally {
    EV.length = ST.length = 0;
  }
}

function readEvents(r: ByteReader): EventRef[] {
  const refs: EventRef[] = [];
  let p: EventRef | undefined;
  for (let i = r.uint(); i > 0; i--) {
    const e = new EventRef(r.uint(), r.f64(), r.str(p?.eventType), r.str(p?.productId), r.str(p?.categoryId), r.str(p?.categoryCode), r.str(p?.brand), r.f64(), r.str(p?.userSession));
    refs.push(e);
    p = e;
  }
  if (r.pos !== r.length) throw new Error('stored actor is malformed: bytes left after its events');
  return refs;
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
  return n;
}
