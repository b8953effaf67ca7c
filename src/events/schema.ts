import { z } from 'zod';
import { parseEventTime, EVENT_TIME_FORMATS } from './event-time.js';

export const KnownEventTypes = ['view', 'cart', 'remove_from_cart', 'purchase'] as const;
export type KnownEventType = (typeof KnownEventTypes)[number];

/** Other lowercase types pass through (DESIGN); anything else is not an event type. */
const EVENT_TYPE = /^[a-z][a-z0-9_]{0,31}$/;
const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

const idOf = (what: string, max: number) =>
  z.union([z.string().max(max), z.number().int().nonnegative()], { error: `${what} must be a string or a non-negative integer` });

/**
 * The wire shape, kept flat: zod runs about 3x faster without per-field unions-with-transforms,
 * and this is on every event's path. Normalisation (ids to strings, eventTime to epoch ms) is one
 * transform over the whole object.
 */
const wireEventSchema = z.strictObject({
  eventId: z.string().min(1).max(256).optional(),
  eventTime: z.union([z.number(), z.string().max(64)], { error: `eventTime must be ${EVENT_TIME_FORMATS}` }),
  eventType: z.string().regex(EVENT_TYPE, 'eventType must be lowercase letters, digits or _ (e.g. view, cart, remove_from_cart, purchase)'),
  productId: idOf('productId', 128),
  categoryId: idOf('categoryId', 128).optional(),
  categoryCode: z.string().max(256).optional(),
  brand: z.string().max(256).optional(),
  price: z.number().finite().nonnegative(),
  userId: idOf('userId', 128),
  userSession: z.string().max(256).optional(),
});

/** The input contract of DESIGN.md. Strict: an unknown field is a producer bug worth hearing about. */
export const eventSchema = wireEventSchema.transform((w, ctx) => {
  const eventTime = parseEventTime(w.eventTime);
  if (eventTime === null) {
    ctx.addIssue({ code: 'custom', path: ['eventTime'], message: `eventTime ${JSON.stringify(w.eventTime)} is not ${EVENT_TIME_FORMATS}` });
    return z.NEVER;
  }
  const productId = String(w.productId);
  if (productId === '') {
    ctx.addIssue({ code: 'custom', path: ['productId'], message: 'productId must not be empty' });
    return z.NEVER;
  }
  const userId = String(w.userId);
  if (!SUBJECT_TOKEN.test(userId)) {
    ctx.addIssue({ code: 'custom', path: ['userId'], message: 'userId must be 1-128 characters of A-Z a-z 0-9 _ -' });
    return z.NEVER;
  }
  const event: {
    eventId?: string;
    eventTime: number;
    eventType: string;
    productId: string;
    categoryId?: string;
    categoryCode?: string;
    brand?: string;
    price: number;
    userId: string;
    userSession?: string;
  } = { eventTime, eventType: w.eventType, productId, price: w.price, userId };
  if (w.eventId !== undefined) event.eventId = w.eventId;
  if (w.categoryId !== undefined) event.categoryId = String(w.categoryId);
  if (w.categoryCode !== undefined) event.categoryCode = w.categoryCode;
  if (w.brand !== undefined) event.brand = w.brand;
  if (w.userSession !== undefined) event.userSession = w.userSession;
  return event;
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
