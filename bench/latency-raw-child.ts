/**
 * Internal child of bench/latency.ts: the RAW side of the latency comparison. In its own process,
 * as the engine is in its run: 8 ordered consumers of EVENTS on one connection (one per partition,
 * as run.ts's RAW pass), JSON.parse of each body, and the publish-to-consume latency of each
 * message from the publish stamp the load generator put in its eventId ("<id>:<ms>"). Both
 * processes read the same clock: CLOCK_MONOTONIC through process.hrtime (performance.now() is
 * relative to each process's own start, and timeOrigin is only good to about a millisecond).
 *
 *   node --import tsx bench/latency-raw-child.ts <natsUrl> <maxId>
 *
 * stdout: {"type":"ready"}, then {"type":"status","consumed":n} every 250 ms; on stdin
 * "report <fromId> <toId>" it answers {"type":"report",...} with the summary of ids in that range.
 */
import { jetstream, DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { connectNats, Streams, Subjects } from '../src/nats/index.js';
import { summarise, monoMs, PARTITIONS } from './suite-common.js';

const [url, maxIdArg] = process.argv.slice(2);
if (!url || !maxIdArg) {
  process.stderr.write('usage: latency-raw-child.ts <natsUrl> <maxId>\n');
  process.exit(2);
}
const maxId = Number(maxIdArg);
const write = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** Latency (ms) by publish id; NaN = not consumed (yet). */
const latency = new Float64Array(maxId + 1).fill(NaN);
let consumed = 0;
let foreign = 0;

const nc = await connectNats(url, 'nudge-bench-latency-raw');
const js = jetstream(nc);
const running: ConsumerMessages[] = [];
for (let p = 0; p < PARTITIONS; p++) {
  const consumer = await js.consumers.get(Streams.events, { filter_subjects: Subjects.partitionFilter(p), deliver_policy: DeliverPolicy.All });
  running.push(
    await consumer.consume({
      callback: (m) => {
        const at = monoMs();
        const body = JSON.parse(m.string()) as { eventId?: string };
        consumed++;
        const id = body.eventId;
        const colon = id ? id.indexOf(':') : -1;
        if (!id || colon < 0) {
          foreign++;
          return;
        }
        const n = Number(id.slice(0, colon));
        if (n >= 1 && n <= maxId) latency[n] = at - Number(id.slice(colon + 1));
      },
    }),
  );
}
write({ type: 'ready' });
const timer = setInterval(() => write({ type: 'status', consumed, foreign }), 250);

let input = '';
process.stdin.on('data', (d: Buffer) => {
  input += d.toString();
  let nl: number;
  while ((nl = input.indexOf('\n')) >= 0) {
    const [cmd, a, b] = input.slice(0, nl).trim().split(/\s+/);
    input = input.slice(nl + 1);
    if (cmd === 'report') {
      const from = Number(a);
      const to = Math.min(maxId, Number(b));
      const xs: number[] = [];
      let missing = 0;
      for (let i = from; i <= to; i++) {
        const x = latency[i]!;
        if (Number.isNaN(x)) missing++;
        else xs.push(x);
      }
      write({ type: 'report', consumed, foreign, missing, summary: summarise(xs) });
    }
  }
});
const stop = () => {
  clearInterval(timer);
  for (const r of running) r.stop();
  void nc.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
