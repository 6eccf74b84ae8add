/**
 * The embedded default target: a private redis-server from PATH on a free loopback port, in a
 * temporary directory, with nothing persisted; stopped and removed afterwards. Tests use it too,
 * so every test talks to a server of its own.
 *
 * The server runs in a process group of its own: a terminal's Ctrl-C goes to the whole foreground
 * group, and a server that got it too would shut down before sellout could verify the run. It is
 * started through a small `sh` watchdog that holds a pipe from sellout: when sellout exits, however
 * it exits (Ctrl-C, a crash, SIGKILL), the pipe closes and the watchdog stops the server, so no
 * server is ever left behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetError } from '../errors.js';

export interface LocalRedis {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** The redis-server process's own pid (not the watchdog's). */
  readonly pid: number;
  /** Sends a signal to the redis-server process (SIGSTOP / SIGCONT / SIGKILL in fault tests). */
  kill(signal: NodeJS.Signals): void;
  /**
   * SIGKILL to the server and to a snapshot or AOF rewrite it forked: a crash that leaves nothing
   * running. The watchdog reaps the server and exits (see `exited`). Nothing once it has exited.
   */
  crash(): void;
  /** Settles when the watchdog has exited (the server is gone: stopped, crashed or killed). */
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

export interface LocalRedisOptions {
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  readonly args?: readonly string[];
  readonly binary?: string;
  readonly port?: number;
  readonly dir?: string;
  /** How long the server gets to say it is ready (default 10 s; a restart loading a big AOF needs longer). */
  readonly readyTimeoutMs?: number;
}

const INSTALL_HINT =
  'install it with `apt-get install -y redis-server redis-tools` (Debian/Ubuntu) or `brew install redis` (macOS), or pass --redis redis://host:port or --redis docker';

/**
 * The watchdog: starts redis-server (stdin from /dev/null) and prints its pid; a reader in the
 * background blocks on sellout's pipe, and end of file (sellout closed it, or exited however it
 * exited) stops the server. The watchdog exits with the server, so a server that fails to start
 * shows as an exit right away.
 */
const WATCHDOG = [
  'bin=$1; shift',
  // A background job's stdin is /dev/null in sh: keep sellout's pipe on fd 3 for the reader.
  'exec 3<&0',
  '"$bin" "$@" </dev/null 3<&- & pid=$!',
  'echo "sellout-watchdog redis-pid $pid"',
  // A server busy in a script that never ends ignores SIGTERM: it gets SIGKILL 5 s later.
  '(read _ignored <&3; kill -TERM $pid 2>/dev/null; n=0; while kill -0 $pid 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done; kill -KILL $pid 2>/dev/null) & reader=$!',
  'exec 3<&-',
  "trap 'kill -TERM $pid 2>/dev/null' TERM INT HUP",
  'wait $pid; status=$?',
  // wait returns early when a trap ran: wait for the server itself to be gone.
  'while kill -0 $pid 2>/dev/null; do wait $pid; status=$?; done',
  'kill $reader 2>/dev/null',
  'exit $status',
].join('\n');

export function findRedisServer(binary = 'redis-server'): string | undefined {
  const found = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return found.error || found.status !== 0 ? undefined : binary;
}

/** Throws the TargetError saying how to install redis-server when there is none to start. */
export function assertRedisServer(binary = 'redis-server'): void {
  if (!findRedisServer(binary)) {
    throw new TargetError(`no ${binary} binary on PATH to start the embedded Redis`, INSTALL_HINT);
  }
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
  assertRedisServer(binary);
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sellout-redis-'));
  // A port picked by the OS can be taken by someone else before redis binds it: retry a few times.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    const args = ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
      '--logfile', '', '--protected-mode', 'yes', ...(options.args ?? [])];
    // detached: a new session and process group, out of reach of the terminal's Ctrl-C.
    const child = spawn('sh', ['-c', WATCHDOG, 'sellout-watchdog', binary, ...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    // The pipe must not keep sellout alive, and its errors (sh already gone) are not ours to report.
    child.stdin!.on('error', () => {});
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => { if (output.length < 20_000) output += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { if (output.length < 20_000) output += chunk.toString(); });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const ready = await waitUntilReady(child, port, () => output, options.readyTimeoutMs ?? 10_000);
    const pid = Number(/sellout-watchdog redis-pid (\d+)/.exec(output)?.[1] ?? 0);
    if (ready === 'ready' && pid > 0) {
      unrefChild(child);
      const kill = (signal: NodeJS.Signals) => {
        try { process.kill(pid, signal); } catch { /* already gone */ }
      };
      const running = () => child.exitCode === null && child.signalCode === null;
      const crash = () => {
        if (!running()) return;
        // Its forks first: once the server is gone they would belong to init and run on.
        for (const fork of childrenOf(pid)) {
          try { process.kill(fork, 'SIGKILL'); } catch { /* already gone */ }
        }
        kill('SIGKILL');
      };
      const stop = async () => {
        if (running()) {
          kill('SIGCONT'); // a server stopped by a fault test must be able to act on SIGTERM
          child.stdin!.end();
          const timer = setTimeout(() => { kill('SIGKILL'); killGroup(child, 'SIGKILL'); }, 3000);
          await exited;
          clearTimeout(timer);
        }
        if (ownsDir) rmSync(dir, { recursive: true, force: true });
      };
      return { host: '127.0.0.1', port, dir, pid, kill, crash, exited, stop };
    }
    killGroup(child, 'SIGKILL');
    if (!/Address already in use/i.test(output) || options.port !== undefined) {
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
      const lastLine = output.trim().split('\n').filter((line) => line && !line.startsWith('sellout-watchdog')).at(-1) ?? 'no output';
      throw new TargetError(`embedded redis-server did not start on 127.0.0.1:${port}: ${lastLine}`, INSTALL_HINT);
    }
  }
  if (ownsDir) rmSync(dir, { recursive: true, force: true });
  throw new TargetError('embedded redis-server could not find a free loopback port after 5 tries');
}

/** The watchdog and its pipes must not keep the event loop (and so sellout) alive. */
function unrefChild(child: ChildProcess): void {
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
}

/** The pids of a process's children (/proc on Linux, else pgrep -P). */
function childrenOf(pid: number): number[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    text = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout ?? '';
  }
  return text.split(/\s+/).filter(Boolean).map(Number);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    // The watchdog leads its own group (detached): this reaches it and the server.
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

async function waitUntilReady(child: ChildProcess, port: number, output: () => string, timeoutMs: number): Promise<'ready' | 'failed'> {
  const deadline = Date.now() + timeoutMs;
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
