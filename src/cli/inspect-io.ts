import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { EventRef } from '../../actors/index.js';
import { loadConfig, type Config, type ConfigInput } from '../config/index.js';
import { decodeEvent, type NudgeEvent } from '../events/index.js';
import { connectNats, requireJetStream, isSubjectToken, parseStoredEventSubject, partitionOf, Streams } from '../nats/index.js';
import { Inspect } from '../nats/subjects.js';
import { InspectClient, InspectError, readFiltered, pendingAfter, StreamMissingError, type StoredMsg } from '../service/index.js';
import type { Action } from '../actions/index.js';
import { CliError, ExitCode } from './exit-codes.js';

/** What the inspection commands share: a connection, the inspection client, reading a user's events and actions. */
export interface InspectContext {
  config: Config;
  nc: NatsConnection;
  client: InspectClient;
  jsm(): Promise<JetStreamManager>;
}

export const out = (v: unknown) => process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
export const note = (s: string) => process.stderr.write(`${s}\n`);

/** `nudge actor events u | head`: a reader that stops early is not an error. */
export function quietOnClosedStdout(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

export async function withInspect<T>(over: ConfigInput, fn: (c: InspectContext) => Promise<T>): Promise<T> {
  quietOnClosedStdout();
  const config = loadConfig(over);
  const nc = await connectNats(config.natsUrl, 'nudge-cli');
  let jsm: Promise<JetStreamManager> | null = null;
  try {
    return await fn({ config, nc, client: new InspectClient(nc, config.partitions), jsm: () => (jsm ??= requireJetStream(nc)) });
  } catch (e) {
    if (e instanceof InspectError) throw new CliError(e.message, e.kind === 'bad-request' ? ExitCode.usage : ExitCode.error);
    if (e instanceof StreamMissingError) throw new CliError(e.message, ExitCode.error);
    throw e;
  } finally {
    await nc.close().catch(() => undefined);
  }
}

export function requireUserId(userId: string): void {
  if (!isSubjectToken(userId)) throw new CliError(`"${userId}" is not a user id: user ids are subject tokens (A-Z a-z 0-9 _ -)`, ExitCode.usage);
}

export interface UserEvent {
  seq: number;
  subject: string;
  storedAt: number;
  /** The validated event, or why the engine dead-lettered it. */
  event: NudgeEvent | null;
  rejected: string | null;
  ref: EventRef | null;
}

/** The user's retained events, straight from EVENTS (filter `events.*.<user>.<partition>`), in stream order. */
export async function userEvents(c: InspectContext, userId: string): Promise<UserEvent[]> {
  const p = partitionOf(userId, c.config.partitions);
  const msgs = await readFiltered(c.nc, Streams.events, Inspect.userEvents(userId, p));
  return msgs.map((m) => decodeStored(m, c.config.maxEventBytes));
}

/** How many events of the user EVENTS holds (without reading them). */
export async function userEventCount(c: InspectContext, userId: string): Promise<number> {
  const p = partitionOf(userId, c.config.partitions);
  try {
    return await pendingAfter(await c.jsm(), Streams.events, Inspect.userEvents(userId, p), 0);
  } catch (e) {
    if (/not found/i.test((e as Error).message)) return 0;
    throw e;
  }
}

function decodeStored(m: StoredMsg, maxBytes: number): UserEvent {
  const base = { seq: m.seq, subject: m.subject, storedAt: m.time.getTime() };
  const where = parseStoredEventSubject(m.subject);
  if (!where) return { ...base, event: null, rejected: 'not an event subject', ref: null };
  const d = decodeEvent(m.data, { maxBytes, eventType: where.eventType, userId: where.userId });
  if (!d.ok) return { ...base, event: null, rejected: d.reason, ref: null };
  const e = d.event;
  const ref = new EventRef(m.seq, e.eventTime, e.eventType, e.productId, e.categoryId ?? '', e.categoryCode ?? '', e.brand ?? '', e.price, e.userSession ?? '');
  return { ...base, event: e, rejected: null, ref };
}

export interface UserAction {
  seq: number;
  subject: string;
  shadow: boolean;
  action: Action;
}

/** The actions sent to the user, from ACTIONS (live and shadow subjects), in stream order. */
export async function userActions(c: InspectContext, userId: string): Promise<UserAction[]> {
  const live = await readFiltered(c.nc, Streams.actions, Inspect.userActions(userId));
  const shadow = await readFiltered(c.nc, Streams.actions, Inspect.userShadowActions(userId));
  const all: UserAction[] = [];
  for (const [list, isShadow] of [[live, false], [shadow, true]] as const) {
    for (const m of list) {
      try {
        all.push({ seq: m.seq, subject: m.subject, shadow: isShadow, action: JSON.parse(Buffer.from(m.data).toString('utf8')) as Action });
      } catch {
        // not an action document: not ours to show
      }
    }
  }
  return all.sort((a, b) => a.seq - b.seq);
}
