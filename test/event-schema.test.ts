import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventSchema, describeIssues, type NudgeEventInput } from '../src/events/schema.js';
import { parseEventTime } from '../src/events/event-time.js';
import { decodeEvent, type Decoded, type DecodeExpectations } from '../src/events/decode.js';

/** 2019-10-01T00:00:00Z */
const OCT_1 = 1_569_888_000_000;
const MB = 1024 * 1024;

const valid = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  eventTime: '2019-10-01 00:00:00 UTC',
  eventType: 'view',
  productId: '44600062',
  categoryId: '2103807459595387724',
  categoryCode: '',
  brand: 'shiseido',
  price: 35.79,
  userId: '541312140',
  userSession: '72d76fde-8bb3-4e00-8c23-a032dfed738c',
  ...over,
});

function reasonOf(input: unknown): string {
  const r = eventSchema.safeParse(input);
  assert.equal(r.success, false, `expected ${JSON.stringify(input)} to be rejected`);
  return describeIssues(r.error!);
}

const expect = (over: Partial<DecodeExpectations> = {}): DecodeExpectations => ({
  maxBytes: MB,
  eventType: 'view',
  userId: '541312140',
  ...over,
});

const bytes = (s: string) => new TextEncoder().encode(s);

function decodeFails(data: Uint8Array, exp: DecodeExpectations = expect()): string {
  let d: Decoded | undefined;
  assert.doesNotThrow(() => {
    d = decodeEvent(data, exp);
  });
  assert.ok(d);
  assert.equal(d.ok, false, 'expected ok:false');
  if (d.ok) throw new Error('unreachable');
  assert.equal(typeof d.reason, 'string');
  assert.ok(d.reason.length > 0);
  return d.reason;
}

describe('parseEventTime', () => {
  test('all three formats normalise to the same epoch ms', () => {
    const forms: unknown[] = [
      OCT_1,
      '2019-10-01T00:00:00Z',
      '2019-10-01T00:00:00.000Z',
      '2019-10-01T02:00:00+02:00',
      '2019-09-30T19:00:00-05:00',
      '2019-10-01 00:00:00 UTC',
    ];
    for (const f of forms) assert.equal(parseEventTime(f), OCT_1, JSON.stringify(f));
  });

  test('fractional epoch ms are truncated, 0 is a valid time', () => {
    assert.equal(parseEventTime(OCT_1 + 0.9), OCT_1);
    assert.equal(parseEventTime(0), 0);
  });

  test('REES46 form keeps seconds and rejects impossible calendar dates', () => {
    assert.equal(parseEventTime('2019-10-01 23:59:59 UTC'), OCT_1 + 86_399_000);
    assert.equal(parseEventTime('2020-02-29 00:00:00 UTC'), Date.UTC(2020, 1, 29));
    for (const bad of [
      '2019-02-30 00:00:00 UTC',
      '2019-02-29 00:00:00 UTC', // 2019 is not a leap year
      '2019-04-31 00:00:00 UTC',
      '2019-13-01 00:00:00 UTC',
      '2019-10-01 25:00:00 UTC',
      '2019-10-01 24:00:00 UTC',
      '2019-10-01 00:60:00 UTC',
      '2019-10-01 00:00:60 UTC',
      '2019-10-01 00:00:00', // no zone
      '2019-10-01 00:00:00 CET',
      '2019-10-01T00:00:00', // ISO without a zone is ambiguous
    ]) {
      assert.equal(parseEventTime(bad), null, bad);
    }
  });

  test('garbage, empty, negative and non-finite values are rejected', () => {
    for (const bad of ['yesterday', '', ' ', 'now', '1569888000000', -1, -OCT_1, Number.NaN, Infinity, -Infinity, 8.64e15 + 1, null, undefined, true, {}, [], [OCT_1]]) {
      assert.equal(parseEventTime(bad), null, String(bad));
    }
  });

  test(
    'ISO-8601 impossible calendar dates are rejected like the REES46 ones',
    () => {
      for (const bad of ['2019-02-30T00:00:00Z', '2019-02-31T00:00:00Z', '2019-04-31T00:00:00Z', '2019-10-01T24:00:00Z']) {
        assert.equal(parseEventTime(bad), null, bad);
      }
    },
  );

  test(
    'string forms are held to the same range as numbers (no negative epoch ms)',
    () => {
      assert.equal(parseEventTime('1969-12-31 23:59:59 UTC'), null);
      assert.equal(parseEventTime('1969-12-31T23:59:59.999Z'), null);
      assert.equal(parseEventTime('0019-10-01 00:00:00 UTC'), null);
    },
  );
});

describe('eventSchema', () => {
  test('a REES46-shaped event parses, with eventTime normalised', () => {
    const r = eventSchema.safeParse(valid());
    assert.ok(r.success, r.success ? '' : describeIssues(r.error));
    assert.equal(r.data.eventTime, OCT_1);
    assert.equal(r.data.categoryCode, '');
  });

  test('every accepted eventTime form gives the same parsed event', () => {
    const forms = [OCT_1, '2019-10-01T00:00:00Z', '2019-10-01T03:00:00+03:00', '2019-10-01 00:00:00 UTC'];
    const parsed = forms.map((eventTime) => eventSchema.parse(valid({ eventTime })));
    for (const p of parsed) assert.deepEqual(p, parsed[0]);
  });

  test('invalid eventTimes are rejected with a reason naming eventTime', () => {
    for (const eventTime of ['2019-02-30 00:00:00 UTC', '2019-10-01 25:00:00 UTC', 'yesterday', '', -1, -OCT_1, Number.NaN, null, true]) {
      const reason = reasonOf(valid({ eventTime }));
      assert.match(reason, /eventTime/, `${String(eventTime)}: ${reason}`);
    }
  });

  test('numeric ids are coerced to strings', () => {
    const r = eventSchema.parse(valid({ productId: 44600062, categoryId: 2053013552, userId: 541312140 }));
    assert.equal(r.productId, '44600062');
    assert.equal(r.categoryId, '2053013552');
    assert.equal(r.userId, '541312140');
    assert.equal(typeof r.productId, 'string');
  });

  test('ids that are not non-negative integers are rejected', () => {
    assert.match(reasonOf(valid({ productId: 1.5 })), /productId/);
    assert.match(reasonOf(valid({ productId: -3 })), /productId/);
    assert.match(reasonOf(valid({ userId: 12345678901234567890 })), /userId/);
    assert.match(reasonOf(valid({ productId: '' })), /productId/);
  });

  test('optional fields may be left out', () => {
    const { categoryId, categoryCode, brand, userSession, ...minimal } = valid();
    void categoryId; void categoryCode; void brand; void userSession;
    const r = eventSchema.parse(minimal);
    assert.deepEqual(Object.keys(r).sort(), ['eventTime', 'eventType', 'price', 'productId', 'userId']);
  });

  test('unknown fields are rejected with a reason naming the field', () => {
    const reason = reasonOf(valid({ discount: 5 }));
    assert.match(reason, /unknown field/);
    assert.match(reason, /discount/);
    const two = reasonOf(valid({ foo: 1, bar: 2 }));
    assert.match(two, /foo/);
    assert.match(two, /bar/);
    // snake_case REES46 names are not our contract
    assert.match(reasonOf(valid({ event_time: '2019-10-01 00:00:00 UTC' })), /event_time/);
  });

  test('wrong types are rejected with a reason naming the path', () => {
    assert.match(reasonOf(valid({ price: '35.79' })), /^price: /);
    assert.match(reasonOf(valid({ price: -0.01 })), /^price: /);
    assert.match(reasonOf(valid({ price: Number.POSITIVE_INFINITY })), /price/);
    const { userId, ...noUser } = valid();
    void userId;
    assert.match(reasonOf(noUser), /^userId: /);
    assert.match(reasonOf(valid({ eventType: 'VIEW!' })), /^eventType: /);
    assert.match(reasonOf(valid({ eventType: 'View' })), /eventType/);
    assert.match(reasonOf(valid({ eventType: '' })), /eventType/);
    assert.match(reasonOf(valid({ userId: 'a.b' })), /userId/); // would break the subject
    assert.match(reasonOf(valid({ userId: 'a b' })), /userId/);
    assert.match(reasonOf(valid({ brand: 7 })), /^brand: /);
    assert.match(reasonOf(valid({ categoryCode: null })), /categoryCode/);
  });

  test('several problems are all reported', () => {
    const reason = reasonOf(valid({ price: 'x', eventType: 'VIEW!', extra: true }));
    assert.match(reason, /price/);
    assert.match(reason, /eventType/);
    assert.match(reason, /extra/);
  });

  test('non-standard lowercase event types pass through', () => {
    assert.equal(eventSchema.parse(valid({ eventType: 'wishlist_add' })).eventType, 'wishlist_add');
  });

  test('the input type accepts what the CSV reader produces', () => {
    const input: NudgeEventInput = { eventTime: '2019-10-01 00:00:00 UTC', eventType: 'view', productId: '1', price: 0, userId: '2', categoryCode: '' };
    assert.equal(eventSchema.parse(input).price, 0);
  });
});

describe('decodeEvent', () => {
  test('a valid event decodes to ok:true', () => {
    const d = decodeEvent(bytes(JSON.stringify(valid())), expect());
    assert.ok(d.ok);
    assert.equal(d.event.eventTime, OCT_1);
    assert.equal(d.event.userId, '541312140');
  });

  test('numeric userId in the body matches the subject token', () => {
    const d = decodeEvent(bytes(JSON.stringify(valid({ userId: 541312140 }))), expect());
    assert.ok(d.ok);
  });

  test('invalid JSON', () => {
    assert.match(decodeFails(bytes('{"eventTime":')), /invalid JSON/);
    assert.match(decodeFails(bytes('')), /invalid JSON/);
    assert.match(decodeFails(bytes("{'a':1}")), /invalid JSON/);
  });

  test('invalid UTF-8', () => {
    assert.match(decodeFails(new Uint8Array([0xff, 0xfe])), /UTF-8/);
    // a valid JSON prefix followed by a lone continuation byte
    const good = bytes(JSON.stringify(valid()));
    const bad = new Uint8Array(good.length + 1);
    bad.set(good.subarray(0, good.length - 1));
    bad[good.length - 1] = 0x80;
    bad[good.length] = 0x7d;
    assert.match(decodeFails(bad), /UTF-8/);
  });

  test('JSON that is not an object', () => {
    for (const s of ['[]', '[{"eventType":"view"}]', 'null', '42', '"view"', 'true']) {
      assert.match(decodeFails(bytes(s)), /JSON object/, s);
    }
  });

  test('payload over maxBytes is refused before parsing; exactly maxBytes is fine', () => {
    const body = JSON.stringify(valid());
    const exact = body.slice(0, -1) + ' '.repeat(MB - body.length) + '}';
    assert.equal(bytes(exact).byteLength, MB);
    assert.ok(decodeEvent(bytes(exact), expect()).ok);
    const over = new Uint8Array(MB + 1).fill(0x20);
    assert.match(decodeFails(over), /too large/);
    assert.match(decodeFails(over), new RegExp(String(MB)));
  });

  test('schema errors come back as reasons', () => {
    assert.match(decodeFails(bytes(JSON.stringify(valid({ price: '1' })))), /invalid event: .*price/);
    assert.match(decodeFails(bytes(JSON.stringify(valid({ color: 'red' })))), /unknown field.*color/);
    assert.match(decodeFails(bytes(JSON.stringify(valid({ eventTime: '2019-02-30 00:00:00 UTC' })))), /eventTime/);
  });

  test('subject/body mismatch for eventType and userId', () => {
    const cart = bytes(JSON.stringify(valid({ eventType: 'cart' })));
    const r1 = decodeFails(cart);
    assert.match(r1, /mismatch/);
    assert.match(r1, /eventType/);
    const other = bytes(JSON.stringify(valid({ userId: '999' })));
    const r2 = decodeFails(other);
    assert.match(r2, /mismatch/);
    assert.match(r2, /userId/);
  });

  test('deeply nested values in a field are rejected, not a stack overflow', () => {
    const depth = 100_000;
    const nestedObj = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    const nestedArr = '['.repeat(depth) + ']'.repeat(depth);
    const base = JSON.stringify(valid()).slice(0, -1);
    assert.match(decodeFails(bytes(`${base},"brand2":${nestedObj}}`)), /brand2/);
    assert.match(decodeFails(bytes(`${base.replace('"brand":"shiseido",', '')},"brand":${nestedObj}}`)), /brand/);
    assert.match(decodeFails(bytes(`${base.replace('"price":35.79,', '')},"price":${nestedArr}}`)), /price/);
    assert.match(decodeFails(bytes(`{"eventTime":${nestedArr}}`)), /eventTime/);
  });

  test('prototype-looking keys are plain unknown fields', () => {
    const base = JSON.stringify(valid()).slice(0, -1);
    assert.match(decodeFails(bytes(`${base},"__proto__":{"price":1}}`)), /__proto__/);
    assert.match(decodeFails(bytes(`${base},"constructor":1}`)), /constructor/);
  });

  test('never throws on random bytes', () => {
    let s = 0x2545f491;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 300; i++) {
      const data = new Uint8Array(1 + (i % 64)).map(() => rnd());
      assert.doesNotThrow(() => decodeEvent(data, expect()));
    }
  });
});
