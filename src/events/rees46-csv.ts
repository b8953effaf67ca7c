import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { NudgeEventInput } from './schema.js';

export const REES46_COLUMNS = ['event_time', 'event_type', 'product_id', 'category_id', 'category_code', 'brand', 'price', 'user_id', 'user_session'] as const;

export type CsvRow = { ok: true; line: number; event: NudgeEventInput } | { ok: false; line: number; raw: string; reason: string };

/** Splits one CSV line (RFC 4180 quotes allowed); null when a quote is left open. */
export function splitCsvLine(line: string): string[] | null {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { out.push(field); field = ''; }
    else field += c;
  }
  if (quoted) return null;
  out.push(field);
  return out;
}

/**
 * One REES46 row → an event in our JSON contract. Only the shape is checked here (column count,
 * numbers); the engine's schema is the judge of the rest. A short row is refused rather than
 * padded: a cut-off export line must not turn into an event with invented values.
 */
export function rees46RowToEvent(fields: string[], header: readonly string[]): NudgeEventInput | string {
  if (fields.length !== header.length) {
    return `expected ${header.length} fields, got ${fields.length}${fields.length < header.length ? ' (row cut off?)' : ''}`;
  }
  const col = (name: string) => fields[header.indexOf(name)] ?? '';
  // Plain decimals only: Number() would also take "0x10" and "1e3", which no export means.
  if (!/^\d+(?:\.\d+)?$/.test(col('price'))) return `price "${col('price')}" is not a decimal number`;
  const price = Number(col('price'));
  const event: NudgeEventInput = {
    eventTime: col('event_time'),
    eventType: col('event_type'),
    productId: col('product_id'),
    price,
    userId: col('user_id'),
  };
  if (col('category_id') !== '') event.categoryId = col('category_id');
  event.categoryCode = col('category_code');
  if (col('brand') !== '') event.brand = col('brand');
  if (col('user_session') !== '') event.userSession = col('user_session');
  return event;
}

/** Streams a REES46 CSV export; bad rows come out as errors with their line number, never as a throw. */
export async function* readRees46Csv(path: string): AsyncGenerator<CsvRow> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let header: string[] | null = null;
  let n = 0;
  for await (const raw of lines) {
    n++;
    if (raw.trim() === '') continue;
    if (header === null) {
      header = splitCsvLine(raw.trim()) ?? [];
      const missing = REES46_COLUMNS.filter((c) => !header!.includes(c));
      if (missing.length) throw new Error(`${path}: not a REES46 CSV (header lacks ${missing.join(', ')})`);
      continue;
    }
    const fields = splitCsvLine(raw);
    const result = fields === null ? 'unterminated quote' : rees46RowToEvent(fields, header);
    yield typeof result === 'string' ? { ok: false, line: n, raw, reason: `line ${n}: ${result}` } : { ok: true, line: n, event: result };
  }
}
