import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/index.js';
import { Engine } from '../src/runtime/index.js';
import { Streams, Headers, PROJECT_ROOT } from '../src/nats/index.js';
import { startTestNats, tempDir, readStream, waitFor, SHARED_SAMPLE, type TestNats } from './support/harness.js';

/**
 * Independent of the engine: plain arrays over the CSV text. Coupon: a view of category c at t
 * when the user's views of c include 3 within (t - 30 min, t] and no coupon for c in the 30 min
 * before t. Sessions: a user's events split where the gap is 30 min or more.
 */
function bruteForce(csv: string) {
  const lines = csv.split('\n').slice(1).filter((l) => l.split(',').length === 9);
  const viewsByUserCat = new Map<string, number[]>();
  const lastCoupon = new Map<string, number>();
  const lastSeen = new Map<string, number>();
  let coupons = 0;
  let sessions = 0;
  for (const line of lines) {
    const [time, type, , categoryId, categoryCode, , , userId] = line.split(',');
    const t = Date.parse(time!.replace(' UTC', 'Z').replace(' ', 'T'));
    const prev = lastSeen.get(userId!);
    if (prev === undefined || t - prev >= 30 * 60_000) sessions++;
    lastSeen.set(userId!, Math.max(prev ?? t, t));
    if (type !== 'view') continue;
    const cat = categoryId || categoryCode;
    if (!cat) continue;
    const key = `${userId}|${cat}`;
    const views = [...(viewsByUserCat.get(key) ?? []), t];
    viewsByUserCat.set(key, views);
    const inWindow = views.filter((v) => t - v < 30 * 60_000).length;
    const last = lastCoupon.get(key);
    if (inWindow >= 3 && (last === undefined || t - last >= 30 * 60_000)) {
      coupons++;
      lastCoupon.set(key, t);
    }
  }
  return { rows: lines.length, coupons, sessions };
}

let nats: TestNats;
let engine: Engine;
let dataDir: string;

before(async () => {
  nats = await startTestNats();
  dataDir = tempDir('rees46');
  engine = await Engine.start(loadConfig({ natsUrl: nats.url, dataDir, logLevel: 'silent', idleTickMs: 3_600_000 }), createLogger('silent'));
});

after(async () => {
  await engine.stop();
  await nats.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('the shared REES46 sample through nudge publish and the running engine', async () => {
  const expected = bruteForce(readFileSync(SHARED_SAMPLE, 'utf8'));
  assert.equal(expected.rows, 17_434);

  const pub = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'nudge.js'), 'publish', '--file', SHARED_SAMPLE, '--flush', '--json'], {
    env: { ...process.env, NATS_URL: nats.url },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(pub.status, 0, pub.stderr);
  const report = JSON.parse(pub.stdout) as { published: number; deadLettered: number; rejections: Array<{ where: string; reason: string }> };
  assert.equal(report.published, 17_434);
  assert.equal(report.deadLettered, 1);
  assert.match(report.rejections[0]!.reason, /line 17436: expected 9 fields, got 8 \(row cut off\?\)/);

  // Every valid row processed, every session closed by the flush tick.
  await waitFor('all rows applied', () => engine.totals().events === 17_434 && engine.totals().ticks === 8, 60_000);
  await engine.checkpoint();
  const totals = engine.totals();
  assert.equal(totals.dlq, 0);
  assert.equal(totals.late, 0);
  assert.equal(totals.summaries, expected.sessions);

  // The coupon is the repeat-category pattern now; the other shipped patterns publish beside it
  // (each checked against its own brute force in patterns-rees46.test.ts).
  const coupons = await readStream(nats.nc, Streams.actions, 'actions.coupon.>');
  assert.equal(coupons.length, expected.coupons);
  const allActions = await readStream(nats.nc, Streams.actions);
  assert.equal(allActions.length, totals.actions, 'every action the engine counted is in ACTIONS, once');
  const summaries = await readStream(nats.nc, Streams.analytics, 'analytics.sessions');
  assert.equal(summaries.length, expected.sessions);

  const dlq = await readStream(nats.nc, Streams.dlq);
  assert.equal(dlq.length, 1);
  assert.match(dlq[0]!.headers!.get(Headers.reason), /cut off/);
  assert.equal(Buffer.from(dlq[0]!.data).toString(), readFileSync(SHARED_SAMPLE, 'utf8').split('\n').pop());
});
