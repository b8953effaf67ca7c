import type { NatsConnection } from '@nats-io/transport-node';
import { Subjects, partitionOf } from './subjects.js';
import { NatsSetupError } from './connection.js';

/**
 * Publishes a probe to the unmapped subject and watches where the server delivers it. Without
 * the nats.conf mapping a user's events would not be partitioned at all (and the EVENTS stream
 * would never see them); with a different P the engine would read the wrong partitions.
 */
export async function verifyPartitionMapping(nc: NatsConnection, partitions: number, timeoutMs = 2_000): Promise<void> {
  const nonce = `probe${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
  const mapped = nc.subscribe(Subjects.probeStoredWildcard(nonce), { max: 1 });
  const unmapped = nc.subscribe(Subjects.probe(nonce), { max: 1 });
  const landed = new Promise<string>((resolve) => {
    void (async () => { for await (const m of mapped) resolve(m.subject); })();
    void (async () => { for await (const m of unmapped) resolve(m.subject); })();
  });
  await nc.flush();
  nc.publish(Subjects.probe(nonce), '{}');
  const timer = new Promise<null>((r) => setTimeout(() => r(null), timeoutMs));
  const subject = await Promise.race([landed, timer]);
  mapped.unsubscribe();
  unmapped.unsubscribe();
  const fix = `load nats.conf (nats-server -c nats.conf), whose mapping is "events.*.*" -> "events.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(${partitions},2)}}"`;
  if (subject === null) throw new NatsSetupError('MAPPING_MISSING', `partition mapping probe saw nothing within ${timeoutMs} ms: ${fix}`);
  if (subject === Subjects.probe(nonce)) {
    throw new NatsSetupError('MAPPING_MISSING', `the server has no partition mapping for events.*.* (a probe stayed on ${subject}): ${fix}`);
  }
  const got = Number(subject.split('.').pop());
  const want = partitionOf(nonce, partitions);
  if (got !== want) {
    throw new NatsSetupError('MAPPING_MISMATCH', `the server's partition mapping does not match NUDGE_PARTITIONS=${partitions} (probe went to partition ${got}, expected ${want}): set NUDGE_PARTITIONS to the P in the server's mapping`);
  }
}
