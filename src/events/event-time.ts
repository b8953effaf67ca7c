const REES46 = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) UTC$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

export const EVENT_TIME_FORMATS = "epoch ms, ISO-8601 with a zone (2019-10-01T00:00:00Z) or REES46 'YYYY-MM-DD HH:MM:SS UTC'";

/** Normalises the three accepted eventTime forms to epoch ms; null when it is none of them. */
export function parseEventTime(value: unknown): number | null {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 && value <= 8.64e15 ? Math.trunc(value) : null;
  }
  if (typeof value !== 'string') return null;
  const m = REES46.exec(value);
  if (m) {
    const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
    const ms = Date.UTC(y, mo - 1, d, h, mi, s);
    // Date.UTC rolls 2019-02-30 over to March; a real export never means that.
    const back = new Date(ms);
    if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
    return ms;
  }
  if (ISO.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

export function formatRees46Time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}
