import { EVENT_REF_FIELDS } from '../../actors/index.js';

/**
 * Translates the subset of Aviator (the expression language of Flink dynamic-CEP AVIATOR
 * conditions) that has an exact CEL counterpart over Nudge events:
 *
 *   literals   numbers (`10`, `2.5`, `-1`, `1e3`), strings in '…' or "…", `nil`, `true`, `false`
 *   names      bare identifiers, each mapped to an event field (`price` → `event.price`)
 *   operators  `!`, `< <= > >=`, `== !=`, `&&`, `||`, parentheses (Java precedence, as Aviator)
 *
 * Everything else (function calls such as `seq.contains(…)` or `string.startsWith(…)`, regex `=~`,
 * arithmetic, the ternary, property paths `a.b`, statements) is reported as a problem with its
 * position, never approximated. Names resolve to Nudge event fields: the field names themselves,
 * their snake_case spellings (`event_type`, `product_id`, …), and whatever `fields` adds
 * (`{ action: 'eventType' }`). A number compared with a string field goes through `values`
 * (`{ action: { '0': 'view' } }` turns `action == 0` into `event.eventType == "view"`); without an
 * entry it is a problem.
 */

export type EventField = keyof typeof EVENT_REF_FIELDS;
type FieldType = (typeof EVENT_REF_FIELDS)[EventField];

export interface AviatorOptions {
  /** Aviator identifier → Nudge event field, added to (and overriding) the built-in names. */
  fields?: Record<string, string>;
  /** Aviator identifier → (literal as written → the string value it stands for in Nudge). */
  values?: Record<string, Record<string, string>>;
}

export interface AviatorProblem {
  /** 0-based character offset in the expression, when known. */
  position: number | null;
  message: string;
}

/** The CEL produced, kept as a tree so a caller can lift `eventType` tests out of it. */
export type Cel =
  | { op: '||' | '&&'; l: Cel; r: Cel }
  | { op: '!'; e: Cel }
  | { op: 'cmp'; text: string; eventTypeEq?: string }
  | { op: 'lit'; text: 'true' | 'false' };

export interface AviatorTranslation {
  cel: Cel | null;
  problems: AviatorProblem[];
  notes: string[];
}

export const NUDGE_FIELDS = Object.keys(EVENT_REF_FIELDS) as EventField[];

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The names every translation knows: Nudge's field names and their snake_case spellings. */
export function builtinFieldNames(): Map<string, EventField> {
  const m = new Map<string, EventField>();
  for (const f of NUDGE_FIELDS) {
    m.set(f, f);
    m.set(snake(f), f);
  }
  return m;
}

export const isEventField = (s: unknown): s is EventField => typeof s === 'string' && Object.prototype.hasOwnProperty.call(EVENT_REF_FIELDS, s);

/** Parses, type-checks and translates one Aviator expression; never throws. */
export function translateAviator(source: string, opts: AviatorOptions = {}): AviatorTranslation {
  const problems: AviatorProblem[] = [];
  const notes: string[] = [];
  let ast: Node;
  try {
    ast = new Parser(tokenize(source)).parseExpression();
  } catch (e) {
    if (!(e instanceof SyntaxProblem)) throw e;
    return { cel: null, problems: [{ position: e.position, message: e.message }], notes };
  }
  const fields = builtinFieldNames();
  for (const [name, field] of Object.entries(opts.fields ?? {})) if (isEventField(field)) fields.set(name, field);
  const cel = new Translator(fields, opts.values ?? {}, problems, notes).condition(ast);
  return { cel: problems.length ? null : cel, problems, notes };
}

// ---- printing and lifting ----

const PREC: Record<Cel['op'], number> = { '||': 1, '&&': 2, cmp: 3, '!': 4, lit: 5 };

export function printCel(c: Cel): string {
  const child = (x: Cel, min: number) => (PREC[x.op] < min ? `(${printCel(x)})` : printCel(x));
  switch (c.op) {
    case '||':
    case '&&':
      return `${child(c.l, PREC[c.op])} ${c.op} ${child(c.r, PREC[c.op])}`;
    case '!':
      return `!${child(c.e, PREC['!'])}`;
    case 'cmp':
    case 'lit':
      return c.text;
  }
}

/**
 * Lifts the event types a condition requires into a list: the first top-level conjunct that is
 * `event.eventType == "x"` or a disjunction of such tests. What is left stays an expression.
 */
export function liftEventTypes(c: Cel): { eventTypes: string[] | null; rest: Cel | null } {
  const conjuncts: Cel[] = [];
  const flatten = (x: Cel): void => {
    if (x.op === '&&') {
      flatten(x.l);
      flatten(x.r);
    } else conjuncts.push(x);
  };
  flatten(c);
  const typesOf = (x: Cel): string[] | null => {
    if (x.op === 'cmp') return x.eventTypeEq ? [x.eventTypeEq] : null;
    if (x.op !== '||') return null;
    const l = typesOf(x.l);
    const r = typesOf(x.r);
    return l && r ? [...l, ...r] : null;
  };
  const at = conjuncts.findIndex((x) => typesOf(x) !== null);
  if (at < 0) return { eventTypes: null, rest: c };
  const eventTypes = [...new Set(typesOf(conjuncts[at]!)!)];
  conjuncts.splice(at, 1);
  const rest = conjuncts.length ? conjuncts.reduce((l, r) => ({ op: '&&', l, r })) : null;
  return { eventTypes, rest };
}

// ---- tokenizer ----

class SyntaxProblem extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} (at character ${position + 1})`);
  }
}

type Tok =
  | { k: 'num'; v: number; text: string; pos: number }
  | { k: 'str'; v: string; pos: number }
  | { k: 'id'; v: string; pos: number }
  | { k: 'op'; v: string; pos: number }
  | { k: 'eof'; pos: number };

const OPS2 = ['&&', '||', '==', '!=', '<=', '>=', '=~', '<<', '>>'];
const OPS1 = '!<>()+-*/%&|^~?:,;[]{}=';
const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const IDENT = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*/;
const ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = src.slice(i);
    const num = NUMBER.exec(rest);
    if (num) {
      const after = src[i + num[0].length];
      if (after !== undefined && /[\w$]/.test(after)) {
        throw new SyntaxProblem(`the number literal "${(/^[\w$.]+/.exec(rest) ?? [num[0]])[0]}" is not supported (plain decimal numbers only)`, i);
      }
      out.push({ k: 'num', v: Number(num[0]), text: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let v = '';
      for (;;) {
        const d = src[j];
        if (d === undefined) throw new SyntaxProblem('unterminated string literal', i);
        if (d === c) break;
        if (d === '\\') {
          const e = src[j + 1];
          if (e === undefined || ESCAPES[e] === undefined) throw new SyntaxProblem(`unsupported escape "\\${e ?? ''}" in a string literal`, j);
          v += ESCAPES[e];
          j += 2;
          continue;
        }
        v += d;
        j++;
      }
      if (v.includes('#{')) throw new SyntaxProblem('string interpolation (#{…}) is not supported', i);
      out.push({ k: 'str', v, pos: i });
      i = j + 1;
      continue;
    }
    const id = IDENT.exec(rest);
    if (id) {
      out.push({ k: 'id', v: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const two = rest.slice(0, 2);
    if (OPS2.includes(two)) {
      out.push({ k: 'op', v: two, pos: i });
      i += 2;
      continue;
    }
    if (OPS1.includes(c)) {
      out.push({ k: 'op', v: c, pos: i });
      i++;
      continue;
    }
    throw new SyntaxProblem(`unexpected character "${c}"`, i);
  }
  out.push({ k: 'eof', pos: src.length });
  return out;
}

// ---- parser ----

type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

type Node =
  | { t: '||' | '&&'; l: Node; r: Node; pos: number }
  | { t: '!'; e: Node; pos: number }
  | { t: 'cmp'; op: CmpOp; l: Node; r: Node; pos: number }
  | { t: 'num'; v: number; text: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'nil'; pos: number }
  | { t: 'bool'; v: boolean; pos: number }
  | { t: 'id'; name: string; pos: number };

const KEYWORDS = new Set(['let', 'if', 'else', 'elsif', 'for', 'while', 'return', 'fn', 'lambda', 'new', 'break', 'continue', 'try', 'catch', 'throw', 'use', 'end']);

function unsupported(t: Tok): string {
  if (t.k === 'eof') return 'the expression ends too early';
  if (t.k !== 'op') return `unexpected ${t.k === 'id' ? `name "${t.v}"` : t.k === 'num' ? `number ${t.text}` : 'string'}`;
  switch (t.v) {
    case '=~':
      return 'regular-expression matching (=~) is not supported';
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
      return `arithmetic (${t.v}) is not supported`;
    case '&':
    case '|':
    case '^':
    case '~':
    case '<<':
    case '>>':
      return `the bitwise operator ${t.v} is not supported`;
    case '?':
    case ':':
      return 'the conditional operator (?:) is not supported';
    case '=':
      return 'assignment (=) is not supported; compare with ==';
    case ';':
      return 'several statements are not supported: write one condition';
    case '[':
    case ']':
      return 'indexing ([…]) is not supported';
    case '{':
    case '}':
      return 'blocks and lambdas are not supported';
    default:
      return `unexpected "${t.v}"`;
  }
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private isOp(...ops: string[]): boolean {
    const t = this.peek();
    return t.k === 'op' && ops.includes(t.v);
  }

  parseExpression(): Node {
    const n = this.or();
    const t = this.peek();
    if (t.k !== 'eof') throw new SyntaxProblem(t.k === 'op' && t.v === ')' ? 'unbalanced ")"' : unsupported(t), t.pos);
    return n;
  }

  private or(): Node {
    let l = this.and();
    while (this.isOp('||')) {
      const pos = this.toks[this.i++]!.pos;
      l = { t: '||', l, r: this.and(), pos };
    }
    return l;
  }
  private and(): Node {
    let l = this.equality();
    while (this.isOp('&&')) {
      const pos = this.toks[this.i++]!.pos;
      l = { t: '&&', l, r: this.equality(), pos };
    }
    return l;
  }
  private equality(): Node {
    let l = this.relational();
    while (this.isOp('==', '!=')) {
      const t = this.toks[this.i++] as Extract<Tok, { k: 'op' }>;
      l = { t: 'cmp', op: t.v as CmpOp, l, r: this.relational(), pos: t.pos };
    }
    return l;
  }
  private relational(): Node {
    let l = this.unary();
    while (this.isOp('<', '<=', '>', '>=')) {
      const t = this.toks[this.i++] as Extract<Tok, { k: 'op' }>;
      l = { t: 'cmp', op: t.v as CmpOp, l, r: this.unary(), pos: t.pos };
    }
    return l;
  }
  private unary(): Node {
    if (this.isOp('!')) {
      const pos = this.toks[this.i++]!.pos;
      return { t: '!', e: this.unary(), pos };
    }
    return this.primary();
  }
  private primary(): Node {
    const t = this.peek();
    if (t.k === 'op' && t.v === '(') {
      this.i++;
      const n = this.or();
      const close = this.peek();
      if (!(close.k === 'op' && close.v === ')')) throw new SyntaxProblem(close.k === 'eof' ? 'missing ")"' : unsupported(close), close.pos);
      this.i++;
      return n;
    }
    if (t.k === 'op' && t.v === '-') {
      const n = this.toks[this.i + 1]!;
      if (n.k === 'num' && n.pos === t.pos + 1) {
        this.i += 2;
        return { t: 'num', v: -n.v, text: `-${n.text}`, pos: t.pos };
      }
      throw new SyntaxProblem(unsupported(t), t.pos);
    }
    if (t.k === 'num') {
      this.i++;
      return { t: 'num', v: t.v, text: t.text, pos: t.pos };
    }
    if (t.k === 'str') {
      this.i++;
      return { t: 'str', v: t.v, pos: t.pos };
    }
    if (t.k === 'id') {
      this.i++;
      const next = this.peek();
      if (next.k === 'op' && next.v === '(') throw new SyntaxProblem(`function calls (${t.v}(…)) are not supported`, t.pos);
      if (t.v === 'nil') return { t: 'nil', pos: t.pos };
      if (t.v === 'true' || t.v === 'false') return { t: 'bool', v: t.v === 'true', pos: t.pos };
      if (KEYWORDS.has(t.v)) throw new SyntaxProblem(`Aviator statements ("${t.v}") are not supported: write one condition`, t.pos);
      if (t.v.includes('.')) throw new SyntaxProblem(`property paths ("${t.v}") are not supported: name an event field`, t.pos);
      return { t: 'id', name: t.v, pos: t.pos };
    }
    throw new SyntaxProblem(unsupported(t), t.pos);
  }
}

// ---- typing and translation ----

type Val =
  | { k: 'field'; field: EventField; type: FieldType; ident: string; pos: number }
  | { k: 'num'; v: number; text: string; pos: number }
  | { k: 'str'; v: string; pos: number }
  | { k: 'nil'; pos: number }
  | { k: 'bool'; cel: Cel; pos: number };

/** A CEL double literal (`10` → `10.0`), so comparisons never mix int and double. */
function celDouble(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return `${v}.0`;
  return String(v);
}

const celString = (s: string) => JSON.stringify(s);
const typeName = (t: FieldType) => (t === 'double' ? 'a number' : 'a string');
const FLIP: Record<CmpOp, CmpOp> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

class Translator {
  constructor(
    private readonly fields: Map<string, EventField>,
    private readonly values: Record<string, Record<string, string>>,
    private readonly problems: AviatorProblem[],
    private readonly notes: string[],
  ) {}

  private fail(pos: number | null, message: string): null {
    this.problems.push({ position: pos, message: pos === null ? message : `${message} (at character ${pos + 1})` });
    return null;
  }

  private describe(v: Val): string {
    switch (v.k) {
      case 'field':
        return v.ident === v.field ? `event.${v.field}` : `${v.ident} (event.${v.field})`;
      case 'num':
        return `the number ${v.text}`;
      case 'str':
        return `the string ${celString(v.v)}`;
      case 'nil':
        return 'nil';
      case 'bool':
        return 'a condition';
    }
  }

  /** A node that must be true or false. */
  condition(n: Node): Cel | null {
    switch (n.t) {
      case '||':
      case '&&': {
        const l = this.condition(n.l);
        const r = this.condition(n.r);
        return l && r ? { op: n.t, l, r } : null;
      }
      case '!': {
        const e = this.condition(n.e);
        return e && { op: '!', e };
      }
      case 'cmp':
        return this.compare(n);
      case 'bool':
        return { op: 'lit', text: n.v ? 'true' : 'false' };
      case 'id': {
        const v = this.value(n);
        return v && this.fail(n.pos, `${this.describe(v)} is a value, not a condition: compare it with something`);
      }
      case 'num':
      case 'str':
      case 'nil':
        return this.fail(n.pos, `${this.describe(this.value(n)!)} is not a condition`);
    }
  }

  private value(n: Node): Val | null {
    switch (n.t) {
      case 'id': {
        const field = this.fields.get(n.name);
        if (field === undefined) {
          return this.fail(
            n.pos,
            `unknown name "${n.name}": not a Nudge event field (${NUDGE_FIELDS.join(', ')}); map it to one with opts.fields: { ${JSON.stringify(n.name)}: "<field>" }`,
          );
        }
        return { k: 'field', field, type: EVENT_REF_FIELDS[field], ident: n.name, pos: n.pos };
      }
      case 'num':
        return { k: 'num', v: n.v, text: n.text, pos: n.pos };
      case 'str':
        return { k: 'str', v: n.v, pos: n.pos };
      case 'nil':
        return { k: 'nil', pos: n.pos };
      default: {
        const cel = this.condition(n);
        return cel && { k: 'bool', cel, pos: n.pos };
      }
    }
  }

  private compare(n: Extract<Node, { t: 'cmp' }>): Cel | null {
    const l = this.value(n.l);
    const r = this.value(n.r);
    if (!l || !r) return null;
    const op = n.op;
    const ordering = op !== '==' && op !== '!=';
    const cmp = (left: string, right: string, eventTypeEq?: string): Cel =>
      eventTypeEq ? { op: 'cmp', text: `${left} ${op} ${right}`, eventTypeEq } : { op: 'cmp', text: `${left} ${op} ${right}` };

    if (l.k === 'bool' || r.k === 'bool') {
      if (l.k !== 'bool' || r.k !== 'bool') return this.fail(n.pos, `cannot compare a condition with ${this.describe(l.k === 'bool' ? r : l)}`);
      if (ordering) return this.fail(n.pos, `conditions cannot be ordered with ${op}`);
      return cmp(`(${printCel(l.cel)})`, `(${printCel(r.cel)})`);
    }
    if (l.k === 'field' && r.k === 'field') {
      if (l.type !== r.type) return this.fail(n.pos, `cannot compare ${this.describe(l)} (${typeName(l.type)}) with ${this.describe(r)} (${typeName(r.type)})`);
      return cmp(`event.${l.field}`, `event.${r.field}`);
    }
    if (l.k === 'field' || r.k === 'field') {
      const [f, lit, fieldLeft] = l.k === 'field' ? [l, r, true] : [r as Extract<Val, { k: 'field' }>, l, false];
      const text = this.literalFor(f, lit as Exclude<Val, { k: 'field' | 'bool' }>, fieldLeft ? op : FLIP[op], n.pos);
      if (text === null) return null;
      if (text === NIL_IS_EMPTY) return cmp(`event.${f.field}`, '""');
      const eventTypeEq = op === '==' && f.field === 'eventType' && text !== '""' ? (JSON.parse(text) as string) : undefined;
      return fieldLeft ? cmp(`event.${f.field}`, text, eventTypeEq) : cmp(text, `event.${f.field}`, eventTypeEq);
    }
    // Two constants.
    if (l.k === 'num' && r.k === 'num') return cmp(celDouble(l.v), celDouble(r.v));
    if (l.k === 'str' && r.k === 'str') return cmp(celString(l.v), celString(r.v));
    return this.fail(n.pos, `cannot compare ${this.describe(l)} with ${this.describe(r)}`);
  }

  /** The CEL literal a constant becomes when compared with field `f` (op as seen from the field's side). */
  private literalFor(f: Extract<Val, { k: 'field' }>, lit: Extract<Val, { k: 'num' | 'str' | 'nil' }>, op: CmpOp, pos: number): string | null {
    const ordering = op !== '==' && op !== '!=';
    const map = Object.prototype.hasOwnProperty.call(this.values, f.ident) ? this.values[f.ident] : undefined;
    if (lit.k === 'nil') {
      if (f.type !== 'string') return this.fail(pos, `${this.describe(f)} is always present on a Nudge event: a comparison with nil cannot be converted`);
      if (ordering) return this.fail(pos, `nil cannot be ordered with ${op}`);
      this.notes.push(`${f.ident} ${op} nil became event.${f.field} ${op} "": a Nudge event holds "" for an absent ${f.field}`);
      return NIL_IS_EMPTY;
    }
    if (f.type === 'double') {
      if (map) return this.fail(pos, `opts.values.${f.ident} maps values to strings, but ${this.describe(f)} is a number`);
      if (lit.k !== 'num') return this.fail(pos, `cannot compare ${this.describe(f)} (a number) with ${this.describe(lit)}`);
      return celDouble(lit.v);
    }
    // A string field.
    if (map) {
      if (ordering) return this.fail(pos, `${this.describe(f)} takes its values from opts.values.${f.ident}, so ${op} on it cannot be converted (the codes' order is not the names' order)`);
      const keys = lit.k === 'num' ? [lit.text, String(lit.v)] : [lit.v];
      const key = keys.find((k) => Object.prototype.hasOwnProperty.call(map, k));
      if (key === undefined || typeof map[key] !== 'string') {
        return this.fail(pos, `${this.describe(lit)} has no entry in opts.values.${f.ident} (known: ${Object.keys(map).join(', ') || 'none'})`);
      }
      return celString(map[key]);
    }
    if (lit.k === 'num') {
      return this.fail(
        pos,
        `${this.describe(lit)} is compared with ${this.describe(f)}, a string: give opts.values.${f.ident} to say which ${f.field} each code stands for`,
      );
    }
    return celString(lit.v);
  }
}

const NIL_IS_EMPTY = '\u0000nil';
