import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';

/**
 * `expires` of the engine's pull consumers (nats.js default 30 s). After a nats-server restart,
 * nats.js 3.4 recreates an ordered consumer but pulls nothing while its old pull still counts as
 * pending, until two idle heartbeats (expires / 2 each) are missed: with the default that stalled
 * every partition of a busy engine ~45 s; with 5 s, ~6 s.
 */
export const CONSUME_EXPIRES_MS = 5_000;

export class NatsSetupError extends Error {
  constructor(
    readonly code: 'NATS_UNREACHABLE' | 'JETSTREAM_DISABLED' | 'MAPPING_MISSING' | 'MAPPING_MISMATCH',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The server list and credentials of a NATS_URL. nats.js takes no credentials from a URL, so
 * `nats://user:password@host:port` (what nats.production.conf's users need) is split here; every
 * connection of nudge goes through this, and logs and errors show the URL without the password.
 */
export function natsTarget(url: string): { servers: string; user?: string; pass?: string; display: string } {
  let parsed: URL;
  try {
    parsed = new URL(url.includes('://') ? url : `nats://${url}`);
  } catch {
    return { servers: url, display: url };
  }
  if (!parsed.username && !parsed.password) return { servers: url, display: url };
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  const servers = parsed.toString().replace(/\/$/, '');
  return { servers, user, pass, display: `${parsed.protocol}//${user}:***@${parsed.host}` };
}

/** What nats.js's connect() takes of a NATS_URL: servers, and user and password when it carries them. */
export function natsConnectOptions(url: string): { servers: string; user?: string; pass?: string } {
  const { display: _display, ...options } = natsTarget(url);
  return options;
}

/**
 * `retryForMs`: keep trying the first connect that long (a part started while the server restarts,
 * e.g. the analytics thread of a running engine); 0 fails at once, as a command should.
 */
export async function connectNats(url: string, name: string, retryForMs = 0): Promise<NatsConnection> {
  const until = Date.now() + retryForMs;
  const target = natsConnectOptions(url);
  for (;;) {
    try {
      // noAsyncTraces: ~1.8x faster publishing (cost guide); stack traces of publish errors are not worth that.
      return await connect({ ...target, name, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    } catch (e) {
      if (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      throw new NatsSetupError('NATS_UNREACHABLE', `cannot reach NATS at ${natsTarget(url).display}: ${(e as Error).message}. Is nats-server running? (set NATS_URL, or use \`nudge demo\` for an embedded server)`);
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
