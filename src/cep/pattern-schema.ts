import { z } from 'zod';
import { parseDuration } from './duration.js';

/**
 * The pattern language as data (patterns/README.md documents every field with an example).
 * This schema checks shape only; compilePattern checks meaning (expressions, stage references,
 * where a negation may stand) and reports each problem with its path.
 */

const duration = z.union([z.number(), z.string()]).refine((v) => parseDuration(v) !== null, {
  message: 'must be a duration: milliseconds, or a number with ms, s, m, h or d (e.g. "15m", "7d")',
});

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const PATTERN_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const Contiguities = ['next', 'followedBy', 'followedByAny', 'notNext', 'notFollowedBy'] as const;
export type Contiguity = (typeof Contiguities)[number];

export const Keys = ['user', 'session', 'product'] as const;
export type PatternKey = (typeof Keys)[number];

const eventTypes = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const stageSchema = z.strictObject({
  name: z.string().regex(NAME, 'stage names are letters, digits and _, starting with a letter or _'),
  /** Shorthand for `event.eventType == ...`; also what lets the engine skip the stage for other types. */
  eventType: eventTypes.optional(),
  where: z.string().min(1).max(4_000).optional(),
  contiguity: z.enum(Contiguities).optional(),
  times: z.union([z.number().int().min(1), z.tuple([z.number().int().min(1), z.number().int().min(1)])]).optional(),
  oneOrMore: z.literal(true).optional(),
  timesOrMore: z.number().int().min(1).optional(),
  optional: z.literal(true).optional(),
  greedy: z.literal(true).optional(),
  consecutive: z.literal(true).optional(),
  allowCombinations: z.literal(true).optional(),
  until: z.string().min(1).max(4_000).optional(),
  /** Gap limit: every event this stage takes comes within this of the match's previous event. */
  within: duration.optional(),
});

const skipSchema = z.union([
  z.enum(['noSkip', 'skipToNext', 'skipPastLastEvent']),
  z.strictObject({ skipToFirst: z.string() }),
  z.strictObject({ skipToLast: z.string() }),
]);

const capSchema = z.strictObject({
  max: z.number().int().min(1),
  within: duration,
  /** An expression over the match: caps count separately per value (e.g. per category). */
  per: z.string().min(1).max(1_000).optional(),
});

export const actionSchema = z.strictObject({
  type: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'action types are lowercase letters, digits and _ (a subject token)'),
  payload: z.record(z.string(), z.unknown()).optional(),
  /** This pattern's own cap, per user (and per `per` value). */
  cap: capSchema.optional(),
  /** A cap per user on this action type, counting what every pattern sent of that type (shadow patterns count apart). */
  typeCap: z.strictObject({ max: z.number().int().min(1), within: duration }).optional(),
});

export const patternSchema = z.strictObject({
  id: z.string().regex(PATTERN_ID, 'pattern ids are lowercase letters, digits, - and _ (a subject token)'),
  version: z.number().int().min(1),
  description: z.string().max(2_000).optional(),
  key: z.enum(Keys).default('user'),
  within: duration.optional(),
  skip: skipSchema.default('noSkip'),
  /** Partial matches one key may hold; an event that would start another is counted, not matched. */
  maxRunsPerKey: z.number().int().min(1).max(10_000).default(64),
  mode: z.enum(['live', 'shadow']).default('live'),
  enabled: z.boolean().default(true),
  stages: z.array(stageSchema).min(1).max(30),
  action: actionSchema,
});

export type StageSpec = z.infer<typeof stageSchema>;
export type PatternSpec = z.infer<typeof patternSchema>;
export type PatternInput = z.input<typeof patternSchema>;
export type SkipSpec = z.infer<typeof skipSchema>;
