import { z } from 'zod';
import { parseEventTime, EVENT_TIME_FORMATS } from './event-time.js';

export const KnownEventTypes = ['view', 'cart', 'remove_from_cart', 'purchase'] as const;
export type KnownEventType = (typeof KnownEventTypes)[number];

/** Other lowercase types pass through (DESIGN); anything else is not an event type. */
const EVENT_TYPE = /^[a-z][a-z0-9_]{0,31}$/;
const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

const id = (what: string) =>
  z.union([z.string(), z.number().int().nonnegative()], { error: `${what} must be a string or a non-negative integer` })
    .transform((v) => String(v));

const eventTime = z.union([z.number(), z.string()], { error: `eventTime must be ${EVENT_TIME_FORMATS}` }).transform((v, ctx) => {
  const ms = parseEventTime(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `eventTime ${JSON.stringify(v)} is not ${EVENT_TIME_FORMATS}` });
    return z.NEVER;
  }
  return ms;
});

/** The input contract of DESIGN.md. Strict: an unknown field is a producer bug worth hearing about. */
export const eventSchema = z.strictObject({
  eventId: z.string().min(1).max(256).optional(),
  eventTime,
  eventType: z.string().regex(EVENT_TYPE, 'eventType must be lowercase letters, digits or _ (e.g. view, cart, remove_from_cart, purchase)'),
  productId: id('productId').pipe(z.string().min(1, 'productId must not be empty').max(128)),
  categoryId: id('categoryId').pipe(z.string().max(128)).optional(),
  categoryCode: z.string().max(256).optional(),
  brand: z.string().max(256).optional(),
  price: z.number().finite().nonnegative(),
  userId: id('userId').pipe(z.string().regex(SUBJECT_TOKEN, 'userId must be 1-128 characters of A-Z a-z 0-9 _ -')),
  userSession: z.string().max(256).optional(),
});

/** A validated event; eventTime is epoch ms. */
export type NudgeEvent = z.output<typeof eventSchema>;
export type NudgeEventInput = z.input<typeof eventSchema>;

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.length ? i.path.join('.') : '(root)';
      if (i.code === 'unrecognized_keys') return `unknown field(s) ${i.keys.join(', ')}`;
      return `${path}: ${i.message}`;
    })
    .join('; ');
}
