import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { readRees46Csv } from './rees46-csv.js';
import { generateSample, type SampleOptions, type SampleRow } from './sample-generator.js';

/** One input record for the producer: an event-shaped object, or a line that could not be read. */
export type SourceItem = { ok: true; where: string; event: Record<string, unknown> } | { ok: false; where: string; raw: string; reason: string };

async function* fromCsv(path: string): AsyncGenerator<SourceItem> {
  for await (const row of readRees46Csv(path)) {
    const where = `${path}:${row.line}`;
    yield row.ok ? { ok: true, where, event: row.event as Record<string, unknown> } : { ok: false, where, raw: row.raw, reason: row.reason };
  }
}

async function* fromJsonl(path: string): AsyncGenerator<SourceItem> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n++;
    if (raw.trim() === '') continue;
    const where = `${path}:${n}`;
    try {
      const v: unknown = JSON.parse(raw);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) yield { ok: false, where, raw, reason: `line ${n}: not a JSON object` };
      else yield { ok: true, where, event: v as Record<string, unknown> };
    } catch (e) {
      yield { ok: false, where, raw, reason: `line ${n}: invalid JSON: ${(e as Error).message}` };
    }
  }
}

/** A REES46 CSV (by its .csv name) or NDJSON events, one per line. */
export function fileSource(path: string): AsyncGenerator<SourceItem> {
  return /\.csv$/i.test(path) ? fromCsv(path) : fromJsonl(path);
}

/** A generated REES46 row as the JSON event a shop would publish. */
export function sampleRowToEvent(r: SampleRow): Record<string, unknown> {
  const event: Record<string, unknown> = {
    eventTime: r.event_time,
    eventType: r.event_type,
    productId: r.product_id,
    categoryId: r.category_id,
    categoryCode: r.category_code,
    price: Number(r.price),
    userId: r.user_id,
    userSession: r.user_session,
  };
  if (r.brand !== '') event.brand = r.brand;
  return event;
}

export async function* sampleSource(opts: SampleOptions): AsyncGenerator<SourceItem> {
  let n = 0;
  for (const r of generateSample(opts)) yield { ok: true, where: `sample:${++n}`, event: sampleRowToEvent(r) };
}
