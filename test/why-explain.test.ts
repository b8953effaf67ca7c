import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventRef } from '../actors/index.js';
import { compilePatternText, type CompiledPattern } from '../src/cep/index.js';
import { PROJECT_ROOT } from '../src/nats/index.js';
import { explainWhy, splitAnd } from '../src/service/index.js';

// `nudge actor why`'s explainer on its own (no NATS): absences settled by the partition's
// watermark, a negation that breaks a match, the time limit, a cap holding a match back.

const T0 = Date.parse('2019-10-01T00:00:00Z');
const MIN = 60_000;

function pattern(id: string): CompiledPattern {
  const r = compilePatternText(readFileSync(join(PROJECT_ROOT, 'patterns', `${id}.json`), 'utf8'));
  assert.ok(r.ok);
  return r.pattern;
}

let seq = 0;
const ev = (type: string, minute: number, o: { product?: string; price?: number; category?: string } = {}) =>
  new EventRef(++seq, T0 + minute * MIN, type, o.product ?? 'p1', o.category ?? 'c1', '', '', o.price ?? 100, 's1');

test('an absence completes when the partition watermark passes its deadline; the action id is the absence id', () => {
  const cart = ev('cart', 0, { price: 300 });
  const r = explainWhy({ pattern: pattern('cart-abandonment'), userId: 'u1', events: [cart], maxOutOfOrderMs: 5_000, partitionWatermark: T0 + 31 * MIN });
  assert.equal(r.steps[0]!.start!.outcome, 'started');
  assert.equal(r.after.length, 1);
  assert.equal(r.after[0]!.outcome, 'completed');
  assert.equal(r.completions[0]!.actionId, `cart-abandonment:1:u1:${cart.seq}-${cart.seq}`);
  assert.equal(r.verdict.completed, true);

  // Without the partition's time the run waits, and the verdict says until when.
  const waiting = explainWhy({ pattern: pattern('cart-abandonment'), userId: 'u1', events: [cart], maxOutOfOrderMs: 5_000 });
  assert.equal(waiting.verdict.completed, false);
  assert.match(waiting.verdict.summary, /waits for time to pass its deadline with no "purchase"/);
  assert.ok(waiting.verdict.details.some((d) => d.includes('completes at 2019-10-01T00:30:00Z unless a forbidden event comes first')));
});

test('a purchase within the time limit breaks the absence, and the verdict names it', () => {
  const r = explainWhy({ pattern: pattern('cart-abandonment'), userId: 'u1', events: [ev('cart', 0, { price: 300 }), ev('purchase', 10, { price: 300 })], maxOutOfOrderMs: 5_000, partitionWatermark: T0 + 60 * MIN });
  const note = r.steps[1]!.runs[0]!;
  assert.equal(note.outcome, 'blocked');
  assert.match(note.text, /the absence is broken: "purchase" \(eventType == purchase\) happened within the time limit/);
  assert.equal(r.verdict.completed, false);
  assert.match(r.verdict.summary, /the furthest partial match \(#\d+\) reached stage "cart" \(1 of 1\) and the absence is broken/);
});

test('a run past its time limit is dropped with the reason; a cap holds a second match back', () => {
  const p = pattern('repeat-category');
  // 40 minutes on, the watermark has passed the run's deadline before the event is applied.
  const later = explainWhy({ pattern: p, userId: 'u1', events: [ev('view', 0), ev('view', 40)], maxOutOfOrderMs: 5_000 });
  assert.equal(later.steps[1]!.runs.length, 0);
  assert.deepEqual(later.steps[1]!.time.map((t) => t.outcome), ['expired']);
  assert.match(later.steps[1]!.time[0]!.text, /ran out of time: its time limit \(within 30m\) ended at 2019-10-01T00:30:00Z/);
  // Just past the limit, within the allowed out-of-orderness: the event itself finds the run too old.
  const just = explainWhy({ pattern: p, userId: 'u1', events: [ev('view', 0), ev('view', 30.05)], maxOutOfOrderMs: 5_000 });
  const expired = just.steps[1]!.runs[0]!;
  assert.equal(expired.outcome, 'expired');
  assert.match(expired.text, /outside the time limit: this event is 30m 3s from the match's first event, the pattern allows less than 30m/);

  const six = [0, 1, 2, 3, 4, 5].map((m) => ev('view', m, { product: `p${m}` }));
  const capped = explainWhy({ pattern: p, userId: 'u1', events: six, maxOutOfOrderMs: 5_000 });
  const sent = capped.completions.filter((c) => c.capped === null);
  const held = capped.completions.filter((c) => c.capped !== null);
  assert.equal(sent.length, 1, 'one coupon per category per 30 minutes');
  assert.ok(held.length >= 1);
  assert.match(held[0]!.capped!, /the pattern's cap \(at most 1 per 30m per categoryOf\(first\.view\) = "c1"\) was reached/);
  assert.match(capped.verdict.summary, /^fired once: action coupon \(\d+ more held back by a cap\)/);
});

test('splitAnd splits on top-level && only', () => {
  assert.deepEqual(splitAnd('a == 1 && (b && c) && d == "x && y"'), ['a == 1', '(b && c)', 'd == "x && y"']);
  assert.deepEqual(splitAnd('event.price > 1.0'), ['event.price > 1.0']);
});
