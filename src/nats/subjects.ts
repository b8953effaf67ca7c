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
  probe: (nonce: string) => `events.${InternalEventTypes.probe}.${nonce}`,
  probeStoredWildcard: (nonce: string) => `events.${InternalEventTypes.probe}.${nonce}.*`,
  action: (actionType: string, userId: string) => `actions.${actionType}.${userId}`,
  actionsAll: 'actions.>',
  analytics: (job: string) => `analytics.${job}`,
  analyticsAll: 'analytics.>',
  dlq: 'dlq.events',
  dlqAll: 'dlq.>',
} as const;

export const AnalyticsJobs = {
  sessions: 'sessions',
} as const;

export interface StoredEventSubject {
  eventType: string;
  userId: string;
  partition: number;
}

/** `events.<type>.<user>.<partition>` → parts; null when the subject is not in that shape. */
export function parseStoredEventSubject(subject: string): StoredEventSubject | null {
  const parts = subject.split('.');
  if (parts.length !== 4 || parts[0] !== 'events') return null;
  const partition = Number(parts[3]);
  if (!Number.isInteger(partition) || partition < 0) return null;
  return { eventType: parts[1]!, userId: parts[2]!, partition };
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
