const REES46 = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) UTC$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
const MAX_MS = 8.64e15;

export const EVENT_TIME_FORMATS = "epoch ms, ISO-8601 with a zone (2019-10-01T00:00:00Z) or REES46 'YYYY-MM-DD HH:MM:SS UTC'";

/**
 * True when the fields name a real calendar instant: Date.UTC silently rolls 2019-02-30 into
 * March and hour 24 into the next day, and a real export never means that.
 */
function isRealDate(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const fields = (m: RegExpExecArray) => m.slice(1, 7).map((v) => (v === undefined ? 0 : Number(v))) as [number, number, number, number, number, number];

/**
 * Normalises the three accepted eventTime forms to epoch ms; null when it is none of them, names a
 * day that does not exist, or lies before 1970 (event times are non-negative epoch ms everywhere).
 */
export function parseEventTime(value: unknown): number | null {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 && value <= MAX_MS ? Math.trunc(value) + 0 : null;
  }
  if (typeof value !== 'string') return null;
  const rees = REES46.exec(value);
  if (rees) {
    const [y, mo, d, h, mi, s] = fields(rees);
    if (y < 1970 || !isRealDate(y, mo, d, h, mi, s)) return null;
    return Date.UTC(y, mo - 1, d, h, mi, s);
  }
  const iso = ISO.exec(value);
  if (iso) {
    const [y, mo, d, h, mi, s] = fields(iso);
    if (!isRealDate(y, mo, d, h, mi, s)) return null;
    const ms = Date.parse(value);
    return Number.isNaN(ms) || ms < 0 || ms > MAX_MS ? null : ms;
  }
  return null;
}

export function formatRees46Time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}
