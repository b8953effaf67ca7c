import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager, type ConsumerInfo } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Config } from '../config/index.js';
import { verifyPartitionMapping, NatsSetupError, natsTarget, natsConnectOptions } from '../nats/index.js';
import { streamConfigs } from '../nats/streams.js';
import { Streams, Buckets, Subjects } from '../nats/subjects.js';
import { PatternBucket } from '../pattern-store/index.js';
import { InspectClient } from './client.js';
import { formatDuration } from './why.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a failure or warning. */
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  natsUrl: string;
  partitions: number;
  checks: DoctorCheck[];
}

const MIN_SERVER = [2, 9, 0] as const;
/** A consumer with messages to deliver that has delivered nothing for this long is stalled. */
const STALLED_MS = 30_000;

/**
 * `nudge doctor`: checks the NATS side of a deployment without needing an engine — the server,
 * its version, JetStream, the partition mapping (a probe published and seen where it lands), the
 * streams and the pattern bucket with the settings the engine expects, and the consumers and
 * workers reading EVENTS. Every failure says how to fix it.
 */
export async function runDoctor(config: Config): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const add = (c: DoctorCheck) => checks.push(c);
  // The URL as shown: without its password.
  const shownUrl = natsTarget(config.natsUrl).display;
  const report = (): DoctorReport => ({ ok: !checks.some((c) => c.status === 'fail'), natsUrl: shownUrl, partitions: config.partitions, checks });
  const P = config.partitions;

  let nc: NatsConnection;
  try {
    nc = await connect({ ...natsConnectOptions(config.natsUrl), name: 'nudge-doctor', timeout: 3_000, maxReconnectAttempts: 0 });
  } catch (e) {
    add({
      name: 'server',
      status: 'fail',
      detail: `cannot reach NATS at ${shownUrl}: ${(e as Error).message}`,
      fix: 'start nats-server with the reference config (nats-server -c nats.conf -sd <store dir>), or point NATS_URL / --nats-url at the running one',
    });
    for (const name of ['version', 'jetstream', 'mapping', 'streams', 'patterns bucket', 'consumers', 'workers']) add({ name, status: 'skip', detail: 'needs a server connection' });
    return report();
  }
  try {
    add({ name: 'server', status: 'ok', detail: `reachable at ${shownUrl} (${nc.info?.server_name ?? nc.info?.server_id ?? 'server'})` });

    const version = nc.info?.version ?? '0.0.0';
    const parts = version.split(/[.-]/).map((x) => Number(x));
    const older = MIN_SERVER.some((m, i) => {
      for (let j = 0; j < i; j++) if ((parts[j] ?? 0) !== MIN_SERVER[j]) return false;
      return (parts[i] ?? 0) < m;
    });
    add(
      older
        ? { name: 'version', status: 'fail', detail: `nats-server ${version}; nudge needs ${MIN_SERVER.join('.')} or later`, fix: 'upgrade nats-server (Debian: apt-get install nats-server gives 2.9.x)' }
        : { name: 'version', status: 'ok', detail: `nats-server ${version}, protocol ${nc.info?.proto ?? '?'}, max payload ${nc.info?.max_payload ?? '?'} bytes` },
    );

    let jsm: JetStreamManager | null = null;
    try {
      jsm = await jetstreamManager(nc);
      const info = await jsm.getAccountInfo();
      add({ name: 'jetstream', status: 'ok', detail: `enabled: ${info.streams} stream(s), ${info.consumers} consumer(s), ${Math.round(info.storage / 1024)} KiB stored` });
    } catch (e) {
      add({
        name: 'jetstream',
        status: 'fail',
        detail: `JetStream is not available: ${(e as Error).message}`,
        fix: 'start nats-server with JetStream on: nats-server -c nats.conf -sd <store dir> (nats.conf has a jetstream {} block)',
      });
    }

    await checkMapping(nc, P, add);

    if (jsm) {
      await checkStreams(jsm, config, add);
      await checkBucket(nc, config, add);
      await checkConsumersAndWorkers(nc, jsm, P, add);
    } else {
      for (const name of ['streams', 'patterns bucket', 'consumers', 'workers']) add({ name, status: 'skip', detail: 'needs JetStream' });
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
  return report();
}

async function checkMapping(nc: NatsConnection, P: number, add: (c: DoctorCheck) => void): Promise<void> {
  const mapping = `"events.*.*": "events.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(${P},2)}}"`;
  try {
    await verifyPartitionMapping(nc, P);
    add({ name: 'mapping', status: 'ok', detail: `probes published to ${Subjects.probe('<nonce>')} landed in the partitions FNV-1a(userId) mod ${P} gives (the same function the CLI and engine use)` });
  } catch (e) {
    if (!(e instanceof NatsSetupError)) throw e;
    const detail = e.message.split(': load nats.conf')[0]!.split(': set NUDGE_PARTITIONS')[0]!;
    add(
      e.code === 'MAPPING_MISMATCH'
        ? { name: 'mapping', status: 'fail', detail, fix: `set NUDGE_PARTITIONS (now ${P}) to the P of the server's mapping, or change the mapping to ${mapping} and restart the server` }
        : {
            name: 'mapping',
            status: 'fail',
            detail,
            fix: `start the server with nats.conf (nats-server -c nats.conf), or add to its config: mappings = { ${mapping} } then restart (or reload) the server; without it events published to events.<type>.<user> reach no partition`,
          },
    );
  }
}

async function checkStreams(jsm: JetStreamManager, config: Config, add: (c: DoctorCheck) => void): Promise<void> {
  const problems: string[] = [];
  const fine: string[] = [];
  let missing = false;
  for (const want of streamConfigs(config)) {
    try {
      const info = await jsm.streams.info(want.name);
      const c = info.config;
      const issues: string[] = [];
      if (String(c.subjects) !== String(want.subjects)) issues.push(`subjects ${JSON.stringify(c.subjects)}, expected ${JSON.stringify(want.subjects)}`);
      if (c.max_age !== want.max_age) issues.push(`max age ${formatDuration(c.max_age / 1e6)}, expected ${formatDuration((want.max_age ?? 0) / 1e6)}`);
      if (c.duplicate_window !== want.duplicate_window) issues.push(`duplicate window ${formatDuration(c.duplicate_window / 1e6)}, expected ${formatDuration((want.duplicate_window ?? 0) / 1e6)}`);
      if (want.storage && c.storage !== want.storage) issues.push(`storage ${c.storage}, expected ${want.storage}`);
      if (issues.length) problems.push(`${want.name}: ${issues.join('; ')}`);
      else fine.push(`${want.name} (${info.state.messages} msgs)`);
    } catch (e) {
      if (!/not found/i.test((e as Error).message)) throw e;
      missing = true;
      problems.push(`${want.name} is missing`);
    }
  }
  if (problems.length) {
    add({
      name: 'streams',
      status: 'fail',
      detail: problems.join('; '),
      fix: missing
        ? 'start the engine once (`nudge run`): it creates the streams with these settings'
        : 'restart the engine (`nudge run` brings existing streams to these settings at start-up), or check NUDGE_EVENTS_MAX_AGE_MS / NUDGE_ACTIONS_DEDUPE_MS match what the workers run with',
    });
  } else add({ name: 'streams', status: 'ok', detail: `${fine.join(', ')}: subjects, retention and duplicate windows as expected` });
}

async function checkBucket(nc: NatsConnection, config: Config, add: (c: DoctorCheck) => void): Promise<void> {
  try {
    const kv = await new Kvm(nc).open(Buckets.patterns);
    const status = await kv.status();
    const bucket = await PatternBucket.open(nc, { create: false });
    const fold = await bucket.inForce();
    const inForce = fold.toSet().patterns.length;
    const rejected = fold.rejected;
    if (status.history < 2) {
      add({ name: 'patterns bucket', status: 'warn', detail: `${Buckets.patterns} keeps ${status.history} revision(s) per key: a bad put cannot fall back to the previous rule`, fix: `recreate the bucket with history 64 (the engine creates it so when it is missing)` });
    } else if (rejected.length) {
      add({
        name: 'patterns bucket',
        status: 'warn',
        detail: `${Buckets.patterns}: ${inForce} pattern(s) in force; latest revision rejected for ${rejected.map((r) => `${r.id} (${r.reason})`).join('; ')}`,
        fix: 'fix the pattern and `nudge patterns put <file>` it (the previous valid revision stays in force meanwhile)',
      });
    } else add({ name: 'patterns bucket', status: 'ok', detail: `${Buckets.patterns}: ${inForce} pattern(s) in force at revision ${fold.revision}, history ${status.history}` });
  } catch (e) {
    const msg = (e as Error).message;
    if (!/not found|does not exist|no such|cannot open/i.test(msg)) throw e;
    add(
      config.patternSource === 'dir'
        ? { name: 'patterns bucket', status: 'warn', detail: `no KV bucket ${Buckets.patterns} (NUDGE_PATTERN_SOURCE=dir: the workers run the pattern files)` }
        : { name: 'patterns bucket', status: 'fail', detail: `no KV bucket ${Buckets.patterns}`, fix: 'start the engine once (`nudge run` creates it and seeds it from patterns/), or `nudge patterns put <file>`' },
    );
  }
}

async function checkConsumersAndWorkers(nc: NatsConnection, jsm: JetStreamManager, P: number, add: (c: DoctorCheck) => void): Promise<void> {
  let consumers: ConsumerInfo[] = [];
  try {
    consumers = await jsm.consumers.list(Streams.events).next();
  } catch (e) {
    if (!/not found/i.test((e as Error).message)) throw e;
  }
  const now = Date.now();
  const stalled = consumers.filter((c) => {
    if (c.num_pending === 0) return false;
    const last = lastActive(c);
    return last === null ? now - Date.parse(c.created) > STALLED_MS : now - last > STALLED_MS;
  });
  if (consumers.length === 0) add({ name: 'consumers', status: 'warn', detail: 'nothing reads EVENTS', fix: 'start a worker (`nudge run`)' });
  else if (stalled.length) {
    add({
      name: 'consumers',
      status: 'fail',
      detail: stalled.map((c) => `${c.name} (${c.config.filter_subject ?? c.config.filter_subjects?.join(',') ?? '>'}) has ${c.num_pending} pending and delivered nothing for over ${formatDuration(STALLED_MS)}`).join('; '),
      fix: 'look at the worker owning that partition (`nudge stats`, its logs); restarting it resumes from its checkpoint',
    });
  } else {
    const behind = consumers.reduce((n, c) => n + c.num_pending, 0);
    add({ name: 'consumers', status: 'ok', detail: `${consumers.length} consumer(s) on EVENTS, ${behind} message(s) pending in total, none stalled` });
  }

  const stats = await new InspectClient(nc, P).stats(2_000);
  if (stats.length === 0) {
    add({ name: 'workers', status: 'warn', detail: 'no nudge worker answers on the inspection service (nudge.stats)', fix: 'start `nudge run` (each worker serves the `nudge` micro service)' });
    return;
  }
  const owners = new Map<number, string[]>();
  for (const w of stats) for (const s of w.partitions) owners.set(s.partition, [...(owners.get(s.partition) ?? []), w.worker]);
  const unowned = Array.from({ length: P }, (_, p) => p).filter((p) => !owners.has(p));
  const doubled = [...owners].filter(([, w]) => w.length > 1);
  const outside = [...owners.keys()].filter((p) => p >= P);
  if (unowned.length || doubled.length || outside.length) {
    const parts: string[] = [];
    if (unowned.length) parts.push(`partition(s) ${unowned.join(',')} have no owner`);
    if (doubled.length) parts.push(doubled.map(([p, w]) => `partition ${p} is owned by ${w.join(' and ')}`).join('; '));
    if (outside.length) parts.push(`worker(s) own partition(s) ${outside.join(',')} beyond NUDGE_PARTITIONS=${P}`);
    add({ name: 'workers', status: 'fail', detail: parts.join('; '), fix: `set NUDGE_OWNED_PARTITIONS on the workers so each partition 0-${P - 1} has exactly one owner` });
  } else add({ name: 'workers', status: 'ok', detail: `${stats.length} worker(s) (${stats.map((w) => w.worker).join(', ')}) own partitions 0-${P - 1}, one each` });
}

function lastActive(c: ConsumerInfo): number | null {
  const v = (c.delivered as { last_active?: unknown }).last_active;
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return v / 1e6;
  const t = Date.parse(String(v));
  return Number.isFinite(t) ? t : null;
}
