/**
 * Hostile messages, deterministic from a seed: every kind of bad input a shop (or anyone with
 * publish rights on events.*.*) can send. Each is aimed at a real user of the normal stream, so it
 * lands in the partitions and beside the actors the normal events use.
 */
import { Subjects, partitionOf } from '../src/nats/index.js';
import { PARTITIONS } from './chaos-nats.js';

export const HostileKinds = [
  'invalid-json',
  'not-an-object',
  'wrong-types',
  'missing-field',
  'unknown-field',
  'invalid-utf8',
  'deep-nesting',
  'huge-1mb',
  'unknown-type',
  'subject-mismatch',
  'wrong-partition',
] as const;
export type HostileKind = (typeof HostileKinds)[number];

export interface HostileMessage {
  kind: HostileKind;
  subject: string;
  data: Uint8Array;
}

/** 1 MB payloads are the only kind not spread evenly: one per thousand hostile messages (at least one). */
export const hugeCount = (n: number) => Math.max(1, Math.round(n / 1_000));
export const HUGE_BYTES = 1_000_000;

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const enc = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

const TYPES = ['view', 'cart', 'remove_from_cart', 'purchase'] as const;

function validEvent(rnd: Rnd, userId: string, eventType: string): Record<string, unknown> {
  return {
    eventTime: 1_572_566_400_000 + Math.floor(rnd() * 86_400_000),
    eventType,
    productId: String(1_000_000 + Math.floor(rnd() * 1_000)),
    categoryId: '2053013555631882655',
    categoryCode: 'electronics.smartphone',
    brand: 'hostile',
    price: Math.round(rnd() * 100_000) / 100,
    userId,
    userSession: 'hostile-session',
  };
}

function body(rnd: Rnd, kind: HostileKind, user: string, other: string): { subject: string; text?: string; data?: Uint8Array } {
  const type = pick(rnd, TYPES);
  const subject = Subjects.event(type, user);
  const e = validEvent(rnd, user, type);
  const json = JSON.stringify(e);
  switch (kind) {
    case 'invalid-json': {
      const variants = [json.slice(0, 1 + Math.floor(rnd() * (json.length - 2))), `{eventType: ${type}, userId: ${user}}`, '', '   ', `${json}}`, json.replace(/"price":[^,]+/, '"price":NaN'), "{'eventType':'view'}", `${json}\n${json}`];
      return { subject, text: pick(rnd, variants) };
    }
    case 'not-an-object':
      return { subject, text: pick(rnd, ['[]', `[${json}]`, `"${type}"`, '42', 'null', 'true', '-0.5e3']) };
    case 'wrong-types': {
      const corrupt: Array<[string, unknown]> = [
        ['price', '12.50'], ['price', -1], ['price', null], ['price', { amount: 1 }], ['productId', true], ['productId', {}], ['productId', -5],
        ['productId', ''], ['eventTime', true], ['eventTime', 'yesterday'], ['eventTime', { t: 1 }], ['eventTime', '2019-13-45 99:99:99 UTC'],
        ['categoryId', []], ['categoryId', 1.5], ['brand', 5], ['userSession', {}], ['eventId', ''], ['eventId', 123], ['categoryCode', 'x'.repeat(300)],
      ];
      const [k, v] = pick(rnd, corrupt);
      const text = JSON.stringify({ ...e, [k]: v });
      // JSON cannot say 1e400 (Infinity) through stringify: written by hand.
      return { subject, text: rnd() < 0.1 ? json.replace(/"price":[^,]+/, '"price":1e400') : text };
    }
    case 'missing-field': {
      const copy: Record<string, unknown> = { ...e };
      delete copy[pick(rnd, ['eventTime', 'eventType', 'productId', 'price', 'userId'])];
      return { subject, text: JSON.stringify(copy) };
    }
    case 'unknown-field': {
      const extra = pick(rnd, ['"coupon":"FREE100"', '"isAdmin":true', '"__proto__":{"isAdmin":true}', '"constructor":{"prototype":{"x":1}}', '"price2":1']);
      return { subject, text: `${json.slice(0, -1)},${extra}}` };
    }
    case 'invalid-utf8': {
      const [head, tail] = [json.slice(0, json.indexOf('hostile')), json.slice(json.indexOf('hostile'))];
      const bad = pick(rnd, [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]]);
      return { subject, data: new Uint8Array([...Buffer.from(head, 'utf8'), ...bad, ...Buffer.from(tail, 'utf8')]) };
    }
    case 'deep-nesting': {
      const depth = 1_000 + Math.floor(rnd() * 6_000);
      const nested = rnd() < 0.5 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth / 4) + '1' + '}'.repeat(depth / 4);
      const where = pick(rnd, ['extra', 'price', 'productId', 'brand']);
      const copy: Record<string, unknown> = { ...e, [where]: '@@' };
      return { subject, text: JSON.stringify(copy).replace('"@@"', nested) };
    }
    case 'huge-1mb': {
      const pad = HUGE_BYTES - json.length - 16;
      return { subject, text: JSON.stringify({ ...e, brand: 'x'.repeat(Math.max(0, pad)) }) };
    }
    case 'unknown-type': {
      // Subject tokens a shop can publish that are not event types (uppercase, dashes, digits
      // first, too long, and the engine-internal `_` prefix), body agreeing with the subject.
      const t = pick(rnd, ['VIEW', 'Click', 'add-to-wishlist', '9lives', `t${'x'.repeat(40)}`, '_admin', '_debug']);
      return { subject: Subjects.event(t, user), text: JSON.stringify({ ...e, eventType: t }) };
    }
    case 'subject-mismatch':
      return rnd() < 0.5
        ? { subject, text: JSON.stringify({ ...e, userId: other }) }
        : { subject, text: JSON.stringify({ ...e, eventType: type === 'view' ? 'purchase' : 'view' }) };
    case 'wrong-partition': {
      // Straight to the stored form, bypassing the mapping, in a partition that is not the user's.
      const right = partitionOf(user, PARTITIONS);
      const wrong = (right + 1 + Math.floor(rnd() * (PARTITIONS - 1))) % PARTITIONS;
      return { subject: `${subject}.${wrong}`, text: json };
    }
  }
}

/** `n` hostile messages over the given users: 1 MB payloads `hugeCount(n)`, the rest spread evenly over the other kinds. */
export function hostileMessages(n: number, rnd: Rnd, users: readonly string[]): HostileMessage[] {
  const out: HostileMessage[] = [];
  const huge = Math.min(n, hugeCount(n));
  const kinds = HostileKinds.filter((k) => k !== 'huge-1mb');
  for (let i = 0; i < n; i++) {
    const kind: HostileKind = i < huge ? 'huge-1mb' : kinds[(i - huge) % kinds.length]!;
    const user = pick(rnd, users);
    let other = pick(rnd, users);
    if (other === user) other = `${user}x`;
    const b = body(rnd, kind, user, other);
    out.push({ kind, subject: b.subject, data: b.data ?? enc(b.text!) });
  }
  // Shuffled (Fisher-Yates), so the kinds arrive mixed.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
