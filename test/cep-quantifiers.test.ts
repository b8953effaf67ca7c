import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPattern, type TestEvent } from './support/cep.js';

/**
 * Stage quantifiers: times, times [n,m], oneOrMore, timesOrMore, optional, greedy, until,
 * consecutive / relaxed / allowCombinations. Every case lists the exact matches, in emission
 * order, as the events' labels (carried as product ids).
 *
 * Events are written as labels: the event type is the label without its trailing digits
 * ("a2" is an `a`), 1 s apart unless a label says `@<ms>`.
 *
 * One deliberate difference from Flink CEP runs through these cases: for each start, a looping
 * stage gives the match with ALL its events up to the completing one. Flink's noSkip would also
 * emit every shorter prefix (for `a+ b` on "a1 a2 a3 b": {a1 b}, {a1 a2 b}, {a1 a2 a3 b}, ...);
 * here the start a1 gives only {a1 a2 a3 b}.
 */

function evs(spec: string): TestEvent[] {
  return spec.split(/\s+/).map((tok, i) => {
    const [label, at] = tok.split('@') as [string, string | undefined];
    return { product: label, type: label.replace(/\d+$/, ''), t: at === undefined ? i * 1000 : Number(at) };
  });
}

const pattern = (stages: unknown[], extra: Record<string, unknown> = {}) => ({ id: 'q', version: 1, stages, action: { type: 't' }, ...extra });
const labels = (stages: unknown[], events: string, extra: Record<string, unknown> = {}) => runPattern(pattern(stages, extra), evs(events)).labels.map((m) => m.join(' '));

const a = { name: 'a', eventType: 'a' };
const b = { name: 'b', eventType: 'b' };
const c = { name: 'c', eventType: 'c' };

test("the README's quantifier examples: a1 a2 a3 b with a quantified a, then b", () => {
  const q = (quantifier: Record<string, unknown>) => labels([{ ...a, ...quantifier }, b], 'a1 a2 a3 b');
  assert.deepEqual(q({ times: 2 }), ['a1 a2 b', 'a2 a3 b']);
  assert.deepEqual(q({ oneOrMore: true }), ['a1 a2 a3 b', 'a2 a3 b', 'a3 b']);
  assert.deepEqual(q({ timesOrMore: 3 }), ['a1 a2 a3 b']);
  // Optional a: each a with b, and b alone.
  assert.deepEqual(q({ optional: true }), ['a1 b', 'a2 b', 'a3 b', 'b']);
});

test('times: 3 exactly, skipping other events in between (relaxed); one start that never gets 3 gives nothing', () => {
  // a1: a2, (x skipped), a3 -> done. a2: a3, a4 -> done. a3 and a4 only reach 2.
  assert.deepEqual(labels([{ ...a, times: 3 }], 'a1 a2 x a3 a4'), ['a1 a2 a3', 'a2 a3 a4']);
  assert.deepEqual(labels([{ ...a, times: 3 }], 'a1 x a2'), []);
});

test('times: [2, 3] alone emits at 2 and again at 3; a full loop takes no more', () => {
  assert.deepEqual(labels([{ ...a, times: [2, 3] }], 'a1 a2 a3'), ['a1 a2', 'a1 a2 a3', 'a2 a3']);
  // Followed by b: the a1 run is full after a3 and skips a4 on its way to b; a4 alone is below 2.
  assert.deepEqual(labels([{ ...a, times: [2, 3] }, b], 'a1 a2 a3 a4 b'), ['a1 a2 a3 b', 'a2 a3 a4 b', 'a3 a4 b']);
});

test('oneOrMore as the last stage emits at every event it takes', () => {
  assert.deepEqual(labels([{ ...a, oneOrMore: true }], 'a1 a2'), ['a1', 'a1 a2', 'a2']);
});

test('oneOrMore before b: one match per start, with all its a events (Flink noSkip would add the shorter prefixes)', () => {
  // Flink: {a1 b} {a1 a2 b} {a1 a2 a3 b} {a2 b} {a2 a3 b} {a3 b}. Here: the longest per start.
  assert.deepEqual(labels([{ ...a, oneOrMore: true }, b], 'a1 a2 a3 b'), ['a1 a2 a3 b', 'a2 a3 b', 'a3 b']);
  // Skip-till-next inside the loop: x is skipped, a2 must be taken (never {a1 b}).
  assert.deepEqual(labels([{ ...a, oneOrMore: true }, b], 'a1 x a2 b'), ['a1 a2 b', 'a2 b']);
});

test('oneOrMore in the middle: the documented Flink example a b+ c on "a b1 d1 b2 d2 b3 c"', () => {
  // Flink's relaxed result lists {a b1 c} {a b1 b2 c} {a b1 b2 b3 c} (and, from its looping-state
  // quirk, {a b2 c} {a b2 b3 c} {a b3 c}); here the single start gives the one full match.
  assert.deepEqual(labels([{ name: 'a', eventType: 'a' }, { ...b, oneOrMore: true }, c], 'a b1 d1 b2 d2 b3 c'), ['a b1 b2 b3 c']);
});

test('timesOrMore: 2 before b; an early b is skipped while the minimum is not reached', () => {
  assert.deepEqual(labels([{ ...a, timesOrMore: 2 }, b], 'a1 a2 a3 b'), ['a1 a2 a3 b', 'a2 a3 b']);
  // a1 has 1 < 2 at the first b: that b cannot close the loop, so it is skipped like any other event.
  assert.deepEqual(labels([{ ...a, timesOrMore: 2 }, b], 'a1 b1 a2 b2'), ['a1 a2 b2']);
});

test('optional middle stage: taken when there, skipped when not', () => {
  const stages = [a, { ...b, optional: true }, c];
  assert.deepEqual(labels(stages, 'a x c'), ['a c']);
  // Both branches: with b, and without it (skip-till-next for c ignores b, which is not a c).
  // Flink gives the same two matches.
  assert.deepEqual(labels(stages, 'a b c'), ['a b c', 'a c']);
});

test('optional with times: 0 or exactly the count, never a partial count', () => {
  const stages = [a, { ...b, times: 2, optional: true }, c];
  assert.deepEqual(labels(stages, 'a b1 c'), ['a c']);
  assert.deepEqual(labels(stages, 'a b1 b2 c'), ['a b1 b2 c', 'a c']);
});

test('optional first stage: an event of the second stage also starts a match on its own', () => {
  const stages = [{ ...a, optional: true }, b];
  assert.deepEqual(labels(stages, 'a b'), ['a b', 'b']);
  assert.deepEqual(labels(stages, 'x b'), ['b']);
  assert.deepEqual(labels(stages, 'a x'), []);
});

test('greedy vs non-greedy on the same events: who takes an event both stages accept', () => {
  // Stage a takes views; stage b takes anything priced above 50. v2 (a view at 60) fits both.
  const events: TestEvent[] = [
    { product: 'v1', type: 'view', price: 10, t: 0 },
    { product: 'v2', type: 'view', price: 60, t: 1000 },
    { product: 'c3', type: 'cart', price: 70, t: 2000 },
  ];
  const stages = (greedy: boolean) => [
    { name: 'a', eventType: 'view', oneOrMore: true, ...(greedy ? { greedy: true } : {}) },
    { name: 'b', where: 'event.price > 50.0' },
  ];
  // Non-greedy: v2 both continues a and completes b ({v1 | v2}), then c3 completes the longer run.
  const lazy = runPattern(pattern(stages(false)), events);
  assert.deepEqual(lazy.labels, [['v1', 'v2'], ['v1', 'v2', 'c3'], ['v2', 'c3']]);
  assert.deepEqual(lazy.matches[0]!.run.st, [0, 1], 'v2 is the b of the first match');
  assert.deepEqual(lazy.matches[1]!.run.st, [0, 0, 1]);
  // Greedy: a keeps v2, so b can only be c3.
  const greedy = runPattern(pattern(stages(true)), events);
  assert.deepEqual(greedy.labels, [['v1', 'v2', 'c3'], ['v2', 'c3']]);
});

test('greedy yields to the next stage when the loop cannot take the event (consecutive broken)', () => {
  // a1 a2, then x breaks the consecutive loop: a3 matches a but cannot be taken, so the run moves
  // on to b instead of dying. Same result as without greedy.
  const stages = (greedy: boolean) => [{ ...a, oneOrMore: true, consecutive: true, ...(greedy ? { greedy: true } : {}) }, b];
  assert.deepEqual(labels(stages(true), 'a1 a2 x a3 b'), ['a1 a2 b', 'a2 b', 'a3 b']);
  assert.deepEqual(labels(stages(false), 'a1 a2 x a3 b'), ['a1 a2 b', 'a2 b', 'a3 b']);
});

test('until: the stop event closes the loop and later events of the stage are not taken', () => {
  const v = { name: 'v', eventType: 'v', oneOrMore: true };
  const until = { ...v, until: 'event.eventType == "p"' };
  // v1 v2 | p3 closes | v4 would have been taken without until.
  assert.deepEqual(labels([until, c], 'v1 v2 p3 v4 c5'), ['v1 v2 c5', 'v2 c5', 'v4 c5']);
  assert.deepEqual(labels([v, c], 'v1 v2 p3 v4 c5'), ['v1 v2 v4 c5', 'v2 v4 c5', 'v4 c5']);
});

test('until below the minimum kills the run', () => {
  const stages = [{ name: 'v', eventType: 'v', timesOrMore: 2, until: 'event.eventType == "p"' }, c];
  // v1 has 1 < 2 when p2 comes: gone. v3 v4 then c5.
  assert.deepEqual(labels(stages, 'v1 p2 v3 v4 c5'), ['v3 v4 c5']);
  assert.deepEqual(labels(stages, 'v1 v2 p3 c4'), ['v1 v2 c4']);
});

test('until: the stop event is offered to the next stage', () => {
  const stages = [{ name: 'v', eventType: 'v', oneOrMore: true, until: 'event.eventType == "p"' }, { name: 'p', eventType: 'p' }];
  assert.deepEqual(labels(stages, 'v1 v2 p3'), ['v1 v2 p3', 'v2 p3']);
});

test('inner contiguity on the same events: relaxed (default) vs consecutive vs allowCombinations', () => {
  const events = 'a1 x a2 a3 b';
  // Relaxed (skip-till-next): x is skipped, every later a is taken.
  assert.deepEqual(labels([{ ...a, oneOrMore: true }, b], events), ['a1 a2 a3 b', 'a2 a3 b', 'a3 b']);
  // Consecutive: x ends a1's loop; a2 and a3 cannot join it, so a1 goes straight to b.
  assert.deepEqual(labels([{ ...a, oneOrMore: true, consecutive: true }, b], events), ['a1 b', 'a2 a3 b', 'a3 b']);
  // allowCombinations (skip-till-any): every subset of the later a's, per start.
  assert.deepEqual(labels([{ ...a, oneOrMore: true, allowCombinations: true }, b], events), [
    'a1 a2 a3 b',
    'a1 a2 b',
    'a1 a3 b',
    'a1 b',
    'a2 a3 b',
    'a2 b',
    'a3 b',
  ]);
});

test("Flink's consecutive() example: C D A1 A2 A3 D A4 B", () => {
  const events: TestEvent[] = 'C D A1 A2 A3 D A4 B'.split(' ').map((l, i) => ({ product: l, type: l[0]!, t: i * 1000 }));
  const stages = (inner: Record<string, true>) => [{ name: 'c', eventType: 'C' }, { name: 'a', eventType: 'A', oneOrMore: true, ...inner }, { name: 'b', eventType: 'B' }];
  // Flink: consecutive {C A1 B} {C A1 A2 B} {C A1 A2 A3 B}; relaxed adds {C A1 A2 A3 A4 B}.
  // Here: the longest of each.
  assert.deepEqual(runPattern(pattern(stages({ consecutive: true })), events).labels, [['C', 'A1', 'A2', 'A3', 'B']]);
  assert.deepEqual(runPattern(pattern(stages({})), events).labels, [['C', 'A1', 'A2', 'A3', 'A4', 'B']]);
});

test('consecutive times: a gap below the count kills the run', () => {
  assert.deepEqual(labels([{ ...a, times: 3, consecutive: true }], 'a1 a2 x a3 a4 a5'), ['a3 a4 a5']);
  assert.deepEqual(labels([{ ...a, times: 3 }], 'a1 a2 x a3 a4 a5'), ['a1 a2 a3', 'a2 a3 a4', 'a3 a4 a5']);
});
