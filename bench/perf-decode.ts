/**
 * The per-message input path outside the actor, timed piece by piece on the seeded sample (no NATS):
 * subject parse, UTF-8 decode, event-time parsing, fast validation, and decodeEvent as a whole.
 *
 *   node --expose-gc --import tsx bench/perf-decode.ts [--users 20000] [--reps 7]
 *
 * Each pass runs over every message `reps` times; the line gives the median and the spread in
 * ns/event, so two runs (or two builds) can be compared on a shared, noisy machine.
 */
import { parseArgs } from 'node:util';
import { generateSample } from '../src/events/sample-generator.js';
import { sampleRowToEvent } from '../src/events/sources.js';
import { decodeEvent } from '../src/events/decode.js';
import { fastValidateEvent } from '../src/events/fast-validate.js';
import { parseEventTime } from '../src/events/event-time.js';
import { parseStoredEventSubject, partitionOf } from '../src/nats/subjects.js';

const { values } = parseArgs({ options: { users: { type: 'string', default: '20000' }, reps: { type: 'string', default: '7' } } });
const USERS = Number(values.users);
const REPS = Number(values.reps);
const P = 8;

const subjects: string[] = [];
const datas: Uint8Array[] = [];
const objects: Record<string, unknown>[] = [];
const times: unknown[] = [];
for (const r of generateSample({ users: USERS, seed: 1 })) {
  const event = sampleRowToEvent(r);
  subjects.push(`events.${r.event_type}.${r.user_id}.${partitionOf(r.user_id, P)}`);
  // Like a JsMsg's data: a view into a larger inbound buffer, not a Buffer of its own.
  const bytes = Buffer.from(JSON.stringify(event));
  const backing = new Uint8Array(bytes.length + 64);
  backing.set(bytes, 32);
  datas.push(backing.subarray(32, 32 + bytes.length));
  objects.push(JSON.parse(JSON.stringify(event)) as Record<string, unknown>);
  times.push(event.eventTime);
}
const N = subjects.length;
process.stderr.write(`${N} messages, ${REPS} reps per pass\n`);

let sink = 0;
function pass(name: string, fn: () => void): void {
  const ns: number[] = [];
  fn(); // warm-up
  for (let i = 0; i < REPS; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = process.hrtime.bigint();
    fn();
    ns.push(Number(process.hrtime.bigint() - t0) / N);
  }
  ns.sort((a, b) => a - b);
  const med = ns[Math.floor(ns.length / 2)]!;
  process.stdout.write(`${name.padEnd(40)} ${med.toFixed(0).padStart(6)} ns/event  (min ${ns[0]!.toFixed(0)}, max ${ns[ns.length - 1]!.toFixed(0)})\n`);
}

pass('parseStoredEventSubject', () => {
  for (let i = 0; i < N; i++) sink += parseStoredEventSubject(subjects[i]!)!.partition;
});
const td = new TextDecoder('utf-8', { fatal: true });
pass('TextDecoder(fatal).decode', () => {
  for (let i = 0; i < N; i++) sink += td.decode(datas[i]!).length;
});
pass('parseEventTime', () => {
  for (let i = 0; i < N; i++) sink += parseEventTime(times[i]!)!;
});
pass('fastValidateEvent', () => {
  for (let i = 0; i < N; i++) sink += fastValidateEvent(objects[i]!)!.price;
});
pass('decodeEvent', () => {
  for (let i = 0; i < N; i++) {
    const s = subjects[i]!;
    const a = s.indexOf('.', 7);
    const b = s.indexOf('.', a + 1);
    const d = decodeEvent(datas[i]!, { maxBytes: 16 * 1024, eventType: s.slice(7, a), userId: s.slice(a + 1, b) });
    if (!d.ok) throw new Error(d.reason);
    sink += d.event.price;
  }
});
pass('subject + decodeEvent (the processor input path)', () => {
  for (let i = 0; i < N; i++) {
    const w = parseStoredEventSubject(subjects[i]!)!;
    const d = decodeEvent(datas[i]!, { maxBytes: 16 * 1024, eventType: w.eventType, userId: w.userId });
    if (!d.ok) throw new Error(d.reason);
    sink += d.event.price;
  }
});
if (sink === 42) process.stdout.write('\n');
