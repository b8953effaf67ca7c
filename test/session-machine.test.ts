import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor } from 'xstate';
import { sessionMachine, sessionTransitions, emptyCounts, SESSION_GAP_MS, EventRef, type EventRefJson, type SessionSummary, type SessionPhase } from '../actors/index.js';
import { UserActor, encodeActor, decodeActor, type ActorEmitted, type PersistedActor, type PatternMatch } from '../src/runtime/index.js';
import { loadPatternDir } from '../src/cep/index.js';
import { prng } from './support/prng.js';

// The user's actor is the XState session machine plus its ledger (actors/user-session.ts) beside
// the shipped patterns (src/runtime/user-actor.ts). These tests drive it with controlled event
// time; `actor` below presents it as value + context. The coupon cases were written for the
// hand-written rule the repeat-category pattern replaced, and hold for the pattern unchanged
// (but for one out-of-order case, noted there).
const PATTERNS = loadPatternDir(new URL('../patterns', import.meta.url).pathname).set;
const COUPON_VIEWS = 3;

const T0 = Date.UTC(2019, 9, 1, 8, 0, 0);
const SEC = 1000;
const MIN = 60 * SEC;

type Emitted = ActorEmitted;
interface Coupon {
  type: 'coupon';
  category: string;
  views: EventRef[];
  completedBy: EventRef;
}
const asCoupon = (m: PatternMatch): Coupon => ({
  type: 'coupon',
  category: m.match.run.ev[0]!.categoryId || m.match.run.ev[0]!.categoryCode,
  views: m.match.run.ev,
  completedBy: m.match.run.ev[m.match.run.ev.length - 1]!,
});
type SessionEvent = { type: 'EVENT'; event: EventRef } | { type: 'SESSION_TIMEOUT'; time: number };

/** What the context looks like with no open session. */
const emptySessionContext = () => ({
  sessionStart: null as number | null,
  lastEventTime: 0,
  firstSeq: 0,
  userSession: null as string | null,
  ...emptyCounts(),
  deadline: null as number | null,
});

interface Run {
  actor: {
    getSnapshot(): { value: string; context: ReturnType<typeof emptySessionContext> & Record<string, any> };
    /** The bytes the checkpoint stores (actor-codec.ts), as base64 so they survive JSON. */
    getPersistedSnapshot(): unknown;
    stop(): void;
  };
  emitted: Emitted[];
  send(e: SessionEvent): Emitted[];
}

function run(snapshot?: unknown): Run {
  const actor = snapshot === undefined ? UserActor.create() : UserActor.restore(decodeActor(Buffer.from(snapshot as string, 'base64')));
  const stats = { capped: 0, startsSkipped: 0, runsDropped: 0 };
  const emitted: Emitted[] = [];
  return {
    actor: {
      getSnapshot: () => {
        const session = actor.sessionPart;
        const ledger = session?.currentLedger;
        return { value: session?.phase ?? 'idle', context: ledger ? { ...ledger, deadline: session!.deadline } : emptySessionContext() };
      },
      // The stored form (what LMDB holds), as text.
      getPersistedSnapshot: () => Buffer.from(encodeActor(actor.persist())).toString('base64'),
      stop: () => actor.stop(),
    },
    emitted,
    send(e) {
      const out = e.type === 'EVENT' ? actor.event(e.event, PATTERNS, stats) : actor.timeout(e.time, PATTERNS, stats);
      // Only the session and the coupon concern these tests; the other shipped patterns run too.
      const kept = out.filter((x) => x.type === 'session.summary' || x.pattern.id === 'repeat-category');
      emitted.push(...kept);
      return kept;
    },
  };
}

describe('the machine definition', () => {
  test('the remembered transitions are what a live XState actor does, for every phase and event', () => {
    const events = ['view', 'cart', 'remove_from_cart', 'purchase', 'other', 'SESSION_END'] as const;
    const phases = Object.keys(sessionMachine.states) as SessionPhase[];
    assert.deepEqual([...phases].sort(), ['browsing', 'carting', 'idle', 'purchased']);
    for (const phase of phases) {
      for (const type of events) {
        const live = createActor(sessionMachine, { snapshot: sessionMachine.getPersistedSnapshot(sessionMachine.resolveState({ value: phase })) as never }).start();
        live.send({ type });
        assert.equal(sessionTransitions.step(phase, type), live.getSnapshot().value, `${phase} --${type}-->`);
        assert.equal(JSON.stringify(sessionTransitions.persistedOf(sessionTransitions.step(phase, type))), JSON.stringify(live.getPersistedSnapshot()));
        live.stop();
      }
    }
    assert.equal(sessionTransitions.step('browsing', 'view'), 'browsing');
    assert.equal(sessionTransitions.step('carting', 'purchase'), 'purchased');
  });

  test('a stored snapshot without a known phase is refused with its reason', () => {
    assert.throws(() => sessionTransitions.phaseOf({ value: 'nowhere' }), /no known phase: "nowhere"/);
    assert.throws(() => sessionTransitions.phaseOf(null), /no known phase/);
  });
});

/** An EVENT with sensible defaults: a view of category c1 at T0 + offset. */
function ev(seq: number, offset: number, over: Partial<EventRefJson> = {}): SessionEvent {
  const json: EventRefJson = { seq, eventTime: T0 + offset, eventType: 'view', productId: `p${seq}`, categoryId: 'c1', price: 10, ...over };
  return { type: 'EVENT', event: EventRef.revive(json) };
}

const timeout = (time: number): SessionEvent => ({ type: 'SESSION_TIMEOUT', time });
const summaries = (es: Emitted[]) => es.filter((e): e is SessionSummary => e.type === 'session.summary');
const coupons = (es: Emitted[]): Coupon[] => es.filter((e): e is PatternMatch => e.type === 'match').map(asCoupon);
const seqs = (refs: EventRef[]) => refs.map((r) => r.seq);

describe('session states', () => {
  test('idle → browsing → carting → purchased', () => {
    const r = run();
    assert.equal(r.actor.getSnapshot().value, 'idle');
    assert.deepEqual(r.actor.getSnapshot().context, emptySessionContext());

    r.send(ev(1, 0));
    assert.equal(r.actor.getSnapshot().value, 'browsing');
    r.send(ev(2, MIN));
    assert.equal(r.actor.getSnapshot().value, 'browsing');
    r.send(ev(3, 2 * MIN, { eventType: 'cart' }));
    assert.equal(r.actor.getSnapshot().value, 'carting');
    r.send(ev(4, 3 * MIN, { eventType: 'remove_from_cart' }));
    assert.equal(r.actor.getSnapshot().value, 'carting');
    r.send(ev(5, 4 * MIN, { eventType: 'purchase', price: 35.79 }));
    assert.equal(r.actor.getSnapshot().value, 'purchased');
    r.send(ev(6, 5 * MIN, { eventType: 'purchase', price: 0.02 }));
    assert.equal(r.actor.getSnapshot().value, 'purchased');
    r.send(ev(7, 6 * MIN, { eventType: 'cart' }));
    assert.equal(r.actor.getSnapshot().value, 'carting');
    r.send(ev(8, 7 * MIN, { eventType: 'wishlist' }));

    const c = r.actor.getSnapshot().context;
    assert.equal(c.sessionStart, T0);
    assert.equal(c.firstSeq, 1);
    assert.equal(c.lastEventTime, T0 + 7 * MIN);
    assert.equal(c.deadline, T0 + 7 * MIN + SESSION_GAP_MS);
    assert.deepEqual([c.views, c.carts, c.removes, c.purchases, c.others], [2, 2, 1, 2, 1]);
    assert.equal(c.revenue, 35.81);
    assert.equal(r.emitted.length, 0);
  });

  test('a first cart or purchase goes straight to carting / purchased', () => {
    const a = run();
    a.send(ev(1, 0, { eventType: 'cart' }));
    assert.equal(a.actor.getSnapshot().value, 'carting');
    const b = run();
    b.send(ev(1, 0, { eventType: 'purchase' }));
    assert.equal(b.actor.getSnapshot().value, 'purchased');
  });

  test('the first userSession seen is kept', () => {
    const r = run();
    r.send(ev(1, 0));
    r.send(ev(2, MIN, { userSession: 's-1' }));
    r.send(ev(3, 2 * MIN, { userSession: 's-2' }));
    assert.equal(r.actor.getSnapshot().context.userSession, 's-1');
  });
});

describe('the 30-minute session rule', () => {
  test('+29:59 stays in the session, +30:01 closes it and starts a new one', () => {
    const r = run();
    r.send(ev(1, 0, { userSession: 'sess-a' }));
    r.send(ev(2, 10 * MIN, { eventType: 'cart' }));
    r.send(ev(3, 10 * MIN + 29 * MIN + 59 * SEC, { eventType: 'purchase', price: 12.5 }));
    assert.equal(r.emitted.length, 0);
    const last = T0 + 39 * MIN + 59 * SEC;
    assert.equal(r.actor.getSnapshot().context.lastEventTime, last);

    const out = r.send(ev(4, 39 * MIN + 59 * SEC + 30 * MIN + SEC, { userSession: 'sess-b' }));
    assert.deepEqual(out, [
      {
        type: 'session.summary',
        firstSeq: 1,
        userSession: 'sess-a',
        sessionStart: T0,
        sessionEnd: last,
        views: 1,
        carts: 1,
        removes: 0,
        purchases: 1,
        others: 0,
        revenue: 12.5,
        converted: true,
        finalPhase: 'purchased',
      },
    ]);
    const s = r.actor.getSnapshot();
    assert.equal(s.value, 'browsing');
    assert.equal(s.context.firstSeq, 4);
    assert.equal(s.context.sessionStart, last + 30 * MIN + SEC);
    assert.equal(s.context.userSession, 'sess-b');
    assert.deepEqual([s.context.views, s.context.carts, s.context.purchases, s.context.revenue], [1, 0, 0, 0]);
  });

  test('exactly +30:00 is a new session (the gap rule agrees with the deadline)', () => {
    const r = run();
    r.send(ev(1, 0));
    assert.equal(r.actor.getSnapshot().context.deadline, T0 + SESSION_GAP_MS);
    const out = r.send(ev(2, SESSION_GAP_MS));
    assert.equal(summaries(out).length, 1);
    assert.equal(summaries(out)[0]!.converted, false);
    assert.equal(r.actor.getSnapshot().context.firstSeq, 2);
  });

  test('SESSION_TIMEOUT before the deadline is ignored, at or after it closes the session', () => {
    const r = run();
    r.send(ev(1, 0));
    r.send(ev(2, 5 * MIN, { eventType: 'cart' }));
    const deadline = T0 + 5 * MIN + SESSION_GAP_MS;
    assert.equal(r.actor.getSnapshot().context.deadline, deadline);

    assert.deepEqual(r.send(timeout(deadline - 1)), []);
    assert.equal(r.actor.getSnapshot().value, 'carting');
    assert.equal(r.actor.getSnapshot().context.deadline, deadline);

    const out = r.send(timeout(deadline));
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], {
      type: 'session.summary',
      firstSeq: 1,
      userSession: null,
      sessionStart: T0,
      sessionEnd: T0 + 5 * MIN,
      views: 1,
      carts: 1,
      removes: 0,
      purchases: 0,
      others: 0,
      revenue: 0,
      converted: false,
      finalPhase: 'carting',
    });
    const s = r.actor.getSnapshot();
    assert.equal(s.value, 'idle');
    assert.equal(s.context.sessionStart, null);
    assert.equal(s.context.deadline, null);
    assert.deepEqual(s.context, emptySessionContext());

    // idle ignores timeouts
    assert.deepEqual(r.send(timeout(deadline + 10 * MIN)), []);
  });

  test('a late SESSION_TIMEOUT (well past the deadline) still closes the session once', () => {
    const r = run();
    r.send(ev(1, 0, { eventType: 'purchase', price: 5 }));
    const out = r.send(timeout(T0 + 5 * SESSION_GAP_MS));
    assert.equal(summaries(out).length, 1);
    assert.equal(summaries(out)[0]!.converted, true);
    assert.deepEqual(r.send(timeout(T0 + 6 * SESSION_GAP_MS)), []);
  });

  test('out-of-order events are counted but do not move lastEventTime or the deadline back', () => {
    const r = run();
    r.send(ev(1, 10 * MIN));
    r.send(ev(2, 12 * MIN));
    r.send(ev(3, 5 * MIN, { eventType: 'cart' })); // older than lastEventTime and than sessionStart
    const c = r.actor.getSnapshot().context;
    assert.equal(c.views, 2);
    assert.equal(c.carts, 1);
    assert.equal(c.lastEventTime, T0 + 12 * MIN);
    assert.equal(c.deadline, T0 + 12 * MIN + SESSION_GAP_MS);
    assert.equal(c.firstSeq, 1);
    assert.equal(c.sessionStart, T0 + 5 * MIN);

    // an old event never looks like a gap
    r.send(ev(4, 0, { eventType: 'remove_from_cart' }));
    assert.equal(r.emitted.length, 0);
    assert.equal(r.actor.getSnapshot().context.lastEventTime, T0 + 12 * MIN);

    const [summary] = summaries(r.send(timeout(T0 + 12 * MIN + SESSION_GAP_MS)));
    assert.ok(summary);
    assert.equal(summary.sessionStart, T0);
    assert.equal(summary.sessionEnd, T0 + 12 * MIN);
    assert.deepEqual([summary.views, summary.carts, summary.removes], [2, 1, 1]);
  });
});

describe('the repeat-category coupon rule', () => {
  test('3 views of one category within 30 min → exactly one coupon with the 3 views', () => {
    assert.equal(COUPON_VIEWS, 3);
    const r = run();
    assert.deepEqual(r.send(ev(1, 0)), []);
    assert.deepEqual(r.send(ev(2, 5 * MIN)), []);
    const out = coupons(r.send(ev(3, 20 * MIN, { userSession: 'u-s' })));
    assert.equal(out.length, 1);
    const c = out[0]!;
    assert.equal(c.type, 'coupon');
    assert.equal(c.category, 'c1');
    assert.deepEqual(seqs(c.views), [1, 2, 3]);
    assert.equal(c.completedBy.seq, 3);
    assert.equal(c.completedBy.eventTime, T0 + 20 * MIN);
    assert.equal(coupons(r.emitted).length, 1);
  });

  test('the window is strict: t, t+10m, t+30m gives no coupon; t+29:59.999 does', () => {
    const r = run();
    r.send(ev(1, 0));
    r.send(ev(2, 10 * MIN));
    assert.deepEqual(r.send(ev(3, 30 * MIN)), []);
    assert.equal(coupons(r.emitted).length, 0);

    const s = run();
    s.send(ev(1, 0));
    s.send(ev(2, 10 * MIN));
    assert.equal(coupons(s.send(ev(3, 30 * MIN - 1))).length, 1);
  });

  test('a burst gets one coupon; the cap lifts after 30 minutes for 3 fresh views', () => {
    const r = run();
    for (let i = 0; i < 6; i++) r.send(ev(i + 1, i * 2 * MIN)); // 6 views in 10 minutes
    const first = coupons(r.emitted);
    assert.equal(first.length, 1);
    assert.deepEqual(seqs(first[0]!.views), [1, 2, 3]);

    r.send(ev(7, 25 * MIN, { categoryId: 'c2' })); // keeps the session alive
    r.send(ev(8, 41 * MIN));
    r.send(ev(9, 42 * MIN));
    assert.equal(coupons(r.emitted).length, 1);
    const out = r.send(ev(10, 43 * MIN));
    assert.equal(summaries(r.emitted).length, 0, 'still one session');
    const second = coupons(out);
    assert.equal(second.length, 1);
    assert.deepEqual(seqs(second[0]!.views), [8, 9, 10]);
    assert.equal(coupons(r.emitted).length, 2);
  });

  test('while capped, views keep sliding; the first view 30 min after the coupon can complete a match', () => {
    const r = run();
    for (let i = 0; i < 6; i++) r.send(ev(i + 1, i * MIN)); // coupon at seq 3, t = 2m
    r.send(ev(7, 31 * MIN)); // 31 - 2 < 30: capped
    assert.equal(coupons(r.emitted).length, 1);
    const out = coupons(r.send(ev(8, 32 * MIN))); // 32 - 2 >= 30, views 5m, 31m, 32m are within 30m
    assert.equal(out.length, 1);
    assert.deepEqual(seqs(out[0]!.views), [6, 7, 8]);
  });

  test('views of different categories do not combine', () => {
    const r = run();
    r.send(ev(1, 0, { categoryId: 'a' }));
    r.send(ev(2, MIN, { categoryId: 'b' }));
    r.send(ev(3, 2 * MIN, { categoryId: 'c' }));
    r.send(ev(4, 3 * MIN, { categoryId: 'a' }));
    r.send(ev(5, 4 * MIN, { categoryId: 'b' }));
    assert.equal(coupons(r.emitted).length, 0);
    const out = coupons(r.send(ev(6, 5 * MIN, { categoryId: 'b' })));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.category, 'b');
    assert.deepEqual(seqs(out[0]!.views), [2, 5, 6]);
  });

  test('carts and purchases of the category do not count as views', () => {
    const r = run();
    r.send(ev(1, 0));
    r.send(ev(2, MIN, { eventType: 'cart' }));
    r.send(ev(3, 2 * MIN, { eventType: 'purchase' }));
    r.send(ev(4, 3 * MIN));
    assert.equal(coupons(r.emitted).length, 0);
    assert.equal(coupons(r.send(ev(5, 4 * MIN))).length, 1);
  });

  test('categoryCode stands in when there is no categoryId', () => {
    const r = run();
    const code = { categoryId: undefined, categoryCode: 'electronics.smartphone' };
    r.send(ev(1, 0, code));
    r.send(ev(2, MIN, code));
    const out = coupons(r.send(ev(3, 2 * MIN, code)));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.category, 'electronics.smartphone');
  });

  test('an event without categoryId and with an empty categoryCode never counts', () => {
    const r = run();
    for (let i = 0; i < 6; i++) r.send(ev(i + 1, i * MIN, { categoryId: undefined, categoryCode: '' }));
    for (let i = 0; i < 3; i++) r.send(ev(i + 7, (6 + i) * MIN, { categoryId: '', categoryCode: '' }));
    assert.equal(coupons(r.emitted).length, 0);
    assert.equal(r.actor.getSnapshot().context.views, 9);
  });

  test('out-of-order views are placed by event time when deciding the window', () => {
    const r = run();
    r.send(ev(1, 40 * MIN, { categoryId: 'x' }));
    r.send(ev(2, 0)); // c1 at t=0
    r.send(ev(3, 41 * MIN));
    r.send(ev(4, 42 * MIN)); // c1 views: 0, 41, 42 → 42 - 0 >= 30
    assert.equal(coupons(r.emitted).length, 0);
    const out = coupons(r.send(ev(5, 20 * MIN))); // late view: c1 views now 20, 41, 42 (oldest dropped)
    assert.equal(out.length, 1);
    // The pattern keeps a match's events in stream order; its time limit is on event time (20..42).
    assert.deepEqual(seqs(out[0]!.views), [3, 4, 5]);
    assert.equal(out[0]!.completedBy.seq, 5);
  });
});


function randomScript(seed: number, n: number): SessionEvent[] {
  const rnd = prng(seed);
  const types = ['view', 'view', 'view', 'view', 'cart', 'remove_from_cart', 'purchase', 'wishlist'];
  const out: SessionEvent[] = [];
  let t = 0;
  for (let seq = 1; seq <= n; seq++) {
    const r = rnd();
    if (r < 0.08) {
      // the host's timer: sometimes early (ignored), mostly at or after the deadline
      out.push(timeout(T0 + t + SESSION_GAP_MS + Math.floor((rnd() - 0.2) * 10 * MIN)));
      continue;
    }
    t += r < 0.15 ? 31 * MIN : Math.floor(rnd() * 6 * MIN);
    const late = rnd() < 0.1 ? Math.floor(rnd() * 10 * MIN) : 0;
    const type = types[Math.floor(rnd() * types.length)]!;
    const cat = Math.floor(rnd() * 3);
    out.push(
      ev(seq, t - late, {
        eventType: type,
        categoryId: cat === 2 ? undefined : `c${cat}`,
        categoryCode: cat === 2 ? 'kids.toys' : '',
        price: Math.floor(rnd() * 10000) / 100,
        userSession: `s${Math.floor(t / (31 * MIN))}`,
      }),
    );
  }
  return out;
}

describe('persisted snapshots', () => {
  const handScript: SessionEvent[] = [
    ev(1, 0, { userSession: 'a' }),
    ev(2, MIN),
    ev(3, 2 * MIN, { eventType: 'cart' }),
    ev(4, 3 * MIN), // third c1 view → coupon
    ev(5, 4 * MIN, { categoryId: 'c2' }),
    ev(6, 3 * MIN + 30 * SEC, { categoryId: 'c2' }), // out of order
    ev(7, 5 * MIN, { eventType: 'purchase', price: 19.99 }),
    timeout(T0 + 5 * MIN + SESSION_GAP_MS - 1), // early: ignored
    // Third c2 view, but the timeout above moved event time past the c2 views' 30-minute limit,
    // so (unlike the hand-written rule, which ignored timeouts) the pattern has nothing to complete.
    ev(8, 6 * MIN, { categoryId: 'c2' }),
    timeout(T0 + 6 * MIN + SESSION_GAP_MS), // closes session 1
    ev(9, 60 * MIN, { userSession: 'b' }),
    ev(10, 61 * MIN),
    ev(11, 62 * MIN), // coupon in session 2
    ev(12, 100 * MIN, { eventType: 'cart' }), // gap → summary of session 2
    ev(13, 101 * MIN, { eventType: 'remove_from_cart' }),
    timeout(T0 + 101 * MIN + SESSION_GAP_MS),
  ];

  function uninterrupted(script: SessionEvent[]) {
    const r = run();
    for (const e of script) r.send(e);
    return r;
  }

  function interrupted(script: SessionEvent[], at: number) {
    const first = run();
    for (const e of script.slice(0, at)) first.send(e);
    const persisted = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as unknown;
    first.actor.stop();
    const second = run(persisted);
    assert.deepEqual(second.actor.getSnapshot().value, first.actor.getSnapshot().value);
    assert.deepEqual(second.actor.getSnapshot().context, first.actor.getSnapshot().context);
    for (const e of script.slice(at)) second.send(e);
    return { emitted: [...first.emitted, ...second.emitted], actor: second.actor };
  }

  test('the hand-written script emits what we expect', () => {
    const { emitted } = uninterrupted(handScript);
    assert.deepEqual(
      emitted.map((e) => (e.type === 'match' ? `coupon:${asCoupon(e).category}:${seqs(asCoupon(e).views).join(',')}` : `summary:${e.firstSeq}:${e.converted}`)),
      ['coupon:c1:1,2,4', 'summary:1:true', 'coupon:c1:9,10,11', 'summary:9:false', 'summary:12:false'],
    );
  });

  const observable = (emitted: Emitted[]): unknown => JSON.parse(JSON.stringify(emitted, (k, v: unknown) => (k === 'pattern' ? (v as { id: string }).id : v)));

  test('restoring a JSON round-tripped snapshot at every point gives the same emitted events', () => {
    const reference = uninterrupted(handScript);
    for (let at = 0; at <= handScript.length; at++) {
      const { emitted, actor } = interrupted(handScript, at);
      assert.deepEqual(observable(emitted), observable(reference.emitted), `split at ${at}`);
      assert.deepEqual(actor.getPersistedSnapshot(), reference.actor.getPersistedSnapshot(), `split at ${at}`);
    }
  });

  test('randomised scripts: a restored actor is indistinguishable from an uninterrupted one', () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const script = randomScript(seed, 200);
      const reference = uninterrupted(script);
      assert.ok(coupons(reference.emitted).length > 0, `seed ${seed} makes coupons`);
      assert.ok(summaries(reference.emitted).length > 0, `seed ${seed} makes summaries`);
      const rnd = prng(seed * 7919);
      for (let k = 0; k < 10; k++) {
        const at = Math.floor(rnd() * (script.length + 1));
        const { emitted, actor } = interrupted(script, at);
        assert.deepEqual(observable(emitted), observable(reference.emitted), `seed ${seed}, split at ${at}`);
        assert.deepEqual(actor.getPersistedSnapshot(), reference.actor.getPersistedSnapshot());
      }
    }
  });

  test('restoring several times in a row changes nothing', () => {
    const script = randomScript(99, 120);
    const reference = uninterrupted(script);
    let snapshot: unknown;
    const emitted: Emitted[] = [];
    for (let i = 0; i < script.length; i += 7) {
      const r = run(snapshot);
      for (const e of script.slice(i, i + 7)) r.send(e);
      emitted.push(...r.emitted);
      snapshot = JSON.parse(JSON.stringify(r.actor.getPersistedSnapshot()));
      r.actor.stop();
    }
    assert.deepEqual(emitted, reference.emitted);
    assert.deepEqual(snapshot, JSON.parse(JSON.stringify(reference.actor.getPersistedSnapshot())));
  });
});
