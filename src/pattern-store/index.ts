export { PatternBucket, PatternStoreError } from './pattern-bucket.js';
export { PatternsInForce, checkEntry } from './patterns-in-force.js';
export type { BucketEntry, EntryCheck, Rejection } from './patterns-in-force.js';
export { PatternRegistry } from './pattern-registry.js';
