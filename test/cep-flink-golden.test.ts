import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPattern, type TestEvent } from './support/cep.js';

// Flink's own CEP debugging vectors: (id, name, ts). The id is carried as the product id.
const FLINK_EVENTS: TestEvent[] = [
  [1, 'debug', 1],
  [2, 'debug', 1],
  [3, 'debug', 2],
  [4, 'debug', 3],
  [-1, 'noise', 5],
  [5, 'debug', 14],
  [18, 'fine', 200],
].map(([id, name, ts]) => ({ product: String(id), type: String(name), t: Number(ts) }));

const debugStage = { name: 'debug', eventType: 'debug', timesOrMore: 3 };

test('timesOrMore(3) alone, within 1000 ms, skip past last event: one match of ids 1,2,3', () => {
  const r = runPattern({ id: 'g1', version: 1, within: 1000, skip: 'skipPastLastEvent', stages: [debugStage], action: { type: 't' } }, FLINK_EVENTS);
  assert.deepEqual(r.labels, [['1', '2', '3']]);
});

test('timesOrMore(3) followed by fine, within 1000 ms, skip past last event: one match of ids 1,2,3,4,5,18', () => {
  const r = runPattern(
    { id: 'g2', version: 1, within: 1000, skip: 'skipPastLastEvent', stages: [debugStage, { name: 'fine', eventType: 'fine' }], action: { type: 't' } },
    FLINK_EVENTS,
  );
  assert.deepEqual(r.labels, [['1', '2', '3', '4', '5', '18']]);
});
