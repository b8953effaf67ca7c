import { patternSchema, type PatternSpec, type StageSpec, type PatternKey } from './pattern-schema.js';
import { compileExpression, ExpressionError, type CompiledExpression } from './expressions.js';
import { compileTemplate, type CompiledTemplate } from './action-template.js';
import { parseDuration } from './duration.js';
import { PatternError } from './pattern-error.js';
import { compileFastCondition, type FastCondition } from './fast-condition.js';

/** A condition on one event: an event-type filter (cheap, indexable) and an optional expression. */
export interface Condition {
  types: Set<string> | null;
  expr: CompiledExpression | null;
  /** The expression reads earlier stages, so it needs the match view. */
  readsMatch: boolean;
  /** The expression compiled to a closure when it is in the common subset; null = run it as CEL. */
  fast: FastCondition | null;
}

export interface Guard extends Condition {
  name: string;
}

export type Contiguity = 'strict' | 'relaxed' | 'any';

export interface CompiledStage {
  index: number;
  name: string;
  cond: Condition;
  lo: number;
  hi: number;
  optional: boolean;
  greedy: boolean;
  until: Condition | null;
  /** Between two events of this stage. */
  inner: Contiguity;
  /** Between the match's previous event and this stage's first. */
  entry: Contiguity;
  gapMs: number | null;
  /** Negations standing between the previous positive stage and this one. */
  notNext: Guard[];
  notFollowedBy: Guard[];
}

export type SkipStrategy =
  | { kind: 'noSkip' }
  | { kind: 'skipToNext' }
  | { kind: 'skipPastLastEvent' }
  | { kind: 'skipToFirst'; stage: number }
  | { kind: 'skipToLast'; stage: number };

export interface CompiledPattern {
  spec: PatternSpec;
  id: string;
  version: number;
  key: PatternKey;
  withinMs: number | null;
  skip: SkipStrategy;
  maxRuns: number;
  stages: CompiledStage[];
  /** A trailing notFollowedBy: the pattern completes when its time limit passes without such an event. */
  endGuards: Guard[];
  /** restOptional[j]: every stage after j may be skipped, so a run at stage j can complete. */
  restOptional: boolean[];
  /** Event types any stage, guard or stop condition looks at; null = all of them. */
  relevantTypes: Set<string> | null;
  /** Some contiguity is strict, so every event of the key counts, even ones no condition reads. */
  seesEveryEvent: boolean;
  action: CompiledTemplate;
}

/** Validates and compiles a pattern document; throws PatternError listing every problem found. */
export function compilePattern(input: unknown): CompiledPattern {
  const parsed = patternSchema.safeParse(input);
  if (!parsed.success) {
    throw new PatternError(parsed.error.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : '(pattern)', message: i.message })));
  }
  const spec = parsed.data;
  const problems: Array<{ path: string; message: string }> = [];
  const fail = (path: string, message: string) => problems.push({ path, message });

  const positive: Array<{ spec: StageSpec; at: number }> = [];
  const names = new Set<string>();
  spec.stages.forEach((s, i) => {
    if (names.has(s.name)) fail(`stages.${i}.name`, `duplicate stage name "${s.name}"`);
    names.add(s.name);
    if (!isNegation(s)) positive.push({ spec: s, at: i });
  });
  if (isNegation(spec.stages[0]!)) fail('stages.0.contiguity', 'a pattern cannot start with a negation');
  if (positive.length === 0) fail('stages', 'a pattern needs at least one stage that is not a negation');
  const lastSpec = spec.stages[spec.stages.length - 1]!;
  if (lastSpec.contiguity === 'notNext') fail(`stages.${spec.stages.length - 1}.contiguity`, 'notNext cannot end a pattern (use notFollowedBy with a time limit for absence)');
  if (lastSpec.contiguity === 'notFollowedBy' && spec.within === undefined) {
    fail(`stages.${spec.stages.length - 1}.contiguity`, 'a pattern that ends in notFollowedBy needs `within`: the absence is decided when that time passes');
  }

  const positiveIndex = new Map(positive.map((p, j) => [p.spec.name, j]));
  const stages: CompiledStage[] = [];
  let pendingNotNext: Guard[] = [];
  let pendingNotFollowedBy: Guard[] = [];
  spec.stages.forEach((s, i) => {
    const path = `stages.${i}`;
    // Stages a condition here may read: positive stages up to and including this one.
    const visibleUpTo = isNegation(s) ? countPositiveBefore(spec.stages, i) - 1 : countPositiveBefore(spec.stages, i);
    const cond = compileCondition(s.eventType, s.where, `${path}.where`, visibleUpTo, positiveIndex, fail);
    if (isNegation(s)) {
      for (const k of ['times', 'oneOrMore', 'timesOrMore', 'optional', 'greedy', 'consecutive', 'allowCombinations', 'until', 'within'] as const) {
        if (s[k] !== undefined) fail(`${path}.${k}`, `a negation (${s.contiguity}) takes no quantifier or limit`);
      }
      const guard: Guard = { name: s.name, ...cond };
      (s.contiguity === 'notNext' ? pendingNotNext : pendingNotFollowedBy).push(guard);
      return;
    }
    const quantifiers = (['times', 'oneOrMore', 'timesOrMore'] as const).filter((k) => s[k] !== undefined);
    if (quantifiers.length > 1) fail(path, `choose one of ${quantifiers.join(', ')}`);
    let lo = 1;
    let hi = 1;
    if (typeof s.times === 'number') lo = hi = s.times;
    else if (Array.isArray(s.times)) {
      [lo, hi] = s.times;
      if (lo > hi) fail(`${path}.times`, `[${lo}, ${hi}] is empty: the first number is the minimum`);
    } else if (s.oneOrMore) hi = Infinity;
    else if (s.timesOrMore !== undefined) {
      lo = s.timesOrMore;
      hi = Infinity;
    }
    const many = hi > 1;
    if (!many) {
      for (const k of ['greedy', 'consecutive', 'allowCombinations', 'until'] as const) {
        if (s[k] !== undefined) fail(`${path}.${k}`, `${k} applies to a stage that takes several events (times, oneOrMore, timesOrMore)`);
      }
    }
    if (s.consecutive && s.allowCombinations) fail(path, 'consecutive and allowCombinations contradict each other');
    const j = stages.length;
    if (s.greedy && j === positive.length - 1) fail(`${path}.greedy`, 'greedy needs a following stage to be greedy against; it cannot be on the last stage');
    const until = s.until ? compileCondition(undefined, s.until, `${path}.until`, visibleUpTo, positiveIndex, fail) : null;
    const entry = s.contiguity ?? 'followedBy';
    stages.push({
      index: j,
      name: s.name,
      cond,
      lo,
      hi,
      optional: s.optional === true,
      greedy: s.greedy === true,
      until,
      inner: s.consecutive ? 'strict' : s.allowCombinations ? 'any' : 'relaxed',
      entry: entry === 'next' ? 'strict' : entry === 'followedByAny' ? 'any' : 'relaxed',
      gapMs: s.within === undefined ? null : parseDuration(s.within),
      notNext: pendingNotNext,
      notFollowedBy: pendingNotFollowedBy,
    });
    pendingNotNext = [];
    pendingNotFollowedBy = [];
  });
  const endGuards = pendingNotFollowedBy;

  let skip: SkipStrategy = { kind: 'noSkip' };
  if (typeof spec.skip === 'string') skip = { kind: spec.skip };
  else {
    const [kind, stage] = 'skipToFirst' in spec.skip ? (['skipToFirst', spec.skip.skipToFirst] as const) : (['skipToLast', spec.skip.skipToLast] as const);
    const at = positiveIndex.get(stage);
    if (at === undefined) fail(`skip.${kind}`, `no stage named "${stage}" (a negation cannot be skipped to)`);
    else skip = { kind, stage: at };
  }

  let action: CompiledTemplate | null = null;
  try {
    action = compileTemplate(spec.action, (stage) => positiveIndex.has(stage));
  } catch (e) {
    if (e instanceof PatternError) problems.push(...e.problems);
    else throw e;
  }
  if (problems.length || !action) throw new PatternError(problems);

  const restOptional = stages.map((_, j) => stages.slice(j + 1).every((s) => s.optional));
  const conditions = stages.flatMap((s) => [s.cond, ...(s.until ? [s.until] : []), ...s.notNext, ...s.notFollowedBy]).concat(endGuards);
  const relevantTypes = conditions.some((c) => c.types === null) ? null : new Set(conditions.flatMap((c) => [...c.types!]));
  const seesEveryEvent = stages.some((s, j) => (j > 0 && s.entry === 'strict') || (s.hi > 1 && s.inner === 'strict') || s.notNext.length > 0);

  return {
    spec,
    id: spec.id,
    version: spec.version,
    key: spec.key,
    withinMs: spec.within === undefined ? null : parseDuration(spec.within),
    skip,
    maxRuns: spec.maxRunsPerKey,
    stages,
    endGuards,
    restOptional,
    relevantTypes,
    seesEveryEvent,
    action,
  };
}

const isNegation = (s: StageSpec) => s.contiguity === 'notNext' || s.contiguity === 'notFollowedBy';

function countPositiveBefore(stages: StageSpec[], i: number): number {
  let n = 0;
  for (let k = 0; k < i; k++) if (!isNegation(stages[k]!)) n++;
  return n;
}

function compileCondition(
  eventType: string | string[] | undefined,
  where: string | undefined,
  path: string,
  visibleUpTo: number,
  positiveIndex: Map<string, number>,
  fail: (path: string, message: string) => void,
): Condition {
  let types: Set<string> | null = eventType === undefined ? null : new Set(Array.isArray(eventType) ? eventType : [eventType]);
  let expr: CompiledExpression | null = null;
  if (where !== undefined) {
    try {
      expr = compileExpression(where);
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      fail(path, e.message);
      return { types, expr: null, readsMatch: false, fast: null };
    }
    if (expr.type !== 'bool' && expr.type !== 'dyn') fail(path, `a condition must be true or false, but this expression is a ${expr.type}`);
    for (const ref of expr.stageRefs) {
      const at = positiveIndex.get(ref.stage);
      if (at === undefined) fail(path, `unknown stage "${ref.stage}" (at character ${ref.position + 1})`);
      else if (at > visibleUpTo) fail(path, `stage "${ref.stage}" comes later in the pattern and has no events yet here (at character ${ref.position + 1})`);
    }
    if (expr.eventTypes) types = types ? new Set([...types].filter((t) => expr!.eventTypes!.has(t))) : expr.eventTypes;
  }
  return { types, expr, readsMatch: (expr?.stageRefs.length ?? 0) > 0, fast: expr ? compileFastCondition(expr.ast, positiveIndex) : null };
}
