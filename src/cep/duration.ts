const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** "15m", "7d", "500ms" or a number of milliseconds → milliseconds; null when unreadable. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? Math.round(v) : null;
  if (typeof v !== 'string') return null;
  const m = DURATION.exec(v.trim());
  if (!m) return null;
  const ms = Math.round(Number(m[1]) * UNITS[m[2]!]!);
  return ms > 0 ? ms : null;
}
