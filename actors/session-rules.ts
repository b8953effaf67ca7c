/**
 * The pure rules behind the user-session machine, kept apart from XState so they are unit-testable
 * on their own and cost no more than a function call.
 */

export const SESSION_GAP_MS = 30 * 60_000;

/** The hand-written repeat-category coupon rule (the pattern engine will take it over). */
export const COUPON_RULE = {
  patternId: 'repeat-category',
  version: 1,
  actionType: 'coupon',
  views: 3,
  windowMs: 30 * 60_000,
} as const;

/** What the actor keeps of an event: enough to explain a match, no more. */
export interface EventRef {
  seq: number;
  eventTime: number;
  eventType: string;
  productId: string;
  categoryId?: string;
  categoryCode?: string;
  price: number;
  userSession?: string;
}

export interface CategoryState {
  /** The latest views of the category, oldest first, at most COUPON_RULE.views of them. */
  views: EventRef[];
  /** Event time of the last coupon for this category; none again until windowMs has passed. */
  couponAt: number | null;
}

export interface CouponMatch {
  category: string;
  views: EventRef[];
  completedBy: EventRef;
}

/**
 * The coupon rule's key: the category id (always present in REES46), else the category code.
 * An event with neither has no category and cannot count towards a coupon.
 */
export function categoryKey(e: Pick<EventRef, 'categoryId' | 'categoryCode'>): string | null {
  if (e.categoryId) return e.categoryId;
  if (e.categoryCode) return e.categoryCode;
  return null;
}

function insertByTime(views: EventRef[], view: EventRef, keep: number): EventRef[] {
  const next = [...views];
  let i = next.length;
  // Stable for ties: a view goes after earlier-sequenced views with the same event time.
  while (i > 0 && next[i - 1]!.eventTime > view.eventTime) i--;
  next.splice(i, 0, view);
  return next.length > keep ? next.slice(next.length - keep) : next;
}

/**
 * Records a view and decides the coupon: COUPON_RULE.views views of one category whose times lie
 * within windowMs of the newest (t - oldest < windowMs), and no coupon for that category in the
 * windowMs before. Only the latest `views` views are needed to decide that, so state stays small.
 * Updates `categories` in place: it is the ledger's own per-event state, on the hot path.
 */
export function recordView(categories: Record<string, CategoryState>, view: EventRef): CouponMatch | null {
  const key = categoryKey(view);
  if (key === null) return null;
  const state = categories[key] ?? { views: [], couponAt: null };
  state.views = insertByTime(state.views, view, COUPON_RULE.views);
  const newest = state.views[state.views.length - 1]!;
  const oldest = state.views[0]!;
  const full = state.views.length >= COUPON_RULE.views && newest.eventTime - oldest.eventTime < COUPON_RULE.windowMs;
  const capped = state.couponAt !== null && newest.eventTime - state.couponAt < COUPON_RULE.windowMs;
  pruneCategories(categories, newest.eventTime, key);
  categories[key] = state;
  if (!full || capped) return null;
  state.couponAt = newest.eventTime;
  return { category: key, views: state.views, completedBy: view };
}

/** Drops categories that can no longer contribute to or cap a coupon, so a long session stays small. */
function pruneCategories(categories: Record<string, CategoryState>, now: number, keep: string): void {
  for (const key in categories) {
    if (key === keep) continue;
    const state = categories[key]!;
    const lastView = state.views[state.views.length - 1]?.eventTime ?? -Infinity;
    if (now - lastView >= COUPON_RULE.windowMs && (state.couponAt === null || now - state.couponAt >= COUPON_RULE.windowMs)) delete categories[key];
  }
}
