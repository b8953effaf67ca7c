import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePattern, PatternError } from '../src/cep/index.js';

/**
 * Pattern validation: every problem is reported as a PatternError with a path into the pattern
 * document and a message; expression problems carry the character position (1-based) in the
 * expression. Shape problems (the schema) are reported alone; meaning problems all together.
 */

const base = (o: Record<string, unknown> = {}) => ({
  id: 'v',
  version: 1,
  stages: [
    { name: 'a', eventType: 'a' },
    { name: 'b', eventType: 'b' },
  ],
  action: { type: 't' },
  ...o,
});
const withStages = (...stages: unknown[]) => base({ stages });

function problems(p: unknown): Array<{ path: string; message: string }> {
  try {
    compilePattern(p);
  } catch (e) {
    assert.ok(e instanceof PatternError, `expected a PatternError, got ${String(e)}`);
    assert.equal(e.code, 'PATTERN_INVALID');
    assert.equal(e.message, e.problems.map((x) => `${x.path}: ${x.message}`).join('; '));
    return e.problems;
  }
  assert.fail('expected a PatternError');
}
const paths = (p: unknown) => problems(p).map((x) => x.path);

test('a valid pattern compiles, with defaults filled in', () => {
  const p = compilePattern(base());
  assert.equal(p.key, 'user');
  assert.deepEqual(p.skip, { kind: 'noSkip' });
  assert.equal(p.maxRuns, 64);
  assert.equal(p.withinMs, null);
});

// ---- shape (schema) ----

test('schema: a missing field is reported at its path', () => {
  const { id: _id, ...noId } = base();
  assert.deepEqual(problems(noId), [{ path: 'id', message: 'Invalid input: expected string, received undefined' }]);
});

test('schema: bad values are reported at their paths', () => {
  assert.deepEqual(paths(withStages({ name: 'a', times: 0 })), ['stages.0.times']);
  assert.deepEqual(paths(withStages({ name: 'a' }, { name: 'b', contiguity: 'after' })), ['stages.1.contiguity']);
  assert.deepEqual(paths(base({ key: 'device' })), ['key']);
  assert.deepEqual(paths(base({ stages: [] })), ['stages']);
  assert.deepEqual(paths(base({ version: 0 })), ['version']);
  assert.deepEqual(paths(base({ skip: 'skipSome' })), ['skip']);
});

test('schema: names, ids and action types follow their rules', () => {
  assert.deepEqual(problems(withStages({ name: '1a' })), [{ path: 'stages.0.name', message: 'stage names are letters, digits and _, starting with a letter or _' }]);
  assert.deepEqual(problems(base({ id: 'Has Spaces' })), [{ path: 'id', message: 'pattern ids are lowercase letters, digits, - and _ (a subject token)' }]);
  assert.deepEqual(problems(base({ action: { type: 'Bad.Type' } })), [
    { path: 'action.type', message: 'action types are lowercase letters, digits and _ (a subject token)' },
  ]);
});

test('schema: an unknown field (a typo) is rejected, not ignored', () => {
  assert.deepEqual(problems(withStages({ name: 'a', eventTyp: 'a' })), [{ path: 'stages.0', message: 'Unrecognized key: "eventTyp"' }]);
  assert.deepEqual(paths(base({ windowMs: 5 })), ['(pattern)']);
});

test('schema: several shape problems at once', () => {
  assert.deepEqual(paths(base({ version: 'one', key: 'device' })), ['version', 'key']);
});

// ---- durations ----

const DURATION_MESSAGE = 'must be a duration: milliseconds, or a number with ms, s, m, h or d (e.g. "15m", "7d")';

test('bad durations: pattern within, stage within, cap within', () => {
  assert.deepEqual(problems(base({ within: '10 minutes' })), [{ path: 'within', message: DURATION_MESSAGE }]);
  assert.deepEqual(problems(base({ within: 0 })), [{ path: 'within', message: DURATION_MESSAGE }]);
  assert.deepEqual(problems(base({ within: '5w' })), [{ path: 'within', message: DURATION_MESSAGE }]);
  assert.deepEqual(problems(withStages({ name: 'a' }, { name: 'b', within: '-5s' })), [{ path: 'stages.1.within', message: DURATION_MESSAGE }]);
  assert.deepEqual(problems(base({ action: { type: 't', cap: { max: 1, within: 'soon' } } })), [{ path: 'action.cap.within', message: DURATION_MESSAGE }]);
});

test('good durations: ms number, ms, s, m, h, d', () => {
  const ms = (within: unknown) => compilePattern(base({ within })).withinMs;
  assert.equal(ms(1500), 1500);
  assert.equal(ms('250ms'), 250);
  assert.equal(ms('1.5s'), 1500);
  assert.equal(ms('15m'), 900_000);
  assert.equal(ms('2h'), 7_200_000);
  assert.equal(ms('7d'), 604_800_000);
});

// ---- expressions ----

test('expression syntax error: the path of the expression and the character position', () => {
  assert.deepEqual(problems(withStages({ name: 'a', where: 'event.price >' })), [{ path: 'stages.0.where', message: 'Unexpected token: EOF (at character 14)' }]);
  assert.deepEqual(problems(withStages({ name: 'a', where: '(event.price > 10.0' })), [
    { path: 'stages.0.where', message: 'Expected RPAREN, got EOF (at character 20)' },
  ]);
  assert.deepEqual(problems(withStages({ name: 'a', oneOrMore: true, until: 'event.price > 1.0 &&& true' }, { name: 'b' })), [
    { path: 'stages.0.until', message: 'Unexpected character: & (at character 21)' },
  ]);
});

test('expression type errors: unknown field, unknown variable, mismatched types, unknown function', () => {
  assert.deepEqual(problems(withStages({ name: 'a', where: 'event.nosuchfield == 1' })), [
    { path: 'stages.0.where', message: 'No such key: nosuchfield (at character 7)' },
  ]);
  assert.deepEqual(problems(withStages({ name: 'a', where: 'user.price > 1.0' })), [{ path: 'stages.0.where', message: 'Unknown variable: user (at character 1)' }]);
  assert.deepEqual(problems(withStages({ name: 'a', where: 'event.price == "x"' })), [
    { path: 'stages.0.where', message: 'no such overload: double == string (at character 1)' },
  ]);
  assert.deepEqual(problems(withStages({ name: 'a', where: 'foo(event)' })), [
    { path: 'stages.0.where', message: "found no matching overload for 'foo(Event)' (at character 1)" },
  ]);
});

test('expressions may use every event field, categoryOf and the earlier stages', () => {
  const fields = ['seq', 'eventTime', 'eventType', 'productId', 'categoryId', 'categoryCode', 'brand', 'price', 'userSession'];
  const where = fields.map((f) => `has(event.${f})`).join(' && ');
  assert.doesNotThrow(() => compilePattern(withStages({ name: 'a', where }, { name: 'b', where: 'categoryOf(event) == categoryOf(first.a)' })));
  assert.doesNotThrow(() =>
    compilePattern(
      withStages(
        { name: 'a', oneOrMore: true, where: 'count.a < 3.0' },
        { name: 'b', where: 'event.price > last.a.price && size(match.a) > 1 && first.b.price > 0.0' },
      ),
    ),
  );
});

// Stage-reference positions point at the stage name: in `event.price > first.nosuch.price`,
// character 21 is the `n` of `nosuch`.
test('unknown stage reference, with its position', () => {
  assert.deepEqual(problems(withStages({ name: 'a' }, { name: 'b', where: 'event.price > first.nosuch.price' })), [
    { path: 'stages.1.where', message: 'unknown stage "nosuch" (at character 21)' },
  ]);
  assert.deepEqual(problems(base({ action: { type: 't', payload: { p: '${first.zz.productId}' } } })), [
    { path: 'action.payload.p', message: 'unknown stage "zz" (at character 7)' },
  ]);
});

test('reference to a later stage: it has no events yet', () => {
  assert.deepEqual(problems(withStages({ name: 'a', where: 'event.price > first.b.price' }, { name: 'b' })), [
    { path: 'stages.0.where', message: 'stage "b" comes later in the pattern and has no events yet here (at character 21)' },
  ]);
  assert.deepEqual(problems(withStages({ name: 'a', oneOrMore: true, until: 'count.b > 1.0' }, { name: 'b' })), [
    { path: 'stages.0.until', message: 'stage "b" comes later in the pattern and has no events yet here (at character 7)' },
  ]);
});

test('a negation reads the stages before it, not itself (negations have no events)', () => {
  assert.doesNotThrow(() => compilePattern(withStages({ name: 'a' }, { name: 'x', contiguity: 'notFollowedBy', where: 'event.price > first.a.price' }, { name: 'b' })));
  assert.deepEqual(problems(withStages({ name: 'a' }, { name: 'x', contiguity: 'notFollowedBy', where: 'first.x.price > 1.0' }, { name: 'b' })), [
    { path: 'stages.1.where', message: 'unknown stage "x" (at character 7)' },
  ]);
});

test('a where or until that is not a boolean is rejected (it could never be true)', () => {
  assert.deepEqual(paths(withStages({ name: 'a', where: 'event.price' })), ['stages.0.where']);
  assert.deepEqual(paths(withStages({ name: 'a', oneOrMore: true, until: 'event.productId' }, { name: 'b' })), ['stages.0.until']);
  assert.match(problems(withStages({ name: 'a', where: 'event.price' }))[0]!.message, /must be true or false.*double/);
});

// ---- meaning (compilePattern) ----

test('duplicate stage names', () => {
  assert.deepEqual(problems(withStages({ name: 'a' }, { name: 'b' }, { name: 'a' })), [{ path: 'stages.2.name', message: 'duplicate stage name "a"' }]);
});

test('quantifiers: one at a time, a non-empty range, greedy/consecutive/until only on loops', () => {
  assert.deepEqual(problems(withStages({ name: 'a', times: 2, oneOrMore: true }, { name: 'b' })), [{ path: 'stages.0', message: 'choose one of times, oneOrMore' }]);
  assert.deepEqual(problems(withStages({ name: 'a', times: [3, 2] }, { name: 'b' })), [
    { path: 'stages.0.times', message: '[3, 2] is empty: the first number is the minimum' },
  ]);
  assert.deepEqual(problems(withStages({ name: 'a', greedy: true }, { name: 'b' })), [
    { path: 'stages.0.greedy', message: 'greedy applies to a stage that takes several events (times, oneOrMore, timesOrMore)' },
  ]);
  assert.deepEqual(paths(withStages({ name: 'a', times: 1, consecutive: true, until: 'true' }, { name: 'b' })), ['stages.0.consecutive', 'stages.0.until']);
  assert.deepEqual(problems(withStages({ name: 'a' }, { name: 'b', oneOrMore: true, greedy: true })), [
    { path: 'stages.1.greedy', message: 'greedy needs a following stage to be greedy against; it cannot be on the last stage' },
  ]);
  assert.deepEqual(problems(withStages({ name: 'a', oneOrMore: true, consecutive: true, allowCombinations: true }, { name: 'b' })), [
    { path: 'stages.0', message: 'consecutive and allowCombinations contradict each other' },
  ]);
});

test('greedy before a trailing negation is still "the last stage"', () => {
  assert.deepEqual(paths(base({ within: '1m', stages: [{ name: 'a', oneOrMore: true, greedy: true }, { name: 'x', contiguity: 'notFollowedBy' }] })), ['stages.0.greedy']);
});

test('skip to an unknown stage', () => {
  assert.deepEqual(problems(base({ skip: { skipToFirst: 'zz' } })), [{ path: 'skip.skipToFirst', message: 'no stage named "zz" (a negation cannot be skipped to)' }]);
});

test('every meaning problem is reported at once', () => {
  assert.deepEqual(
    problems(withStages({ name: 'a', where: 'event.price >' }, { name: 'a', where: 'first.zz.price > 1.0' }, { name: 'c', oneOrMore: true, greedy: true })),
    [
      { path: 'stages.1.name', message: 'duplicate stage name "a"' },
      { path: 'stages.0.where', message: 'Unexpected token: EOF (at character 14)' },
      { path: 'stages.1.where', message: 'unknown stage "zz" (at character 7)' },
      { path: 'stages.2.greedy', message: 'greedy needs a following stage to be greedy against; it cannot be on the last stage' },
    ],
  );
});
