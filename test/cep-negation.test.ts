import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPattern, ref, type TestEvent } from './support/cep.js';
import { compilePattern, newPatternState, onEvent, onTime, PatternError, type Match } from '../src/cep/index.js';

/**
 * Negation: notNext and notFollowedBy between two positive stages, a trailing notFollowedBy as
 * absence (fires when time reaches first + within), and where a negation may not stand.
 * Events are labels: the type is the label without trailing digits, 1 s apart unless `@<ms>`.
 */

function evs(spec: string): TestEvent[] {
  return spec.split(/\s+/).map((tok, i) => {
    const [label, at] = tok.split('@') as [string, string | undefined];
    return { product: label, type: label.replace(/\d+$/, ''), t: at === undefined ? i * 1000 : Number(at) };
  });
}

const pattern = (stages: unknown[], extra: Record<string, unknown> = {}) => ({ id: 'n', version: 1, stages, action: { type: 't' }, ...extra });
const labels = (stages: unknown[], events: string, extra: Record<string, unknown> = {}, until?: number) =>
  runPattern(pattern(stages, extra), evs(events), { until }).labels.map((m) => m.join(' '));

const a = { name: 'a', eventType: 'a' };
const b = { name: 'b', eventType: 'b' };
const notNextX = { name: 'x', eventType: 'x', contiguity: 'notNext' };
const notFollowedByX = { name: 'x', eventType: 'x', contiguity: 'notFollowedBy' };

test('notNext in the middle: only the event right after a is forbidden', () => {
  const stages = [a, notNextX, b];
  assert.deepEqual(labels(stages, 'a x b'), []);
  assert.deepEqual(labels(stages, 'a y x b'), ['a b']);
  assert.deepEqual(labels(stages, 'a b'), ['a b']);
  // a1 is ruled out by x; a2 starts afresh.
  assert.deepEqual(labels(stages, 'a1 x a2 b'), ['a2 b']);
});

test('notFollowedBy in the middle: no x anywhere between a and b', () => {
  const stages = [a, notFollowedByX, b];
  assert.deepEqual(labels(stages, 'a y x b'), []);
  assert.deepEqual(labels(stages, 'a x b'), []);
  assert.deepEqual(labels(stages, 'a y b'), ['a b']);
  // After b the negation no longer applies.
  assert.deepEqual(labels(stages, 'a b x'), ['a b']);
  assert.deepEqual(labels(stages, 'a1 x a2 b'), ['a2 b']);
});

test('notFollowedBy before a followedByAny stage: b events after the x are out', () => {
  assert.deepEqual(labels([a, notFollowedByX, { ...b, contiguity: 'followedByAny' }], 'a b1 x b2'), ['a b1']);
});

test('notFollowedBy after a looping stage counts from the loop last event', () => {
  const stages = [{ ...a, oneOrMore: true }, notFollowedByX, b];
  // x comes before a2, the last a of the a1 run: it does not stand between a and b.
  assert.deepEqual(labels(stages, 'a1 x a2 b'), ['a1 a2 b', 'a2 b']);
  assert.deepEqual(labels(stages, 'a1 a2 x b'), []);
});

test('negation conditions can read earlier stages', () => {
  // Forbidden: a cheaper event of the same type between a and b.
  const stages = [
    { name: 'a', eventType: 'v' },
    { name: 'cheaper', eventType: 'v', contiguity: 'notFollowedBy', where: 'event.price < first.a.price' },
    { name: 'b', eventType: 'c' },
  ];
  const events = (middlePrice: number): TestEvent[] => [
    { product: 'a', type: 'v', price: 100, t: 0 },
    { product: 'm', type: 'v', price: middlePrice, t: 1000 },
    { product: 'b', type: 'c', price: 100, t: 2000 },
  ];
  // The middle view at 120 is not cheaper: a b (and m b: m starts its own run).
  assert.deepEqual(runPattern(pattern(stages), events(120)).labels, [['a', 'b'], ['m', 'b']]);
  // At 80 it is: the a run dies; m starts its own run, which nothing forbids.
  assert.deepEqual(runPattern(pattern(stages), events(80)).labels, [['m', 'b']]);
});

// ---- trailing notFollowedBy: absence decided at first + within ----

const absence = [a, notFollowedByX];
const WITHIN = { within: '10s' };

test('trailing notFollowedBy fires at the deadline, with the deadline as its time', () => {
  const r = runPattern(pattern(absence, WITHIN), evs('a@0'), { until: 10_000 });
  assert.deepEqual(r.labels, [['a']]);
  assert.equal(r.matches[0]!.timeout, true);
  assert.equal(r.matches[0]!.eventTime, 10_000);
  assert.equal(r.state.runs.size, 0);
});

test('trailing notFollowedBy: nothing before the deadline', () => {
  const r = runPattern(pattern(absence, WITHIN), evs('a@0'), { until: 9_999 });
  assert.deepEqual(r.labels, []);
  assert.equal(r.state.runs.get('')?.length, 1, 'still waiting');
});

test('trailing notFollowedBy: other events do not matter', () => {
  assert.deepEqual(labels(absence, 'a@0 y@3000 a2@4000', WITHIN, 20_000), ['a', 'a2']);
});

test('trailing notFollowedBy: a forbidden event before the deadline prevents the match', () => {
  assert.deepEqual(labels(absence, 'a@0 x@5000', WITHIN, 20_000), []);
  assert.deepEqual(labels(absence, 'a@0 x@9999', WITHIN, 20_000), []);
});

test('trailing notFollowedBy: a forbidden event at or after the deadline does not prevent it', () => {
  assert.deepEqual(labels(absence, 'a@0 x@10000', WITHIN, 20_000), ['a']);
  // No `until`: the late x moves time past the deadline, which fires first.
  const r = runPattern(pattern(absence, WITHIN), evs('a@0 x@12000'));
  assert.deepEqual(r.labels, [['a']]);
  assert.equal(r.matches[0]!.eventTime, 10_000);
});

test('trailing notFollowedBy: an x at the deadline fed before time moves still does not cancel it', () => {
  // The actor normally calls onTime first; if the event comes first, the run (already out of its
  // window) is kept for the deadline to decide.
  const p = compilePattern(pattern(absence, WITHIN));
  const state = newPatternState(1);
  const out: Match[] = [];
  const stats = { startsSkipped: 0, runsDropped: 0 };
  onEvent(p, state, ref({ t: 0, type: 'a', product: 'a' }, 0), out, stats);
  onEvent(p, state, ref({ t: 10_000, type: 'x', product: 'x' }, 1), out, stats);
  assert.equal(out.length, 0);
  onTime(p, state, 10_000, out);
  assert.deepEqual(out.map((m) => [m.run.ev.map((e) => e.productId), m.eventTime, m.timeout]), [[['a'], 10_000, true]]);
});

test('trailing notFollowedBy: each start has its own deadline; an x cancels only the runs it falls inside', () => {
  // a1's deadline is 10000 (fires before x at 12000); a2's is 14000 and x at 12000 cancels it.
  assert.deepEqual(labels(absence, 'a1@0 a2@4000 x@12000', WITHIN, 30_000), ['a1']);
});

test('trailing notFollowedBy after a looping stage: the run keeps all its events', () => {
  const stages = [{ ...a, oneOrMore: true }, notFollowedByX];
  const r = runPattern(pattern(stages, WITHIN), evs('a1@0 a2@1000'), { until: 30_000 });
  // Deadlines 10000 (start a1) and 11000 (start a2).
  assert.deepEqual(r.labels, [['a1', 'a2'], ['a2']]);
  assert.deepEqual(r.matches.map((m) => m.eventTime), [10_000, 11_000]);
});

// ---- where a negation may stand ----

function problems(p: unknown): Array<{ path: string; message: string }> {
  try {
    compilePattern(p);
  } catch (e) {
    assert.ok(e instanceof PatternError);
    return e.problems;
  }
  assert.fail('expected a PatternError');
}

test('a pattern cannot start with a negation', () => {
  assert.deepEqual(problems(pattern([notNextX, b])), [{ path: 'stages.0.contiguity', message: 'a pattern cannot start with a negation' }]);
  assert.deepEqual(problems(pattern([notFollowedByX, b])), [{ path: 'stages.0.contiguity', message: 'a pattern cannot start with a negation' }]);
});

test('notNext cannot end a pattern', () => {
  assert.deepEqual(problems(pattern([a, notNextX], WITHIN)), [
    { path: 'stages.1.contiguity', message: 'notNext cannot end a pattern (use notFollowedBy with a time limit for absence)' },
  ]);
});

test('a trailing notFollowedBy needs within', () => {
  assert.deepEqual(problems(pattern([a, notFollowedByX])), [
    { path: 'stages.1.contiguity', message: 'a pattern that ends in notFollowedBy needs `within`: the absence is decided when that time passes' },
  ]);
  // With within it compiles.
  assert.equal(compilePattern(pattern([a, notFollowedByX], WITHIN)).endGuards.length, 1);
});

test('a negation takes no quantifier or gap limit', () => {
  assert.deepEqual(problems(pattern([a, { ...notFollowedByX, times: 2 }, b])), [
    { path: 'stages.1.times', message: 'a negation (notFollowedBy) takes no quantifier or limit' },
  ]);
  assert.deepEqual(problems(pattern([a, { ...notNextX, within: '5s' }, b])), [
    { path: 'stages.1.within', message: 'a negation (notNext) takes no quantifier or limit' },
  ]);
});

test('a negation cannot be skipped to', () => {
  assert.deepEqual(problems(pattern([a, notFollowedByX, b], { skip: { skipToLast: 'x' } })), [
    { path: 'skip.skipToLast', message: 'no stage named "x" (a negation cannot be skipped to)' },
  ]);
});
