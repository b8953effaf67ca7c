import { SESSION_GAP_MS } from '../../actors/index.js';
import {
  createWindows,
  ratio,
  resultId,
  lateId,
  session,
  toCents,
  tumbling,
  AnalyticsError,
  AnalyticsErrorCodes,
  type AnalyticsEvent,
  type Aggregation,
  type JobOutput,
  type JobStats,
  type WindowOperator,
  type WindowOutput,
} from '../analytics/index.js';

/** Name of the job: `analytics.session_funnel`, and the first part of its result ids. */
export const SESSION_FUNNEL = 'session_funnel';

/** One user session's step counts (the session machine's counters, as far as the funnel needs them). */
interface SessionSteps {
  events: number;
  views: number;
  carts: number;
  purchases: number;
  cents: number;
}

/**
 * The session funnel of one window: the sessions (30-minute gap, the session machine's rule) that
 * ended in it, how many reached each step, and conversions between steps. Unlike the category
 * funnel these are per session, so `cartToPurchase` is "of the sessions that carted, how many
 * bought" only approximately: a session may buy without carting first.
 */
export interface SessionFunnelRecord {
  sessions: number;
  /** Sessions with at least one view / cart / purchase. */
  viewed: number;
  carted: number;
  purchased: number;
  /** Events in those sessions, all types. */
  events: number;
  revenue: number;
  viewToCart: number;
  cartToPurchase: number;
  /** purchased / sessions. */
  conversion: number;
}

const STEP_FIELDS = ['events', 'views', 'carts', 'purchases', 'cents'] as const;

const badAcc = (what: string) => new AnalyticsError(AnalyticsErrorCodes.badSnapshot, `session_funnel ${what} accumulator is not an array of numbers`);
const loadNumbers = (json: unknown, n: number, what: string): number[] => {
  if (!Array.isArray(json) || json.length !== n || !json.every((x) => typeof x === 'number' && Number.isFinite(x))) throw badAcc(what);
  return json as number[];
};

/**
 * A session's steps, one mutable object per session and one branch on the event type per event
 * (a combine() of filtered counts allocates per event: this is the job's hot path).
 */
const sessionAggregate: Aggregation<AnalyticsEvent, SessionSteps, SessionSteps> = {
  create: () => ({ events: 0, views: 0, carts: 0, purchases: 0, cents: 0 }),
  add: (a, e) => {
    a.events++;
    const t = e.eventType;
    if (t === 'view') a.views++;
    else if (t === 'cart') a.carts++;
    else if (t === 'purchase') {
      a.purchases++;
      a.cents += toCents(e.price);
    }
    return a;
  },
  merge: (a, b) => {
    for (const k of STEP_FIELDS) a[k] += b[k];
    return a;
  },
  result: (a) => ({ ...a }),
  save: (a) => STEP_FIELDS.map((k) => a[k]),
  load: (json) => {
    const n = loadNumbers(json, STEP_FIELDS.length, 'session');
    return { events: n[0]!, views: n[1]!, carts: n[2]!, purchases: n[3]!, cents: n[4]! };
  },
};

interface FunnelAcc {
  sessions: number;
  viewed: number;
  carted: number;
  purchased: number;
  events: number;
  cents: number;
}

const ACC_FIELDS = ['sessions', 'viewed', 'carted', 'purchased', 'events', 'cents'] as const;

const funnelAggregate: Aggregation<SessionSteps, FunnelAcc, SessionFunnelRecord> = {
  create: () => ({ sessions: 0, viewed: 0, carted: 0, purchased: 0, events: 0, cents: 0 }),
  add: (a, s) => {
    a.sessions++;
    if (s.views > 0) a.viewed++;
    if (s.carts > 0) a.carted++;
    if (s.purchases > 0) a.purchased++;
    a.events += s.events;
    a.cents += s.cents;
    return a;
  },
  merge: (a, b) => {
    for (const k of ACC_FIELDS) a[k] += b[k];
    return a;
  },
  result: (a) => ({
    sessions: a.sessions,
    viewed: a.viewed,
    carted: a.carted,
    purchased: a.purchased,
    events: a.events,
    revenue: a.cents / 100,
    viewToCart: ratio(a.carted, a.viewed),
    cartToPurchase: ratio(a.purchased, a.carted),
    conversion: ratio(a.purchased, a.sessions),
  }),
  save: (a) => ACC_FIELDS.map((k) => a[k]),
  load: (json) => {
    const n = loadNumbers(json, ACC_FIELDS.length, 'window');
    return { sessions: n[0]!, viewed: n[1]!, carted: n[2]!, purchased: n[3]!, events: n[4]!, cents: n[5]! };
  },
};

export interface SessionFunnelOptions {
  /** Window of session ends, ms. Default 1 minute (the category funnel's). */
  size?: number;
  /** Session gap. Default 30 minutes, the session machine's. */
  gap?: number;
}

interface SavedSessionFunnel {
  v: 1;
  job: string;
  options: unknown;
  sessions: unknown;
  windows: unknown;
}

/**
 * `session_funnel`: two window operators in a row. Per user, session windows (gap 30 minutes, no
 * allowed lateness, so a session is emitted once and never revised) fold the session's steps;
 * each closed session goes, at its last instant (end - 1), into a tumbling window over all users.
 *
 * Both stages move with the same watermark, and a session is handed on before the second stage
 * sees that watermark, so it is never late there: a session closes when the watermark reaches its
 * end, and the tumbling window holding `end - 1` closes no earlier than that. Events too late for
 * any session go to `analytics.late` like the other jobs' (id `session_funnel:late:<seq>`).
 */
export class SessionFunnelJob {
  readonly name = SESSION_FUNNEL;
  readonly options: Readonly<Record<string, number>>;
  private readonly sessions: WindowOperator<AnalyticsEvent, SessionSteps>;
  private readonly windows: WindowOperator<SessionSteps, SessionFunnelRecord>;
  private readonly buf1: WindowOutput<AnalyticsEvent, SessionSteps>[] = [];
  private readonly buf2: WindowOutput<SessionSteps, SessionFunnelRecord>[] = [];
  private lastSeq = 0;

  constructor(opts: SessionFunnelOptions = {}) {
    const size = opts.size ?? 60_000;
    const gap = opts.gap ?? SESSION_GAP_MS;
    this.options = { size, gap };
    this.sessions = createWindows(session(gap), { key: (e: AnalyticsEvent) => e.userId, aggregate: sessionAggregate, allowedLateness: 0 });
    this.windows = createWindows(tumbling(size), { aggregate: funnelAggregate, allowedLateness: 0 });
  }

  get watermark(): number {
    return this.windows.watermark;
  }

  /** Open sessions plus open funnel windows. */
  get windowCount(): number {
    return this.sessions.windowCount + this.windows.windowCount;
  }

  get stats(): Readonly<JobStats> {
    const s = this.sessions.stats;
    const w = this.windows.stats;
    return { events: s.events, late: s.late + w.late, emitted: w.emitted, updates: w.updates, released: w.released, ignored: 0 };
  }

  processEvent(e: AnalyticsEvent, out: JobOutput<SessionFunnelRecord>[] = []): JobOutput<SessionFunnelRecord>[] {
    this.lastSeq = e.seq;
    this.sessions.process({ kind: 'event', time: e.eventTime, seq: e.seq, value: e }, this.buf1);
    return this.drain(out);
  }

  advance(watermark: number, out: JobOutput<SessionFunnelRecord>[] = []): JobOutput<SessionFunnelRecord>[] {
    this.sessions.advance(watermark, this.buf1);
    this.drain(out);
    this.windows.advance(watermark, this.buf2);
    return this.drain(out);
  }

  snapshot(): SavedSessionFunnel {
    return { v: 1, job: this.name, options: { ...this.options }, sessions: this.sessions.snapshot(), windows: this.windows.snapshot() };
  }

  restore(json: unknown): void {
    const j = json as Partial<SavedSessionFunnel> | null;
    const bad = (why: string) => new AnalyticsError(AnalyticsErrorCodes.badSnapshot, why);
    if (typeof j !== 'object' || j === null || j.v !== 1 || j.job !== this.name) throw bad(`not a ${this.name} job snapshot (v1)`);
    const mine = JSON.stringify(this.options);
    if (JSON.stringify(j.options) !== mine) throw bad(`${this.name} snapshot was taken with options ${JSON.stringify(j.options)}, this job runs ${mine}`);
    this.sessions.restore(j.sessions);
    this.windows.restore(j.windows);
  }

  /** Stage 1's outputs: closed sessions into stage 2, late events out; then stage 2's results out. */
  private drain(out: JobOutput<SessionFunnelRecord>[]): JobOutput<SessionFunnelRecord>[] {
    for (const o of this.buf1) {
      if (o.kind === 'window') this.windows.process({ kind: 'event', time: o.end - 1, seq: this.lastSeq, value: o.result }, this.buf2);
      else out.push({ kind: 'late', job: this.name, id: lateId(this.name, o.seq), event: o.value, watermark: o.watermark, missedWindows: o.missedWindows, reason: o.reason });
    }
    this.buf1.length = 0;
    for (const o of this.buf2) {
      if (o.kind === 'window') {
        out.push({ kind: 'result', job: this.name, id: resultId(this.name, o.start, o.key, o.revision), key: o.key, windowStart: o.start, windowEnd: o.end, revision: o.revision, update: o.update, record: o.result });
      }
      // Stage 2 cannot get a late session (see the class comment); were it to, it would be a bug, not data.
      else throw new AnalyticsError(AnalyticsErrorCodes.invalidItem, `session_funnel: a session ending at ${o.time + 1} came after its funnel window closed`);
    }
    this.buf2.length = 0;
    return out;
  }
}
