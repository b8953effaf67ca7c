import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { partitionOf, verifyPartitionMapping, NatsSetupError, PROJECT_ROOT } from '../src/nats/index.js';
import { startTestNats, tempDir, type TestNats } from './support/harness.js';

const started: TestNats[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of started) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('partitionOf agrees with the server mapping in nats.conf for every user', async () => {
  const nats = await startTestNats();
  started.push(nats);
  const seen = new Map<string, number>();
  const sub = nats.nc.subscribe('events.view.*.*', { callback: (_e, m) => void seen.set(m.subject.split('.')[2]!, Number(m.subject.split('.')[3])) });
  const users = Array.from({ length: 500 }, (_, i) => (i % 3 === 0 ? `u${i}` : i % 3 === 1 ? String(510_000_000 + i * 7919) : `user-${i}_x`));
  for (const u of users) nats.nc.publish(`events.view.${u}`, '{}');
  await nats.nc.flush();
  await new Promise((r) => setTimeout(r, 200));
  sub.unsubscribe();
  assert.equal(seen.size, users.length);
  for (const u of users) assert.equal(partitionOf(u, 8), seen.get(u), u);
  await verifyPartitionMapping(nats.nc, 8);
});

test('a server without the mapping is refused with the fix in the message', async () => {
  const dir = tempDir('nomap');
  dirs.push(dir);
  const conf = join(dir, 'plain.conf');
  writeFileSync(conf, 'host: 127.0.0.1\njetstream {}\n');
  const nats = await startTestNats({ configFile: conf });
  started.push(nats);
  await assert.rejects(verifyPartitionMapping(nats.nc, 8, 500), (e: unknown) => e instanceof NatsSetupError && e.code === 'MAPPING_MISSING' && /nats\.conf/.test(e.message));
});

test('a partition count different from the server mapping is refused', async () => {
  const nats = await startTestNats();
  started.push(nats);
  // One probe matches by chance half the time with P=4 against the server's 8; eight probes do not.
  for (const p of [4, 16, 7]) {
    await assert.rejects(verifyPartitionMapping(nats.nc, p, 1_000, 16), (e: unknown) => e instanceof NatsSetupError && e.code === 'MAPPING_MISMATCH' && /NUDGE_PARTITIONS/.test(e.message));
  }
});

test('nudge run fails with a clear message and exit 1 when the server has no JetStream', async () => {
  const dir = tempDir('nojs');
  dirs.push(dir);
  const conf = join(dir, 'nojs.conf');
  writeFileSync(conf, 'host: 127.0.0.1\n');
  const nats = await startTestNats({ configFile: conf });
  started.push(nats);
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'nudge.js'), 'run', '--data-dir', join(dir, 'state')], { env: { ...process.env, NATS_URL: nats.url }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /no JetStream/);
});
