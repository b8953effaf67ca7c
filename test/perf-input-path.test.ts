// The hand-rolled parts of the per-message input path must answer exactly like the plain code
// they replaced: REES46 event times read by character code (was a regex + Date.UTC) and stored
// subjects read with indexOf (was split('.')).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEventTime } from '../src/events/event-time.js';
import { parseStoredEventSubject } from '../src/nats/subjects.js';
import { prng } from './support/prng.js';

// ------------------------------------------------------------------ the code before, as reference

const REES46 = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) UTC$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function isRealDate(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!);
}
const fields = (m: RegExpExecArray) => m.slice(1, 7).map((v) => (v === undefined ? 0 : Number(v))) as [number, number, number, number, number, number];
function referenceEventTime(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 && value <= 8.64e15 ? Math.trunc(value) + 0 : null;
  if (typeof value !== 'string') return null;
  const rees = REES46.exec(value);
  if (rees) {
    const [y, mo, d, h, mi, s] = fields(rees);
    if (y < 1970 || !isRealDate(y, mo, d, h, mi, s)) return null;
    return Date.UTC(y, mo - 1, d, h, mi, s);
  }
  const iso = ISO.exec(value);
  if (iso) {
    const [y, mo, d, h, mi, s] = fields(iso);
    if (!isRealDate(y, mo, d, h, mi, s)) return null;
    const ms = Date.parse(value);
    return Number.isNaN(ms) || ms < 0 || ms > 8.64e15 ? null : ms;
  }
  return null;
}

function referenceSubject(subject: string) {
  const parts = subject.split('.');
  if (parts.length !== 4 || parts[0] !== 'events') return null;
  const partition = Number(parts[3]);
  if (!Number.isInteger(partition) || partition < 0) return null;
  return { eventType: parts[1]!, userId: parts[2]!, partition };
}

// ------------------------------------------------------------------ event time

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const rees = (y: number, mo: number, d: number, h: number, mi: number, s: number) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)} UTC`;

test('REES46 times: every day from 1965 to 2105 and the edges of the calendar agree with Date.UTC', () => {
  for (let y = 1965; y <= 2105; y++) {
    for (let mo = 0; mo <= 13; mo++) {
      for (let d = 0; d <= 32; d++) {
        const v = rees(y, mo, d, (y + d) % 25, (mo * 7) % 61, d % 61);
        assert.equal(parseEventTime(v), referenceEventTime(v), v);
      }
    }
  }
  for (const v of [rees(9999, 12, 31, 23, 59, 59), rees(1970, 1, 1, 0, 0, 0), rees(2000, 2, 29, 12, 0, 0), rees(2100, 2, 29, 0, 0, 0), rees(2400, 2, 29, 0, 0, 0), rees(1969, 12, 31, 23, 59, 59), rees(0, 1, 1, 0, 0, 0)]) {
    assert.equal(parseEventTime(v), referenceEventTime(v), v);
  }
});

test('near-REES46 and other strings: same answer as the regex reading', () => {
  const base = '2019-10-01 12:34:56 UTC';
  const alphabet = ['0', '9', '5', '-', ':', ' ', 'T', 'Z', 'U', 'C', 'x', '٣', '\n', '+', '.', ''];
  const rnd = prng(5);
  const tries = [base, `${base}\n`, ` ${base}`, base.replace(' UTC', 'UTC'), base.replace('UTC', 'utc'), base.replace(' ', 'T'), base.slice(0, -4) + 'Z', '2019-10-01T12:34:56Z', '2019-10-01T12:34Z', '2019-10-01T12:34:56.123456789+02:00', '2019-10-01T12:34:56+0200', '2019-02-29T00:00:00Z', '+2019-10-01 12:34:56 UTC', '2019-1-01 12:34:56 UTC', '', 'UTC'];
  for (let i = 0; i < 50_000; i++) {
    const chars = [...base];
    const n = 1 + Math.floor(rnd() * 2);
    for (let k = 0; k < n; k++) chars[Math.floor(rnd() * chars.length)] = alphabet[Math.floor(rnd() * alphabet.length)]!;
    tries.push(chars.join(''));
  }
  for (const v of tries) assert.equal(parseEventTime(v), referenceEventTime(v), JSON.stringify(v));
  for (const v of [0, 1.5, -1, 8.64e15, 8.64e15 + 1, NaN, -0, null, undefined, {}, [], true]) assert.equal(parseEventTime(v), referenceEventTime(v), String(v));
});

// ------------------------------------------------------------------ stored subjects

test('stored subjects: indexOf parse agrees with split on real and odd subjects', () => {
  const tries = [
    'events.view.510013492.3', 'events.cart.u-1.0', 'events._tick.w1.7', 'events.view.u.12', 'events.view.u.007', 'events.view.u.',
    'events.view.u.-0', 'events.view.u.-1', 'events.view.u.1.5', 'events.view.u.1e2', 'events.view.u.0x10', 'events.view.u. 3', 'events.view.u.3 ',
    'events.view.u.123456789012345', 'events.view.u.1234567890123456', 'events.view.u.99999999999999999999', 'events.view.u.Infinity', 'events.view.u.NaN',
    'events..u.1', 'events.view..1', 'events...', 'events.view.u', 'events.view', 'events', 'events.', 'Events.view.u.1', 'eventsX.view.u.1',
    'actions.coupon.u.1', 'events.view.u.1.2', '', '.', 'events.view.u.١',
  ];
  const rnd = prng(11);
  const alphabet = ['.', '1', '0', 'e', 'v', 'x', '-', ' ', ''];
  for (let i = 0; i < 20_000; i++) {
    const chars = [...'events.view.510013492.3'];
    const n = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < n; k++) chars[Math.floor(rnd() * chars.length)] = alphabet[Math.floor(rnd() * alphabet.length)]!;
    tries.push(chars.join(''));
  }
  for (const s of tries) {
    const got = parseStoredEventSubject(s);
    const want = referenceSubject(s);
    assert.deepEqual(got, want, s);
    if (got) assert.ok(Object.is(got.partition, want!.partition), s);
  }
});
