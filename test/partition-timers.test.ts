import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { PartitionTimers } from '../src/runtime/partition-timers.js';
import { TimerQueue } from '../src/runtime/timer-queue.js';
import { openCheckpointStore, type CheckpointStore } from '../src/store/index.js';
import { prng } from './support/prng.js';
import { tempDir } from './support/harness.js';

const PARTITION = 3;

/**
 * Random moves, due pops, checkpoints whose commits land while moves go on, and restarts from
 * the store, against a queue that holds everything in memory. The spilling one must fire the same
 * timers in the same order, count the same, and keep in memory only what is due soon.
 */
for (const seed of [1, 2, 3]) {
  test(`PartitionTimers with a real LMDB store fire exactly what an all-in-memory queue fires (seed ${seed})`, async () => {
    const dir = tempDir('partition-timers');
    const rnd = prng(seed);
    const SPAN = 100;
    const users = Array.from({ length: 300 }, (_, i) => `u${i}`);
    const model = new TimerQueue();
    const current = new Map<string, number>();
    let store: CheckpointStore = openCheckpointStore(dir);
    let timers = new PartitionTimers(PARTITION, store, SPAN);
    let watermark = 0;
    let inFlight: Promise<void> | null = null;
    let maxInMemory = 0;
    let fired = 0;
    const settle = async () => {
      if (!inFlight) return;
      await inFlight;
      inFlight = null;
      timers.committed();
    };
    try {
      for (let step = 0; step < 6_000; step++) {
        const r = rnd();
        if (r < 0.6) {
          const u = users[Math.floor(rnd() * users.length)]!;
          // Mostly near deadlines, some far (10 to 50 spans out), some cleared.
          const k = rnd();
          const to = k < 0.1 ? null : k < 0.75 ? watermark + Math.floor(rnd() * SPAN) : watermark + Math.floor(rnd() * 50 * SPAN);
          timers.move(u, current.get(u) ?? null, to);
          model.set(u, to);
          if (to === null) current.delete(u);
          else current.set(u, to);
        } else if (r < 0.85) {
          watermark += Math.floor(rnd() * 40);
          const got = timers.popDue(watermark);
          const want = model.popDue(watermark);
          assert.deepEqual(got, want, `step ${step}: due at ${watermark}`);
          fired += got.length;
          // As the processor does: each fired timer's delivery moves it (here: to nothing, or later).
          for (const t of got) {
            const to = rnd() < 0.5 ? null : watermark + 1 + Math.floor(rnd() * 20 * SPAN);
            timers.move(t.key, t.deadline, to);
            model.set(t.key, to);
            if (to === null) current.delete(t.key);
            else current.set(t.key, to);
          }
        } else if (r < 0.97) {
          await settle();
          inFlight = store.commit({ partitions: [], actors: new Map(), timers: timers.capture() });
        } else {
          // A restart after a final checkpoint: everything comes back from the store.
          await settle();
          await store.commit({ partitions: [], actors: new Map(), timers: timers.capture() });
          timers.committed();
          const count = timers.size;
          await store.close();
          store = openCheckpointStore(dir);
          timers = new PartitionTimers(PARTITION, store, SPAN, { count, watermark });
        }
        assert.equal(timers.size, current.size, `step ${step}: count`);
        maxInMemory = Math.max(maxInMemory, timers.inMemory);
      }
      await settle();
      assert.ok(fired > 500, `fired ${fired}`);
      // Far timers were spilled, not held: memory held well under the number pending.
      assert.ok(maxInMemory < users.length, `in memory at most ${maxInMemory} of ${users.length} users`);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('PartitionTimers refuses a second capture before the first commit is reported', () => {
  const dir = tempDir('partition-timers');
  const store = openCheckpointStore(dir);
  try {
    const timers = new PartitionTimers(PARTITION, store, 100);
    timers.move('a', null, 5);
    timers.capture();
    assert.throws(() => timers.capture(), /captured again before the last checkpoint committed/);
    timers.committed();
    assert.deepEqual(timers.capture(), []);
  } finally {
    void store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PartitionTimers without a store keeps every timer in memory and records nothing', () => {
  const timers = new PartitionTimers(PARTITION);
  timers.move('a', null, 1e15);
  timers.move('b', null, 5);
  assert.equal(timers.inMemory, 2);
  assert.deepEqual(timers.capture(), []);
  assert.deepEqual(timers.popDue(10), [{ key: 'b', deadline: 5 }]);
});
