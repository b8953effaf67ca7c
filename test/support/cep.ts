import { EventRef } from '../../actors/index.js';
import { compilePattern, onEvent, onTime, type CompiledPattern, type Match, type PatternState, type MatchStats } from '../../src/cep/index.js';

/** A test event: only what a case needs; seq defaults to its position (1-based). */
export interface TestEvent {
  seq?: number;
  t: number;
  type: string;
  product?: string;
  category?: string;
  code?: string;
  price?: number;
  session?: string;
}

export function ref(e: TestEvent, i: number): EventRef {
  return new EventRef(e.seq ?? i + 1, e.t, e.type, e.product ?? `p${i + 1}`, e.category ?? '', e.code ?? '', '', e.price ?? 10, e.session ?? 's1');
}

export interface PatternRun {
  matches: Match[];
  state: PatternState;
  stats: MatchStats;
  /** Each match as the list of its events' product ids (the tests' event labels). */
  labels: string[][];
}

/**
 * Feeds events to one pattern the way an actor does: onTime first when event time moved past
 * deadlines (the watermark here is simply the event time), then onEvent. `until` ends the run
 * with time at that point, firing pending absences.
 */
export function runPattern(pattern: unknown, events: TestEvent[], opts: { until?: number } = {}): PatternRun {
  const p: CompiledPattern = compilePattern(pattern);
  const state: PatternState = { v: p.version, runs: new Map() };
  const stats: MatchStats = { startsSkipped: 0, runsDropped: 0 };
  const matches: Match[] = [];
  events.forEach((e, i) => {
    onTime(p, state, e.t, matches);
    onEvent(p, state, ref(e, i), matches, stats);
  });
  if (opts.until !== undefined) onTime(p, state, opts.until, matches);
  return { matches, state, stats, labels: matches.map((m) => m.run.ev.map((x) => x.productId)) };
}
