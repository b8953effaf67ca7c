import { compileExpression, ExpressionError, toJsonValue, type CompiledExpression, type ExpressionContext } from './expressions.js';
import { parseDuration } from './duration.js';
import type { PatternSpec } from './pattern-schema.js';
import { PatternError } from './pattern-error.js';

/**
 * A pattern's action: its type, a payload template filled from the match, and an optional
 * frequency cap. In the payload, a string that is exactly `${expr}` becomes the expression's
 * value (number, list, …); `${expr}` inside a longer string is interpolated as text; anything
 * else is copied as written. Expressions see the same variables as stage conditions, with
 * `event` the last event of the match.
 */

type Part = { literal: string } | { expr: CompiledExpression };
type Node =
  | { kind: 'value'; value: unknown }
  | { kind: 'expr'; expr: CompiledExpression }
  | { kind: 'text'; parts: Part[] }
  | { kind: 'list'; items: Node[] }
  | { kind: 'object'; entries: Array<[string, Node]> };

export interface CompiledTemplate {
  type: string;
  payload: Node;
  cap: { max: number; withinMs: number; per: CompiledExpression | null } | null;
  typeCap: { max: number; withinMs: number } | null;
}

const WHOLE = /^\$\{([^}]*)\}$/;
const PIECE = /\$\{([^}]*)\}/g;

export function compileTemplate(action: PatternSpec['action'], stageExists: (name: string) => boolean): CompiledTemplate {
  const problems: Array<{ path: string; message: string }> = [];
  const expr = (source: string, path: string): CompiledExpression | null => {
    try {
      const e = compileExpression(source);
      for (const ref of e.stageRefs) if (!stageExists(ref.stage)) problems.push({ path, message: `unknown stage "${ref.stage}" (at character ${ref.position + 1})` });
      return e;
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      problems.push({ path, message: err.message });
      return null;
    }
  };
  const node = (v: unknown, path: string): Node => {
    if (typeof v === 'string') {
      const whole = WHOLE.exec(v);
      if (whole) {
        const e = expr(whole[1]!, path);
        return e ? { kind: 'expr', expr: e } : { kind: 'value', value: v };
      }
      if (!v.includes('${')) return { kind: 'value', value: v };
      const parts: Part[] = [];
      let at = 0;
      for (const m of v.matchAll(PIECE)) {
        if (m.index > at) parts.push({ literal: v.slice(at, m.index) });
        const e = expr(m[1]!, path);
        parts.push(e ? { expr: e } : { literal: m[0] });
        at = m.index + m[0].length;
      }
      if (at < v.length) parts.push({ literal: v.slice(at) });
      return { kind: 'text', parts };
    }
    if (Array.isArray(v)) return { kind: 'list', items: v.map((x, i) => node(x, `${path}.${i}`)) };
    if (v && typeof v === 'object') return { kind: 'object', entries: Object.entries(v).map(([k, x]) => [k, node(x, `${path}.${k}`)]) };
    return { kind: 'value', value: v };
  };
  const payload = node(action.payload ?? {}, 'action.payload');
  let cap: CompiledTemplate['cap'] = null;
  if (action.cap) {
    const per = action.cap.per === undefined ? null : expr(action.cap.per, 'action.cap.per');
    cap = { max: action.cap.max, withinMs: parseDuration(action.cap.within)!, per };
  }
  if (problems.length) throw new PatternError(problems);
  const typeCap = action.typeCap ? { max: action.typeCap.max, withinMs: parseDuration(action.typeCap.within)! } : null;
  return { type: action.type, payload, cap, typeCap };
}

/** Fills the payload; an expression that fails to evaluate yields null (and never an exception). */
export function renderPayload(t: CompiledTemplate, ctx: ExpressionContext): Record<string, unknown> {
  return render(t.payload, ctx) as Record<string, unknown>;
}

export function capKey(t: CompiledTemplate, ctx: ExpressionContext): string {
  if (!t.cap?.per) return '';
  const v = evaluate(t.cap.per, ctx);
  return typeof v === 'string' ? v : JSON.stringify(v ?? null);
}

function render(n: Node, ctx: ExpressionContext): unknown {
  switch (n.kind) {
    case 'value':
      return n.value;
    case 'expr':
      return evaluate(n.expr, ctx);
    case 'text':
      return n.parts.map((p) => ('literal' in p ? p.literal : stringify(evaluate(p.expr, ctx)))).join('');
    case 'list':
      return n.items.map((x) => render(x, ctx));
    case 'object':
      return Object.fromEntries(n.entries.map(([k, x]) => [k, render(x, ctx)]));
  }
}

function evaluate(e: CompiledExpression, ctx: ExpressionContext): unknown {
  try {
    return toJsonValue(e.evaluate(ctx));
  } catch {
    return null;
  }
}

const stringify = (v: unknown) => (typeof v === 'string' ? v : v === null ? '' : JSON.stringify(v));
