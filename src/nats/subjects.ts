/**
 * The one place that knows NATS names: streams, subjects, headers, the KV bucket, and the
 * partition function that nats.conf's mapping applies. Everything else asks here.
 */

export const Streams = {
  events: 'EVENTS',
  actions: 'ACTIONS',
  analytics: 'ANALYTICS',
  dlq: 'DLQ',
} as const;

export const Headers = {
  msgId: 'Nats-Msg-Id',
  reason: 'Nudge-Reason',
  sourceSubject: 'Nudge-Subject',
  sourceSeq: 'Nudge-Seq',
  source: 'Nudge-Source',
} as const;

/** Event types starting with `_` are engine-internal and never come from shops. */
export const InternalEventTypes = {
  tick: '_tick',
  probe: '_probe',
  /** A change of the patterns in force, written into each partition so replays switch at the same point. */
  patterns: '_patterns',
} as const;

/** KV buckets. */
export const Buckets = {
  /** key = pattern id, value = the pattern document (JSON); every put is a new revision. */
  patterns: 'nudge_patterns',
} as const;

const TOKEN = /^[A-Za-z0-9_-]+$/;
export const isSubjectToken = (s: string): boolean => s.length > 0 && s.length <= 128 && TOKEN.test(s);

export const Subjects = {
  /** Where shops publish; nats.conf maps it to the stored, partitioned form. */
  event: (eventType: string, userId: string) => `events.${eventType}.${userId}`,
  eventsStreamSubjects: ['events.*.*.*'],
  /** The mapping source; the stream never captures 3-token subjects. */
  eventsPublishWildcard: 'events.*.*',
  partitionFilter: (partition: number) => `events.*.*.${partition}`,
  /** Written straight to the stored form so it lands in exactly this partition. */
  tick: (workerId: string, partition: number) => `events.${InternalEventTypes.tick}.${workerId}.${partition}`,
  patternsMarker: (workerId: string, partition: number) => `events.${InternalEventTypes.patterns}.${workerId}.${partition}`,
  probe: (nonce: string) => `events.${InternalEventTypes.probe}.${nonce}`,
  probeStoredWildcard: (nonce: string) => `events.${InternalEventTypes.probe}.${nonce}.*`,
  action: (actionType: string, userId: string) => `actions.${actionType}.${userId}`,
  /** A shadow-mode pattern's actions: evaluated live, sent nowhere that acts on them. */
  shadowAction: (actionType: string, userId: string) => `actions.shadow.${actionType}.${userId}`,
  actionsAll: 'actions.>',
  analytics: (job: string) => `analytics.${job}`,
  analyticsAll: 'analytics.>',
  dlq: 'dlq.events',
  dlqAll: 'dlq.>',
} as const;

export const AnalyticsJobs = {
  sessions: 'sessions',
  funnel: 'funnel',
  hotProducts: 'hot_products',
  userActivity: 'user_activity',
  sessionFunnel: 'session_funnel',
  /** Events too late for a window, with the reason. */
  late: 'late',
} as const;

/**
 * The inspection service (`nudge.>`): a NATS micro service named `nudge` (so `$SRV.PING|INFO|STATS.nudge`
 * discovery works), one instance per engine. Per-partition endpoints are served only by the worker
 * owning the partition, so a request about a user goes to `…<partitionOf(userId, P)>`; `stats` is
 * answered by every worker (no queue group) and the CLI gathers the answers.
 */
export const Inspect = {
  service: 'nudge',
  all: 'nudge.>',
  actorShow: (partition: number) => `nudge.actor.show.${partition}`,
  actorsList: (partition: number) => `nudge.actors.list.${partition}`,
  stats: 'nudge.stats',
  /** A user's stored events, in their partition. */
  userEvents: (userId: string, partition: number) => `events.*.${userId}.${partition}`,
  /** A user's actions; a shadow-mode action has one token more, so it needs its own filter. */
  userActions: (userId: string) => `actions.*.${userId}`,
  userShadowActions: (userId: string) => `actions.shadow.*.${userId}`,
  /** What `nudge tail` follows: the family's wildcard, or the family prefix and a filter of the remaining tokens. */
  follow: (family: 'actions' | 'dlq' | 'analytics', filter?: string) => (filter ? `${family}.${filter}` : `${family}.>`),
} as const;

export interface StoredEventSubject {
  eventType: string;
  userId: string;
  partition: number;
}

/** `events.<type>.<user>.<partition>` → parts; null when the subject is not in that shape. */
export function parseStoredEventSubject(subject: string): StoredEventSubject | null {
  // indexOf instead of split: on every message, and split's array is garbage at once.
  if (!subject.startsWith('events.')) return null;
  const a = subject.indexOf('.', 7);
  if (a < 0) return null;
  const b = subject.indexOf('.', a + 1);
  if (b < 0 || subject.indexOf('.', b + 1) >= 0) return null;
  const partition = partitionNumber(subject, b + 1);
  if (partition < 0) return null;
  return { eventType: subject.slice(7, a), userId: subject.slice(a + 1, b), partition };
}

/** The last token as `Number(token)` would read it, when that is a non-negative integer; else -1. */
function partitionNumber(subject: string, from: number): number {
  // Plain decimal digits, the only form nats-server's mapping writes, without a string slice.
  let n = 0;
  let i = from;
  for (; i < subject.length && i - from < 15; i++) {
    const c = subject.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  if (i === subject.length && i > from) return n;
  // Anything else (empty, " 3", "0x1", "1e2", "-0", more than 15 digits): the original rule.
  const p = Number(subject.slice(from));
  return Number.isInteger(p) && p >= 0 ? p : -1;
}

/**
 * nats-server's `partition(P, n)` mapping: FNV-1a 32-bit over the token's bytes, mod P.
 * Checked against a real server in test/partition.test.ts; the engine also probes it at start.
 */
export function partitionOf(userId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    const c = userId.charCodeAt(i);
    // Subject tokens are ASCII in practice; hashing char codes skips a Buffer per event.
    if (c > 0x7f) return partitionOfBytes(Buffer.from(userId, 'utf8'), partitions);
    h = Math.imul(h ^ c, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

function partitionOfBytes(bytes: Uint8Array, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return (h >>> 0) % partitions;
}
