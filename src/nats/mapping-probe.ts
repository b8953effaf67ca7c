import type { NatsConnection } from '@nats-io/transport-node';
import { Subjects, partitionOf } from './subjects.js';
import { NatsSetupError } from './connection.js';

/**
 * Publishes probes to the unmapped subject and watches where the server delivers them. Without
 * the nats.conf mapping a user's events would not be partitioned at all (and the EVENTS stream
 * would never see them); with a different P the engine would read the wrong partitions. Several
 * probes, because one probe lands on the right number by chance as often as P divides the truth.
 */
export async function verifyPartitionMapping(nc: NatsConnection, partitions: number, timeoutMs = 2_000, probes = 8): Promise<void> {
  const base = `probe${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
  const nonces = Array.from({ length: probes }, (_, i) => `${base}x${i}`);
  const landed = new Map<string, string>();
  const subs = nonces.flatMap((n) => [Subjects.probeStoredWildcard(n), Subjects.probe(n)].map((s) => nc.subscribe(s, { max: 1, callback: (_e, m) => void landed.set(n, m.subject) })));
  await nc.flush();
  for (const n of nonces) nc.publish(Subjects.probe(n), '{}');
  const until = Date.now() + timeoutMs;
  while (landed.size < nonces.length && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  for (const s of subs) s.unsubscribe();

  const fix = `load nats.conf (nats-server -c nats.conf), whose mapping is "events.*.*" -> "events.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(${partitions},2)}}"`;
  if (landed.size === 0) throw new NatsSetupError('MAPPING_MISSING', `partition mapping probe saw nothing within ${timeoutMs} ms: ${fix}`);
  for (const n of nonces) {
    const subject = landed.get(n);
    if (subject === undefined) continue;
    if (subject === Subjects.probe(n)) {
      throw new NatsSetupError('MAPPING_MISSING', `the server has no partition mapping for events.*.* (a probe stayed on ${subject}): ${fix}`);
    }
    const got = Number(subject.split('.').pop());
    const want = partitionOf(n, partitions);
    if (got !== want) {
      throw new NatsSetupError('MAPPING_MISMATCH', `the server's partition mapping does not match NUDGE_PARTITIONS=${partitions} (a probe went to partition ${got}, expected ${want}): set NUDGE_PARTITIONS to the P in the server's mapping`);
    }
  }
}
