import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPattern, ref, type TestEvent } from './support/cep.js';
import { compilePattern, newPatternState, nextDeadline, onEvent, onTime, hasRuns, type Match } from '../src/cep/index.js';

/**
 * Time limits, all in event time: the pattern `within` (every event of a match spans < within,
 * and a run is over when time reaches first + within), per-stage gap limits (each event a stage
 * takes comes < gap after the match's previous event), the cleanup of expired runs, and events
 * that arrive out of time order.
 * Events are `label@ms`; the type is the label without trailing digits.
 */

function evs(spec: string, extra: Partial<TestEvent> = {}): TestEvent[] {
  return spec.split(/\s+/).map((tok, i) => {
    const [label, at] = tok.split('@') as [string, string | undefined];
    return { product: label, type: label.replace(/\d+$/, ''), t: at === undefined ? i * 1000 : Number(at), ...extra };
  });
}

const pattern = (stages: unknown[], extra: Record<string, unknown> = {}) => ({ id: 'w', version: 1, stages, action: { type: 't' }, ...extra });
const labels = (stages: unknown[], events: string, extra: Record<string, unknown> = {}) => runPattern(pattern(stages, extra), evs(events)).labels.map((m) => m.join(' '));

const a = { name: 'a', eventType: 'a' };
const b = { name: 'b', eventType: 'b' };
const c = { name: 'c', eventType: 'c' };
const W10 = { within: '10s' };

test('pattern within: a span just inside matches, exactly within does not', () => {
  assert.deepEqual(labels([a, b], 'a@0 b@9999', W10), ['a b']);
  assert.deepEqual(labels([a, b], 'a@0 b@10000', W10), []);
  assert.deepEqual(labels([a, b], 'a@0 x@5000 b@10001', W10), []);
});

test('pattern within: an expired start gives way to a later one', () => {
  assert.deepEqual(labels([a, b], 'a1@0 a2@5000 b@12000', W10), ['a2 b']);
});

test('pattern within on a looping stage (high-intent style): 3 within the window', () => {
  const views = [{ name: 'v', eventType: 'v', timesOrMore: 3 }];
  assert.deepEqual(labels(views, 'v1@0 v2@4000 v3@9999', W10), ['v1 v2 v3']);
  // v3 at 10000 is outside v1's window; v2 v3 v4 fit in v2's.
  assert.deepEqual(labels(views, 'v1@0 v2@4000 v3@10000 v4@12000', W10), ['v2 v3 v4']);
});

test('pattern within written in milliseconds, seconds, minutes', () => {
  assert.deepEqual(labels([a, b], 'a@0 b@1499', { within: 1500 }), ['a b']);
  assert.deepEqual(labels([a, b], 'a@0 b@1500', { within: '1500ms' }), []);
  assert.deepEqual(labels([a, b], 'a@0 b@1499', { within: '1.5s' }), ['a b']);
  assert.deepEqual(labels([a, b], 'a@0 b@119999', { within: '2m' }), ['a b']);
  assert.deepEqual(labels([a, b], 'a@0 b@120000', { within: '2m' }), []);
});

test('stage gap: b within 5s of a, just inside and exactly at the limit', () => {
  assert.deepEqual(labels([a, { ...b, within: '5s' }], 'a@0 b@4999'), ['a b']);
  assert.deepEqual(labels([a, { ...b, within: '5s' }], 'a@0 b@5000'), []);
});

test('stage gap counts from the match previous event, not from skipped events', () => {
  // x at 3000 is skipped; b at 6000 is 6 s after a.
  assert.deepEqual(labels([a, { ...b, within: '5s' }], 'a@0 x@3000 b@6000'), []);
});

test('stage gap on a loop: each event within the gap of the previous one, whatever the total span', () => {
  const stages = [a, { ...b, times: 2, within: '5s' }];
  assert.deepEqual(labels(stages, 'a@0 b1@4000 b2@8000'), ['a b1 b2']);
  assert.deepEqual(labels(stages, 'a@0 b1@4000 b2@9000'), []);
});

test('stage gap ends a loop that has its minimum: the run moves on to the next stage', () => {
  // a3 comes 6 s after a2: the a1 and a2 runs cannot take it, so their loops end there (the
  // implementation's reading of a gap on a loop) and they wait for b; a3 starts its own run.
  const stages = [{ ...a, oneOrMore: true, within: '5s' }, b];
  assert.deepEqual(labels(stages, 'a1@0 a2@4000 a3@10000 b@11000'), ['a1 a2 b', 'a2 b', 'a3 b']);
});

test('pattern within and a stage gap together: both must hold', () => {
  const stages = [a, { ...b, within: '5s' }, { ...c, within: '5s' }];
  assert.deepEqual(labels(stages, 'a@0 b@4000 c@8000', W10), ['a b c']);
  assert.deepEqual(labels(stages, 'a@0 b@4000 c@8000', { within: '8s' }), []);
});

test('expired runs are dropped from state: quiet users cost nothing', () => {
  const stages = [a, b];
  const events = [
    { product: 'a1', type: 'a', session: 's1', t: 0 },
    { product: 'a2', type: 'a', session: 's2', t: 1000 },
  ];
  const p = pattern(stages, { within: '1m', key: 'session' });
  assert.deepEqual([...runPattern(p, events, { until: 59_999 }).state.runs.keys()].sort(), ['s1', 's2']);
  // At 60 s s1's run is over (an event can no longer extend it); state lets go of it, with s2's,
  // when the last of them expires, so a quiet user costs one wake rather than one per run.
  assert.deepEqual(runPattern(p, [...events, { product: 'b1', type: 'b', session: 's1', t: 60_000 }]).matches, []);
  const after = runPattern(p, events, { until: 61_000 });
  assert.equal(after.state.runs.size, 0);
  assert.deepEqual(after.matches, []);
});

test('following nextDeadline empties the state of runs that ran out of time, by the last deadline', () => {
  // When exactly the engine wakes for runs that merely expire is its own business (an expired run
  // is also dropped by the next event of its key); what matters is that the wakes end with nothing
  // left and no wake later than the last first + within.
  const p = compilePattern(pattern([a, b], { within: '1m' }));
  const state = newPatternState(1);
  const out: Match[] = [];
  const stats = { startsSkipped: 0, runsDropped: 0 };
  assert.equal(nextDeadline(p, state), null);
  onEvent(p, state, ref({ product: 'a1', type: 'a', t: 5_000 }, 0), out, stats);
  onEvent(p, state, ref({ product: 'a2', type: 'a', t: 7_000 }, 1), out, stats);
  const wakes: number[] = [];
  for (let d = nextDeadline(p, state); d !== null && wakes.length < 5; d = nextDeadline(p, state)) {
    wakes.push(d);
    onTime(p, state, d, out);
  }
  assert.ok(wakes.length >= 1 && wakes.length <= 2, `wakes ${wakes}`);
  assert.ok(wakes.every((d) => d >= 65_000 && d <= 67_000), `wakes ${wakes}`);
  assert.equal(hasRuns(state), false);
  assert.deepEqual(out, []);
});

test('nextDeadline is exact for absences: each fires at its own first + within', () => {
  const p = compilePattern(pattern([a, { name: 'x', eventType: 'x', contiguity: 'notFollowedBy' }], { within: '1m' }));
  const state = newPatternState(1);
  const out: Match[] = [];
  const stats = { startsSkipped: 0, runsDropped: 0 };
  onEvent(p, state, ref({ product: 'a1', type: 'a', t: 5_000 }, 0), out, stats);
  onEvent(p, state, ref({ product: 'a2', type: 'a', t: 7_000 }, 1), out, stats);
  assert.equal(nextDeadline(p, state), 65_000);
  onTime(p, state, 65_000, out);
  assert.equal(nextDeadline(p, state), 67_000);
  onTime(p, state, 67_000, out);
  assert.equal(nextDeadline(p, state), null);
  assert.deepEqual(out.map((m) => [m.run.ev.map((e) => e.productId), m.eventTime]), [
    [['a1'], 65_000],
    [['a2'], 67_000],
  ]);
});

test('an event past the window drops the run even before time is moved', () => {
  const p = compilePattern(pattern([a, b], { within: '1m' }));
  const state = newPatternState(1);
  const out: Match[] = [];
  const stats = { startsSkipped: 0, runsDropped: 0 };
  onEvent(p, state, ref({ product: 'a', type: 'a', t: 0 }, 0), out, stats);
  assert.equal(hasRuns(state), true);
  onEvent(p, state, ref({ product: 'b', type: 'b', t: 60_000 }, 1), out, stats);
  assert.deepEqual(out, []);
  assert.equal(hasRuns(state), false);
});

test('without within, runs stay until they complete', () => {
  const r = runPattern(pattern([a, b]), evs('a@0'), { until: 365 * 86_400_000 });
  assert.equal(r.state.runs.get('')?.length, 1);
  assert.deepEqual(labels([a, b], 'a@0 b@31536000000'), ['a b']);
});

test('out-of-order events inside the window match; the span counts from the earliest', () => {
  // b arrives after a but carries an earlier time: span 4 s.
  assert.deepEqual(labels([a, b], 'a@5000 b@1000', W10), ['a b']);
  // Span 11 s: no match even though arrival order fits.
  assert.deepEqual(labels([a, b], 'a@12000 b@1000', W10), []);
});

test('an out-of-order event moves the window start back, and the deadline with it', () => {
  // After b@1000 the match spans 1000..; c must come before 11000, not 15000.
  assert.deepEqual(labels([a, b, c], 'a@5000 b@1000 c@10999', W10), ['a b c']);
  assert.deepEqual(labels([a, b, c], 'a@5000 b@1000 c@11000', W10), []);
  const r = runPattern(pattern([a, b, c], W10), evs('a@5000 b@1000'));
  assert.deepEqual(r.state.runs.get('')!.map((run) => run.t0), [1000]);
});
