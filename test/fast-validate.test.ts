import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eventSchema, fastValidateEvent, generateSample, sampleRowToEvent, splitCsvLine, rees46RowToEvent, REES46_COLUMNS } from '../src/events/index.js';
import { SHARED_SAMPLE } from './support/harness.js';
import { prng } from './support/prng.js';

// The hand-written fast path must never accept what zod refuses, and must normalise identically.
function agree(input: unknown, label: string): 'fast' | 'zod' {
  const fast = fastValidateEvent(input as Record<string, unknown>);
  const zod = eventSchema.safeParse(input);
  if (fast === undefined) return 'zod';
  assert.ok(zod.success, `${label}: fast path accepted what zod refuses: ${JSON.stringify(input)}`);
  assert.deepEqual(fast, zod.data, label);
  return 'fast';
}

const real: Record<string, unknown>[] = [];
for (const line of readFileSync(SHARED_SAMPLE, 'utf8').split('\n').slice(1, 3001)) {
  const fields = splitCsvLine(line);
  const e = fields && rees46RowToEvent(fields, REES46_COLUMNS);
  if (e && typeof e === 'object') real.push(JSON.parse(JSON.stringify(e)) as Record<string, unknown>);
}
for (const r of generateSample({ users: 100, seed: 9 })) real.push(sampleRowToEvent(r));

test('valid events take the fast path and normalise exactly like zod', () => {
  let fast = 0;
  for (const [i, e] of real.entries()) if (agree(e, `event ${i}`) === 'fast') fast++;
  assert.equal(fast, real.length, 'every well-formed event is handled without zod');
  agree({ ...real[0], eventTime: 1569888000000, productId: 5, userId: 42, categoryId: 7, eventId: 'e-1' }, 'numeric forms');
  agree({ ...real[0], eventTime: '2019-10-01T00:00:00+02:00' }, 'ISO with offset');
});

const hostile: unknown[] = [
  -1, 1e400, NaN, Infinity, '', ' ', 'x'.repeat(300), null, true, [], {}, { a: 1 }, 2 ** 60, 1.5, -0, '0', 'VIEW', 'view!', 'u 1', 'ü', '2019-02-30 00:00:00 UTC',
  '2019-10-01T24:00:00Z', '1969-12-31 23:59:59 UTC', undefined,
];
const fields = ['eventId', 'eventTime', 'eventType', 'productId', 'categoryId', 'categoryCode', 'brand', 'price', 'userId', 'userSession', 'extra', '__proto__'];

test('mutated events: whatever the fast path accepts, zod accepts identically', () => {
  const rnd = prng(17);
  let viaZod = 0;
  for (let i = 0; i < 20_000; i++) {
    const e: Record<string, unknown> = { ...real[Math.floor(rnd() * real.length)]! };
    const n = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < n; k++) {
      const f = fields[Math.floor(rnd() * fields.length)]!;
      if (rnd() < 0.2) delete e[f];
      else e[f] = hostile[Math.floor(rnd() * hostile.length)];
    }
    if (agree(e, `mutation ${i}`) === 'zod') viaZod++;
  }
  assert.ok(viaZod > 10_000, 'most mutations are left to zod');
});
