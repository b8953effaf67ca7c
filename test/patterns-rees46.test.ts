import { test, before } from 'node:test';
import { SHARED_SAMPLE } from './support/shared-sample.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPatternDir } from '../src/cep/index.js';
import { runOffline, type OfflineReport } from '../src/runtime/index.js';
import { fileSource } from '../src/events/index.js';
import type { Action } from '../src/actions/index.js';

/**
 * The six shipped patterns over the shared REES46 sample, run by the engine (runOffline: the real
 * PartitionProcessor / actor / matcher code), against a brute force written here from the rules'
 * plain-English meaning. The brute force reads the CSV with a split and nothing from src/: if the
 * two disagree, one of them has the rule wrong, and the failure prints the cases that differ.
 *
 * Each side reduces a match to a signature `user|first seq|last seq|event time`, where seq is the
 * row's position among the valid rows (runOffline numbers events 1, 2, … in input order) and the
 * event time is that of the completing event, or the deadline for an absence.
 */

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const SAMPLE = SHARED_SAMPLE;
const PATTERNS = join(ROOT, 'patterns');

const MIN = 60_000;
const DAY = 86_400_000;
/** Past the end of the sample: long enough that even churn-risk's 7-day deadlines are decided. */
const FLUSH_MS = 8 * DAY;
const LATENESS_MS = 5_000;

const PATTERN_IDS = ['cart-abandonment', 'churn-risk', 'cross-sell', 'high-intent', 'price-sensitive', 'repeat-category'] as const;
type PatternId = (typeof PATTERN_IDS)[number];

interface Row {
  seq: number;
  line: number;
  t: number;
  type: string;
  product: string;
  categoryId: string;
  categoryCode: string;
  price: number;
  user: string;
  session: string;
}

interface Csv {
  rows: Row[];
  /** 1-based file line numbers of rows that do not have 9 fields. */
  cutOff: number[];
}

function readCsv(path: string): Csv {
  const lines = readFileSync(path, 'utf8').split('\n');
  const rows: Row[] = [];
  const cutOff: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const f = line.split(',');
    if (f.length !== 9) {
      cutOff.push(i + 1);
      continue;
    }
    const [time, type, product, categoryId, categoryCode, , price, user, session] = f as [string, string, string, string, string, string, string, string, string];
    rows.push({
      seq: rows.length + 1,
      line: i + 1,
      t: Date.parse(time.replace(' UTC', 'Z').replace(' ', 'T')),
      type,
      product,
      categoryId,
      categoryCode,
      price: Number(price),
      user,
      session,
    });
  }
  return { rows, cutOff };
}

function groupBy(rows: Row[], key: (r: Row) => string, keep: (r: Row) => boolean = () => true): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const r of rows) {
    if (!keep(r)) continue;
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

const sig = (user: string, first: number, last: number, t: number) => `${user}|${first}|${last}|${t}`;

// ---- the rules, brute force (rows are in file order = arrival order; the sample is sorted by time) ----

/** The same product viewed 3+ times within 15 min; after a match its views are used up. */
function highIntent(rows: Row[]): string[] {
  const out: string[] = [];
  for (const views of groupBy(rows, (r) => `${r.user}|${r.product}`, (r) => r.type === 'view').values()) {
    let from = 0; // first view not used by an earlier match
    for (let i = 0; i < views.length; i++) {
      const now = views[i]!;
      let j = from;
      while (j < i && now.t - views[j]!.t >= 15 * MIN) j++;
      if (i - j + 1 >= 3) {
        out.push(sig(now.user, views[j]!.seq, now.seq, now.t));
        from = i + 1;
      }
    }
  }
  return out;
}

/** A cart above 200; fires at cart + 30 min unless a purchase of the same session arrives with a time in [cart, cart + 30 min). */
function cartAbandonment(rows: Row[], endOfTime: number): string[] {
  const out: string[] = [];
  for (const events of groupBy(rows, (r) => `${r.user}|${r.session}`, (r) => r.type === 'cart' || r.type === 'purchase').values()) {
    events.forEach((c, i) => {
      if (c.type !== 'cart' || !(c.price > 200)) return;
      const deadline = c.t + 30 * MIN;
      if (deadline > endOfTime) return;
      const bought = events.slice(i + 1).some((p) => p.type === 'purchase' && p.t >= c.t && p.t < deadline);
      if (!bought) out.push(sig(c.user, c.seq, c.seq, deadline));
    });
  }
  return out;
}

/** A view with a category code, then as the session's very next event (any type) a view of another non-empty code, within 5 min. */
function crossSell(rows: Row[]): string[] {
  const out: string[] = [];
  for (const events of groupBy(rows, (r) => `${r.user}|${r.session}`).values()) {
    let open: Row | null = null; // previous event of the session, if it can start a pair
    for (const e of events) {
      const isView = e.type === 'view' && e.categoryCode !== '';
      if (open && isView && e.categoryCode !== open.categoryCode && Math.abs(e.t - open.t) < 5 * MIN) {
        out.push(sig(e.user, open.seq, e.seq, e.t));
        open = null; // the second view is used up: it starts nothing
      } else open = isView ? e : null;
    }
  }
  return out;
}

/** view p, a later view of p at a lower price, then a cart of p, within 10 min of the first view; a match uses up everything before it. */
function priceSensitive(rows: Row[]): string[] {
  const out: string[] = [];
  for (const events of groupBy(rows, (r) => r.user, (r) => r.type === 'view' || r.type === 'cart').values()) {
    let watches: Array<{ seen: Row; cheaper: Row | null }> = [];
    for (const e of events) {
      watches = watches.filter((w) => e.t - w.seen.t < 10 * MIN);
      if (e.type === 'cart') {
        const hit = watches.find((w) => w.cheaper && e.product === w.seen.product);
        if (hit) {
          out.push(sig(e.user, hit.seen.seq, e.seq, e.t));
          watches = [];
        }
        continue;
      }
      for (const w of watches) if (!w.cheaper && e.product === w.seen.product && e.price < w.seen.price) w.cheaper = e;
      watches.push({ seen: e, cheaper: null });
    }
  }
  return out;
}

/**
 * One watch per user: opened by a view when none is open, it counts the user's views; a purchase
 * ends it; at first view + 7 days it fires if it counted 10 or more (and is dropped otherwise).
 */
function churnRisk(rows: Row[], endOfTime: number): string[] {
  const out: string[] = [];
  for (const events of groupBy(rows, (r) => r.user, (r) => r.type === 'view' || r.type === 'purchase').values()) {
    let watch: Row[] = [];
    const close = () => {
      const deadline = watch[0]!.t + 7 * DAY;
      if (watch.length >= 10 && deadline <= endOfTime) out.push(sig(watch[0]!.user, watch[0]!.seq, watch[watch.length - 1]!.seq, deadline));
      watch = [];
    };
    for (const e of events) {
      if (watch.length && e.t - watch[0]!.t >= 7 * DAY) close();
      if (e.type === 'purchase') watch = [];
      else watch.push(e);
    }
    if (watch.length) close();
  }
  return out;
}

/** A categorised view and the next two views of its category (id, else code) within 30 min; at most one coupon per category per 30 min. */
function repeatCategory(rows: Row[]): string[] {
  const matches: Array<{ row: Row; s: string; cap: string }> = [];
  const category = (r: Row) => r.categoryId || r.categoryCode;
  for (const views of groupBy(rows, (r) => `${r.user}|${category(r)}`, (r) => r.type === 'view' && category(r) !== '').values()) {
    for (let i = 0; i + 2 < views.length; i++) {
      const [a, , c] = [views[i]!, views[i + 1]!, views[i + 2]!];
      if (c.t - a.t < 30 * MIN) matches.push({ row: c, s: sig(c.user, a.seq, c.seq, c.t), cap: `${c.user}|${category(c)}` });
    }
  }
  matches.sort((x, y) => x.row.seq - y.row.seq);
  const sent = new Map<string, number[]>();
  const out: string[] = [];
  for (const m of matches) {
    const times = sent.get(m.cap) ?? [];
    if (times.some((t) => m.row.t - t < 30 * MIN)) continue;
    sent.set(m.cap, [...times, m.row.t]);
    out.push(m.s);
  }
  return out;
}

function bruteForce(rows: Row[], flushMs: number): Record<PatternId, string[]> {
  const endOfTime = Math.max(...rows.map((r) => r.t)) + flushMs - LATENESS_MS; // the final watermark
  return {
    'cart-abandonment': cartAbandonment(rows, endOfTime),
    'churn-risk': churnRisk(rows, endOfTime),
    'cross-sell': crossSell(rows),
    'high-intent': highIntent(rows),
    'price-sensitive': priceSensitive(rows),
    'repeat-category': repeatCategory(rows),
  };
}

function engineSignature(a: Action): string {
  const seqs = Object.values(a.match).flat().map((e) => e.seq);
  return sig(a.userId, Math.min(...seqs), Math.max(...seqs), a.eventTime);
}

/** Signatures on one side only, a few of each, for the failure message. */
function difference(engine: string[], brute: string[]): string {
  const left = new Map<string, number>();
  for (const s of engine) left.set(s, (left.get(s) ?? 0) + 1);
  const onlyBrute: string[] = [];
  for (const s of brute) {
    const n = left.get(s) ?? 0;
    if (n > 0) left.set(s, n - 1);
    else onlyBrute.push(s);
  }
  const onlyEngine = [...left].flatMap(([s, n]) => Array<string>(n).fill(s));
  return `engine only (${onlyEngine.length}): ${onlyEngine.slice(0, 5).join(', ')}; brute force only (${onlyBrute.length}): ${onlyBrute.slice(0, 5).join(', ')}`;
}

let csv: Csv;
let report: OfflineReport;
let brute: Record<PatternId, string[]>;
const engineBy = new Map<string, Action[]>();

before(async () => {
  csv = readCsv(SAMPLE);
  const { set, rejected } = loadPatternDir(PATTERNS);
  assert.deepEqual(rejected, []);
  assert.deepEqual(
    set.patterns.map((p) => p.id),
    [...PATTERN_IDS],
  );
  report = await runOffline(fileSource(SAMPLE), { patterns: set, partitions: 8, maxOutOfOrderMs: LATENESS_MS, latePolicy: 'process', maxEventBytes: 16_384, flushMs: FLUSH_MS });
  for (const a of report.actions) engineBy.set(a.patternId, [...(engineBy.get(a.patternId) ?? []), a]);
  brute = bruteForce(csv.rows, FLUSH_MS);
});

test('the sample: 17,434 rows in time order, the cut-off last row rejected, every other row processed', () => {
  assert.equal(csv.rows.length, 17_434);
  // The brute force leans on arrival order = time order (it measures windows from the first event).
  for (let i = 1; i < csv.rows.length; i++) assert.ok(csv.rows[i]!.t >= csv.rows[i - 1]!.t, `row ${csv.rows[i]!.line} goes back in time`);
  assert.deepEqual(csv.cutOff, [17_436]);
  assert.equal(report.rejected.length, 1);
  assert.ok(report.rejected[0]!.where.endsWith(':17436'), report.rejected[0]!.where);
  assert.match(report.rejected[0]!.reason, /expected 9 fields, got 8/);
  assert.equal(report.counters.events, 17_434);
  assert.equal(report.counters.dlq, 0);
  assert.equal(report.counters.late, 0);
  assert.equal(report.counters.ticks, 8);
});

for (const id of PATTERN_IDS) {
  test(`${id}: the engine's actions are the brute force's matches`, () => {
    const engine = (engineBy.get(id) ?? []).map(engineSignature);
    const expected = brute[id];
    assert.equal(engine.length, expected.length, `${id}: engine ${engine.length}, brute force ${expected.length}; ${difference(engine, expected)}`);
    assert.deepEqual([...engine].sort(), [...expected].sort(), `${id}: ${difference(engine, expected)}`);
  });
}

test('the counts, for the record (engine = brute force, checked above)', (t) => {
  const counts = Object.fromEntries(PATTERN_IDS.map((id) => [id, (engineBy.get(id) ?? []).length]));
  t.diagnostic(`actions per pattern: ${JSON.stringify(counts)}`);
  assert.deepEqual(
    counts,
    Object.fromEntries(PATTERN_IDS.map((id) => [id, brute[id].length])),
  );
  // With a one-day flush no 7-day watch is decided: the sample spans under three hours.
  assert.equal(bruteForce(csv.rows, DAY)['churn-risk'].length, 0);
});
