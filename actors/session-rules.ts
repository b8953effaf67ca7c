/**
 * The pure rules behind the user-session machine, kept apart from XState so they are unit-testable
 * on their own and cost no more than a function call.
 */

/** A session ends after this much event-time inactivity. */
export const SESSION_GAP_MS = 30 * 60_000;

/**
 * An event's category: the category id (always present in REES46), else the category code; ''
 * when it has neither. Patterns reach it as `categoryOf(event)`.
 */
export function categoryKey(e: { categoryId: string; categoryCode: string }): string {
  return e.categoryId || e.categoryCode;
}
