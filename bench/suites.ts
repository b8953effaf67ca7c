/**
 * `npm run bench -- --suite throughput|latency|memory|recovery|all`: bench/run.ts parses the command
 * line (with the options below declared) and hands over here for anything but throughput (its own
 * default). Each suite is its own module: bench/latency.ts, bench/memory-scale.ts, bench/recovery.ts;
 * `all` runs throughput first, then the three. Progress on stderr, each suite's table on stdout
 * (--json: one JSON object per suite instead; --json-out f.json: written to f.<suite>.json).
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LATENCY_OPTIONS, runLatency, renderLatency } from './latency.js';
import { MEMORY_OPTIONS, runMemory, renderMemory } from './memory-scale.js';
import { RECOVERY_OPTIONS, runRecovery, renderRecovery } from './recovery.js';
import { onAbort, progress, roundForJson, type RunHelpers } from './suite-common.js';

export const SUITES = ['throughput', 'latency', 'memory', 'recovery', 'all'] as const;
export type Suite = (typeof SUITES)[number];

/** Declared in run.ts's parseArgs so its strict parse accepts them. */
export const SUITE_OPTIONS = {
  suite: { type: 'string', default: 'throughput' },
  ...LATENCY_OPTIONS,
  ...MEMORY_OPTIONS,
  ...RECOVERY_OPTIONS,
} as const;

export const SUITE_USAGE =
  '       npm run bench -- --suite latency|memory|recovery|all [--latency-rates 5000,20000] [--latency-rounds 3] [--latency-seconds 20] [--latency-warmup 3] [--latency-search 4] [--latency-sessions 2000]\n' +
  '                        [--memory-users 100k,1M,3M] [--memory-sessions 1] [--memory-session-events 3] [--memory-span scaled|fixed] [--recovery-kill-at 1000000] [--users N] [--seed S] [--json] [--json-out f.json]\n';

export function isSuite(s: unknown): s is Suite {
  return typeof s === 'string' && (SUITES as readonly string[]).includes(s);
}

export async function runSuites(suite: Suite, opts: Record<string, string | boolean | undefined>, helpers: RunHelpers, gc: () => void, throughput: () => Promise<void>): Promise<void> {
  const list = suite === 'all' ? (['throughput', 'latency', 'memory', 'recovery'] as const) : [suite];
  for (const s of list) {
    if (s === 'throughput') {
      await throughput();
      continue;
    }
    const root = mkdtempSync(join(tmpdir(), `nudge-bench-${s}-`));
    const onSignal = (sig: NodeJS.Signals) => {
      progress(`${sig}: stopping the suite's servers and children, removing ${root}`);
      for (const kill of onAbort) kill();
      rmSync(root, { recursive: true, force: true });
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const out = opts['json-out'];
      const partial = (r: unknown) => {
        if (typeof out === 'string') writeFileSync(out.replace(/(\.json)?$/, `.${s}.partial.json`), `${JSON.stringify(roundForJson({ suite: s, partial: true, ...(r as object) }), null, 2)}\n`);
      };
      const ctx = { helpers, gc, opts, root, partial };
      const t0 = performance.now();
      let result: unknown;
      let table: string;
      if (s === 'latency') {
        const r = await runLatency(ctx);
        result = r;
        table = renderLatency(r);
      } else if (s === 'memory') {
        const r = await runMemory(ctx);
        result = r;
        table = renderMemory(r);
      } else {
        const r = await runRecovery(ctx);
        result = r;
        table = renderRecovery(r);
      }
      progress(`${s} suite done in ${((performance.now() - t0) / 60_000).toFixed(1)} min`);
      const json = JSON.stringify(roundForJson({ suite: s, ...(result as object) }), null, 2);
      if (typeof out === 'string') writeFileSync(out.replace(/(\.json)?$/, `.${s}.json`), `${json}\n`);
      process.stdout.write(opts.json ? `${json}\n` : `${table}\n`);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      rmSync(root, { recursive: true, force: true });
      if (existsSync(root)) progress(`warning: could not remove ${root}`);
    }
  }
}
