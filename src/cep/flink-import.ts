import { compilePattern } from './compile-pattern.js';
import { PatternError } from './pattern-error.js';
import type { PatternInput } from './pattern-schema.js';
import { translateAviator, printCel, liftEventTypes, isEventField, NUDGE_FIELDS, type Cel, type AviatorOptions } from './aviator-to-cel.js';

/**
 * Converts a Flink dynamic-CEP pattern (the JSON of Ververica Platform / Alibaba "dynamic CEP",
 * FLIP-200's CepJsonUtils: a GRAPH of nodes and edges) into a Nudge pattern document.
 *
 * The graph is a chain: the node no edge points to starts it, each edge's type is the contiguity
 * of its target, each node's quantifier becomes the stage's quantifier (its consumingStrategy is
 * the *inner* one, between the events of a loop), AVIATOR conditions become CEL (see
 * aviator-to-cel.ts), the graph's window and afterMatchStrategy become `within` / stage gaps and
 * `skip`. What cannot be converted exactly is a problem with its path into the input, and then
 * `pattern` is null; where Flink and Nudge differ but a faithful choice exists, `notes` say so.
 * The result is validated with compilePattern, whose complaints become problems too.
 */

export interface FlinkImportOptions extends AviatorOptions {
  /** Pattern id; default: the graph's name as a slug (CepJsonUtils names the graph after its last node). */
  id?: string;
  version?: number;
  /** Flink patterns carry no action: the action type of the result (default `flink_match`), with an empty payload. */
  actionType?: string;
  /**
   * Where a graph-level PREVIOUS_AND_CURRENT window applies. `everyGap` (default): every event
   * that has a previous event in the match (stage `within` on every stage after the first, and on
   * the first when it loops) — what the window's name says. `lastNode`: what Flink's compiler
   * actually builds from the JSON, which attaches the window to the last node only (and ignores it
   * there when that node has a times/looping quantifier).
   */
  previousAndCurrent?: 'everyGap' | 'lastNode';
}

export interface FlinkImportResult {
  pattern: PatternInput | null;
  problems: Array<{ path: string; message: string }>;
  notes: string[];
}

type Problem = FlinkImportResult['problems'][number];
type Obj = Record<string, unknown>;
type StageInput = PatternInput['stages'][number];

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Obj, k: string) => o[k] !== undefined && o[k] !== null;

const EDGE_CONTIGUITY = {
  STRICT: 'next',
  SKIP_TILL_NEXT: 'followedBy',
  SKIP_TILL_ANY: 'followedByAny',
  NOT_NEXT: 'notNext',
  NOT_FOLLOW: 'notFollowedBy',
} as const;
type EdgeType = keyof typeof EDGE_CONTIGUITY;

const SKIPS = {
  NO_SKIP: 'noSkip',
  SKIP_TO_NEXT: 'skipToNext',
  SKIP_PAST_LAST_EVENT: 'skipPastLastEvent',
  SKIP_TO_FIRST: 'skipToFirst',
  SKIP_TO_LAST: 'skipToLast',
} as const;

/** java.util.concurrent.TimeUnit, which Flink's Time (de)serializes. */
const UNIT_MS: Record<string, number> = {
  NANOSECONDS: 1e-6,
  MICROSECONDS: 1e-3,
  MILLISECONDS: 1,
  SECONDS: 1_000,
  MINUTES: 60_000,
  HOURS: 3_600_000,
  DAYS: 86_400_000,
};

const QUANTIFIER_PROPERTIES = ['SINGLE', 'LOOPING', 'TIMES', 'OPTIONAL', 'GREEDY'];
const INNER = ['STRICT', 'SKIP_TILL_NEXT', 'SKIP_TILL_ANY'];

export function importFlinkPattern(json: unknown, opts: FlinkImportOptions = {}): FlinkImportResult {
  const problems: Problem[] = [];
  const notes: string[] = [];
  let pattern: PatternInput | null = null;
  try {
    pattern = new Importer(opts, problems, notes).run(json);
  } catch (e) {
    problems.push({ path: '(input)', message: `could not convert: ${e instanceof Error ? e.message : String(e)}` });
  }
  return { pattern: problems.length ? null : pattern, problems, notes };
}

/** A duration as the pattern language writes it: the largest unit that divides it. */
function formatDuration(ms: number): string | number {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A pattern id from a graph name: lowercase letters, digits, - and _. */
function slugId(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 64);
}

interface Quantifier {
  kind: 'SINGLE' | 'TIMES' | 'LOOPING';
  from: number;
  to: number;
  optional: boolean;
  greedy: boolean;
  inner: string;
  windowMs: number | null;
  until: string | null;
}

interface Converted {
  node: number;
  name: string;
  negation: boolean;
  quantifier: Quantifier | null;
  stage: StageInput;
}

class Importer {
  constructor(
    private readonly opts: FlinkImportOptions,
    private readonly problems: Problem[],
    private readonly notes: string[],
  ) {}

  private fail(path: string, message: string): null {
    this.problems.push({ path, message });
    return null;
  }

  run(input: unknown): PatternInput | null {
    let json = input;
    if (typeof json === 'string') {
      try {
        json = JSON.parse(json) as unknown;
      } catch (e) {
        return this.fail('(input)', `not JSON: ${(e as Error).message}`);
      }
    }
    if (!isObj(json)) return this.fail('(input)', 'a Flink dynamic-CEP pattern is a JSON object: a GRAPH node with `nodes` and `edges`');
    this.checkOptions();
    if (has(json, 'type') && json.type !== 'COMPOSITE') {
      return this.fail('type', `the top level must be a GRAPH (type COMPOSITE) with nodes and edges, not ${JSON.stringify(json.type)}`);
    }
    this.graphLevel(json);

    // Nodes and edges, then the chain they form.
    const nodes = this.nodes(json.nodes);
    if (!nodes) return null;
    const order = this.chain(json, nodes);
    if (!order) return null;

    // Stages.
    const stageNames = this.stageNames(nodes.map((n) => n.name));
    const converted: Converted[] = [];
    order.forEach(({ node, edge }, position) => {
      const c = this.stage(nodes[node]!.spec, node, stageNames[node]!, edge, position === 0);
      if (c) converted.push(c);
    });

    const skip = this.skip(json.afterMatchStrategy, nodes, stageNames);
    const window = this.window(json.window);
    if (this.problems.length) return null;

    let within: string | number | undefined;
    this.stageWindows(converted);
    if (window) {
      if (window.type === 'FIRST_AND_LAST') within = formatDuration(window.ms);
      else within = this.previousAndCurrent(window.ms, converted);
    }
    if (this.problems.length) return null;

    if (skip === 'noSkip' && converted.some((c) => c.quantifier && !c.negation && c.quantifier.kind !== 'SINGLE' && c.quantifier.from !== c.quantifier.to)) {
      this.notes.push(
        'afterMatchStrategy NO_SKIP with a variable-length node: Nudge emits one match per start event (the longest up to the completing event), where Flink also emits each shorter prefix',
      );
    }
    this.notes.push('key: Flink keys the stream outside the pattern (keyBy); the pattern uses Nudge\'s default key "user" — set `key` ("session", "product") if the Flink job keyed otherwise');

    const graphName = typeof json.name === 'string' ? json.name : '';
    let id = this.opts.id;
    if (id === undefined) {
      id = slugId(graphName);
      if (!id) {
        id = 'flink-pattern';
        this.notes.push('the graph has no usable name: id "flink-pattern" (pass opts.id)');
      }
    }
    const pattern: PatternInput = {
      id,
      version: this.opts.version ?? 1,
      description: `Imported from the Flink dynamic-CEP pattern ${JSON.stringify(graphName)}`,
      ...(within !== undefined ? { within } : {}),
      skip,
      stages: converted.map((c) => c.stage),
      action: { type: this.opts.actionType ?? 'flink_match', payload: {} },
    };
    this.validate(pattern, converted);
    return this.problems.length ? null : pattern;
  }

  private checkOptions(): void {
    for (const [name, field] of Object.entries(this.opts.fields ?? {})) {
      if (!isEventField(field)) this.fail(`opts.fields.${name}`, `${JSON.stringify(field)} is not a Nudge event field (${NUDGE_FIELDS.join(', ')})`);
    }
    for (const [name, map] of Object.entries(this.opts.values ?? {})) {
      if (!isObj(map) || Object.values(map).some((v) => typeof v !== 'string')) this.fail(`opts.values.${name}`, 'must map each literal (as written) to a string');
    }
  }

  /** The graph node's own quantifier and condition: Flink's GraphSpec ignores them at the top level. */
  private graphLevel(json: Obj): void {
    const q = json.quantifier;
    if (isObj(q) && Array.isArray(q.properties) && q.properties.some((p) => p !== 'SINGLE')) {
      this.notes.push(`the graph's own quantifier ${JSON.stringify(q.properties)} is ignored (as Flink does for the top-level graph)`);
    }
    if (has(json, 'condition')) this.notes.push("the graph's own condition is ignored (as Flink does for the top-level graph)");
  }

  private nodes(raw: unknown): Array<{ name: string; spec: Obj }> | null {
    if (!Array.isArray(raw) || raw.length === 0) return this.fail('nodes', 'a pattern graph needs a non-empty `nodes` array');
    const out: Array<{ name: string; spec: Obj }> = [];
    const seen = new Set<string>();
    raw.forEach((n, i) => {
      const path = `nodes.${i}`;
      if (!isObj(n)) return this.fail(path, 'a node is an object with name, quantifier and condition');
      if (typeof n.name !== 'string' || n.name === '') return this.fail(`${path}.name`, 'a node needs a non-empty name');
      if (seen.has(n.name)) this.fail(`${path}.name`, `duplicate node name "${n.name}"`);
      seen.add(n.name);
      if (n.type === 'COMPOSITE' || Array.isArray(n.nodes)) {
        this.fail(`${path}.type`, `node "${n.name}" is a nested graph (COMPOSITE): Nudge patterns have no groups, so it cannot be converted`);
      } else if (has(n, 'type') && n.type !== 'ATOMIC') {
        this.fail(`${path}.type`, `unknown node type ${JSON.stringify(n.type)} (ATOMIC or COMPOSITE)`);
      }
      out.push({ name: n.name, spec: n });
    });
    return this.problems.length ? null : out;
  }

  /** The nodes in pattern order, each with the type of the edge into it (null for the start). */
  private chain(json: Obj, nodes: Array<{ name: string }>): Array<{ node: number; edge: EdgeType | null }> | null {
    const index = new Map(nodes.map((n, i) => [n.name, i]));
    let edges: unknown = json.edges;
    if (edges === undefined || edges === null) {
      if (nodes.length > 1) return this.fail('edges', 'a graph of several nodes needs `edges` to order them');
      edges = [];
    }
    if (!Array.isArray(edges)) return this.fail('edges', '`edges` must be an array');
    const out = new Map<number, { to: number; type: EdgeType; at: number }>();
    const into = new Map<number, { from: number; type: EdgeType; at: number }>();
    edges.forEach((e, i) => {
      const path = `edges.${i}`;
      if (!isObj(e)) return this.fail(path, 'an edge is an object with source, target and type');
      const from = typeof e.source === 'string' ? index.get(e.source) : undefined;
      const to = typeof e.target === 'string' ? index.get(e.target) : undefined;
      if (from === undefined) this.fail(`${path}.source`, `${JSON.stringify(e.source)} is not the name of a node`);
      if (to === undefined) this.fail(`${path}.target`, `${JSON.stringify(e.target)} is not the name of a node`);
      const type = e.type;
      if (typeof type !== 'string' || !(type in EDGE_CONTIGUITY)) {
        this.fail(`${path}.type`, `unknown edge type ${JSON.stringify(type)} (${Object.keys(EDGE_CONTIGUITY).join(', ')})`);
      }
      if (from === undefined || to === undefined || typeof type !== 'string' || !(type in EDGE_CONTIGUITY)) return;
      if (from === to) return this.fail(path, `edge from "${nodes[from]!.name}" to itself: loops are quantifiers, not edges`);
      if (out.has(from)) return this.fail(path, `node "${nodes[from]!.name}" has a second outgoing edge: a Flink pattern is a sequence, not a branch`);
      if (into.has(to)) return this.fail(path, `node "${nodes[to]!.name}" has a second incoming edge: a Flink pattern is a sequence`);
      out.set(from, { to, type: type as EdgeType, at: i });
      into.set(to, { from, type: type as EdgeType, at: i });
    });
    if (this.problems.length) return null;
    const starts = nodes.map((_, i) => i).filter((i) => !into.has(i));
    if (starts.length !== 1) {
      return this.fail(
        'edges',
        starts.length === 0
          ? 'every node has an incoming edge: the edges form a cycle and there is no start'
          : `the pattern must have exactly one start (a node no edge points to); these have none: ${starts.map((i) => `"${nodes[i]!.name}"`).join(', ')}`,
      );
    }
    const order: Array<{ node: number; edge: EdgeType | null }> = [];
    const visited = new Set<number>();
    let at: number | undefined = starts[0]!;
    let edge: { type: EdgeType } | null = null;
    while (at !== undefined && !visited.has(at)) {
      visited.add(at);
      order.push({ node: at, edge: edge?.type ?? null });
      const next = out.get(at);
      edge = next ?? null;
      at = next?.to;
    }
    if (visited.size !== nodes.length) {
      const rest = nodes.map((n, i) => (visited.has(i) ? null : `"${n.name}"`)).filter(Boolean);
      return this.fail('edges', `nodes ${rest.join(', ')} are not on the path from the start "${nodes[starts[0]!]!.name}"`);
    }
    return order;
  }

  /** Nudge stage names: letters, digits and _; Flink's names are kept when they already are. */
  private stageNames(names: string[]): string[] {
    const used = new Set<string>();
    return names.map((name) => {
      let base = name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 60);
      if (!/^[A-Za-z_]/.test(base)) base = `_${base}`;
      let out = base;
      for (let k = 2; used.has(out); k++) out = `${base}_${k}`;
      used.add(out);
      if (out !== name) this.notes.push(`node "${name}" became stage "${out}" (stage names are letters, digits and _)`);
      return out;
    });
  }

  private stage(spec: Obj, node: number, name: string, edge: EdgeType | null, first: boolean): Converted | null {
    const path = `nodes.${node}`;
    const negation = edge === 'NOT_NEXT' || edge === 'NOT_FOLLOW';
    const q = this.quantifier(spec.quantifier, `${path}.quantifier`, spec.name as string, negation);
    const cond = this.condition(spec.condition, `${path}.condition`);
    if (!q || cond === null) return null;

    const stage: StageInput = { name };
    if (cond.eventTypes) stage.eventType = cond.eventTypes.length === 1 ? cond.eventTypes[0]! : cond.eventTypes;
    if (cond.where) stage.where = cond.where;
    if (!first && edge) stage.contiguity = EDGE_CONTIGUITY[edge];
    if (!negation) {
      if (q.kind === 'TIMES' && (q.from > 1 || q.to > 1)) stage.times = q.from === q.to ? q.from : [q.from, q.to];
      if (q.kind === 'LOOPING') {
        if (q.from === 1) stage.oneOrMore = true;
        else stage.timesOrMore = q.from;
      }
      if (q.optional) stage.optional = true;
      if (q.greedy) stage.greedy = true;
      const many = q.kind === 'LOOPING' || q.to > 1;
      if (many && q.inner === 'STRICT') stage.consecutive = true;
      if (many && q.inner === 'SKIP_TILL_ANY') stage.allowCombinations = true;
      if (q.until) stage.until = q.until;
    }
    return { node, name, negation, quantifier: q, stage };
  }

  private quantifier(raw: unknown, path: string, nodeName: string, negation: boolean): Quantifier | null {
    if (raw === undefined || raw === null) {
      this.notes.push(`node "${nodeName}" has no quantifier: taken as SINGLE (one event)`);
      return { kind: 'SINGLE', from: 1, to: 1, optional: false, greedy: false, inner: 'SKIP_TILL_NEXT', windowMs: null, until: null };
    }
    if (!isObj(raw)) return this.fail(path, 'a quantifier is an object with consumingStrategy and properties');
    const props = raw.properties;
    if (!Array.isArray(props) || props.some((p) => typeof p !== 'string')) return this.fail(`${path}.properties`, 'must be an array of SINGLE, LOOPING, TIMES, OPTIONAL, GREEDY');
    const unknown = props.filter((p) => !QUANTIFIER_PROPERTIES.includes(p as string));
    if (unknown.length) return this.fail(`${path}.properties`, `unknown quantifier properties ${JSON.stringify(unknown)} (${QUANTIFIER_PROPERTIES.join(', ')})`);
    const kinds = (['SINGLE', 'LOOPING', 'TIMES'] as const).filter((k) => props.includes(k));
    if (kinds.length !== 1) return this.fail(`${path}.properties`, `needs exactly one of SINGLE, LOOPING, TIMES (found ${kinds.length ? kinds.join(', ') : 'none'})`);
    const kind = kinds[0]!;
    const optional = props.includes('OPTIONAL');
    const greedy = props.includes('GREEDY');
    const inner = raw.consumingStrategy ?? 'SKIP_TILL_NEXT';
    if (typeof inner !== 'string' || !INNER.includes(inner)) {
      return this.fail(`${path}.consumingStrategy`, `the quantifier's (inner) consumingStrategy is STRICT, SKIP_TILL_NEXT or SKIP_TILL_ANY, not ${JSON.stringify(inner)}`);
    }

    if (negation) {
      if (kind !== 'SINGLE' || optional || greedy || has(raw, 'untilCondition')) {
        return this.fail(`${path}.properties`, `"${nodeName}" is a negation (NOT_NEXT / NOT_FOLLOW edge): it matches one event, so its quantifier must be just SINGLE`);
      }
      return { kind, from: 1, to: 1, optional, greedy, inner, windowMs: null, until: null };
    }

    let from = 1;
    let to = 1;
    let windowMs: number | null = null;
    const times = raw.times;
    if (kind !== 'SINGLE') {
      if (times === undefined || times === null) {
        if (kind === 'TIMES') return this.fail(`${path}.times`, 'a TIMES quantifier needs times { from, to }');
      } else {
        if (!isObj(times)) return this.fail(`${path}.times`, 'times is { from, to, windowTime }');
        const f = times.from;
        if (typeof f !== 'number' || !Number.isInteger(f) || f < 1) return this.fail(`${path}.times.from`, 'must be an integer ≥ 1');
        from = f;
        to = f;
        if (kind === 'TIMES' && has(times, 'to')) {
          const t = times.to;
          if (typeof t !== 'number' || !Number.isInteger(t) || t < f) return this.fail(`${path}.times.to`, `must be an integer ≥ from (${f})`);
          to = t;
        }
        if (kind === 'LOOPING') to = Infinity;
        if (has(times, 'windowTime')) {
          windowMs = this.time(times.windowTime, `${path}.times.windowTime`);
          if (windowMs === null) return null;
        }
      }
      if (kind === 'LOOPING' && (times === undefined || times === null)) to = Infinity;
    } else if (isObj(times) && has(times, 'windowTime')) {
      this.notes.push(`node "${nodeName}": times.windowTime on a SINGLE node has no effect (no two events of the node to be apart) and is ignored`);
    }

    if (kind === 'SINGLE') {
      if (greedy) return this.fail(`${path}.properties`, 'GREEDY applies to a looping or times node, not to SINGLE (Flink rejects it too)');
      if (inner !== 'SKIP_TILL_NEXT') {
        this.notes.push(`node "${nodeName}": consumingStrategy ${inner} is the strategy between the events of a loop; a SINGLE node has none, so it is ignored (contiguity to the previous node comes from the edge)`);
      }
    }
    if (greedy && inner === 'SKIP_TILL_ANY') return this.fail(`${path}.properties`, 'GREEDY cannot be combined with an inner SKIP_TILL_ANY (Flink rejects it too)');

    let until: string | null = null;
    if (has(raw, 'untilCondition')) {
      if (kind !== 'LOOPING') return this.fail(`${path}.untilCondition`, 'an until condition applies to a LOOPING node only (Flink rejects it elsewhere too)');
      const c = this.condition(raw.untilCondition, `${path}.untilCondition`);
      if (c === null) return null;
      const whole = c.cel ? printCel(c.cel) : null;
      if (!whole) return this.fail(`${path}.untilCondition`, 'an until condition needs an expression');
      until = whole;
    }
    if (windowMs !== null && to === 1) {
      this.notes.push(`node "${nodeName}": times.windowTime on a node of one event has no effect and is ignored`);
      windowMs = null;
    }
    return { kind, from, to, optional, greedy, inner, windowMs, until };
  }

  /** A condition as CEL (whole, and with its event-type test lifted out); null after a problem. */
  private condition(raw: unknown, path: string): { cel: Cel | null; eventTypes: string[] | null; where: string | null } | null {
    if (raw === undefined || raw === null) return { cel: null, eventTypes: null, where: null };
    const cel = this.conditionCel(raw, path);
    if (!cel) return null;
    const { eventTypes, rest } = liftEventTypes(cel);
    return { cel, eventTypes, where: rest ? printCel(rest) : null };
  }

  private conditionCel(raw: unknown, path: string): Cel | null {
    if (!isObj(raw)) return this.fail(path, 'a condition is an object with a type (AVIATOR, CLASS, GROOVY)');
    switch (raw.type) {
      case 'AVIATOR': {
        if (typeof raw.expression !== 'string' || raw.expression.trim() === '') return this.fail(`${path}.expression`, 'an AVIATOR condition needs an expression');
        const r = translateAviator(raw.expression, { fields: this.opts.fields, values: this.opts.values });
        for (const p of r.problems) this.fail(`${path}.expression`, `${p.message} in ${JSON.stringify(raw.expression)}`);
        for (const n of r.notes) this.notes.push(`${path}.expression: ${n}`);
        return r.cel;
      }
      case 'CLASS': {
        const className = typeof raw.className === 'string' ? raw.className : '';
        const composite = /\.Rich(And|Or|Not)Condition$/.exec(className);
        if (composite && Array.isArray(raw.nestedConditions)) return this.composite(composite[1] as 'And' | 'Or' | 'Not', raw.nestedConditions, path);
        return this.fail(path, `CLASS condition ${className || '(no className)'} cannot be converted: rewrite it as an expression (an AVIATOR condition)`);
      }
      case 'GROOVY':
        return this.fail(path, 'GROOVY condition cannot be converted: rewrite it as an expression (an AVIATOR condition)');
      default:
        return this.fail(`${path}.type`, `unknown condition type ${JSON.stringify(raw.type)} (AVIATOR, CLASS)`);
    }
  }

  /** Flink's RichAnd/RichOr/RichNot conditions (type CLASS with nestedConditions). */
  private composite(kind: 'And' | 'Or' | 'Not', nested: unknown[], path: string): Cel | null {
    const parts = nested.map((c, i) => this.conditionCel(c, `${path}.nestedConditions.${i}`));
    if (parts.some((p) => p === null)) return null;
    const cels = parts as Cel[];
    if (kind === 'Not') {
      if (cels.length !== 1) return this.fail(`${path}.nestedConditions`, `RichNotCondition negates one condition, not ${cels.length}`);
      return { op: '!', e: cels[0]! };
    }
    if (cels.length < 2) return this.fail(`${path}.nestedConditions`, `Rich${kind}Condition combines two conditions, not ${cels.length}`);
    return cels.reduce((l, r) => ({ op: kind === 'And' ? '&&' : '||', l, r }));
  }

  /** Flink's Time JSON: { unit: TimeUnit, size } → milliseconds. */
  private time(raw: unknown, path: string): number | null {
    if (!isObj(raw)) return this.fail(path, 'a time is { unit, size }');
    const unit = raw.unit;
    const size = raw.size;
    if (typeof unit !== 'string' || UNIT_MS[unit] === undefined) return this.fail(`${path}.unit`, `unknown time unit ${JSON.stringify(unit)} (${Object.keys(UNIT_MS).join(', ')})`);
    if (typeof size !== 'number' || !Number.isFinite(size) || size <= 0) return this.fail(`${path}.size`, 'must be a positive number');
    const ms = size * UNIT_MS[unit]!;
    if (!Number.isInteger(ms) || ms < 1) return this.fail(path, `${size} ${unit} is not a whole number of milliseconds (Nudge's time resolution)`);
    return ms;
  }

  private window(raw: unknown): { type: 'FIRST_AND_LAST' | 'PREVIOUS_AND_CURRENT'; ms: number } | null {
    if (raw === undefined || raw === null) return null;
    if (!isObj(raw)) return this.fail('window', 'a window is { type, time: { unit, size } }');
    const type = raw.type;
    if (type !== 'FIRST_AND_LAST' && type !== 'PREVIOUS_AND_CURRENT') return this.fail('window.type', `unknown window type ${JSON.stringify(type)} (FIRST_AND_LAST, PREVIOUS_AND_CURRENT)`);
    const ms = this.time(raw.time, 'window.time');
    return ms === null ? null : { type, ms };
  }

  private skip(raw: unknown, nodes: Array<{ name: string }>, stageNames: string[]): PatternInput['skip'] {
    if (raw === undefined || raw === null) return 'noSkip';
    if (!isObj(raw)) return this.fail('afterMatchStrategy', 'afterMatchStrategy is { type, patternName }') ?? 'noSkip';
    const type = raw.type;
    if (typeof type !== 'string' || !(type in SKIPS)) {
      return this.fail('afterMatchStrategy.type', `unknown after-match strategy ${JSON.stringify(type)} (${Object.keys(SKIPS).join(', ')})`) ?? 'noSkip';
    }
    const skip = SKIPS[type as keyof typeof SKIPS];
    if (skip !== 'skipToFirst' && skip !== 'skipToLast') return skip;
    const at = nodes.findIndex((n) => n.name === raw.patternName);
    if (at < 0) return this.fail('afterMatchStrategy.patternName', `${type} needs the name of a node, not ${JSON.stringify(raw.patternName)}`) ?? 'noSkip';
    return skip === 'skipToFirst' ? { skipToFirst: stageNames[at]! } : { skipToLast: stageNames[at]! };
  }

  /** times.windowTime: Flink's limit on the gap between consecutive events of one looping/times node. */
  private stageWindows(converted: Converted[]): void {
    let positive = 0;
    for (const c of converted) {
      if (c.negation) continue;
      const w = c.quantifier?.windowMs ?? null;
      if (w !== null) {
        c.stage.within = formatDuration(w);
        this.notes.push(
          positive === 0
            ? `node "${c.name}": times.windowTime ${formatDuration(w)} (Flink: each event of the node comes less than that after the one before) → stage within ${JSON.stringify(formatDuration(w))}, the same gap limit`
            : `node "${c.name}": times.windowTime ${formatDuration(w)} → stage within ${JSON.stringify(formatDuration(w))}; Flink limits only the gaps between the node's own events, Nudge also the gap from the previous stage's last event to the node's first`,
        );
      }
      positive++;
    }
  }

  /** A graph-level PREVIOUS_AND_CURRENT window: gap limits (see FlinkImportOptions.previousAndCurrent). */
  private previousAndCurrent(ms: number, converted: Converted[]): string | number | undefined {
    const d = formatDuration(ms);
    const last = converted[converted.length - 1]!;
    const positives = converted.filter((c) => !c.negation);
    if (last.negation && last.stage.contiguity === 'notFollowedBy') {
      // Flink decides this absence at the last event + window; Nudge at the first event + within.
      const only = positives.length === 1 ? positives[0]! : null;
      if (!only || only.quantifier?.kind !== 'SINGLE' || only.quantifier.optional) {
        this.fail(
          'window.type',
          'a pattern ending in NOT_FOLLOW with a PREVIOUS_AND_CURRENT window cannot be converted: Flink decides the absence at the last event + window, Nudge at the first event + within (the same only when a single event comes before the absence)',
        );
        return undefined;
      }
      this.notes.push(`window PREVIOUS_AND_CURRENT ${d} before a trailing NOT_FOLLOW → pattern within ${JSON.stringify(d)} (one event precedes the absence, so its deadline is the same)`);
      return d;
    }
    const gap = (c: Converted) => {
      const current = c.stage.within === undefined ? null : (c.quantifier?.windowMs ?? null);
      if (current !== null && current <= ms) return;
      c.stage.within = d;
    };
    if (this.opts.previousAndCurrent === 'lastNode') {
      const q = last.quantifier;
      if (q && q.kind !== 'SINGLE') {
        this.notes.push(`window PREVIOUS_AND_CURRENT ${d}: Flink attaches it to the last node "${last.name}", which has a ${q.kind} quantifier, where it has no effect — nothing converted`);
        return undefined;
      }
      gap(last);
      this.notes.push(`window PREVIOUS_AND_CURRENT ${d} → stage within ${JSON.stringify(d)} on the last stage "${last.name}" only, as Flink's compiler attaches it`);
      return undefined;
    }
    positives.forEach((c, k) => {
      const q = c.quantifier;
      if (k > 0 || (q && q.kind !== 'SINGLE' && q.to > 1)) gap(c);
    });
    this.notes.push(
      `window PREVIOUS_AND_CURRENT ${d} → stage within ${JSON.stringify(d)} on every stage whose events follow another event of the match (a gap limit from the match's previous event). Flink's compiler attaches a graph-level PREVIOUS_AND_CURRENT window to the last node only; pass previousAndCurrent: "lastNode" for that`,
    );
    return undefined;
  }

  /** compilePattern's verdict, with its paths turned back into paths of the Flink input. */
  private validate(pattern: PatternInput, converted: Converted[]): void {
    try {
      compilePattern(pattern);
    } catch (e) {
      if (!(e instanceof PatternError)) {
        this.fail('(pattern)', `the converted pattern does not compile: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      for (const p of e.problems) this.problems.push(this.sourcePath(p, converted));
    }
  }

  private sourcePath(p: Problem, converted: Converted[]): Problem {
    const m = /^stages\.(\d+)(?:\.(.*))?$/.exec(p.path);
    if (m) {
      const c = converted[Number(m[1])];
      if (c) return { path: `nodes.${c.node}`, message: `(Nudge stages.${m[1]}${m[2] ? `.${m[2]}` : ''}) ${p.message}` };
    }
    const top: Record<string, string> = {
      id: this.opts.id !== undefined ? 'opts.id' : 'name',
      version: 'opts.version',
      within: 'window',
      'action.type': 'opts.actionType',
    };
    const root = p.path.split('.')[0]!;
    const path = top[p.path] ?? (root === 'skip' ? 'afterMatchStrategy' : root === 'stages' ? 'nodes' : `(pattern).${p.path}`);
    return { path, message: `(Nudge ${p.path}) ${p.message}` };
  }
}
