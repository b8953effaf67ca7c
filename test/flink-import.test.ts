import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importFlinkPattern, compilePattern, type FlinkImportOptions, type FlinkImportResult } from '../src/cep/index.js';
import { runPattern, type TestEvent } from './support/cep.js';

/**
 * Flink dynamic-CEP JSON (Ververica / FLIP-200 CepJsonUtils format) → Nudge patterns: the
 * quick-start rule and its 15-minute version run end to end, then every edge type, quantifier
 * form, skip strategy and window, the Aviator → CEL translation, and the inputs that cannot be
 * converted (reported with a path, never thrown).
 */

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/flink/${name}`, import.meta.url), 'utf8'));

/** The quick-start's `action` codes. */
const ACTION: FlinkImportOptions = { fields: { action: 'eventType' }, values: { action: { '0': 'view', '1': 'cart', '2': 'purchase' } } };
const MIN = 60_000;

/** "view@0 view@5 purchase@11": type@time (in `unit`, default minutes; 1 s apart when no time); product = first letter + position. */
function evs(spec: string, unit = MIN): TestEvent[] {
  return spec.split(/\s+/).map((tok, i) => {
    const [type, at] = tok.split('@') as [string, string | undefined];
    return { type, t: at === undefined ? i * 1000 : Number(at) * unit, product: `${type[0]}${i + 1}` };
  });
}

/** Repeats a token: rep('view', 3) = 'view view view'. */
const rep = (tok: string, n: number) => Array.from({ length: n }, () => tok).join(' ');

function ok(json: unknown, opts?: FlinkImportOptions): FlinkImportResult & { pattern: NonNullable<FlinkImportResult['pattern']> } {
  const r = importFlinkPattern(json, opts);
  assert.deepEqual(r.problems, []);
  assert.ok(r.pattern);
  compilePattern(r.pattern);
  return r as FlinkImportResult & { pattern: NonNullable<FlinkImportResult['pattern']> };
}

function bad(json: unknown, opts?: FlinkImportOptions): FlinkImportResult {
  let r: FlinkImportResult | undefined;
  assert.doesNotThrow(() => (r = importFlinkPattern(json, opts)));
  assert.equal(r!.pattern, null);
  assert.ok(r!.problems.length > 0, 'expected problems');
  return r!;
}

/** One problem at `path` whose message contains `fragment`. */
function hasProblem(r: FlinkImportResult, path: string, fragment: string | RegExp): void {
  const hit = r.problems.find((p) => p.path === path && (typeof fragment === 'string' ? p.message.includes(fragment) : fragment.test(p.message)));
  assert.ok(hit, `no problem at ${path} matching ${fragment}; got ${JSON.stringify(r.problems, null, 1)}`);
}

// Building blocks of a Flink graph, in CepJsonUtils' shape.
interface Q {
  consumingStrategy?: string;
  properties?: string[];
  times?: unknown;
  untilCondition?: unknown;
}
const quant = (q: Q = {}) => ({ consumingStrategy: 'SKIP_TILL_NEXT', properties: ['SINGLE'], times: null, untilCondition: null, ...q });
const aviator = (expression: string) => ({ type: 'AVIATOR', expression });
const node = (name: string, expression: string | null = `event_type == '${name}'`, q: Q = {}, extra: Record<string, unknown> = {}) => ({
  name,
  quantifier: quant(q),
  condition: expression === null ? null : aviator(expression),
  type: 'ATOMIC',
  ...extra,
});
const edge = (source: string, target: string, type = 'SKIP_TILL_NEXT') => ({ source, target, type });
const graph = (nodes: unknown[], edges: unknown[], extra: Record<string, unknown> = {}) => ({
  name: 'g',
  quantifier: quant(),
  condition: null,
  nodes,
  edges,
  window: null,
  afterMatchStrategy: { type: 'NO_SKIP', patternName: null },
  type: 'COMPOSITE',
  version: 1,
  ...extra,
});
/** a → b → … with SKIP_TILL_NEXT edges. */
const seq = (nodes: Array<{ name: string } & Record<string, unknown>>, extra: Record<string, unknown> = {}) =>
  graph(
    nodes,
    nodes.slice(1).map((n, i) => edge(nodes[i]!.name, n.name)),
    extra,
  );
const minutes = (size: number) => ({ unit: 'MINUTES', size });

// ---- 1. the quick-start rule ----

test('quick start v1: converts to three views (times 3) followed by a non-cart event, skip past last event', () => {
  const r = ok(fixture('quickstart-v1.json'), ACTION);
  assert.deepEqual(r.pattern, {
    id: 'end',
    version: 1,
    description: 'Imported from the Flink dynamic-CEP pattern "end"',
    skip: 'skipPastLastEvent',
    stages: [
      { name: 'start', eventType: 'view', times: 3 },
      { name: 'end', where: 'event.eventType != "cart"', contiguity: 'followedBy' },
    ],
    action: { type: 'flink_match', payload: {} },
  });
});

test('quick start v1: view view view purchase is one match of the 4 events; view view view cart is none', () => {
  const p = ok(fixture('quickstart-v1.json'), ACTION).pattern;
  assert.deepEqual(runPattern(p, evs('view view view purchase')).labels, [['v1', 'v2', 'v3', 'p4']]);
  assert.deepEqual(runPattern(p, evs('view view view cart')).labels, []);
});

test('quick start v1: the end event skips carts (SKIP_TILL_NEXT), and a 4th view is an end event too', () => {
  const p = ok(fixture('quickstart-v1.json'), ACTION).pattern;
  assert.deepEqual(runPattern(p, evs('view view view cart view')).labels, [['v1', 'v2', 'v3', 'v5']]);
  assert.deepEqual(runPattern(p, evs('view view view cart cart purchase')).labels, [['v1', 'v2', 'v3', 'p6']]);
});

test('quick start v1: the three views need not be adjacent (inner SKIP_TILL_NEXT)', () => {
  const p = ok(fixture('quickstart-v1.json'), ACTION).pattern;
  assert.deepEqual(runPattern(p, evs('view cart view view purchase')).labels, [['v1', 'v3', 'v4', 'p5']]);
  assert.deepEqual(runPattern(p, evs('view view purchase view purchase')).labels, [['v1', 'v2', 'v4', 'p5']]);
  assert.deepEqual(runPattern(p, evs('cart view view purchase')).labels, []);
});

test('quick start v1: SKIP_PAST_LAST_EVENT — seven views and a purchase give two disjoint matches', () => {
  const p = ok(fixture('quickstart-v1.json'), ACTION).pattern;
  assert.deepEqual(runPattern(p, evs(`${rep('view', 7)} purchase`)).labels, [
    ['v1', 'v2', 'v3', 'v4'],
    ['v5', 'v6', 'v7', 'p8'],
  ]);
});

test('quick start v1: without a mapping for `action`, both conditions are problems with their paths', () => {
  const r = bad(fixture('quickstart-v1.json'));
  hasProblem(r, 'nodes.1.condition.expression', 'unknown name "action"');
  hasProblem(r, 'nodes.0.condition.expression', 'unknown name "action"');
  const codesOnly = bad(fixture('quickstart-v1.json'), { fields: { action: 'eventType' } });
  hasProblem(codesOnly, 'nodes.1.condition.expression', 'opts.values.action');
});

// ---- 2. its 15-minute version ----

test('quick start v2: times.windowTime 15 MINUTES becomes the start stage\'s gap limit, with a note', () => {
  const r = ok(fixture('quickstart-v2.json'), ACTION);
  assert.deepEqual(r.pattern.stages[0], { name: 'start', eventType: 'view', times: 3, within: '15m' });
  assert.deepEqual(r.pattern.stages[1], { name: 'end', where: 'event.eventType != "cart"', contiguity: 'followedBy' });
  assert.ok(r.notes.some((n) => n.includes('times.windowTime 15m') && n.includes('stage within "15m"')));
});

test('quick start v2: views within 15 minutes match; views spread over more than 15 minutes with a longer gap do not', () => {
  const p = ok(fixture('quickstart-v2.json'), ACTION).pattern;
  assert.deepEqual(runPattern(p, evs('view@0 view@5 view@10 purchase@11')).labels, [['v1', 'v2', 'v3', 'p4']]);
  assert.deepEqual(runPattern(p, evs('view@0 view@20 view@25 purchase@26')).labels, []);
  assert.deepEqual(runPattern(p, evs('view@0 view@4 view@30 purchase@31')).labels, []);
  // v1 rule: the same events match, the time limit is the only difference.
  const v1 = ok(fixture('quickstart-v1.json'), ACTION).pattern;
  assert.deepEqual(runPattern(v1, evs('view@0 view@20 view@25 purchase@26')).labels, [['v1', 'v2', 'v3', 'p4']]);
});

test('quick start v2: the limit is strict (exactly 15 minutes apart is too late)', () => {
  const p = ok(fixture('quickstart-v2.json'), ACTION).pattern;
  const gap = 15 * MIN;
  assert.deepEqual(runPattern(p, evs(`view@0 view@${gap - 1} view@${2 * gap - 2} purchase@${2 * gap}`, 1)).labels, [['v1', 'v2', 'v3', 'p4']]);
  assert.deepEqual(runPattern(p, evs(`view@0 view@${gap} view@${gap + 1} purchase@${gap + 2}`, 1)).labels, []);
});

test('quick start v2: a view too late for one start begins another, which then matches', () => {
  const p = ok(fixture('quickstart-v2.json'), ACTION).pattern;
  const v1 = ok(fixture('quickstart-v1.json'), ACTION).pattern;
  const events = evs('view@0 view@16 view@20 view@30 purchase@31');
  assert.deepEqual(runPattern(p, events).labels, [['v2', 'v3', 'v4', 'p5']]);
  assert.deepEqual(runPattern(v1, events).labels, [['v1', 'v2', 'v3', 'v4']]);
});

test('quick start v2: windowTime is Flink\'s gap between consecutive views, not a span — unlike a FIRST_AND_LAST window', () => {
  const p = ok(fixture('quickstart-v2.json'), ACTION).pattern;
  // Spread over 20 minutes, but each view within 10 of the one before.
  assert.deepEqual(runPattern(p, evs('view@0 view@10 view@20 purchase@21')).labels, [['v1', 'v2', 'v3', 'p4']]);
  const spanned = fixture('quickstart-v1.json') as Record<string, unknown>;
  spanned.window = { type: 'FIRST_AND_LAST', time: minutes(15) };
  const q = ok(spanned, ACTION).pattern;
  assert.equal(q.within, '15m');
  assert.deepEqual(runPattern(q, evs('view@0 view@10 view@20 purchase@21')).labels, []);
  assert.deepEqual(runPattern(q, evs('view@0 view@5 view@10 purchase@14')).labels, [['v1', 'v2', 'v3', 'p4']]);
});

// ---- 3. the mapping, construct by construct ----

test('edge types: STRICT → next, SKIP_TILL_NEXT → followedBy, SKIP_TILL_ANY → followedByAny', () => {
  for (const [type, contiguity] of [
    ['STRICT', 'next'],
    ['SKIP_TILL_NEXT', 'followedBy'],
    ['SKIP_TILL_ANY', 'followedByAny'],
  ] as const) {
    const stages = ok(graph([node('a'), node('b')], [edge('a', 'b', type)])).pattern.stages;
    assert.deepEqual(stages, [
      { name: 'a', eventType: 'a' },
      { name: 'b', eventType: 'b', contiguity },
    ]);
  }
});

test('edge types: NOT_NEXT → notNext and NOT_FOLLOW → notFollowedBy, the negated node keeping its condition', () => {
  for (const [type, contiguity] of [
    ['NOT_NEXT', 'notNext'],
    ['NOT_FOLLOW', 'notFollowedBy'],
  ] as const) {
    const stages = ok(graph([node('a'), node('x'), node('b')], [edge('a', 'x', type), edge('x', 'b', 'STRICT')])).pattern.stages;
    assert.deepEqual(stages, [
      { name: 'a', eventType: 'a' },
      { name: 'x', eventType: 'x', contiguity },
      { name: 'b', eventType: 'b', contiguity: 'next' },
    ]);
  }
});

test('a trailing NOT_FOLLOW with a FIRST_AND_LAST window is absence detection, decided at the deadline', () => {
  const json = graph([node('cart'), node('purchase')], [edge('cart', 'purchase', 'NOT_FOLLOW')], { window: { type: 'FIRST_AND_LAST', time: minutes(30) } });
  const p = ok(json).pattern;
  assert.equal(p.within, '30m');
  assert.deepEqual(p.stages[1], { name: 'purchase', eventType: 'purchase', contiguity: 'notFollowedBy' });
  const fired = runPattern(p, evs('cart@0 view@10'), { until: 31 * MIN });
  assert.deepEqual(fired.labels, [['c1']]);
  assert.equal(fired.matches[0]!.timeout, true);
  assert.deepEqual(runPattern(p, evs('cart@0 purchase@10'), { until: 31 * MIN }).labels, []);
});

test('a trailing NOT_FOLLOW without a window is a problem (Flink rejects it too)', () => {
  const r = bad(graph([node('cart'), node('purchase')], [edge('cart', 'purchase', 'NOT_FOLLOW')]));
  hasProblem(r, 'nodes.1', 'needs `within`');
});

test('the order comes from the edges, not from the order of nodes or edges in the file', () => {
  const json = graph([node('c'), node('a'), node('b')], [edge('b', 'c', 'SKIP_TILL_ANY'), edge('a', 'b', 'STRICT')]);
  assert.deepEqual(
    ok(json).pattern.stages.map((s) => [s.name, s.contiguity]),
    [
      ['a', undefined],
      ['b', 'next'],
      ['c', 'followedByAny'],
    ],
  );
});

test('quantifiers: SINGLE, TIMES n and [from, to], LOOPING (oneOrMore / timesOrMore), OPTIONAL, GREEDY', () => {
  const cases: Array<[Q, Record<string, unknown>]> = [
    [{ properties: ['SINGLE'] }, {}],
    [{ properties: ['SINGLE', 'OPTIONAL'] }, { optional: true }],
    [{ properties: ['TIMES'], times: { from: 3, to: 3, windowTime: null } }, { times: 3 }],
    [{ properties: ['TIMES'], times: { from: 2, to: 4, windowTime: null } }, { times: [2, 4] }],
    [{ properties: ['TIMES'], times: { from: 1, to: 1, windowTime: null } }, {}],
    [{ properties: ['LOOPING'], times: { from: 1, to: 1, windowTime: null } }, { oneOrMore: true }],
    [{ properties: ['LOOPING'], times: null }, { oneOrMore: true }],
    [{ properties: ['LOOPING'], times: { from: 3, to: 3, windowTime: null } }, { timesOrMore: 3 }],
    [{ properties: ['LOOPING', 'OPTIONAL'], times: { from: 1, to: 1, windowTime: null } }, { oneOrMore: true, optional: true }],
    [{ properties: ['TIMES', 'OPTIONAL', 'GREEDY'], times: { from: 2, to: 3, windowTime: null } }, { times: [2, 3], optional: true, greedy: true }],
    [{ properties: ['LOOPING', 'GREEDY'], times: { from: 1, to: 1, windowTime: null } }, { oneOrMore: true, greedy: true }],
  ];
  for (const [q, expected] of cases) {
    const stages = ok(seq([node('a', "event_type == 'a'", q), node('b')])).pattern.stages;
    assert.deepEqual(stages[0], { name: 'a', eventType: 'a', ...expected }, JSON.stringify(q));
  }
});

test('quantifiers: the inner consumingStrategy of a loop — STRICT → consecutive, SKIP_TILL_ANY → allowCombinations', () => {
  const loop = (consumingStrategy: string) => ({ consumingStrategy, properties: ['LOOPING'], times: { from: 2, to: 2, windowTime: null } });
  assert.deepEqual(ok(seq([node('a', "event_type == 'a'", loop('STRICT')), node('b')])).pattern.stages[0], {
    name: 'a',
    eventType: 'a',
    timesOrMore: 2,
    consecutive: true,
  });
  assert.deepEqual(ok(seq([node('a', "event_type == 'a'", loop('SKIP_TILL_ANY')), node('b')])).pattern.stages[0], {
    name: 'a',
    eventType: 'a',
    timesOrMore: 2,
    allowCombinations: true,
  });
  assert.deepEqual(ok(seq([node('a', "event_type == 'a'", loop('SKIP_TILL_NEXT')), node('b')])).pattern.stages[0], { name: 'a', eventType: 'a', timesOrMore: 2 });
});

test('quantifiers: an inner strategy on a SINGLE node has no effect: ignored, with a note', () => {
  const r = ok(seq([node('a', "event_type == 'a'", { consumingStrategy: 'STRICT' }), node('b')]));
  assert.deepEqual(r.pattern.stages[0], { name: 'a', eventType: 'a' });
  assert.ok(r.notes.some((n) => n.includes('node "a": consumingStrategy STRICT')));
});

test('quantifiers: untilCondition → until (a CEL expression)', () => {
  const q: Q = { properties: ['LOOPING'], times: { from: 1, to: 1, windowTime: null }, untilCondition: aviator("event_type == 'purchase'") };
  assert.deepEqual(ok(seq([node('a', 'price > 10', q), node('b')])).pattern.stages[0], {
    name: 'a',
    where: 'event.price > 10.0',
    oneOrMore: true,
    until: 'event.eventType == "purchase"',
  });
});

test('quantifiers: windowTime on a later node → its stage within, noting that Nudge also limits the entry gap', () => {
  const q: Q = { properties: ['TIMES'], times: { from: 2, to: 2, windowTime: { unit: 'SECONDS', size: 90 } } };
  const r = ok(seq([node('a'), node('b', "event_type == 'b'", q)]));
  assert.deepEqual(r.pattern.stages[1], { name: 'b', eventType: 'b', contiguity: 'followedBy', times: 2, within: '90s' });
  assert.ok(r.notes.some((n) => n.includes('node "b"') && n.includes("previous stage's last event")));
});

test('skip strategies: all five', () => {
  const cases: Array<[unknown, unknown]> = [
    [{ type: 'NO_SKIP', patternName: null }, 'noSkip'],
    [{ type: 'SKIP_TO_NEXT', patternName: null }, 'skipToNext'],
    [{ type: 'SKIP_PAST_LAST_EVENT', patternName: null }, 'skipPastLastEvent'],
    [{ type: 'SKIP_TO_FIRST', patternName: 'b' }, { skipToFirst: 'b' }],
    [{ type: 'SKIP_TO_LAST', patternName: 'a' }, { skipToLast: 'a' }],
    [null, 'noSkip'],
  ];
  for (const [afterMatchStrategy, skip] of cases) {
    assert.deepEqual(ok(seq([node('a'), node('b')], { afterMatchStrategy })).pattern.skip, skip, JSON.stringify(afterMatchStrategy));
  }
});

test('skip strategies: SKIP_TO_FIRST/LAST of an unknown node, or an unknown strategy, is a problem', () => {
  hasProblem(bad(seq([node('a'), node('b')], { afterMatchStrategy: { type: 'SKIP_TO_FIRST', patternName: 'zzz' } })), 'afterMatchStrategy.patternName', 'SKIP_TO_FIRST');
  hasProblem(bad(seq([node('a'), node('b')], { afterMatchStrategy: { type: 'SKIP_TO_LAST' } })), 'afterMatchStrategy.patternName', 'SKIP_TO_LAST');
  hasProblem(bad(seq([node('a'), node('b')], { afterMatchStrategy: { type: 'SKIP_SOMETIMES' } })), 'afterMatchStrategy.type', 'SKIP_SOMETIMES');
});

test('windows: FIRST_AND_LAST → the pattern within, in the largest unit that divides it', () => {
  const cases: Array<[unknown, unknown]> = [
    [minutes(10), '10m'],
    [{ unit: 'SECONDS', size: 90 }, '90s'],
    [{ unit: 'MILLISECONDS', size: 1500 }, '1500ms'],
    [{ unit: 'HOURS', size: 2 }, '2h'],
    [{ unit: 'DAYS', size: 7 }, '7d'],
    [{ unit: 'MINUTES', size: 120 }, '2h'],
  ];
  for (const [time, within] of cases) {
    const p = ok(seq([node('a'), node('b')], { window: { type: 'FIRST_AND_LAST', time } })).pattern;
    assert.equal(p.within, within);
    assert.ok(p.stages.every((s) => s.within === undefined));
  }
});

test('windows: PREVIOUS_AND_CURRENT → a gap limit on every stage after the first, with a note', () => {
  const r = ok(seq([node('a'), node('b'), node('c')], { window: { type: 'PREVIOUS_AND_CURRENT', time: minutes(5) } }));
  assert.equal(r.pattern.within, undefined);
  assert.deepEqual(
    r.pattern.stages.map((s) => s.within),
    [undefined, '5m', '5m'],
  );
  assert.ok(r.notes.some((n) => n.includes('PREVIOUS_AND_CURRENT 5m') && n.includes('lastNode')));
  // Each gap below 5 minutes, the whole 8: matches; one gap of 6: does not.
  assert.deepEqual(runPattern(r.pattern, evs('a@0 b@4 c@8')).labels, [['a1', 'b2', 'c3']]);
  assert.deepEqual(runPattern(r.pattern, evs('a@0 b@6 c@7')).labels, []);
});

test('windows: PREVIOUS_AND_CURRENT also limits the gaps inside a looping first stage', () => {
  const q: Q = { properties: ['LOOPING'], times: { from: 2, to: 2, windowTime: null } };
  const p = ok(seq([node('a', "event_type == 'a'", q), node('b')], { window: { type: 'PREVIOUS_AND_CURRENT', time: minutes(5) } })).pattern;
  assert.deepEqual(
    p.stages.map((s) => s.within),
    ['5m', '5m'],
  );
});

test('windows: previousAndCurrent "lastNode" follows Flink\'s compiler — the last node only', () => {
  const json = seq([node('a'), node('b'), node('c')], { window: { type: 'PREVIOUS_AND_CURRENT', time: minutes(5) } });
  const p = ok(json, { previousAndCurrent: 'lastNode' }).pattern;
  assert.deepEqual(
    p.stages.map((s) => s.within),
    [undefined, undefined, '5m'],
  );
  assert.deepEqual(runPattern(p, evs('a@0 b@60 c@64')).labels, [['a1', 'b2', 'c3']]);
  // On a looping last node Flink ignores the window: so does the conversion, and says so.
  const q: Q = { properties: ['TIMES'], times: { from: 2, to: 2, windowTime: null } };
  const r = ok(seq([node('a'), node('b', "event_type == 'b'", q)], { window: { type: 'PREVIOUS_AND_CURRENT', time: minutes(5) } }), { previousAndCurrent: 'lastNode' });
  assert.ok(r.pattern.stages.every((s) => s.within === undefined));
  assert.ok(r.notes.some((n) => n.includes('no effect')));
});

test('windows: PREVIOUS_AND_CURRENT before a trailing NOT_FOLLOW converts only when one event precedes the absence', () => {
  const window = { type: 'PREVIOUS_AND_CURRENT', time: minutes(30) };
  const one = ok(graph([node('cart'), node('purchase')], [edge('cart', 'purchase', 'NOT_FOLLOW')], { window })).pattern;
  assert.equal(one.within, '30m');
  const two = bad(graph([node('view'), node('cart'), node('purchase')], [edge('view', 'cart'), edge('cart', 'purchase', 'NOT_FOLLOW')], { window }));
  hasProblem(two, 'window.type', 'last event + window');
});

test('id, version and action: from the options, else the graph name as a slug, 1 and flink_match', () => {
  const json = seq([node('a'), node('b')], { name: 'My Rule #1' });
  const dflt = ok(json).pattern;
  assert.equal(dflt.id, 'my-rule-1');
  assert.equal(dflt.version, 1);
  assert.deepEqual(dflt.action, { type: 'flink_match', payload: {} });
  const chosen = ok(json, { id: 'quick_start', version: 2, actionType: 'nudge_view' }).pattern;
  assert.deepEqual([chosen.id, chosen.version, chosen.action], ['quick_start', 2, { type: 'nudge_view', payload: {} }]);
});

test('node names that are not stage names are rewritten (and skip strategies follow), with a note', () => {
  const r = ok(seq([node('first-step', "event_type == 'a'"), node('2nd', "event_type == 'b'")], { afterMatchStrategy: { type: 'SKIP_TO_FIRST', patternName: '2nd' } }));
  assert.deepEqual(
    r.pattern.stages.map((s) => s.name),
    ['first_step', '_2nd'],
  );
  assert.deepEqual(r.pattern.skip, { skipToFirst: '_2nd' });
  assert.ok(r.notes.some((n) => n.includes('"first-step" became stage "first_step"')));
});

test('the input may be JSON text', () => {
  assert.deepEqual(ok(readFileSync(new URL('./fixtures/flink/quickstart-v1.json', import.meta.url), 'utf8'), ACTION).pattern.stages[0], {
    name: 'start',
    eventType: 'view',
    times: 3,
  });
});

// ---- Aviator → CEL ----

test('aviator: comparisons, logic and precedence become CEL over event fields; event-type tests are lifted to eventType', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['price > 10', { where: 'event.price > 10.0' }],
    ["event_type == 'view' && price >= 2.5", { eventType: 'view', where: 'event.price >= 2.5' }],
    ['eventType == "cart" || eventType == "purchase"', { eventType: ['cart', 'purchase'] }],
    ["price < 5 && (event_type == 'a' || event_type == 'b')", { eventType: ['a', 'b'], where: 'event.price < 5.0' }],
    ["!(brand == 'acme') || category_code != ''", { where: '!(event.brand == "acme") || event.categoryCode != ""' }],
    ['price < -1', { where: 'event.price < -1.0' }],
    ['10 < price', { where: '10.0 < event.price' }],
    ['product_id == categoryId', { where: 'event.productId == event.categoryId' }],
    ["price > 1 || price < 0 && brand == 'x'", { where: 'event.price > 1.0 || event.price < 0.0 && event.brand == "x"' }],
    ["(price > 1 || price < 0) && brand == 'x'", { where: '(event.price > 1.0 || event.price < 0.0) && event.brand == "x"' }],
    ['!!(seq >= 3) && event_time < 1.5e12', { where: '!!(event.seq >= 3.0) && event.eventTime < 1500000000000.0' }],
    ["brand == 'it\\'s' && user_session != \"s\\\"1\"", { where: 'event.brand == "it\'s" && event.userSession != "s\\"1"' }],
    ['(price > 1) == true', { where: '(event.price > 1.0) == (true)' }],
    ['true', { where: 'true' }],
  ];
  for (const [expression, expected] of cases) {
    assert.deepEqual(ok(graph([node('n', expression)], [])).pattern.stages[0], { name: 'n', ...expected }, expression);
  }
});

test('aviator: nil compares with "" (Nudge holds "" for an absent string field), with a note', () => {
  const r = ok(graph([node('n', 'brand != nil && category_id == nil')], []));
  assert.equal(r.pattern.stages[0]!.where, 'event.brand != "" && event.categoryId == ""');
  assert.ok(r.notes.some((n) => n.includes('brand != nil became event.brand != ""')));
});

test('aviator: opts.fields names other identifiers; opts.values turns codes into the values they stand for', () => {
  const opts: FlinkImportOptions = { fields: { action: 'eventType', id: 'productId' }, values: { action: { '0': 'view', '2': 'purchase' } } };
  assert.deepEqual(ok(graph([node('n', "action == 2 && id == 'p1'")], []), opts).pattern.stages[0], {
    name: 'n',
    eventType: 'purchase',
    where: 'event.productId == "p1"',
  });
  assert.deepEqual(ok(graph([node('n', 'action != 0')], []), opts).pattern.stages[0], { name: 'n', where: 'event.eventType != "view"' });
  // A value map is keyed by the literal as written, so a string code maps too.
  assert.deepEqual(ok(graph([node('n', "action == '0'")], []), opts).pattern.stages[0], { name: 'n', eventType: 'view' });
});

test('aviator: literals that do not fit the field are problems, never guesses', () => {
  const opts: FlinkImportOptions = { fields: { action: 'eventType' }, values: { action: { '0': 'view' } } };
  const at = 'nodes.0.condition.expression';
  hasProblem(bad(graph([node('n', 'action == 5')], []), opts), at, 'has no entry in opts.values.action');
  hasProblem(bad(graph([node('n', 'action > 0')], []), opts), at, 'cannot be converted');
  hasProblem(bad(graph([node('n', 'brand == 3')], [])), at, 'opts.values.brand');
  hasProblem(bad(graph([node('n', "price == 'x'")], [])), at, 'cannot compare');
  hasProblem(bad(graph([node('n', 'price == brand')], [])), at, 'cannot compare');
  hasProblem(bad(graph([node('n', 'price == nil')], [])), at, 'always present');
  hasProblem(bad(graph([node('n', 'price')], [])), at, 'not a condition');
  hasProblem(bad(graph([node('n', "'view'")], [])), at, 'not a condition');
});

// ---- 4. what cannot be converted ----

test('a CLASS condition is a problem with its path, and the pattern is null', () => {
  const json = seq([node('a'), { ...node('b'), condition: { type: 'CLASS', className: 'com.example.EndCondition' } }]);
  const r = bad(json);
  assert.deepEqual(r.problems, [{ path: 'nodes.1.condition', message: 'CLASS condition com.example.EndCondition cannot be converted: rewrite it as an expression (an AVIATOR condition)' }]);
  const until: Q = { properties: ['LOOPING'], times: null, untilCondition: { type: 'CLASS', className: 'com.example.Stop' } };
  hasProblem(bad(seq([node('a', "event_type == 'a'", until), node('b')])), 'nodes.0.quantifier.untilCondition', 'CLASS condition com.example.Stop');
  hasProblem(bad(graph([{ ...node('a'), condition: { type: 'GROOVY', expression: 'price > 1' } }], [])), 'nodes.0.condition', 'GROOVY');
});

test('Flink\'s RichAnd/RichOr/RichNot conditions combine their nested conditions; a CLASS among them is still a problem', () => {
  const rich = (kind: string, nestedConditions: unknown[]) => ({ type: 'CLASS', className: `org.apache.flink.cep.pattern.conditions.Rich${kind}Condition`, nestedConditions });
  const and = rich('And', [aviator("event_type == 'view'"), rich('Or', [aviator('price > 10'), rich('Not', [aviator("brand == 'x'")])])]);
  assert.deepEqual(ok(graph([{ ...node('a'), condition: and }], [])).pattern.stages[0], {
    name: 'a',
    eventType: 'view',
    where: 'event.price > 10.0 || !(event.brand == "x")',
  });
  const withClass = rich('And', [aviator('price > 10'), { type: 'CLASS', className: 'com.example.EndCondition' }]);
  hasProblem(bad(graph([{ ...node('a'), condition: withClass }], [])), 'nodes.0.condition.nestedConditions.1', 'CLASS condition com.example.EndCondition');
});

test('an unknown identifier is a problem naming it and the fields it could be', () => {
  const r = bad(graph([node('a', 'id == 3')], []));
  hasProblem(r, 'nodes.0.condition.expression', 'unknown name "id"');
  hasProblem(r, 'nodes.0.condition.expression', 'productId');
});

test('Aviator syntax outside the subset is a problem with its position', () => {
  const cases: Array<[string, string]> = [
    ["seq.contains(list, 'x')", 'function calls (seq.contains(…))'],
    ["string.startsWith(brand, 'a')", 'function calls (string.startsWith(…))'],
    ['include(list, 1)', 'function calls (include(…))'],
    ['brand =~ /ab+c/', 'regular-expression matching (=~)'],
    ['price + 1 > 2', 'arithmetic (+)'],
    ['price * 2 > 2', 'arithmetic (*)'],
    ['price > 1 ? true : false', 'conditional operator'],
    ['user.price > 1', 'property paths ("user.price")'],
    ['let x = 1; x > 0', 'statements ("let")'],
    ['price > 1; price < 3', 'several statements'],
    ['price = 1', 'assignment'],
    ['brand == 10M', 'number literal "10M"'],
    ['(price > 1', 'missing ")"'],
    ['price > 1)', 'unbalanced ")"'],
    ["brand == 'abc", 'unterminated string'],
    ["brand == '#{x}'", 'interpolation'],
    ['price > @', 'unexpected character "@"'],
    ['price &', 'bitwise'],
    ['price >', 'ends too early'],
    ['price[0] > 1', 'indexing'],
  ];
  for (const [expression, fragment] of cases) {
    const r = bad(graph([node('a', expression)], []));
    hasProblem(r, 'nodes.0.condition.expression', fragment);
    assert.match(r.problems[0]!.message, /\(at character \d+\)/, expression);
  }
});

test('malformed input gives problems, never a throw', () => {
  const a = node('a');
  const b = node('b');
  const cases: Array<[unknown, string, string | RegExp, FlinkImportOptions?]> = [
    [null, '(input)', 'JSON object'],
    [42, '(input)', 'JSON object'],
    [[a], '(input)', 'JSON object'],
    ['{ not json', '(input)', 'not JSON'],
    [{}, 'nodes', 'non-empty `nodes`'],
    [{ nodes: [] }, 'nodes', 'non-empty `nodes`'],
    [{ nodes: 'a' }, 'nodes', 'non-empty `nodes`'],
    [{ ...a, type: 'ATOMIC' }, 'type', 'GRAPH'],
    [graph([42], []), 'nodes.0', 'a node is an object'],
    [graph([{ quantifier: quant() }], []), 'nodes.0.name', 'non-empty name'],
    [graph([a, node('a')], [edge('a', 'a')]), 'nodes.1.name', 'duplicate node name "a"'],
    [graph([a, b], [edge('a', 'zzz')]), 'edges.0.target', '"zzz" is not the name of a node'],
    [graph([a, b], [edge('zzz', 'b')]), 'edges.0.source', '"zzz" is not the name of a node'],
    [graph([a, b], [edge('a', 'b', 'SOMETIMES')]), 'edges.0.type', 'unknown edge type "SOMETIMES"'],
    [graph([a, b], [42]), 'edges.0', 'an edge is an object'],
    [graph([a, b], []), 'edges', 'exactly one start'],
    [graph([a, b], null as unknown as unknown[]), 'edges', 'needs `edges`'],
    [graph([a, b], [edge('a', 'b'), edge('b', 'a')]), 'edges', 'cycle'],
    [graph([a, b, node('c')], [edge('b', 'c'), edge('c', 'b')]), 'edges', 'nodes "b", "c" are not on the path from the start "a"'],
    [graph([a, b, node('c')], [edge('a', 'c'), edge('b', 'c')]), 'edges.1', 'second incoming edge'],
    [graph([a, b, node('c')], [edge('a', 'b'), edge('a', 'c')]), 'edges.1', 'second outgoing edge'],
    [graph([a, b], [edge('a', 'a')]), 'edges.0', 'to itself'],
    [graph([a, { name: 'sub', type: 'COMPOSITE', nodes: [b], edges: [] }], [edge('a', 'sub')]), 'nodes.1.type', 'nested graph'],
    [graph([node('a', null, { properties: ['LOOPING', 'TIMES'] })], []), 'nodes.0.quantifier.properties', 'exactly one of SINGLE, LOOPING, TIMES'],
    [graph([node('a', null, { properties: ['SOMETIMES'] })], []), 'nodes.0.quantifier.properties', 'unknown quantifier properties'],
    [graph([node('a', null, { properties: ['TIMES'] })], []), 'nodes.0.quantifier.times', 'needs times'],
    [graph([node('a', null, { properties: ['TIMES'], times: { from: 3, to: 2 } })], []), 'nodes.0.quantifier.times.to', '≥ from'],
    [graph([node('a', null, { properties: ['TIMES'], times: { from: 0, to: 2 } })], []), 'nodes.0.quantifier.times.from', '≥ 1'],
    [graph([node('a', null, { properties: ['SINGLE', 'GREEDY'] })], []), 'nodes.0.quantifier.properties', 'GREEDY'],
    [graph([node('a', null, { consumingStrategy: 'NOT_NEXT' })], []), 'nodes.0.quantifier.consumingStrategy', 'inner'],
    [graph([node('a', null, { properties: ['TIMES'], times: { from: 2, to: 2 }, untilCondition: aviator('price > 1') })], []), 'nodes.0.quantifier.untilCondition', 'LOOPING'],
    [graph([a, node('x', "event_type == 'x'", { properties: ['LOOPING'] }), b], [edge('a', 'x', 'NOT_FOLLOW'), edge('x', 'b')]), 'nodes.1.quantifier.properties', 'negation'],
    [graph([node('a', null, { properties: ['TIMES'], times: { from: 2, to: 2, windowTime: { unit: 'WEEKS', size: 1 } } })], []), 'nodes.0.quantifier.times.windowTime.unit', 'unknown time unit'],
    [graph([a], [], { window: { type: 'SLIDING', time: minutes(1) } }), 'window.type', 'unknown window type'],
    [graph([a], [], { window: { type: 'FIRST_AND_LAST', time: { unit: 'MINUTES', size: -1 } } }), 'window.time.size', 'positive'],
    [graph([a], [], { window: { type: 'FIRST_AND_LAST', time: { unit: 'MICROSECONDS', size: 1500 } } }), 'window.time', 'whole number of milliseconds'],
    [graph([{ ...a, condition: { type: 'SPEL', expression: 'x' } }], []), 'nodes.0.condition.type', 'unknown condition type'],
    [graph([{ ...a, condition: { type: 'AVIATOR' } }], []), 'nodes.0.condition.expression', 'needs an expression'],
    // What only compilePattern catches comes back with the path of the node it concerns.
    [seq([a, node('b', "event_type == 'b'", { properties: ['LOOPING', 'GREEDY'] })]), 'nodes.1', 'greedy needs a following stage'],
    [graph([a, b], [edge('a', 'b', 'NOT_NEXT')]), 'nodes.1', 'notNext cannot end a pattern'],
    [seq([a, b]), 'opts.actionType', 'action types', { actionType: 'Not A Token' }],
    [seq([a, b]), 'opts.id', 'pattern ids', { id: 'Bad Id' }],
    [seq([a, b]), 'opts.fields.action', 'not a Nudge event field', { fields: { action: 'kind' } }],
  ];
  for (const [json, path, fragment, opts] of cases) hasProblem(bad(json, opts), path, fragment);
});

test('every converted pattern in this file compiles; notes never block a conversion', () => {
  const r = ok(fixture('quickstart-v2.json'), ACTION);
  assert.ok(r.notes.length > 0);
  assert.doesNotThrow(() => compilePattern(r.pattern));
});
