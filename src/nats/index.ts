export { Streams, Subjects, Headers, InternalEventTypes, Buckets, AnalyticsJobs, parseStoredEventSubject, partitionOf, isSubjectToken } from './subjects.js';
export type { StoredEventSubject } from './subjects.js';
export { connectNats, natsTarget, natsConnectOptions, requireJetStream, NatsSetupError, CONSUME_EXPIRES_MS } from './connection.js';
export { ensureStreams, streamConfigs } from './streams.js';
export type { StreamSettings } from './streams.js';
export { verifyPartitionMapping } from './mapping-probe.js';
export { startEmbeddedServer, findNatsServer, PROJECT_ROOT, REFERENCE_CONFIG } from './embedded-server.js';
export type { EmbeddedServer, EmbeddedServerOptions } from './embedded-server.js';
