import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { Buckets } from '../nats/index.js';
import { compilePattern, PatternError, readPatternFiles, compilePatternText } from '../cep/index.js';
import { PatternsInForce, checkEntry, type BucketEntry } from './patterns-in-force.js';

/** KV keeps at most this many revisions per key (the server's limit): `history` shows them. */
const HISTORY = 64;

/**
 * The bucket's own bookkeeping key: it records that first-start seeding happened. Pattern ids
 * start with a letter or digit, so no pattern can take it, and every read of patterns skips it.
 */
const SEED_KEY = '_seeded';
const isBookkeeping = (key: string): boolean => key === SEED_KEY;

export class PatternStoreError extends Error {
  readonly code = 'PATTERN_STORE';
}

const decoder = new TextDecoder();
const toEntry = (e: KvEntry): BucketEntry => ({
  key: e.key,
  revision: e.revision,
  created: e.created,
  operation: e.operation,
  text: e.operation === 'PUT' ? decoder.decode(e.value) : '',
});

/**
 * The pattern bucket (`nudge_patterns`): key = pattern id, value = the pattern document as JSON,
 * every put a new revision. What the CLI and the engine both read and write through.
 */
export class PatternBucket {
  private constructor(readonly kv: KV) {}

  /** Opens the bucket, creating it when `create` (the engine does; the CLI's writes do too). */
  static async open(nc: NatsConnection, opts: { create: boolean }): Promise<PatternBucket> {
    const kvm = new Kvm(nc);
    try {
      return new PatternBucket(opts.create ? await kvm.create(Buckets.patterns, { history: HISTORY }) : await kvm.open(Buckets.patterns));
    } catch (e) {
      // Workers starting together race to create it; nats-server 2.9 refuses the loser's create
      // ("subjects overlap with an existing stream") although the bucket it wanted now exists.
      if (opts.create) {
        const opened = await kvm.open(Buckets.patterns).catch(() => null);
        if (opened) return new PatternBucket(opened);
      }
      throw new PatternStoreError(`cannot open KV bucket ${Buckets.patterns}: ${(e as Error).message}`);
    }
  }

  /** Validates, then stores a new revision. A document that does not compile never reaches the bucket. */
  async put(doc: unknown): Promise<{ id: string; revision: number }> {
    const pattern = compilePattern(doc); // throws PatternError with every problem
    // Partial matches survive a put only when the version stays, so a changed rule must say so.
    const stored = await this.get(pattern.id);
    const check = stored ? checkEntry(stored) : null;
    if (check?.ok && check.pattern.version >= pattern.version && !sameRule(check.pattern.spec, pattern.spec)) {
      throw new PatternError([
        { path: 'version', message: `pattern ${pattern.id} is at version ${check.pattern.version}: a changed rule needs a higher version (partial matches of the old one are then dropped)` },
      ]);
    }
    const revision = await this.kv.put(pattern.id, JSON.stringify(doc, null, 2));
    return { id: pattern.id, revision };
  }

  /** The latest entry of a key (null when absent or deleted). */
  async get(id: string): Promise<BucketEntry | null> {
    const e = await this.kv.get(id);
    return e && e.operation === 'PUT' ? toEntry(e) : null;
  }

  /** Every retained revision of a key, oldest first (deletes included). */
  async history(id: string): Promise<BucketEntry[]> {
    const out: BucketEntry[] = [];
    for await (const e of await this.kv.history({ key: id })) out.push(toEntry(e));
    return out.sort((a, b) => a.revision - b.revision);
  }

  /** Every retained revision of every pattern key, in revision order. */
  async allHistory(): Promise<BucketEntry[]> {
    return (await this.rawHistory()).filter((e) => !isBookkeeping(e.key));
  }

  private async rawHistory(): Promise<BucketEntry[]> {
    const out: BucketEntry[] = [];
    for await (const e of await this.kv.history()) out.push(toEntry(e));
    return out.sort((a, b) => a.revision - b.revision);
  }

  /** The patterns in force now, and the rejected latest entries, from the whole retained history. */
  async inForce(): Promise<PatternsInForce> {
    // A history read that ends early would silently drop patterns: the bucket's stream says how
    // many entries it holds (`values`), and a read that saw fewer is done again.
    let fold = new PatternsInForce();
    let status = await this.kv.status();
    for (let attempt = 1; ; attempt++) {
      const before = status.values;
      const entries = await this.rawHistory();
      status = await this.kv.status();
      fold = new PatternsInForce();
      for (const e of entries) if (!isBookkeeping(e.key)) fold.apply(e);
      if (entries.length >= Math.min(before, status.values)) break;
      if (attempt >= 5) throw new PatternStoreError(`read ${entries.length} entries of ${Buckets.patterns}, which holds ${status.values}: try again`);
    }
    // Purged or aged-out history still moved the revision: the set is "as of" the bucket's last one.
    fold.revision = Math.max(fold.revision, status.streamInfo.state.last_seq);
    return fold;
  }

  async remove(id: string): Promise<boolean> {
    if (!(await this.get(id))) return false;
    await this.kv.delete(id);
    return true;
  }

  /** Sets `enabled` on the latest document; returns the new revision, or null when the id is absent. */
  async setEnabled(id: string, enabled: boolean): Promise<number | null> {
    const e = await this.get(id);
    if (!e) return null;
    const check = checkEntry(e);
    if (!check?.ok) throw new PatternStoreError(`pattern ${id} at revision ${e.revision} is invalid (${check?.ok === false ? check.reason : 'deleted'}): put a valid version first`);
    const doc = JSON.parse(e.text) as Record<string, unknown>;
    doc.enabled = enabled;
    return (await this.put(doc)).revision;
  }

  /**
   * On a first start: an empty bucket is filled from a directory of pattern files (valid ones).
   * Workers (or threads) starting together must all go on with the whole seeded set, never with
   * the half a racing seeder has written so far. So the first to find the bucket empty claims the
   * seeding with the bookkeeping key, and every worker that sees the claim unfinished runs the same
   * pass itself: create() per key is idempotent, so after anyone's pass every file is in.
   */
  async seedIfEmpty(dir: string): Promise<{ seeded: string[]; rejected: Array<{ source: string; reason: string }> }> {
    for (;;) {
      const claim = await this.kv.get(SEED_KEY);
      const state = claim?.operation === 'PUT' ? decoder.decode(claim.value) : null;
      if (state === 'done') return { seeded: [], rejected: [] };
      if (state === 'seeding') return this.seedPass(dir);
      // Unclaimed: a bucket that already holds anything (patterns put before the first start, or
      // a bucket from before this key existed) is not seeded, and the claim says so.
      const empty = (await this.kv.status()).values === 0;
      try {
        await this.kv.create(SEED_KEY, empty ? 'seeding' : 'done');
      } catch (e) {
        if (isExists(e)) continue; // another worker claimed first: read its claim
        throw e;
      }
      if (!empty) return { seeded: [], rejected: [] };
      return this.seedPass(dir);
    }
  }

  private async seedPass(dir: string): Promise<{ seeded: string[]; rejected: Array<{ source: string; reason: string }> }> {
    const seeded: string[] = [];
    const rejected: Array<{ source: string; reason: string }> = [];
    for (const { source, text } of readPatternFiles(dir)) {
      const r = compilePatternText(text);
      if (!r.ok) {
        rejected.push({ source, reason: r.reason });
        continue;
      }
      try {
        await this.kv.create(r.pattern.id, text);
        seeded.push(r.pattern.id);
      } catch (e) {
        if (!isExists(e)) throw e;
      }
    }
    await this.kv.put(SEED_KEY, 'done');
    return { seeded, rejected };
  }

  /** Calls `onEntry` for every entry after `revision`, in order, until `stop()`. */
  async watch(afterRevision: number, onEntry: (e: BucketEntry) => void): Promise<{ stop(): void }> {
    const iter = await this.kv.watch({ resumeFromRevision: afterRevision + 1 });
    void (async () => {
      for await (const e of iter) if (!isBookkeeping(e.key)) onEntry(toEntry(e));
    })();
    return { stop: () => iter.stop() };
  }
}

const isExists = (e: unknown): boolean => /wrong last sequence|exists/i.test((e as Error).message);

/** The same matching rule: only `enabled`, `mode` and `description` may change within a version. */
function sameRule(a: object, b: object): boolean {
  const rule = ({ enabled: _e, mode: _m, description: _d, ...rest }: Record<string, unknown>) => JSON.stringify(rest);
  return rule(a as Record<string, unknown>) === rule(b as Record<string, unknown>);
}

export { PatternError };
