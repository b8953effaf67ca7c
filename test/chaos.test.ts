import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCrash } from '../bench/chaos-crash.js';
import { runHostile } from '../bench/chaos-hostile.js';
import { runBackpressure } from '../bench/chaos-backpressure.js';
import { HostileKinds } from '../bench/chaos-hostile-gen.js';
import type { Check } from '../bench/chaos-report.js';

// The small version of `npm run chaos` (bench/chaos.ts): the same code, smaller numbers. Every
// figure is compared with a reference run in the same test (an uninterrupted run, the normal
// events alone, what was published), never with recorded results.

function assertChecks(checks: Check[]): void {
  for (const c of checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
}

test('crash: ~12k events, SIGKILLed at 3 seeded random moments and the nats-server restarted once, give the actions and analytics of an uninterrupted run', async () => {
  const r = await runCrash({ users: 1_000, seed: 7, kills: 3, serverRestarts: 1, checkpointMs: 200, workers: 1 });
  assertChecks(r.checks);
  assert.ok(r.events > 11_000, `${r.events} events`);
  assert.equal(r.killsDone, 3);
  assert.equal(r.serverRestarts, 1);
  assert.ok(r.actions.expected > 100 && r.analytics.expected > 100, 'the sample produces outputs to compare');
});

test('hostile: 2,200 bad messages of every kind (a 1 MB one too) in a normal stream all reach the DLQ with a reason; the normal events give the outputs they give alone; the worker never restarts', async () => {
  const r = await runHostile({ users: 600, seed: 7, hostile: 2_200 });
  assertChecks(r.checks);
  assert.equal(r.hostileInDlq, 2_200);
  for (const k of HostileKinds) assert.ok(r.byKind[k]!.sent > 0, `kind ${k} sent`);
  assert.equal(r.engineRestarts, 0);
});

test('backpressure: a 5 s burst faster than the engine applies loses nothing, keeps RSS bounded, and drains', async () => {
  const r = await runBackpressure({ seconds: 5, seed: 7, users: 500, rssLimitBytes: 1_536 * 1024 * 1024 });
  assertChecks(r.checks);
  assert.equal(r.applied, r.published);
  assert.ok(r.lagPeak > 0);
});
