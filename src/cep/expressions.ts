import { Environment } from '@marcbachmann/cel-js';
import { EventRef, EVENT_REF_FIELDS, categoryKey } from '../../actors/index.js';

/**
 * Pattern expressions are CEL (Common Expression Language) via @marcbachmann/cel-js: parsed and
 * type-checked once, then run as a compiled closure. CEL has no loops, no I/O and no access to
 * anything but the variables declared here, so a pattern from the KV bucket cannot do harm.
 *
 * Variables: `event` (the event being matched), and the match so far by stage name:
 * `first.<stage>` / `last.<stage>` (an event), `match.<stage>` (the list), `count.<stage>`.
 * One function of ours: `categoryOf(e)`, the category id or else the category code.
 */

export interface MatchView {
  first: Record<string, EventRef>;
  last: Record<string, EventRef>;
  match: Record<string, EventRef[]>;
  count: Record<string, number>;
}

export interface ExpressionContext extends Partial<MatchView> {
  event: EventRef;
}

export class ExpressionError extends Error {
  readonly code = 'EXPRESSION_INVALID';
  constructor(
    message: string,
    /** 0-based character offset in the expression, when known. */
    readonly position: number | null,
  ) {
    super(message);
  }
}

const STAGE_VARIABLES = ['first', 'last', 'match', 'count'] as const;

const env = new Environment({ homogeneousAggregateLiterals: false })
  .registerType('Event', { ctor: EventRef, fields: { ...EVENT_REF_FIELDS } })
  .registerVariable('event', 'Event')
  .registerVariable('first', 'map<string, Event>')
  .registerVariable('last', 'map<string, Event>')
  .registerVariable('match', 'map<string, list<Event>>')
  .registerVariable('count', 'map<string, double>')
  // The coupon rule's notion of category: the id, else the code.
  .registerFunction('categoryOf(Event): string', (e: EventRef) => categoryKey(e));

interface AstNode {
  op: string;
  args: unknown;
  pos?: number;
  start?: number;
}

export interface CompiledExpression {
  source: string;
  evaluate: (ctx: ExpressionContext) => unknown;
  /** Event types the expression requires (from `event.eventType == "x"` / `in [...]` conjuncts); null = any. */
  eventTypes: Set<string> | null;
  /** Stage names read through first/last/match/count, with where each is read. */
  stageRefs: Array<{ stage: string; position: number }>;
  /** The CEL type the checker inferred (`bool`, `string`, `dyn`, …). */
  type: string;
  /** The checked syntax tree, for compiling the common subset to plain closures (fast-condition.ts). */
  ast: unknown;
}

/** Parses and type-checks; throws ExpressionError with the position of the first problem. */
export function compileExpression(source: string): CompiledExpression {
  let parsed: ReturnType<typeof env.parse>;
  try {
    parsed = env.parse(source);
  } catch (e) {
    throw toExpressionError(e);
  }
  const check = parsed.check() as { valid: boolean; error?: unknown; type?: string };
  if (!check.valid) throw toExpressionError(check.error);
  const ast = (parsed as unknown as { ast: AstNode }).ast;
  const stageRefs: CompiledExpression['stageRefs'] = [];
  walk(ast, (n) => {
    if (n.op !== '.' && n.op !== '.?') return;
    const [target, field] = n.args as [AstNode, string];
    if (target?.op === 'id' && STAGE_VARIABLES.includes(target.args as (typeof STAGE_VARIABLES)[number])) {
      stageRefs.push({ stage: field, position: n.pos ?? target.pos ?? 0 });
    }
  });
  return { source, evaluate: parsed as unknown as (ctx: ExpressionContext) => unknown, eventTypes: requiredEventTypes(ast), stageRefs, type: check.type ?? 'dyn', ast };
}

/** Runs a condition: only `true` passes; an evaluation error (e.g. a missing stage) is a non-match. */
export function test(expr: CompiledExpression, ctx: ExpressionContext): boolean {
  try {
    return expr.evaluate(ctx) === true;
  } catch {
    return false;
  }
}

function requiredEventTypes(ast: AstNode): Set<string> | null {
  if (ast.op === '&&') {
    let out: Set<string> | null = null;
    for (const a of ast.args as AstNode[]) {
      const t = requiredEventTypes(a);
      if (t) out = out === null ? t : intersect(out, t);
    }
    return out;
  }
  const args = ast.args as AstNode[];
  const isEventType = (n: AstNode | undefined) =>
    n?.op === '.' && (n.args as [AstNode, string])[1] === 'eventType' && (n.args as [AstNode])[0]?.op === 'id' && (n.args as [AstNode])[0].args === 'event';
  const literal = (n: AstNode | undefined) => (n?.op === 'value' && typeof n.args === 'string' ? n.args : null);
  if (ast.op === '==') {
    const [a, b] = args;
    if (isEventType(a) && literal(b) !== null) return new Set([literal(b)!]);
    if (isEventType(b) && literal(a) !== null) return new Set([literal(a)!]);
  }
  if (ast.op === 'in' && isEventType(args[0]) && args[1]?.op === 'list') {
    const items = (args[1].args as AstNode[]).map(literal);
    if (items.every((x) => x !== null)) return new Set(items as string[]);
  }
  return null;
}

const intersect = (a: Set<string>, b: Set<string>) => new Set([...a].filter((x) => b.has(x)));

function walk(n: unknown, visit: (n: AstNode) => void): void {
  if (Array.isArray(n)) {
    for (const x of n) walk(x, visit);
    return;
  }
  if (!n || typeof n !== 'object' || typeof (n as AstNode).op !== 'string') return;
  visit(n as AstNode);
  walk((n as AstNode).args, visit);
}

function toExpressionError(e: unknown): ExpressionError {
  const err = e as { message?: string; node?: AstNode };
  const position = err?.node?.pos ?? err?.node?.start ?? null;
  const message = String(err?.message ?? e).split('\n')[0]!.trim();
  return new ExpressionError(position === null ? message : `${message} (at character ${position + 1})`, position);
}

/** Plain JSON from a CEL value: CEL integers are BigInt, which JSON cannot hold. */
export function toJsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJsonValue(x)]));
  if (v && typeof v === 'object' && !(v instanceof EventRef)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonValue(x)]));
  }
  return v;
}
