import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startEmbeddedServer, connectNats, NatsSetupError } from '../src/nats/index.js';
import { tempDir } from './support/harness.js';

// The analytics thread of a running engine connects on its own, a second or so after the engine
// started: a nats-server restart in that moment used to fail the whole engine (found by the chaos
// run, bench/chaos-crash.ts). Its first connect now waits the restart out; commands still fail fast.
test('connectNats with retryForMs waits for a server that comes back; without it, it fails at once', async () => {
  const dir = tempDir('connect-retry');
  try {
    const first = await startEmbeddedServer({ dir });
    const port = Number(new URL(first.url).port);
    await first.stop();

    const t0 = Date.now();
    await assert.rejects(connectNats(first.url, 'test-no-retry'), (e) => e instanceof NatsSetupError && e.code === 'NATS_UNREACHABLE');
    assert.ok(Date.now() - t0 < 5_000, 'a command does not wait');

    const connecting = connectNats(first.url, 'test-retry', 20_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const again = await startEmbeddedServer({ dir, port });
    try {
      const nc = await connecting;
      assert.equal(nc.isClosed(), false);
      await nc.close();
    } finally {
      await again.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
