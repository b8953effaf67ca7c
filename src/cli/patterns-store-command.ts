import { existsSync, readFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadConfig, type ConfigInput } from '../config/index.js';
import { connectNats } from '../nats/index.js';
import { PatternError, importFlinkPattern } from '../cep/index.js';
import { PatternBucket, PatternsInForce, checkEntry, type BucketEntry } from '../pattern-store/index.js';
import { CliError, ExitCode } from './exit-codes.js';

/**
 * The pattern bucket from the terminal: put, list, show, history, rm, enable, disable. Writes are
 * validated here first, so a broken pattern is refused with its reason before it reaches the
 * bucket; what reaches it by another client is judged the same way by `list` and by the engine.
 */

const out = (v: unknown) => process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

async function withBucket<T>(over: ConfigInput, create: boolean, fn: (b: PatternBucket) => Promise<T>): Promise<T> {
  const config = loadConfig(over);
  const nc: NatsConnection = await connectNats(config.natsUrl, 'nudge-cli');
  try {
    let bucket: PatternBucket;
    try {
      bucket = await PatternBucket.open(nc, { create });
    } catch (e) {
      if (create) throw e;
      throw new CliError(`no pattern bucket on ${config.natsUrl} yet (start the engine, or \`nudge patterns put\` one)`, ExitCode.notFound);
    }
    return await fn(bucket);
  } finally {
    await nc.close();
  }
}

function readJsonFile(file: string): unknown {
  if (!existsSync(file)) throw new CliError(`no such file: ${file}`, ExitCode.notFound);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`${file} is not JSON: ${(e as Error).message}`, ExitCode.error);
  }
}

function describe(e: BucketEntry) {
  const check = checkEntry(e);
  let doc: Record<string, unknown> = {};
  try {
    doc = e.operation === 'PUT' ? (JSON.parse(e.text) as Record<string, unknown>) : {};
  } catch {
    doc = {};
  }
  return {
    id: e.key,
    revision: e.revision,
    created: iso(e.created),
    operation: e.operation,
    version: typeof doc.version === 'number' ? doc.version : null,
    mode: doc.mode === 'shadow' ? 'shadow' : 'live',
    enabled: doc.enabled !== false,
    status: check === null ? 'deleted' : check.ok ? 'valid' : 'rejected',
    reason: check && !check.ok ? check.reason : undefined,
  };
}

export async function patternsPutCommand(file: string, flags: { json?: boolean }, over: ConfigInput): Promise<void> {
  const doc = readJsonFile(file);
  await withBucket(over, true, async (b) => {
    try {
      const { id, revision } = await b.put(doc);
      if (flags.json) out({ id, revision });
      else out(`put ${id} at revision ${revision}`);
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      if (flags.json) out({ rejected: true, problems: e.problems });
      else {
        process.stderr.write(`nudge: pattern refused, nothing stored:\n`);
        for (const p of e.problems) process.stderr.write(`  ${p.path}: ${p.message}\n`);
      }
      process.exitCode = ExitCode.error;
    }
  });
}

/** Every pattern's latest entry, whether it is in force, and (when the latest was refused) which revision runs instead. */
export async function patternsListCommand(flags: { json?: boolean }, over: ConfigInput): Promise<void> {
  await withBucket(over, false, async (b) => {
    const history = await b.allHistory();
    const fold = new PatternsInForce();
    const latest = new Map<string, BucketEntry>();
    for (const e of history) {
      fold.apply(e);
      latest.set(e.key, e);
    }
    const rows = [...latest.values()]
      .sort((x, y) => (x.key < y.key ? -1 : 1))
      .map((e) => ({ ...describe(e), inForceRevision: fold.revisionOf(e.key) ?? null }))
      .filter((r) => r.status !== 'deleted' || r.inForceRevision !== null);
    if (flags.json) {
      for (const r of rows) out(r);
      return;
    }
    if (rows.length === 0) return out('no patterns');
    out(`${'ID'.padEnd(24)} ${'VER'.padStart(4)} ${'REV'.padStart(5)} ${'MODE'.padEnd(6)} ${'ENABLED'.padEnd(7)} STATUS`);
    for (const r of rows) {
      const status = r.status === 'rejected' ? `rejected: ${r.reason}${r.inForceRevision !== null ? ` (revision ${r.inForceRevision} stays in force)` : ''}` : r.status;
      out(`${r.id.padEnd(24)} ${String(r.version ?? '-').padStart(4)} ${String(r.revision).padStart(5)} ${r.mode.padEnd(6)} ${String(r.enabled).padEnd(7)} ${status}`);
    }
  });
}

export async function patternsShowCommand(id: string, flags: { json?: boolean }, over: ConfigInput): Promise<void> {
  await withBucket(over, false, async (b) => {
    const e = await b.get(id);
    if (!e) throw new CliError(`no pattern "${id}"`, ExitCode.notFound);
    if (flags.json) {
      let doc: unknown = null;
      try {
        doc = JSON.parse(e.text);
      } catch {
        doc = null;
      }
      out({ ...describe(e), pattern: doc, text: doc === null ? e.text : undefined });
    } else out(e.text);
  });
}

export async function patternsHistoryCommand(id: string, flags: { json?: boolean }, over: ConfigInput): Promise<void> {
  await withBucket(over, false, async (b) => {
    const entries = await b.history(id);
    if (entries.length === 0) throw new CliError(`no pattern "${id}"`, ExitCode.notFound);
    for (const e of entries) {
      const d = describe(e);
      if (flags.json) out(d);
      else out(`${String(d.revision).padStart(5)}  ${d.created}  ${d.operation.padEnd(5)} ${d.version !== null ? `v${d.version}` : '  '}  ${d.mode.padEnd(6)} ${d.enabled ? 'enabled ' : 'disabled'}  ${d.status}${d.reason ? `: ${d.reason}` : ''}`);
    }
  });
}

export async function patternsRemoveCommand(id: string, over: ConfigInput): Promise<void> {
  await withBucket(over, false, async (b) => {
    if (!(await b.remove(id))) throw new CliError(`no pattern "${id}"`, ExitCode.notFound);
    out(`removed ${id}`);
  });
}

export async function patternsEnableCommand(id: string, enabled: boolean, over: ConfigInput): Promise<void> {
  await withBucket(over, false, async (b) => {
    const revision = await b.setEnabled(id, enabled);
    if (revision === null) throw new CliError(`no pattern "${id}"`, ExitCode.notFound);
    out(`${enabled ? 'enabled' : 'disabled'} ${id} at revision ${revision}`);
  });
}

export interface ImportFlags {
  from: string;
  id?: string;
  version?: number;
  actionType?: string;
  field?: string[];
  value?: string[];
  put?: boolean;
  json?: boolean;
}

/**
 * `nudge patterns import --from flink <file>`: a Flink dynamic-CEP JSON pattern as a Nudge
 * pattern (stdout), with what could not be converted on stderr and exit 1 instead of a guess.
 * `--field action=eventType --value action:0=view` map the Flink demo's fields to ours.
 */
export async function patternsImportCommand(file: string, flags: ImportFlags, over: ConfigInput): Promise<void> {
  if (flags.from !== 'flink') throw new CliError(`--from ${flags.from}: only "flink" (dynamic CEP JSON) is supported`, ExitCode.usage);
  const json = readJsonFile(file);
  const fields: Record<string, string> = {};
  for (const f of flags.field ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(f);
    if (!m) throw new CliError(`--field ${f}: use <flinkName>=<nudgeField>`, ExitCode.usage);
    fields[m[1]!] = m[2]!;
  }
  const values: Record<string, Record<string, string>> = {};
  for (const v of flags.value ?? []) {
    const m = /^([^:]+):([^=]+)=(.+)$/.exec(v);
    if (!m) throw new CliError(`--value ${v}: use <flinkName>:<flinkValue>=<nudgeValue>`, ExitCode.usage);
    (values[m[1]!] ??= {})[m[2]!] = m[3]!;
  }
  const result = importFlinkPattern(json, { id: flags.id, version: flags.version, actionType: flags.actionType, fields, values });
  for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
  if (!result.pattern) {
    process.stderr.write(`nudge: cannot convert ${file}:\n`);
    for (const p of result.problems) process.stderr.write(`  ${p.path}: ${p.message}\n`);
    if (flags.json) out({ converted: false, problems: result.problems, notes: result.notes });
    process.exitCode = ExitCode.error;
    return;
  }
  if (flags.put) {
    await withBucket(over, true, async (b) => {
      const { id, revision } = await b.put(result.pattern);
      process.stderr.write(`put ${id} at revision ${revision}\n`);
    });
  }
  out(flags.json ? { converted: true, pattern: result.pattern, notes: result.notes } : JSON.stringify(result.pattern, null, 2));
}
