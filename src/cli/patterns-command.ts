import { existsSync, readFileSync, statSync } from 'node:fs';
import { loadConfig } from '../config/index.js';
import { compilePatternText, readPatternFiles, PatternSet, type CompiledPattern } from '../cep/index.js';
import { fileSource } from '../events/index.js';
import { runOffline } from '../runtime/index.js';
import type { Action } from '../actions/index.js';
import { formatAction } from './format.js';
import { CliError, ExitCode } from './exit-codes.js';

/**
 * `nudge patterns validate <file|dir>`: every problem with its path and, for expressions, its
 * position. Exit 0 when all are valid, 1 when any is not, 3 when the path does not exist.
 */
export function validateCommand(path: string, flags: { json?: boolean }): void {
  const results = readPatterns(path).map(({ source, text }) => ({ source, result: compilePatternText(text) }));
  let invalid = 0;
  for (const { source, result } of results) {
    if (result.ok) {
      const p = result.pattern;
      if (flags.json) out({ source, valid: true, id: p.id, version: p.version });
      else out(`ok       ${p.id}@${p.version}  (${source})`);
      continue;
    }
    invalid++;
    if (flags.json) out({ source, valid: false, id: result.id, problems: result.problems });
    else {
      out(`invalid  ${result.id ?? '(no id)'}  (${source})`);
      for (const pr of result.problems) out(`  ${pr.path}: ${pr.message}`);
    }
  }
  if (invalid > 0) process.exitCode = ExitCode.error;
}

export interface PatternsTestFlags {
  events: string;
  json?: boolean;
  flush?: boolean;
}

/**
 * `nudge patterns test <file|dir> --events <csv|jsonl>`: the patterns over a recorded stream,
 * offline, through the engine's own processing (same event time, watermark and lateness rules).
 * At the end, event time runs on past every pattern's time limit so absences are decided,
 * unless --no-flush.
 */
export async function patternsTestCommand(path: string, flags: PatternsTestFlags): Promise<void> {
  if (!existsSync(flags.events)) throw new CliError(`no such file: ${flags.events}`, ExitCode.notFound);
  const patterns = compileAll(path);
  const config = loadConfig({});
  const longest = Math.max(0, ...patterns.patterns.map((p) => p.withinMs ?? 0));
  const counts = new Map<string, number>(patterns.patterns.map((p) => [p.id, 0]));
  const report = await runOffline(fileSource(flags.events), {
    patterns,
    partitions: config.partitions,
    maxOutOfOrderMs: config.maxOutOfOrderMs,
    latePolicy: config.latePolicy,
    maxEventBytes: config.maxEventBytes,
    flushMs: flags.flush === false ? null : longest + config.maxOutOfOrderMs + 1,
    onAction: (a: Action) => {
      counts.set(a.patternId, (counts.get(a.patternId) ?? 0) + 1);
      out(flags.json ? a : formatAction(a));
    },
  });
  const perPattern = Object.fromEntries(counts);
  if (flags.json) {
    out({ summary: { events: report.counters.events, actions: report.actions.length, perPattern, capped: report.counters.capped, rejected: report.rejected.length } });
    return;
  }
  out('');
  out(`${report.counters.events} events, ${report.actions.length} actions, ${report.counters.capped} held back by caps, ${report.rejected.length} rejected inputs`);
  for (const [id, n] of counts) out(`  ${id.padEnd(24)} ${String(n).padStart(8)}`);
  for (const r of report.rejected.slice(0, 5)) process.stderr.write(`rejected ${r.where}: ${r.reason}\n`);
}

function compileAll(path: string): PatternSet {
  const compiled: CompiledPattern[] = [];
  const problems: string[] = [];
  for (const { source, text } of readPatterns(path)) {
    const r = compilePatternText(text);
    if (r.ok) compiled.push(r.pattern);
    else problems.push(`${source}: ${r.reason}`);
  }
  if (problems.length) throw new CliError(`invalid pattern(s):\n  ${problems.join('\n  ')}`, ExitCode.error);
  return new PatternSet(compiled);
}

function readPatterns(path: string): Array<{ source: string; text: string }> {
  if (!existsSync(path)) throw new CliError(`no such file or directory: ${path}`, ExitCode.notFound);
  return statSync(path).isDirectory() ? readPatternFiles(path) : [{ source: path, text: readFileSync(path, 'utf8') }];
}

const out = (v: unknown) => process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
