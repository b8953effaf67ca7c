import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { startTestNats, type TestNats } from './support/harness.js';
import { PROJECT_ROOT, Buckets } from '../src/nats/index.js';
import { PatternBucket } from '../src/pattern-store/index.js';
import { readPatternFiles, compilePatternText } from '../src/cep/index.js';

// First-start seeding of the pattern bucket against a real nats-server. Workers (and engine
// threads) start together; each must go on with the whole shipped set, never with the part a
// racing seeder had written when it looked — a worker that did ran the stream without a pattern.

const SEED_DIR = join(PROJECT_ROOT, 'patterns');
const shippedIds = readPatternFiles(SEED_DIR)
  .map((f) => compilePatternText(f.text))
  .flatMap((r) => (r.ok ? [r.pattern.id] : []))
  .sort();

const servers: TestNats[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function freshServer(): Promise<TestNats> {
  const nats = await startTestNats();
  servers.push(nats);
  return nats;
}

const idsInForce = async (b: PatternBucket) => (await b.inForce()).toSet().patterns.map((p) => p.id).sort();

test('workers seeding an empty bucket together all see the whole shipped set', async () => {
  assert.ok(shippedIds.length >= 6, 'the shipped patterns are found');
  for (let round = 0; round < 5; round++) {
    const nats = await freshServer();
    // Separate connections, as separate workers and threads have.
    const conns = await Promise.all([0, 1, 2, 3].map(() => connect({ servers: nats.url })));
    try {
      const buckets = await Promise.all(conns.map((nc) => PatternBucket.open(nc, { create: true })));
      // Staggered by a few ms, so later workers look while an earlier one is part-way through.
      const results = await Promise.all(buckets.map(async (b, i) => {
        await new Promise((r) => setTimeout(r, i * (round + 1)));
        const seed = await b.seedIfEmpty(SEED_DIR);
        return { seeded: seed.seeded, inForce: await idsInForce(b) };
      }));
      for (const r of results) assert.deepEqual(r.inForce, shippedIds, `round ${round}: a worker went on with ${r.inForce.length} of ${shippedIds.length} patterns`);
      // Each key was created once, by whichever worker got there first.
      assert.deepEqual(results.flatMap((r) => r.seeded).sort(), shippedIds);
    } finally {
      for (const nc of conns) await nc.close();
    }
  }
});

test('a seeding left unfinished (its worker died) is finished by the next start', async () => {
  const nats = await freshServer();
  const kv = await new Kvm(nats.nc).create(Buckets.patterns, { history: 64 });
  const first = readPatternFiles(SEED_DIR)[0]!;
  await kv.create('_seeded', 'seeding');
  await kv.create(JSON.parse(first.text).id, first.text);
  const b = await PatternBucket.open(nats.nc, { create: true });
  await b.seedIfEmpty(SEED_DIR);
  assert.deepEqual(await idsInForce(b), shippedIds);
  // The bookkeeping key is no pattern: nothing lists or rejects it.
  assert.equal((await b.allHistory()).some((e) => e.key.startsWith('_')), false);
  assert.deepEqual((await b.inForce()).rejected, []);
});

test('seeding happens once: a pattern removed afterwards stays removed, and a bucket given patterns before the first start is not seeded', async () => {
  const nats = await freshServer();
  const b = await PatternBucket.open(nats.nc, { create: true });
  await b.seedIfEmpty(SEED_DIR);
  const gone = shippedIds[0]!;
  assert.equal(await b.remove(gone), true);
  const again = await b.seedIfEmpty(SEED_DIR);
  assert.deepEqual(again.seeded, []);
  assert.deepEqual(await idsInForce(b), shippedIds.filter((id) => id !== gone));

  const other = await freshServer();
  const own = await PatternBucket.open(other.nc, { create: true });
  const mine = { id: 'my-rule', version: 1, key: 'user', stages: [{ name: 'v', eventType: 'view' }], action: { type: 'ping' } };
  await own.put(mine);
  assert.deepEqual((await own.seedIfEmpty(SEED_DIR)).seeded, []);
  assert.deepEqual(await idsInForce(own), ['my-rule']);
});
