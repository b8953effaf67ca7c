import { generateSample, toCsvLine, REES46_HEADER } from '../events/index.js';

/** `nudge sample`: the seeded shopper sessions as a REES46 CSV on stdout. */
export async function sampleCommand(flags: { users: number; seed: number }): Promise<void> {
  const out = process.stdout;
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(REES46_HEADER + '\n');
  let buf = '';
  for (const row of generateSample({ users: flags.users, seed: flags.seed })) {
    buf += toCsvLine(row) + '\n';
    if (buf.length > 64_000) {
      await write(buf);
      buf = '';
    }
  }
  await write(buf);
}
