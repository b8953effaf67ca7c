import type { Action, SessionSummaryRecord } from '../actions/index.js';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export function formatAction(a: Action): string {
  const p = a.payload as { categoryCode?: string | null; category?: string | null; views?: number };
  const what = a.type === 'coupon' ? `category ${p.categoryCode || p.category} after ${p.views} views` : JSON.stringify(a.payload);
  return `${iso(a.eventTime)}  ${a.type.padEnd(15)} user ${a.userId.padEnd(10)} ${what}  [${a.patternId}]`;
}

export function formatSession(s: SessionSummaryRecord): string {
  return `${iso(s.sessionEnd)}  session    user ${s.userId.padEnd(10)} ${Math.round(s.durationMs / 1000)} s, ${s.views} views, ${s.carts} carts, ${s.purchases} purchases${s.converted ? ` (converted, ${s.revenue})` : ''}`;
}
