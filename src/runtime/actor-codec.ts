import { EventRef } from '../../actors/index.js';
import type { PatternState, Run } from '../cep/index.js';
import type { PersistedActor } from './user-actor.js';

/**
 * The text form of a persisted actor, as LMDB stores it. Written by hand rather than by
 * JSON.stringify because it is on the checkpoint path for every actor an event touched.
 *
 *   {"d":deadline,"session":…,"sent":{"<type>":[t…]},"cep":{"<pattern>":{"v":1,"runs":{"<key>":[[s,c,n,b,z,t0,t1,tl,[event…],[stage…]]]},"caps":{…}}}}
 *   event = [seq,eventTime,eventType,productId,categoryId,categoryCode,brand,price,userSession]
 *
 * What made checkpoints slow was not building text but reading memory: an actor's retained
 * events lie scattered over the heap, and touching each of them at every checkpoint (to list or
 * de-duplicate them) cost more than the rest of the encoding. So a run's events are written
 * inline, from text cached on the run (`xe`, `xt`): a run never changes its events, and a run
 * made by a take extends its parent's text by the one new event (`p`). Re-checkpointing a busy
 * actor joins strings it already has and touches only the events new since the last time. An
 * event held by two runs is written twice; decoding shares one EventRef per sequence again.
 */

type EncodedEvent = [number, number, string, string, string, string, string, number, string];
type EncodedRun = [number, number, number, number, number, number, number, number, EncodedEvent[], number[]];
interface EncodedPatternState {
  v: number;
  runs: Record<string, EncodedRun[]>;
  caps?: Record<string, number[]>;
}
interface EncodedActor {
  d?: number;
  session?: PersistedActor['session'];
  sent?: PersistedActor['sent'];
  cep?: Record<string, EncodedPatternState>;
}

export function encodeActor(actor: PersistedActor): string {
  let out = '{';
  let sep = '';
  if (actor.due !== undefined) {
    out += `"d":${actor.due}`;
    sep = ',';
  }
  if (actor.session) {
    out += `${sep}"session":${JSON.stringify(actor.session)}`;
    sep = ',';
  }
  if (actor.sent) {
    out += `${sep}"sent":${JSON.stringify(actor.sent)}`;
    sep = ',';
  }
  if (actor.cep) {
    out += `${sep}"cep":{`;
    let psep = '';
    for (const id in actor.cep) {
      out += `${psep}${JSON.stringify(id)}:${encodePatternState(actor.cep[id]!)}`;
      psep = ',';
    }
    out += '}';
  }
  return `${out}}`;
}

export function decodeActor(text: string): PersistedActor {
  const json = JSON.parse(text) as EncodedActor;
  const out: PersistedActor = {};
  if (typeof json.d === 'number') out.due = json.d;
  if (json.session) out.session = json.session;
  if (json.sent) out.sent = json.sent;
  if (!json.cep) return out;
  // One EventRef per event, however many runs hold it, as in the live actor.
  const bySeq = new Map<number, EventRef>();
  const ref = (t: EncodedEvent): EventRef => {
    let e = bySeq.get(t[0]);
    if (!e) bySeq.set(t[0], (e = new EventRef(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8])));
    return e;
  };
  out.cep = {};
  for (const id in json.cep) {
    const enc = json.cep[id]!;
    const state: PatternState = { v: enc.v, runs: {} };
    for (const key in enc.runs) {
      state.runs[key] = enc.runs[key]!.map((r): Run => {
        if (r[8].length === 0 || r[8].length !== r[9].length) throw new Error(`stored run of ${id} has ${r[8].length} events and ${r[9].length} stages`);
        return { s: r[0], c: r[1], n: r[2], b: r[3], z: r[4], t0: r[5], t1: r[6], tl: r[7], ev: r[8].map(ref), st: r[9], xe: undefined, xt: undefined, p: undefined };
      });
    }
    if (enc.caps) state.caps = enc.caps;
    out.cep[id] = state;
  }
  return out;
}

function encodePatternState(state: PatternState): string {
  let out = `{"v":${state.v},"runs":{`;
  let ksep = '';
  for (const key in state.runs) {
    out += `${ksep}${JSON.stringify(key)}:[`;
    let rsep = '';
    for (const r of state.runs[key]!) {
      out += `${rsep}[${r.s},${r.c},${r.n},${r.b},${r.z},${r.xt ?? cacheTail(r)}]`;
      rsep = ',';
    }
    out += ']';
    ksep = ',';
  }
  out += '}';
  if (state.caps) out += `,"caps":${JSON.stringify(state.caps)}`;
  return `${out}}`;
}

/** The text of what never changes in a run: `t0,t1,tl,[event…],[stage…]` (`n`, `b`, `z` may). */
function cacheTail(r: Run): string {
  const n = r.ev.length;
  const parent = r.p;
  let xe: string;
  if (parent !== undefined && parent.xe !== undefined && parent.ev.length === n - 1) xe = `${parent.xe},${eventText(r.ev[n - 1]!)}`;
  else {
    xe = '';
    for (let i = 0; i < n; i++) xe += (i ? ',' : '') + eventText(r.ev[i]!);
  }
  r.p = undefined;
  r.xe = xe;
  return (r.xt = `${r.t0},${r.t1},${r.tl},[${xe}],[${r.st.join(',')}]`);
}

function eventText(e: EventRef): string {
  return (e.codecText ??= JSON.stringify([e.seq, e.eventTime, e.eventType, e.productId, e.categoryId, e.categoryCode, e.brand, e.price, e.userSession]));
}
