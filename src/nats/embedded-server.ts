import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface EmbeddedServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface EmbeddedServerOptions {
  /** Store dir root: JetStream data goes under it. */
  dir: string;
  configFile?: string;
  /** A fixed port, or -1 (default) for any free one. */
  port?: number;
  /** Extra args (e.g. a config without the mapping, for tests). */
  args?: string[];
}

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REFERENCE_CONFIG = join(PROJECT_ROOT, 'nats.conf');

export function findNatsServer(): string {
  const candidates = [process.env.NATS_SERVER_BIN, ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'nats-server')), '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error('nats-server not found on PATH or in /usr/sbin; install it: apt-get install -y nats-server (or set NATS_SERVER_BIN)');
}

/**
 * Starts a private nats-server from the reference config on its own port and store, and waits
 * until it reports its port. Port, store and ports-file dir come from the command line because
 * nats-server refuses a setting given both in the file and on the command line.
 */
export async function startEmbeddedServer(opts: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const dir = resolve(opts.dir);
  const storeDir = join(dir, 'jetstream');
  const portsDir = join(dir, 'ports');
  mkdirSync(storeDir, { recursive: true });
  mkdirSync(portsDir, { recursive: true });
  const args = ['-c', opts.configFile ?? REFERENCE_CONFIG, '-p', String(opts.port ?? -1), '-sd', storeDir, '--ports_file_dir', portsDir, ...(opts.args ?? [])];
  const child: ChildProcess = spawn(findNatsServer(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const portsFile = join(portsDir, `nats-server_${child.pid}.ports`);
  const deadline = Date.now() + 10_000;
  let url: string | undefined;
  while (!url) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not report its port within 10 s: ${stderr.trim()}`);
    }
    if (existsSync(portsFile)) {
      try {
        url = (JSON.parse(readFileSync(portsFile, 'utf8')) as { nats: string[] }).nats[0];
      } catch {
        // written but not complete yet
      }
    }
    if (!url) await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}
