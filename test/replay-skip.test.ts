import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { loadPatternDir } from '../src/cep/index.js';
import { openCheckpointStore } from '../src/store/index.js';
import { ActorHost, captureCheckpoint, checkpointCommitted, restoreProcessors, type InputMessage, type Output } from '../src/runtime/index.js';
import { tempDir } from './support/harness.js';

// A replay after a crash gives stored actors inputs their snapshots already hold; they skip them.
// The hard case is a timer: a user whose stored deadline is already behind the watermark (a late
// event opened its session) must not lose that timer when the replay's watermark passes it
// before reaching the user's own position. It fires at the next watermark move, as it did live.

const PATTERNS = loadPatternDir(new URL('../patterns', import.meta.url).pathname).set;
const opts = { partitions: 1, maxOutOfOrderMs: 5_000, latePolicy: 'process' as const, maxEventBytes: 16_384, now: () => 0 };
const MIN = 60_000;
const T0 = Date.parse('2019-11-01T10:00:00Z');

const view = (seq: number, user: string, t: number): InputMessage => ({
  seq,
  subject: `events.view.${user}.0`,
  data: Buffer.from(JSON.stringify({ eventTime: t, eventType: 'view', productId: `p-${user}`, categoryId: `c-${user}`, price: 10, userId: user, userSession: `s-${user}` })),
});

const before = [
  view(1, 'A', T0 + 40 * MIN),
  view(2, 'B', T0), // 40 minutes late: B's session deadline is behind the watermark at once
  view(3, 'A', T0 + 40 * MIN), // A used again, so the eviction below takes B
  view(4, 'C', T0 + 40 * MIN), // live cap 2: B is evicted, so the next capture writes it
];
const after = [view(5, 'A', T0 + 41 * MIN), view(6, 'A', T0 + 100 * MIN)];

async function runOnce(crash: boolean): Promise<Map<string, unknown>> {
  const dir = tempDir('replay-skip');
  const outputs: Output[] = [];
  try {
    let store = openCheckpointStore(dir);
    let host = new ActorHost(store, 2, PATTERNS);
    let [proc] = restoreProcessors(store, host, [0], opts);
    for (const m of before.slice(0, 1)) proc!.process(m, outputs);
    await store.commit(captureCheckpoint([proc!], host, 3));
    checkpointCommitted([proc!], host);
    for (const m of before.slice(1)) proc!.process(m, outputs);
    await store.commit(captureCheckpoint([proc!], host, 3));
    checkpointCommitted([proc!], host);
    if (crash) {
      // A was left unwritten since the first message, so the checkpoint replays from the start; B was written at seq 2.
      assert.equal(proc!.seq, 4);
      host.stopAll();
      await store.close();
      store = openCheckpointStore(dir);
      host = new ActorHost(store, 2, PATTERNS);
      [proc] = restoreProcessors(store, host, [0], opts);
      assert.equal(proc!.seq, 0, 'replay starts before A’s first change');
      for (const m of before) proc!.process(m, outputs);
    }
    for (const m of after) proc!.process(m, outputs);
    host.stopAll();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const byId = new Map<string, unknown>();
  for (const o of outputs) byId.set(o.msgId, o.kind === 'dlq' ? o.reason : o.body);
  return byId;
}

test('a stored timer already due when the replay passes it still fires, once, at the next watermark move', async () => {
  const straight = await runOnce(false);
  const ofB = [...straight.values()].filter((body) => (body as { userId?: string; sessionStart?: number }).userId === 'B' && 'sessionStart' in (body as object));
  assert.equal(ofB.length, 1, "B's session ends with a summary in the straight run");
  const replayed = await runOnce(true);
  assert.deepEqual([...replayed.keys()].sort(), [...straight.keys()].sort());
  for (const [id, body] of straight) assert.deepEqual(replayed.get(id), body, id);
});
