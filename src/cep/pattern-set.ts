import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePattern, type CompiledPattern } from './compile-pattern.js';
import { PatternError } from './pattern-error.js';

export interface RejectedPattern {
  source: string;
  id: string | null;
  reason: string;
}

/**
 * The patterns in force, compiled once, in id order (the order in which one event's matches
 * are emitted), with an index from event type to the patterns that event can concern.
 */
export class PatternSet {
  readonly patterns: readonly CompiledPattern[];
  private readonly byType = new Map<string, CompiledPattern[]>();
  private readonly anyType: CompiledPattern[];
  private readonly byId: Map<string, CompiledPattern>;

  constructor(
    patterns: Iterable<CompiledPattern>,
    /** The pattern bucket's revision this set was read at (0: not from the bucket, e.g. files). */
    readonly revision = 0,
  ) {
    this.patterns = [...patterns].filter((p) => p.spec.enabled).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.byId = new Map(this.patterns.map((p) => [p.id, p]));
    if (this.byId.size !== this.patterns.length) throw new PatternError([{ path: 'id', message: 'two patterns share an id' }]);
    this.anyType = this.patterns.filter((p) => p.seesEveryEvent || p.relevantTypes === null);
  }

  /**
   * The longest type cap any pattern declares for an action type (0 = none): how long a user's
   * sent-action times of that type matter. Shadow patterns keep their own ledger (`shadow:<type>`).
   */
  typeCapWindow(ledgerKey: string): number {
    this.typeWindows ??= new Map();
    let w = this.typeWindows.get(ledgerKey);
    if (w === undefined) {
      w = 0;
      for (const p of this.patterns) if (p.action.typeCap && typeLedgerKey(p) === ledgerKey) w = Math.max(w, p.action.typeCap.withinMs);
      this.typeWindows.set(ledgerKey, w);
    }
    return w;
  }
  private typeWindows: Map<string, number> | undefined;

  get(id: string): CompiledPattern | undefined {
    return this.byId.get(id);
  }

  /** Patterns an event of this type can concern, in id order. */
  forType(eventType: string): readonly CompiledPattern[] {
    let list = this.byType.get(eventType);
    if (!list) {
      list = this.patterns.filter((p) => this.anyType.includes(p) || p.relevantTypes!.has(eventType));
      if (this.byType.size < 1_000) this.byType.set(eventType, list);
    }
    return list;
  }

  static empty(): PatternSet {
    return new PatternSet([]);
  }

  /** The documents in force (defaults filled in), enough to rebuild the set exactly. */
  documents(): unknown[] {
    return this.patterns.map((p) => p.spec);
  }

  /** documents() as JSON, computed once: checkpoints store it beside the revision. */
  get documentsText(): string {
    return (this.text ??= JSON.stringify(this.documents()));
  }
  private text: string | undefined;

  /** Rebuilds a set from documents that were validated when they came in. */
  static fromDocuments(docs: unknown[], revision: number): PatternSet {
    return new PatternSet(
      docs.map((d) => compilePattern(d)),
      revision,
    );
  }
}

/** Where a pattern's sent actions count against type caps: live and shadow patterns never share one. */
export const typeLedgerKey = (p: CompiledPattern): string => (p.spec.mode === 'shadow' ? `shadow:${p.action.type}` : p.action.type);

/** Every `*.json` in a directory, compiled; the broken ones come back as rejections with their reason. */
export function loadPatternDir(dir: string): { set: PatternSet; rejected: RejectedPattern[] } {
  const compiled: CompiledPattern[] = [];
  const rejected: RejectedPattern[] = [];
  for (const { source, text } of readPatternFiles(dir)) {
    const r = compilePatternText(text);
    if (r.ok) compiled.push(r.pattern);
    else rejected.push({ source, id: r.id, reason: r.reason });
  }
  const seen = new Set<string>();
  const unique = compiled.filter((p) => {
    if (seen.has(p.id)) {
      rejected.push({ source: dir, id: p.id, reason: `another file already defines pattern "${p.id}"` });
      return false;
    }
    seen.add(p.id);
    return true;
  });
  return { set: new PatternSet(unique), rejected };
}

/** The `*.json` files of a directory, in name order, as text. */
export function readPatternFiles(dir: string): Array<{ source: string; text: string }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ source: join(dir, f), text: readFileSync(join(dir, f), 'utf8') }));
}

export type CompileResult = { ok: true; pattern: CompiledPattern } | { ok: false; id: string | null; reason: string; problems: PatternError['problems'] };

/** JSON text → compiled pattern, or the reason it cannot be one. Never throws on bad input. */
export function compilePatternText(text: string): CompileResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const reason = `not JSON: ${(e as Error).message}`;
    return { ok: false, id: null, reason, problems: [{ path: '(file)', message: reason }] };
  }
  const id = doc && typeof doc === 'object' && typeof (doc as { id?: unknown }).id === 'string' ? (doc as { id: string }).id : null;
  try {
    return { ok: true, pattern: compilePattern(doc) };
  } catch (e) {
    if (!(e instanceof PatternError)) throw e;
    return { ok: false, id, reason: e.message, problems: e.problems };
  }
}
