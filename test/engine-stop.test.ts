import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startTestNats, tempDir, spawnEngine, engineStarted } from './support/harness.js';
import { publishSample } from './support/engine-runs.js';

// A graceful stop needs the server to acknowledge outputs for its final checkpoint. With the
// server gone it must still end, within NUDGE_STOP_TIMEOUT_MS, and say why there is no checkpoint.

test('SIGTERM with the NATS server gone: the engine stops within its stop timeout, without a final checkpoint', async () => {
  const nats = await startTestNats();
  const dataDir = tempDir('stop');
  try {
    // Enough events that the engine is still sending actions when the server goes.
    await publishSample(nats.nc, 3_000, 5, false);
    const engine = spawnEngine({ NATS_URL: nats.url, NUDGE_DATA_DIR: dataDir, NUDGE_STOP_TIMEOUT_MS: '1500', NUDGE_CHECKPOINT_MS: '600000', NUDGE_ANALYTICS: 'off' });
    await engineStarted(engine);
    await nats.server.stop();
    const t0 = Date.now();
    engine.child.kill('SIGTERM');
    const code = await Promise.race([engine.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    if (code === 'hung') await engine.kill();
    assert.notEqual(code, 'hung', `the engine did not exit: ${engine.stderr().slice(-2_000)}`);
    assert.ok(Date.now() - t0 < 12_000);
    assert.match(engine.stderr(), /graceful stop did not finish/);
    assert.match(engine.stderr(), /"msg":"engine stopped"/);
  } finally {
    await nats.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
