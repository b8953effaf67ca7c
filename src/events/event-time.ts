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

/** Two ASCII digits of `s` at `i` as a number, or -1 when either is not 0-9. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * `YYYY-MM-DD HH:MM:SS UTC` (exactly what REES46 matches) checked and read by character codes: the
 * form of almost every event on the wire, so it skips the regex, its match array and Date.UTC.
 * Returns undefined when the string is not in that shape, null when it is but names no valid
 * instant, else epoch ms.
 */
function parseRees46(v: string): number | null | undefined {
  if (v.length !== 23 || v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 32 || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58 || !v.endsWith(' UTC')) {
    return undefined;
  }
  const y1 = two(v, 0);
  const y2 = two(v, 2);
  const mo = two(v, 5);
  const d = two(v, 8);
  const h = two(v, 11);
  const mi = two(v, 14);
  const s = two(v, 17);
  if (y1 < 0 || y2 < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return undefined;
  const y = y1 * 100 + y2;
  if (y < 1970 || !isRealDate(y, mo, d, h, mi, s)) return null;
  return daysFromCivil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1_000;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), as Date.UTC counts them. */
function daysFromCivil(y: number, m: number, d: number): number {
  if (m <= 2) y -= 1;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

const group = (m: RegExpExecArray, i: number): number => (m[i] === undefined ? 0 : Number(m[i]));

/**
 * Normalises the three accepted eventTime forms to epoch ms; null when it is none of them, names a
 * day that does not exist, or lies before 1970 (event times are non-negative epoch ms everywhere).
 */
export function parseEventTime(value: unknown): number | null {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 && value <= MAX_MS ? Math.trunc(value) + 0 : null;
  }
  if (typeof value !== 'string') return null;
  const rees = parseRees46(value);
  if (rees !== undefined) return rees;
  const iso = ISO.exec(value);
  if (iso) {
    if (!isRealDate(group(iso, 1), group(iso, 2), group(iso, 3), group(iso, 4), group(iso, 5), group(iso, 6))) return null;
    const ms = Date.parse(value);
    return Number.isNaN(ms) || ms < 0 || ms > MAX_MS ? null : ms;
  }
  return null;
}

export function formatRees46Time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}
