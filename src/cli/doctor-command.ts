import { loadConfig, type ConfigInput } from '../config/index.js';
import { runDoctor } from '../service/index.js';
import { ExitCode } from './exit-codes.js';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' } as const;

/** `nudge doctor`: checks the NATS side (no engine needed) and says how to fix what fails; exit 1 when a check fails. */
export async function doctorCommand(flags: { json?: boolean }, over: ConfigInput): Promise<void> {
  const config = loadConfig(over);
  const report = await runDoctor(config);
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const width = Math.max(...report.checks.map((c) => c.name.length));
    const lines = [`nudge doctor: ${report.natsUrl}, P = ${report.partitions}`];
    for (const c of report.checks) {
      lines.push(`  ${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`);
      if (c.fix) lines.push(`        ${' '.repeat(width)}  fix: ${c.fix}`);
    }
    const failed = report.checks.filter((c) => c.status === 'fail').length;
    const warned = report.checks.filter((c) => c.status === 'warn').length;
    lines.push(failed ? `${failed} check(s) failed${warned ? `, ${warned} warning(s)` : ''}` : `all checks passed${warned ? ` (${warned} warning(s))` : ''}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (!report.ok) process.exitCode = ExitCode.error;
}
