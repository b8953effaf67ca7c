import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPattern, type TestEvent } from './support/cep.js';

/**
 * Contiguity between stages: next (strict), followedBy (relaxed, skip-till-next, the default),
 * followedByAny (skip-till-any), and how the pattern key decides which events are "next".
 * Events are labels: the type is the label without trailing digits, 1 s apart.
 */

function evs(spec: string, extra: Partial<TestEvent> = {}): TestEvent[] {
  return spec.split(/\s+/).map((label, i) => ({ product: label, type: label.replace(/\d+$/, ''), t: i * 1000, ...extra }));
}

const pattern = (stages: unknown[], extra: Record<string, unknown> = {}) => ({ id: 'c', version: 1, stages, action: { type: 't' }, ...extra });
const labels = (stages: unknown[], events: string | TestEvent[], extra: Record<string, unknown> = {}) =>
  runPattern(pattern(stages, extra), typeof events === 'string' ? evs(events) : events).labels.map((m) => m.join(' '));

const a = { name: 'a', eventType: 'a' };
const bAfter = (contiguity: string) => ({ name: 'b', eventType: 'b', contiguity });

test('"a c b1 b2": next gives nothing, followedBy gives a b1, followedByAny gives a b1 and a b2', () => {
  assert.deepEqual(labels([a, bAfter('next')], 'a c b1 b2'), []);
  assert.deepEqual(labels([a, bAfter('followedBy')], 'a c b1 b2'), ['a b1']);
  assert.deepEqual(labels([a, bAfter('followedByAny')], 'a c b1 b2'), ['a b1', 'a b2']);
});

test('"a b1 b2": next and followedBy take b1 only; followedByAny also b2', () => {
  assert.deepEqual(labels([a, bAfter('next')], 'a b1 b2'), ['a b1']);
  assert.deepEqual(labels([a, bAfter('followedBy')], 'a b1 b2'), ['a b1']);
  assert.deepEqual(labels([a, bAfter('followedByAny')], 'a b1 b2'), ['a b1', 'a b2']);
});

test('followedBy is the default contiguity', () => {
  assert.deepEqual(labels([a, { name: 'b', eventType: 'b' }], 'a c b1 b2'), ['a b1']);
});

test('followedByAny with two starts: every pairing, emitted per completing event in start order', () => {
  assert.deepEqual(labels([a, bAfter('followedByAny')], 'a1 a2 b1 b2'), ['a1 b1', 'a2 b1', 'a1 b2', 'a2 b2']);
  assert.deepEqual(labels([a, bAfter('followedBy')], 'a1 a2 b1 b2'), ['a1 b1', 'a2 b1']);
});

test('next measures from the previous stage, whatever that stage contiguity was', () => {
  const stages = [a, bAfter('followedBy'), { name: 'c', eventType: 'c', contiguity: 'next' }];
  assert.deepEqual(labels(stages, 'a x b c'), ['a b c']);
  assert.deepEqual(labels(stages, 'a b x c'), []);
});

test('next after a looping stage: right after the loop last event', () => {
  const stages = [{ name: 'a', eventType: 'a', oneOrMore: true }, bAfter('next')];
  assert.deepEqual(labels(stages, 'a1 a2 b'), ['a1 a2 b', 'a2 b']);
  // x sits between the last a and b.
  assert.deepEqual(labels(stages, 'a1 a2 x b'), []);
});

test('key session: events of another session do not break next; key user: they do', () => {
  const events: TestEvent[] = [
    { product: 'a', type: 'a', session: 's1', t: 0 },
    { product: 'x', type: 'x', session: 's2', t: 1000 },
    { product: 'b', type: 'b', session: 's1', t: 2000 },
  ];
  const stages = [a, bAfter('next')];
  const bySession = runPattern(pattern(stages, { key: 'session' }), events);
  assert.deepEqual(bySession.labels, [['a', 'b']]);
  assert.equal(bySession.matches[0]!.key, 's1');
  assert.deepEqual(labels(stages, events, { key: 'user' }), []);
});

test('key session: a and b in different sessions never match, even with followedBy', () => {
  const events: TestEvent[] = [
    { product: 'a', type: 'a', session: 's1', t: 0 },
    { product: 'b', type: 'b', session: 's2', t: 1000 },
  ];
  assert.deepEqual(labels([a, bAfter('followedBy')], events, { key: 'session' }), []);
  assert.deepEqual(labels([a, bAfter('followedBy')], events, { key: 'user' }), ['a b']);
});

test('key product: the next event of the same product, other products in between do not count', () => {
  // The product id is the key here, so the label travels in categoryCode.
  const events: TestEvent[] = [
    { code: 'v1', type: 'view', product: 'P1', t: 0 },
    { code: 'v2', type: 'view', product: 'P2', t: 1000 },
    { code: 'c1', type: 'cart', product: 'P1', t: 2000 },
  ];
  const stages = [
    { name: 'view', eventType: 'view' },
    { name: 'cart', eventType: 'cart', contiguity: 'next' },
  ];
  const byProduct = runPattern(pattern(stages, { key: 'product' }), events);
  assert.deepEqual(
    byProduct.matches.map((m) => [m.key, m.run.ev.map((e) => e.categoryCode)]),
    [['P1', ['v1', 'c1']]],
  );
  // Keyed by user, the cart is the very next event after v2 only.
  const byUser = runPattern(pattern(stages, { key: 'user' }), events);
  assert.deepEqual(
    byUser.matches.map((m) => m.run.ev.map((e) => e.categoryCode)),
    [['v2', 'c1']],
  );
});
