import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventRef } from '../actors/index.js';
import { UserActor, encodeActor, decodeActor, type PersistedActor } from '../src/runtime/index.js';
import { loadPatternDir, Run } from '../src/cep/index.js';
import { prng } from './support/prng.js';

const PATTERNS = loadPatternDir(new URL('../patterns', import.meta.url).pathname).set;
const MIN = 60_000;

/** A user browsing for a while: views in a few categories and products, some carts, a purchase now and then. */
function feed(actor: UserActor, seed: number, n: number, gapMs = 2 * MIN, buys = true): void {
  const rand = prng(seed);
  const stats = { capped: 0, startsSkipped: 0, runsDropped: 0 };
  let t = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rand() * gapMs);
    const r = rand();
    const type = r < 0.8 ? 'view' : r < 0.95 || !buys ? 'cart' : 'purchase';
    const product = String(1000 + Math.floor(rand() * 6));
    const e = new EventRef(i + 1, t, type, product, String(20 + Math.floor(rand() * 3)), `cat.${Math.floor(rand() * 3)}`, 'acme', 100 + Math.floor(rand() * 300) + 0.99, `s-${seed}`);
    actor.event(e, PATTERNS, stats);
  }
}

/** The persisted form with its events shared the way the actor shares them (identity per seq). */
function shape(p: PersistedActor): unknown {
  return JSON.parse(JSON.stringify(p, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries([...v].sort(([a], [b]) => (a < b ? -1 : 1))) : v)));
}

test('encode → decode gives the persisted actor back, for small and large actors', () => {
  for (const [seed, n, gapMs, buys] of [
    [1, 3, 2 * MIN, true],
    [2, 12, 2 * MIN, true],
    [3, 40, 2 * MIN, true],
    // A heavy browser who never buys: one snapshot holds far more than a handful of events.
    [4, 150, 20_000, false],
  ] as const) {
    const actor = UserActor.create();
    feed(actor, seed, n, gapMs, buys);
    const persisted = actor.persist();
    persisted.due = 1_700_000_123_456;
    const back = decodeActor(encodeActor(persisted));
    assert.deepEqual(shape(back), shape(persisted), `seed ${seed}, ${n} events`);
    // An event held by several runs is one object again after decoding, as it was before.
    const refs = new Map<number, EventRef>();
    if (n === 150) assert.ok((back.cep?.['churn-risk']?.runs.get('')?.[0]?.ev.length ?? 0) > 100, 'the heavy browser holds over 100 events');
    for (const state of Object.values(back.cep ?? {}))
      for (const runs of state.runs.values())
        for (const r of runs)
          for (const e of r.ev) {
            const seen = refs.get(e.seq);
            if (seen) assert.equal(seen, e, `event ${e.seq} decoded once`);
            else refs.set(e.seq, e);
          }
  }
});

test('the run time bounds are rebuilt from the events exactly', () => {
  const actor = UserActor.create();
  feed(actor, 7, 60);
  const persisted = actor.persist();
  const back = decodeActor(encodeActor(persisted));
  let runs = 0;
  for (const [id, state] of Object.entries(persisted.cep ?? {})) {
    for (const [key, list] of state.runs) {
      const decoded = back.cep![id]!.runs.get(key)!;
      list.forEach((r, i) => {
        const d = decoded[i]!;
        assert.deepEqual([d.t0, d.t1, d.tl], [r.t0, r.t1, r.tl], `${id} ${key} run ${i}`);
        runs++;
      });
    }
  }
  assert.ok(runs > 10, `enough runs to mean something (${runs})`);
});

test('bytes that are not an actor are refused with a reason', () => {
  assert.throws(() => decodeActor(new Uint8Array([0x93, 0x02, 0xc0, 0xc0])), /actor format/);
});

test('edge values survive: positions past 2^31, negative bit sets, empty ledgers, non-ASCII and long strings', () => {
  const long = 'x'.repeat(300);
  const e1 = new EventRef(3_000_000_000, 1_700_000_000_000.5, 'view', 'prodé', '', 'kategorie.äpfel', long, -0.01, 'sess-1');
  const e2 = new EventRef(3_000_000_001, 1_700_000_060_000, 'view', 'prodé', '', 'kategorie.äpfel', long, 19.99, 'sess-1');
  const e3 = new EventRef(3_000_000_002, 1_700_000_120_000, 'cart', '42', 'c9', '', '', 0, '');
  const persisted: PersistedActor = {
    due: 1_700_000_999_000,
    position: 2 * 3_000_000_002 + 1,
    session: { machine: { status: 'active', value: 'carting', historyValue: {}, context: {}, children: {} }, ledger: { sessionStart: 1, lastEventTime: 2, firstSeq: 3_000_000_000, userSession: 'ß-session', views: 2, carts: 1, removes: 0, purchases: 0, others: 0, revenue: 12.5 } },
    sent: { coupon: [1_700_000_000_000, 1_700_000_100_000], cart_recovery: [] },
    cep: {
      'repeat-category': {
        v: 3,
        runs: new Map([
          ['', [Run.of(1, 2, 2, ~0, 1, [e1, e2], [0, 1])]],
          ['sess-1', [Run.of(0, 1, 0, 1 << 30, 0, [e3], [0])]],
        ]),
        caps: {},
      },
    },
  };
  const back = decodeActor(encodeActor(persisted));
  // The machine is stored as its phase; the rest as it was.
  const { session, ...rest } = back;
  const { session: wanted, ...wantedRest } = persisted;
  assert.equal((session!.machine as { value: string }).value, 'carting');
  assert.deepEqual(session!.ledger, wanted!.ledger);
  assert.deepEqual(shape(rest), shape(wantedRest));
  assert.equal(back.cep!['repeat-category']!.runs.get('')![0]!.b, ~0);
});

test('cut-off bytes are refused, never read past their end', () => {
  const actor = UserActor.create();
  feed(actor, 11, 20);
  const bytes = encodeActor(actor.persist());
  for (const cut of [1, 5, Math.floor(bytes.length / 2), bytes.length - 1]) {
    assert.throws(() => decodeActor(bytes.subarray(0, cut)), /stored actor/, `cut at ${cut} of ${bytes.length}`);
  }
});
