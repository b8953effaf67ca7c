import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNats, tempDir } from './support/harness.js';
import { PROJECT_ROOT } from '../src/nats/index.js';

// `nudge doctor` without an engine: against a server without the partition mapping, against no
// server at all, against a fresh server from nats.conf that no engine has set up yet, and with a
// partition count that disagrees with the server's mapping. Each failure exits 1 with its fix.

interface Cli {
  code: number | null;
  stdout: string;
  stderr: string;
}
interface Report {
  ok: boolean;
  checks: Array<{ name: string; status: string; detail: string; fix?: string }>;
}

function doctor(env: Record<string, string>, json = false): Promise<Cli> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'nudge.js'), 'doctor', ...(json ? ['--json'] : [])], { env: { ...process.env, NUDGE_PARTITIONS: '8', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const check = (r: Report, name: string) => r.checks.find((c) => c.name === name)!;

test('a server without the partition mapping: doctor fails and says how to add it', async () => {
  const dir = tempDir('doctor-nomap');
  const conf = join(dir, 'plain.conf');
  writeFileSync(conf, 'host: 127.0.0.1\njetstream {}\n');
  const nats = await startTestNats({ configFile: conf });
  try {
    const human = await doctor({ NATS_URL: nats.url });
    assert.equal(human.code, 1, human.stdout + human.stderr);
    assert.match(human.stdout, /ok {4}server/);
    assert.match(human.stdout, /ok {4}jetstream/);
    assert.match(human.stdout, /FAIL {2}mapping +the server has no partition mapping for events\.\*\.\* \(a probe stayed on events\._probe\.\S+\)/);
    assert.match(human.stdout, /fix: start the server with nats\.conf \(nats-server -c nats\.conf\), or add to its config: mappings = \{ "events\.\*\.\*": "events\.\{\{wildcard\(1\)\}\}\.\{\{wildcard\(2\)\}\}\.\{\{partition\(8,2\)\}\}" \}/);
    assert.match(human.stdout, /check\(s\) failed/);

    const json = await doctor({ NATS_URL: nats.url }, true);
    assert.equal(json.code, 1);
    const r = JSON.parse(json.stdout) as Report;
    assert.equal(r.ok, false);
    assert.equal(check(r, 'mapping').status, 'fail');
    assert.match(check(r, 'mapping').fix!, /partition\(8,2\)/);
    assert.equal(check(r, 'version').status, 'ok');
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no server at all: the connection check fails with the fix, the rest is skipped', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const r = await doctor({ NATS_URL: `nats://127.0.0.1:${port}` }, true);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(check(report, 'server').status, 'fail');
  assert.match(check(report, 'server').fix!, /nats-server -c nats\.conf/);
  assert.deepEqual(
    report.checks.filter((c) => c.name !== 'server').map((c) => c.status),
    ['skip', 'skip', 'skip', 'skip', 'skip', 'skip', 'skip'],
  );
});

test('a fresh server from nats.conf before any engine: mapping ok; streams and bucket missing, with the fix', async () => {
  const nats = await startTestNats();
  try {
    const r = await doctor({ NATS_URL: nats.url }, true);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(check(report, 'mapping').status, 'ok');
    assert.equal(check(report, 'streams').status, 'fail');
    assert.match(check(report, 'streams').detail, /EVENTS is missing/);
    assert.match(check(report, 'streams').fix!, /nudge run/);
    assert.equal(check(report, 'patterns bucket').status, 'fail');
    assert.equal(check(report, 'workers').status, 'warn');

    const mismatch = JSON.parse((await doctor({ NATS_URL: nats.url, NUDGE_PARTITIONS: '4' }, true)).stdout) as Report;
    assert.equal(check(mismatch, 'mapping').status, 'fail');
    assert.match(check(mismatch, 'mapping').detail, /does not match NUDGE_PARTITIONS=4/);
    assert.match(check(mismatch, 'mapping').fix!, /set NUDGE_PARTITIONS/);
  } finally {
    await nats.stop();
  }
});
