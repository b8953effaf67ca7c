/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --profile --profile-out f.cpuprofile`):
 *
 *   npx tsx bench/profile-report.ts f.cpuprofile [--top 25] [--callers name] [--inclusive name,name]
 *
 * self time by function (functionName + file), self time by area (package / source dir),
 * inclusive time of named functions (each sample counted once even under recursion), and the
 * callers of a function by self time.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    'inclusive-top': { type: 'string', default: '0' },
    callers: { type: 'string', multiple: true },
    inclusive: { type: 'string' },
  },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: npx tsx bench/profile-report.ts file.cpuprofile [--top N] [--callers fn] [--inclusive fn1,fn2]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const short = (url: string) => {
  const u = url.replace(/^file:\/\//, '');
  const i = u.lastIndexOf('node_modules/');
  if (i >= 0) return u.slice(i + 'node_modules/'.length);
  return u.startsWith(ROOT) ? u.slice(ROOT.length) : u;
};
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;

const byId = new Map<number, Node>();
const parent = new Map<number, number>();
for (const n of profile.nodes) byId.set(n.id, n);
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const total = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
const ms = (profile.endTime - profile.startTime) / 1000;
const pct = (h: number) => `${((100 * h) / total).toFixed(1).padStart(5)}%`;
process.stdout.write(`${file}: ${total} samples over ${(ms / 1000).toFixed(1)} s\n\n`);

const self = new Map<string, number>();
for (const n of profile.nodes) if (n.hitCount) self.set(label(n), (self.get(label(n)) ?? 0) + n.hitCount);
process.stdout.write('self time by function\n');
for (const [k, h] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) process.stdout.write(`${pct(h)}  ${k}\n`);

// Inclusive: for every sampled node, walk to the root and credit each distinct matching frame once.
if (values.inclusive) {
  const names = values.inclusive.split(',');
  const inc = new Map<string, number>(names.map((n) => [n, 0]));
  for (const n of profile.nodes) {
    if (!n.hitCount) continue;
    const hit = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const fn = byId.get(id)!.callFrame.functionName;
      if (inc.has(fn)) hit.add(fn);
    }
    for (const fn of hit) inc.set(fn, inc.get(fn)! + n.hitCount);
  }
  process.stdout.write('\ninclusive time\n');
  for (const [k, h] of [...inc].sort((a, b) => b[1] - a[1])) process.stdout.write(`${pct(h)}  ${k}\n`);
}

// Inclusive by function label, top N: where the time goes including callees.
const incTop = Number(values['inclusive-top']);
if (incTop > 0) {
  const inc = new Map<string, number>();
  for (const n of profile.nodes) {
    if (!n.hitCount) continue;
    const hit = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) hit.add(label(byId.get(id)!));
    for (const k of hit) inc.set(k, (inc.get(k) ?? 0) + n.hitCount);
  }
  process.stdout.write('\ninclusive time by function\n');
  for (const [k, h] of [...inc].sort((a, b) => b[1] - a[1]).slice(0, incTop)) process.stdout.write(`${pct(h)}  ${k}\n`);
}

for (const wanted of values.callers ?? []) {
  const fn = wanted === '(anonymous)' ? '' : wanted;
  const callers = new Map<string, number>();
  for (const n of profile.nodes) {
    if (!n.hitCount || n.callFrame.functionName !== fn) continue;
    const chain: string[] = [];
    for (let id = parent.get(n.id); id !== undefined && chain.length < 4; id = parent.get(id)) chain.push(label(byId.get(id)!));
    const k = chain.join(' < ');
    callers.set(k, (callers.get(k) ?? 0) + n.hitCount);
  }
  process.stdout.write(`\ncallers of ${wanted} (self time)\n`);
  for (const [k, h] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 8)) process.stdout.write(`${pct(h)}  < ${k}\n`);
}
