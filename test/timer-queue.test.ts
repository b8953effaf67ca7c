import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TimerQueue } from '../src/runtime/timer-queue.js';
import { prng } from './support/prng.js';

type Fired = Array<{ deadline: number; key: string }>;


function shuffle<T>(xs: T[], rnd: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const byDeadlineThenKey = (a: { deadline: number; key: string }, b: { deadline: number; key: string }) =>
  a.deadline - b.deadline || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

describe('TimerQueue', () => {
  test('popDue returns due timers in (deadline, key) order regardless of insertion order', () => {
    const timers = [
      { key: 'b', deadline: 10 },
      { key: 'a', deadline: 10 },
      { key: 'c', deadline: 5 },
      { key: 'z', deadline: 1 },
      { key: 'aa', deadline: 10 },
      { key: 'd', deadline: 20 },
      { key: 'e', deadline: 15 },
    ];
    const expected = [...timers].sort(byDeadlineThenKey).filter((t) => t.deadline <= 15);
    const rnd = prng(7);
    for (let round = 0; round < 50; round++) {
      const q = new TimerQueue();
      for (const t of shuffle(timers, rnd)) q.set(t.key, t.deadline);
      assert.equal(q.size, timers.length);
      assert.deepEqual(q.popDue(15), expected);
      assert.equal(q.size, 1);
      assert.equal(q.get('d'), 20);
      assert.deepEqual(q.popDue(19), []);
      assert.deepEqual(q.popDue(20), [{ deadline: 20, key: 'd' }]);
      assert.equal(q.size, 0);
    }
  });

  test('a timer is due when deadline <= watermark, not before', () => {
    const q = new TimerQueue();
    q.set('u', 100);
    assert.deepEqual(q.popDue(99), []);
    assert.deepEqual(q.popDue(Number.NEGATIVE_INFINITY), []);
    assert.deepEqual(q.popDue(100), [{ deadline: 100, key: 'u' }]);
    assert.deepEqual(q.popDue(1000), [], 'fires once');
    assert.equal(q.get('u'), undefined);
  });

  test('extending a deadline does not fire at the old time', () => {
    const q = new TimerQueue();
    q.set('u', 100);
    q.set('u', 200);
    assert.equal(q.get('u'), 200);
    assert.deepEqual(q.popDue(150), []);
    assert.equal(q.get('u'), 200, 'still pending after the stale entry surfaced');
    assert.deepEqual(q.popDue(200), [{ deadline: 200, key: 'u' }]);
    assert.deepEqual(q.popDue(10_000), []);
  });

  test('shortening a deadline fires at the new time, once', () => {
    const q = new TimerQueue();
    q.set('u', 200);
    q.set('u', 100);
    assert.deepEqual(q.popDue(99), []);
    assert.deepEqual(q.popDue(100), [{ deadline: 100, key: 'u' }]);
    assert.deepEqual(q.popDue(200), [], 'the old entry does not fire');
  });

  test('set(key, null) cancels; setting it again later re-arms it', () => {
    const q = new TimerQueue();
    q.set('u', 100);
    q.set('v', 100);
    q.set('u', null);
    q.set('nobody', null); // a no-op
    assert.equal(q.size, 1);
    assert.deepEqual(q.popDue(100), [{ deadline: 100, key: 'v' }]);

    q.set('u', 100);
    q.set('u', null);
    q.set('u', 300);
    assert.deepEqual(q.popDue(299), []);
    assert.deepEqual(q.popDue(300), [{ deadline: 300, key: 'u' }]);

    // cancel and re-arm at the same deadline: fires once
    q.set('w', 400);
    q.set('w', null);
    q.set('w', 400);
    assert.deepEqual(q.popDue(500), [{ deadline: 400, key: 'w' }]);
  });

  test('restore() loads timers that fire like set ones', () => {
    const q = new TimerQueue();
    q.restore('x', 50);
    q.restore('y', 10);
    assert.equal(q.size, 2);
    assert.equal(q.get('x'), 50);
    q.set('x', 50); // same value: nothing moves
    assert.equal(q.nextDeadline(), 10);
    assert.deepEqual(q.popDue(100), [{ deadline: 10, key: 'y' }, { deadline: 50, key: 'x' }]);
    assert.equal(q.size, 0);
  });

  test('repeated extension keeps one heap entry per key', () => {
    const q = new TimerQueue();
    q.set('u', 10);
    for (let d = 11; d <= 10_000; d++) q.set('u', d);
    assert.equal(q.nextDeadline(), 10, 'only the original entry is queued');
    assert.deepEqual(q.popDue(10), []);
    // Had every extension been pushed, entries 11..9999 would still be queued here.
    assert.equal(q.nextDeadline(), 10_000);
    assert.deepEqual(q.popDue(9_999), []);
    assert.deepEqual(q.popDue(10_000), [{ deadline: 10_000, key: 'u' }]);
    assert.equal(q.nextDeadline(), undefined);
  });

  test('many keys extended many times: each fires exactly once, at its last deadline', () => {
    const rnd = prng(11);
    const q = new TimerQueue();
    const last = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const key = `u${Math.floor(rnd() * 50)}`;
      const d = (last.get(key) ?? 0) + 1 + Math.floor(rnd() * 100);
      q.set(key, d);
      last.set(key, d);
    }
    const expected = [...last].map(([key, deadline]) => ({ key, deadline })).sort(byDeadlineThenKey);
    const fired: Fired = [];
    for (let wm = 0; q.size > 0; wm += 997) fired.push(...q.popDue(wm));
    assert.deepEqual(fired, expected.map(({ deadline, key }) => ({ deadline, key })));
    assert.equal(q.nextDeadline(), undefined);
  });

  test('nextDeadline is a lower bound of every pending deadline', () => {
    const q = new TimerQueue();
    assert.equal(q.nextDeadline(), undefined);
    q.set('a', 30);
    q.set('b', 20);
    assert.equal(q.nextDeadline(), 20);
    q.set('b', 40);
    assert.ok(q.nextDeadline()! <= 30);
  });

  test('randomised: a queue rebuilt with restore() from a checkpointed copy fires like the original', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = prng(seed);
      const original = new TimerQueue();
      /** What the store holds: the pending deadlines as of the last checkpoint. */
      let store = new Map<string, number>();
      /** A plain model of what must be pending. */
      const model = new Map<string, number>();
      let wm = 0;
      let rebuilt: TimerQueue | null = null;
      const checkpoint = () => {
        store = new Map(original.entries());
      };
      const apply = (q: TimerQueue, op: { kind: 'set'; key: string; d: number | null } | { kind: 'pop'; wm: number }): Fired | null => {
        if (op.kind === 'set') {
          q.set(op.key, op.d);
          return null;
        }
        return q.popDue(op.wm);
      };

      for (let i = 0; i < 1000; i++) {
        const r = rnd();
        let op: { kind: 'set'; key: string; d: number | null } | { kind: 'pop'; wm: number };
        if (r < 0.65) {
          const key = `u${Math.floor(rnd() * 40)}`;
          const cur = model.get(key);
          const x = rnd();
          // mostly extend, sometimes shorten, sometimes cancel, sometimes re-set the same value
          const d = x < 0.1 ? null : x < 0.15 && cur !== undefined ? cur : x < 0.3 ? wm + Math.floor(rnd() * 200) : (cur ?? wm) + Math.floor(rnd() * 300);
          op = { kind: 'set', key, d };
          if (d === null) model.delete(key);
          else model.set(key, d);
        } else if (r < 0.9) {
          wm += Math.floor(rnd() * 120);
          op = { kind: 'pop', wm };
        } else {
          checkpoint();
          if (rebuilt === null && i > 300) {
            rebuilt = new TimerQueue();
            for (const [k, d] of store) rebuilt.restore(k, d);
            for (const k of new Set([...store.keys(), ...model.keys()])) assert.equal(rebuilt.get(k), original.get(k), `seed ${seed}: ${k}`);
          }
          continue;
        }
        const fired: Fired | null = apply(original, op);
        const again: Fired | null = rebuilt ? apply(rebuilt, op) : null;
        if (fired !== null) {
          const expected = [...model].filter(([, d]) => d <= wm).map(([key, deadline]) => ({ deadline, key })).sort(byDeadlineThenKey);
          for (const e of expected) model.delete(e.key);
          assert.deepEqual(fired, expected, `seed ${seed}, op ${i}: original vs model`);
          if (rebuilt) assert.deepEqual(again, fired, `seed ${seed}, op ${i}: rebuilt vs original`);
        }
        assert.equal(original.size, model.size);
      }
      assert.ok(rebuilt, `seed ${seed} rebuilt a queue`);
      // drain both
      assert.deepEqual(rebuilt.popDue(Number.MAX_SAFE_INTEGER), original.popDue(Number.MAX_SAFE_INTEGER));
      assert.equal(original.size, 0);
      assert.equal(rebuilt.size, 0);
    }
  });
});
