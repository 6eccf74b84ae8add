/**
 * The embedded default target: a private redis-server from PATH on a free loopback port, in a
 * temporary directory, with nothing persisted; stopped and removed afterwards. Tests use it too,
 * so every test talks to a server of its own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetError } from '../errors.js';

export interface LocalRedis {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export interface LocalRedisOptions {
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  readonly args?: readonly string[];
  readonly binary?: string;
  readonly port?: number;
  readonly dir?: string;
}

const INSTALL_HINT =
  'install it with `apt-get install -y redis-server redis-tools` (Debian/Ubuntu) or `brew install redis` (macOS), or pass --redis redis://host:port or --redis docker';

export function findRedisServer(binary = 'redis-server'): string | undefined {
  const found = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return found.error || found.status !== 0 ? undefined : binary;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
  const binary = options.binary ?? 'redis-server';
  if (!findRedisServer(binary)) {
    throw new TargetError(`no ${binary} binary on PATH to start the embedded Redis`, INSTALL_HINT);
  }
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sellout-redis-'));
  // A port picked by the OS can be taken by someone else before redis binds it: retry a few times.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    const child = spawn(
      binary,
      ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
        '--logfile', '', '--protected-mode', 'yes', ...(options.args ?? [])],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => { if (output.length < 20_000) output += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { if (output.length < 20_000) output += chunk.toString(); });
    const ready = await waitUntilReady(child, port, () => output);
    if (ready === 'ready') {
      const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((done) => child.once('exit', () => done()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        if (ownsDir) rmSync(dir, { recursive: true, force: true });
      };
      return { host: '127.0.0.1', port, dir, process: child, stop };
    }
    child.kill('SIGKILL');
    if (!/Address already in use/i.test(output) || options.port !== undefined) {
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
      const lastLine = output.trim().split('\n').filter(Boolean).at(-1) ?? 'no output';
      throw new TargetError(`embedded redis-server did not start on 127.0.0.1:${port}: ${lastLine}`, INSTALL_HINT);
    }
  }
  if (ownsDir) rmSync(dir, { recursive: true, force: true });
  throw new TargetError('embedded redis-server could not find a free loopback port after 5 tries');
}

async function waitUntilReady(child: ChildProcess, port: number, output: () => string): Promise<'ready' | 'failed'> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return 'failed';
    if (/Ready to accept connections/.test(output()) && (await canConnect(port))) return 'ready';
    await new Promise((r) => setTimeout(r, 20));
  }
  return 'failed';
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolveConnect(true); });
    socket.once('error', () => resolveConnect(false));
  });
}
