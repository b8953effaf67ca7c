import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';

export class NatsSetupError extends Error {
  constructor(
    readonly code: 'NATS_UNREACHABLE' | 'JETSTREAM_DISABLED' | 'MAPPING_MISSING' | 'MAPPING_MISMATCH',
    message: string,
  ) {
    super(message);
  }
}

/**
 * `retryForMs`: keep trying the first connect that long (a part started while the server restarts,
 * e.g. the analytics thread of a running engine); 0 fails at once, as a command should.
 */
export async function connectNats(url: string, name: string, retryForMs = 0): Promise<NatsConnection> {
  const until = Date.now() + retryForMs;
  for (;;) {
    try {
      // noAsyncTraces: ~1.8x faster publishing (cost guide); stack traces of publish errors are not worth that.
      return await connect({ servers: url, name, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    } catch (e) {
      if (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      throw new NatsSetupError('NATS_UNREACHABLE', `cannot reach NATS at ${url}: ${(e as Error).message}. Is nats-server running? (set NATS_URL, or use \`nudge demo\` for an embedded server)`);
    }
  }
}

export async function requireJetStream(nc: NatsConnection): Promise<JetStreamManager> {
  try {
    return await jetstreamManager(nc);
  } catch (e) {
    throw new NatsSetupError('JETSTREAM_DISABLED', `the NATS server at ${nc.getServer()} has no JetStream (${(e as Error).message}). Start it with JetStream on: nats-server -c nats.conf -sd <store dir>`);
  }
}
