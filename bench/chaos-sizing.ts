/** How many users of the seeded sample generator give at least N events. */
import { generateSample } from '../src/events/sample-generator.js';

export function countEvents(users: number, seed: number): number {
  let n = 0;
  for (const _ of generateSample({ users, seed })) n++;
  return n;
}

/**
 * The smallest round number of users (a multiple of 100, or 10 below 1,000) whose sample holds at
 * least `events` events. Each user has a PRNG stream of its own, so more users never means fewer
 * events; the sample averages ~12.8 events a user, and each guess is counted, not assumed.
 */
export function usersForEvents(events: number, seed: number): number {
  const step = events >= 20_000 ? 100 : 10;
  const round = (u: number) => Math.max(step, Math.ceil(u / step) * step);
  let users = round(events / 12.8);
  let got = countEvents(users, seed);
  while (got < events) {
    users = round(users * Math.min(2, (events / Math.max(1, got)) * 1.01));
    got = countEvents(users, seed);
  }
  return users;
}
