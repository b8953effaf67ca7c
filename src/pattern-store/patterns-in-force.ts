import { compilePatternText, PatternSet, type CompiledPattern } from '../cep/index.js';

/** One revision of one key of the pattern bucket, as read from KV. */
export interface BucketEntry {
  key: string;
  revision: number;
  created: Date;
  operation: 'PUT' | 'DEL' | 'PURGE';
  text: string;
}

export type EntryCheck = { ok: true; pattern: CompiledPattern } | { ok: false; reason: string };

/** Validates an entry the way the engine will: the document must compile and carry its key as id. */
export function checkEntry(e: BucketEntry): EntryCheck | null {
  if (e.operation !== 'PUT') return null;
  const r = compilePatternText(e.text);
  if (!r.ok) return { ok: false, reason: r.reason };
  if (r.pattern.id !== e.key) return { ok: false, reason: `stored under key "${e.key}" but its id is "${r.pattern.id}"` };
  return r;
}

export interface Rejection {
  id: string;
  revision: number;
  reason: string;
}

/**
 * Folds bucket entries, in revision order, into the patterns in force: per key the latest valid
 * document, unless a later delete removed it. A later invalid document is rejected and leaves the
 * previous valid one in force — a bad put never takes a working rule down.
 */
export class PatternsInForce {
  private readonly valid = new Map<string, { revision: number; pattern: CompiledPattern }>();
  private readonly rejectedByKey = new Map<string, Rejection>();
  /** Highest bucket revision folded in. */
  revision = 0;

  /** Returns the rejection when the entry is refused, else null. */
  apply(e: BucketEntry): Rejection | null {
    if (e.revision <= this.revision) return null;
    this.revision = e.revision;
    const check = checkEntry(e);
    if (check === null) {
      this.valid.delete(e.key);
      this.rejectedByKey.delete(e.key);
      return null;
    }
    if (!check.ok) {
      const r = { id: e.key, revision: e.revision, reason: check.reason };
      this.rejectedByKey.set(e.key, r);
      return r;
    }
    this.valid.set(e.key, { revision: e.revision, pattern: check.pattern });
    this.rejectedByKey.delete(e.key);
    return null;
  }

  /** The latest entry of each key that was refused (and is still the latest). */
  get rejected(): Rejection[] {
    return [...this.rejectedByKey.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The bucket revision each pattern in force was put at. */
  revisionOf(id: string): number | undefined {
    return this.valid.get(id)?.revision;
  }

  toSet(): PatternSet {
    return new PatternSet(
      [...this.valid.values()].map((v) => v.pattern),
      this.revision,
    );
  }
}
