import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log/index.js';
import type { PatternSet } from '../cep/index.js';
import { PatternBucket } from './pattern-bucket.js';
import type { PatternsInForce, Rejection } from './patterns-in-force.js';

/**
 * The engine's view of the pattern bucket: the set in force now, kept current by a KV watch.
 * It never applies a change to running partitions itself: it reports the new set, and the engine
 * writes it into each partition's stream as a marker, so every partition — and every replay —
 * switches at a definite point of its own input.
 */
export class PatternRegistry {
  private set: PatternSet;
  private watcher: { stop(): void } | null = null;

  private constructor(
    readonly bucket: PatternBucket,
    private readonly fold: PatternsInForce,
    private readonly log: Logger,
  ) {
    this.set = fold.toSet();
  }

  /**
   * Opens (creating) the bucket, seeds it from `seedDir` when it is empty, reads the set in force
   * and starts watching; `onChange` gets each new set after that.
   */
  static async start(nc: NatsConnection, opts: { seedDir: string; log: Logger; onChange: (set: PatternSet) => void }): Promise<PatternRegistry> {
    const { log } = opts;
    const bucket = await PatternBucket.open(nc, { create: true });
    const seed = await bucket.seedIfEmpty(opts.seedDir);
    if (seed.seeded.length) log.info({ dir: opts.seedDir, patterns: seed.seeded }, 'pattern bucket was empty: seeded from files');
    for (const r of seed.rejected) log.error({ source: r.source, reason: r.reason }, 'pattern file not seeded: invalid');
    const fold = await bucket.inForce();
    const registry = new PatternRegistry(bucket, fold, log);
    for (const r of fold.rejected) registry.reportRejection(r);
    log.info({ revision: fold.revision, patterns: registry.set.patterns.map((p) => `${p.id}@${p.version}${p.spec.mode === 'shadow' ? ' (shadow)' : ''}`) }, 'patterns in force');
    registry.watcher = await bucket.watch(fold.revision, (e) => {
      const rejection = fold.apply(e);
      if (rejection) return registry.reportRejection(rejection);
      const next = fold.toSet();
      if (next.documentsText === registry.set.documentsText) return;
      registry.set = next;
      log.info({ revision: next.revision, key: e.key, operation: e.operation }, 'pattern change');
      opts.onChange(next);
    });
    return registry;
  }

  get current(): PatternSet {
    return this.set;
  }

  get rejected(): Rejection[] {
    return this.fold.rejected;
  }

  stop(): void {
    this.watcher?.stop();
    this.watcher = null;
  }

  private reportRejection(r: Rejection): void {
    const inForce = this.fold.revisionOf(r.id);
    this.log.error(
      { patternId: r.id, revision: r.revision, reason: r.reason, inForce: inForce ?? null },
      inForce === undefined ? 'pattern rejected; no valid version of it is in force' : `pattern rejected; revision ${inForce} stays in force`,
    );
  }
}
