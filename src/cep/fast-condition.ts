import { EVENT_REF_FIELDS, categoryKey, type EventRef } from '../../actors/index.js';
import type { Run } from './run.js';

/**
 * Conditions in the common subset of CEL — field comparisons, `in` a literal list, `&&`, `||`,
 * `!`, `categoryOf`, `count.<stage>` — compiled to plain closures over the event and the run.
 * The matcher evaluates a few conditions per open partial match per event; through the CEL
 * interpreter each also needed a map view of the run (first/last/count by stage name), which
 * cost more than the comparison. Anything outside the subset returns null and stays with CEL.
 *
 * CEL's semantics are kept exactly, including its commutative error handling: `false && error`
 * is false and `error || true` is true, whichever side errs (e.g. `first.x` when stage x has no
 * event yet). Each node yields TRUE, FALSE or ERROR; only TRUE passes, as with test().
 */

/** What a condition reads of the partial match: its events by stage. */
export type RunEvents = Pick<Run, 'firstOf' | 'lastOf' | 'countOf'>;

export type FastCondition = (e: EventRef, r: RunEvents | null) => boolean;

interface AstNode {
  op: string;
  args: unknown;
}

const TRUE = 1;
const FALSE = 0;
const ERROR = -1;
type Truth = typeof TRUE | typeof FALSE | typeof ERROR;
type BoolFn = (e: EventRef, r: RunEvents | null) => Truth;

/** A sentinel for a value that could not be read (a stage with no event yet). */
const MISSING = Symbol('missing');
type Value = string | number | typeof MISSING;
type ValueFn = (e: EventRef, r: RunEvents | null) => Value;
interface Typed {
  fn: ValueFn;
  type: 'string' | 'number';
}

type FieldName = keyof typeof EVENT_REF_FIELDS;
const isField = (f: string): f is FieldName => Object.prototype.hasOwnProperty.call(EVENT_REF_FIELDS, f);
const fieldType = (f: FieldName): 'string' | 'number' => (EVENT_REF_FIELDS[f] === 'string' ? 'string' : 'number');

/** Compiles a checked CEL AST, or returns null when it is outside the subset. */
export function compileFastCondition(ast: unknown, stageIndex: ReadonlyMap<string, number>): FastCondition | null {
  const fn = bool(ast as AstNode, stageIndex);
  if (!fn) return null;
  return (e, r) => fn(e, r) === TRUE;
}

function bool(n: AstNode, stages: ReadonlyMap<string, number>): BoolFn | null {
  switch (n.op) {
    case '&&':
    case '||': {
      const parts = (n.args as AstNode[]).map((a) => bool(a, stages));
      if (parts.length !== 2 || parts.some((p) => p === null)) return null;
      const [a, b] = parts as [BoolFn, BoolFn];
      if (n.op === '&&') {
        return (e, r) => {
          const x = a(e, r);
          if (x === FALSE) return FALSE;
          const y = b(e, r);
          if (y === FALSE) return FALSE;
          return x === TRUE && y === TRUE ? TRUE : ERROR;
        };
      }
      return (e, r) => {
        const x = a(e, r);
        if (x === TRUE) return TRUE;
        const y = b(e, r);
        if (y === TRUE) return TRUE;
        return x === FALSE && y === FALSE ? FALSE : ERROR;
      };
    }
    case '!_': {
      const a = bool(n.args as AstNode, stages);
      if (!a) return null;
      return (e, r) => {
        const x = a(e, r);
        return x === TRUE ? FALSE : x === FALSE ? TRUE : ERROR;
      };
    }
    case 'value':
      return typeof n.args === 'boolean' ? (n.args ? () => TRUE : () => FALSE) : null;
    case '==':
    case '!=':
    case '<':
    case '<=':
    case '>':
    case '>=':
      return comparison(n, stages);
    case 'in':
      return membership(n, stages);
    default:
      return null;
  }
}

function comparison(n: AstNode, stages: ReadonlyMap<string, number>): BoolFn | null {
  const [l, rt] = n.args as [AstNode, AstNode];
  const a = value(l, stages);
  const b = value(rt, stages);
  if (!a || !b || a.type !== b.type) return null;
  // CEL orders strings by code point, JS by UTF-16 unit: only equality is shared for strings.
  if (a.type === 'string' && n.op !== '==' && n.op !== '!=') return null;
  const fa = a.fn;
  const fb = b.fn;
  const test = COMPARE[n.op as keyof typeof COMPARE];
  return (e, r) => {
    const x = fa(e, r);
    if (x === MISSING) return ERROR;
    const y = fb(e, r);
    if (y === MISSING) return ERROR;
    return test(x, y) ? TRUE : FALSE;
  };
}

const COMPARE = {
  '==': (x: string | number, y: string | number) => x === y,
  '!=': (x: string | number, y: string | number) => x !== y,
  '<': (x: string | number, y: string | number) => x < y,
  '<=': (x: string | number, y: string | number) => x <= y,
  '>': (x: string | number, y: string | number) => x > y,
  '>=': (x: string | number, y: string | number) => x >= y,
};

function membership(n: AstNode, stages: ReadonlyMap<string, number>): BoolFn | null {
  const [l, list] = n.args as [AstNode, AstNode];
  const a = value(l, stages);
  if (!a || list?.op !== 'list') return null;
  const items = (list.args as AstNode[]).map(literal);
  if (items.some((i) => i === null || i.type !== a.type)) return null;
  const set = new Set(items.map((i) => i!.value));
  const fa = a.fn;
  return (e, r) => {
    const x = fa(e, r);
    return x === MISSING ? ERROR : set.has(x) ? TRUE : FALSE;
  };
}

function literal(n: AstNode): { value: string | number; type: 'string' | 'number' } | null {
  if (n?.op === '-_') {
    const inner = literal(n.args as AstNode);
    return inner && inner.type === 'number' ? { value: -inner.value, type: 'number' } : null;
  }
  if (n?.op !== 'value') return null;
  const v = n.args;
  if (typeof v === 'string') return { value: v, type: 'string' };
  if (typeof v === 'number') return { value: v, type: 'number' };
  // CEL integers: exact as doubles within 2^53, which is all a comparison with a field can use.
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) return { value: Number(v), type: 'number' };
  return null;
}

function value(n: AstNode, stages: ReadonlyMap<string, number>): Typed | null {
  const lit = literal(n);
  if (lit) {
    const v = lit.value;
    return { fn: () => v, type: lit.type };
  }
  if (n.op === 'call') {
    const [name, callArgs] = n.args as [string, AstNode[]];
    if (name !== 'categoryOf' || callArgs.length !== 1) return null;
    const ev = eventRef(callArgs[0]!, stages);
    if (!ev) return null;
    return {
      fn: (e, r) => {
        const x = ev(e, r);
        return x === null ? MISSING : categoryKey(x);
      },
      type: 'string',
    };
  }
  if (n.op !== '.') return null;
  const [target, field] = n.args as [AstNode, string];
  if (target.op === 'id' && target.args === 'count') {
    const k = stages.get(field);
    if (k === undefined) return null;
    return {
      fn: (_e, r) => {
        if (!r) return MISSING;
        const c = r.countOf(k);
        return c === 0 ? MISSING : c;
      },
      type: 'number',
    };
  }
  if (!isField(field)) return null;
  const ev = eventRef(target, stages);
  if (!ev) return null;
  return {
    fn: (e, r) => {
      const x = ev(e, r);
      return x === null ? MISSING : x[field];
    },
    type: fieldType(field),
  };
}

/** `event`, `first.<stage>` or `last.<stage>`: the event it names, or null when there is none. */
function eventRef(n: AstNode, stages: ReadonlyMap<string, number>): ((e: EventRef, r: RunEvents | null) => EventRef | null) | null {
  if (n.op === 'id' && n.args === 'event') return (e) => e;
  if (n.op !== '.') return null;
  const [target, stage] = n.args as [AstNode, string];
  if (target.op !== 'id' || (target.args !== 'first' && target.args !== 'last')) return null;
  const k = stages.get(stage);
  if (k === undefined) return null;
  if (target.args === 'first') return (_e, r) => (r ? r.firstOf(k) : null);
  return (_e, r) => (r ? r.lastOf(k) : null);
}
