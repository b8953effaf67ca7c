/** Pass/fail checks of the chaos runs and the printed table. */

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export const check = (name: string, ok: boolean, detail = ''): Check => ({ name, ok, detail });

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const fmtMiB = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
export const fmtSec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

import type { Comparison } from './chaos-outputs.js';

export const describeComparison = (c: Comparison) =>
  `${fmtInt(c.got)} of ${fmtInt(c.expected)}; missing ${c.missing}, unexpected ${c.unexpected}, duplicated ${c.duplicated}, different ${c.different}${c.examples.length ? ` (${c.examples.join('; ')})` : ''}`;

export type Row = [string, string];

/** A titled two-column table in Markdown (readable as text, pasteable into BENCHMARKS.md). */
export function table(title: string, rows: Row[]): string {
  const w = Math.max(...rows.map((r) => r[0].length), 4);
  const v = Math.max(...rows.map((r) => r[1].length), 5);
  const line = (a: string, b: string) => `| ${a.padEnd(w)} | ${b.padStart(v)} |`;
  return [`### ${title}`, '', line('', ''), `|${'-'.repeat(w + 2)}|${'-'.repeat(v + 1)}:|`, ...rows.map((r) => line(r[0], r[1])), ''].join('\n');
}

export function checksTable(checks: Check[]): string {
  const rows = checks.map((c) => `| ${c.ok ? 'PASS' : 'FAIL'} | ${c.name} | ${c.detail} |`);
  return ['### Checks', '', '| | check | detail |', '|---|---|---|', ...rows, ''].join('\n');
}
