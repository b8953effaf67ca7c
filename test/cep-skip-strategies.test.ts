import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPattern, type TestEvent } from './support/cep.js';

/**
 * After-match skip strategies on the same input, with the exact output of each:
 * noSkip, skipToNext, skipPastLastEvent, {skipToFirst: stage}, {skipToLast: stage}.
 * Events are labels: the type is the label without trailing digits, 1 s apart unless `@<ms>`.
 */

function evs(spec: string): TestEvent[] {
  return spec.split(/\s+/).map((tok, i) => {
    const [label, at] = tok.split('@') as [string, string | undefined];
    return { product: label, type: label.replace(/\d+$/, ''), t: at === undefined ? i * 1000 : Number(at) };
  });
}

const pattern = (stages: unknown[], skip: unknown, extra: Record<string, unknown> = {}) => ({ id: 's', version: 1, skip, stages, action: { type: 't' }, ...extra });
const labels = (stages: unknown[], skip: unknown, events: string, until?: number) =>
  runPattern(pattern(stages, skip), evs(events), { until }).labels.map((m) => m.join(' '));

// x: a+ then y: b+. Every b after the a's completes a match (y is the last stage, so it emits on
// each event it takes), which gives several matches per start for skipToNext to cut.
const XY = [
  { name: 'x', eventType: 'a', oneOrMore: true },
  { name: 'y', eventType: 'b', oneOrMore: true },
];
const INPUT = 'a1 a2 a3 b1 b2';

test('noSkip: every start, every completion', () => {
  assert.deepEqual(labels(XY, 'noSkip', INPUT), ['a1 a2 a3 b1', 'a2 a3 b1', 'a3 b1', 'a1 a2 a3 b1 b2', 'a2 a3 b1 b2', 'a3 b1 b2']);
});

test('noSkip is the default', () => {
  const r = runPattern({ id: 's', version: 1, stages: XY, action: { type: 't' } }, evs(INPUT));
  assert.equal(r.labels.length, 6);
});

test('skipToNext: one match per start (runs that began with the match first event are dropped)', () => {
  assert.deepEqual(labels(XY, 'skipToNext', INPUT), ['a1 a2 a3 b1', 'a2 a3 b1', 'a3 b1']);
});

test('skipPastLastEvent: nothing that began at or before the match last event survives it', () => {
  const r = runPattern(pattern(XY, 'skipPastLastEvent'), evs(INPUT));
  assert.deepEqual(r.labels, [['a1', 'a2', 'a3', 'b1']]);
  assert.equal(r.state.runs.size, 0, 'b2 cannot start a run, and every run began before b1');
});

test('skipToFirst x: runs that began before the match first x are dropped (the later starts remain)', () => {
  // [a1 a2 a3 b1] drops nothing (its first x is a1); [a2 a3 b1] drops the a1 run; [a3 b1] drops
  // the a2 run. Only the a3 run goes on to b2.
  assert.deepEqual(labels(XY, { skipToFirst: 'x' }, INPUT), ['a1 a2 a3 b1', 'a2 a3 b1', 'a3 b1', 'a3 b1 b2']);
});

test('skipToLast x: runs that began before the match last x are dropped', () => {
  // [a1 a2 a3 b1]: its last x is a3, so the a1 and a2 runs go, including [a2 a3 b1], completed by
  // the same event but emitted later.
  assert.deepEqual(labels(XY, { skipToLast: 'x' }, INPUT), ['a1 a2 a3 b1', 'a3 b1', 'a3 b1 b2']);
});

test('skipToFirst / skipToLast on the last stage: like skipPastLastEvent here', () => {
  assert.deepEqual(labels(XY, { skipToFirst: 'y' }, INPUT), ['a1 a2 a3 b1']);
  assert.deepEqual(labels(XY, { skipToLast: 'y' }, INPUT), ['a1 a2 a3 b1']);
});

test("Flink's documented example: b+ c on b1 b2 b3 c", () => {
  const stages = [
    { name: 'b', eventType: 'b', oneOrMore: true },
    { name: 'c', eventType: 'c' },
  ];
  const input = 'b1 b2 b3 c';
  // Same results as the Flink documentation's table for this example.
  assert.deepEqual(labels(stages, 'noSkip', input), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']);
  assert.deepEqual(labels(stages, 'skipToNext', input), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']);
  assert.deepEqual(labels(stages, 'skipPastLastEvent', input), ['b1 b2 b3 c']);
  assert.deepEqual(labels(stages, { skipToFirst: 'b' }, input), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']);
  assert.deepEqual(labels(stages, { skipToLast: 'b' }, input), ['b1 b2 b3 c', 'b3 c']);
});

test('skipToFirst on an optional stage the match skipped: nothing is dropped', () => {
  const stages = [
    { name: 'a', eventType: 'a' },
    { name: 'opt', eventType: 'o', optional: true },
    { name: 'c', eventType: 'c' },
  ];
  assert.deepEqual(labels(stages, { skipToFirst: 'opt' }, 'a1 a2 c'), ['a1 c', 'a2 c']);
  assert.deepEqual(labels(stages, 'skipPastLastEvent', 'a1 a2 c'), ['a1 c']);
});

test('matches completed by one event come out in start order before skipping applies', () => {
  // Two starts completed by the same c: the earlier start wins under skipPastLastEvent.
  const stages = [
    { name: 'a', eventType: 'a' },
    { name: 'c', eventType: 'c', contiguity: 'followedByAny' },
  ];
  assert.deepEqual(labels(stages, 'noSkip', 'a1 a2 c1 c2'), ['a1 c1', 'a2 c1', 'a1 c2', 'a2 c2']);
  assert.deepEqual(labels(stages, 'skipToNext', 'a1 a2 c1 c2'), ['a1 c1', 'a2 c1']);
  assert.deepEqual(labels(stages, 'skipPastLastEvent', 'a1 a2 c1 c2'), ['a1 c1']);
});

test('skip strategies also apply to absences that fire at their deadline', () => {
  const stages = [
    { name: 'a', eventType: 'a', oneOrMore: true },
    { name: 'x', eventType: 'x', contiguity: 'notFollowedBy' },
  ];
  const run = (skip: unknown) => runPattern(pattern(stages, skip, { within: '10s' }), evs('a1@0 a2@1000'), { until: 30_000 }).labels.map((m) => m.join(' '));
  assert.deepEqual(run('noSkip'), ['a1 a2', 'a2']);
  // [a1 a2] fires at 10000 and drops the a2 run, which began at or before a2.
  assert.deepEqual(run('skipPastLastEvent'), ['a1 a2']);
  // skipToNext only drops runs that began with a1.
  assert.deepEqual(run('skipToNext'), ['a1 a2', 'a2']);
});
