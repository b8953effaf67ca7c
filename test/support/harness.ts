import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { startEmbeddedServer, PROJECT_ROOT, type EmbeddedServer, type EmbeddedServerOptions } from '../../src/nats/index.js';

/** A private nats-server from the project's nats.conf on a free port with a temp store (never the machine's shared one). */
export interface TestNats {
  url: string;
  server: EmbeddedServer;
  dir: string;
  nc: NatsConnection;
  stop(): Promise<void>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `nudge-${prefix}-`));
}

export async function startTestNats(opts: Partial<EmbeddedServerOptions> = {}): Promise<TestNats> {
  const dir = tempDir('nats');
  const server = await startEmbeddedServer({ dir, ...opts });
  const nc = await connect({ servers: server.url });
  return {
    url: server.url,
    server,
    dir,
    nc,
    async stop() {
      await nc.close().catch(() => undefined);
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every message currently in a stream (optionally one subject filter), in stream order. */
export async function readStream(nc: NatsConnection, stream: string, filter?: string): Promise<JsMsg[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: JsMsg[] = [];
  if (info.state.messages === 0) return out;
  const c = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All, ...(filter ? { filter_subjects: filter } : {}) });
  const last = info.state.last_seq;
  const iter = await c.consume();
  for await (const m of iter) {
    out.push(m);
    if (m.info.pending === 0 || m.seq >= last) break;
  }
  await iter.close();
  return out;
}

export async function streamCount(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.messages;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface EngineProcess {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
  /** SIGTERM and wait (graceful stop with a final checkpoint). */
  stop(): Promise<number | null>;
  kill(): Promise<number | null>;
}

/** `nudge run` as a child process, the way an operator runs it: the crash tests SIGKILL it. */
export function spawnEngine(env: Record<string, string>): EngineProcess {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'nudge.js'), 'run'], {
    env: { ...process.env, NUDGE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
  return {
    child,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

/**
 * Waits until the engine's log says it is consuming. An engine that died first fails the wait,
 * unless `mayDie` (a fault-injected process can be killed before it finishes starting).
 */
export async function engineStarted(p: EngineProcess, timeoutMs = 20_000, mayDie = false): Promise<boolean> {
  return waitFor('engine start', () => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      if (mayDie) return 'died' as const;
      throw new Error(`engine exited early (${p.child.exitCode ?? p.child.signalCode}): ${p.stderr()}`);
    }
    return p.stderr().includes('"msg":"engine started"') ? ('started' as const) : undefined;
  }, timeoutMs).then((s) => s === 'started');
}

export { SHARED_SAMPLE } from './shared-sample.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A `nudge` command as a user runs it (bin/nudge.js), to completion. NATS_URL is required, so a
 * test can never fall back to the machine's shared server.
 */
export function runCli(args: string[], env: Record<string, string> & { NATS_URL: string }): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'nudge.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
