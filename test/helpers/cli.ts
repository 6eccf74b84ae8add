/** Runs the built CLI (`bin/sellout.js`, which loads dist/) as a child process. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/sellout.js', import.meta.url));

/**
 * Variables sellout reads for its target: a test must not inherit them from the developer's shell
 * (a REDIS_URL there would send the embedded-server tests to that server). Cleared unless a test
 * sets them in `env`.
 */
export const TARGET_VARIABLES = ['SELLOUT_REDIS_URL', 'REDIS_URL', 'SELLOUT_REDIS_PASSWORD', 'REDISCLI_AUTH'] as const;

/** The uid/gid tests use to run the CLI unprivileged when they run as root (nobody/nogroup). */
export const UNPRIVILEGED_ID = 65534;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /**
   * Run as an unprivileged user: root ignores file modes (chmod 555 does not stop it writing), so
   * under root the CLI runs through `setpriv` as uid/gid 65534. Call unprivilegedPrecondition()
   * first: it says what is missing for that.
   */
  unprivileged?: boolean;
}

/** The environment a CLI child gets: ours without the target variables, plus what a test sets. */
export function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const inherited = { ...process.env };
  for (const name of TARGET_VARIABLES) delete inherited[name];
  return { ...inherited, ...env };
}

function command(args: readonly string[], unprivileged: boolean): [string, string[]] {
  if (unprivileged && process.getuid?.() === 0) {
    const id = String(UNPRIVILEGED_ID);
    return ['setpriv', [`--reuid=${id}`, `--regid=${id}`, '--clear-groups', '--', process.execPath, BIN, ...args]];
  }
  return [process.execPath, [BIN, ...args]];
}

/**
 * Why the CLI cannot be run unprivileged here, or undefined when it can: under root, setpriv must
 * exist and uid 65534 must be able to read node, the project and its node_modules (it runs
 * `sellout --version` as that user to find out).
 */
export function unprivilegedPrecondition(): string | undefined {
  if (process.getuid?.() !== 0) return undefined; // already unprivileged: file modes apply
  const [file, args] = command(['--version'], true);
  const r = spawnSync(file, args, { cwd: ROOT, encoding: 'utf8', env: cliEnv(), timeout: 30_000 });
  if (r.error) return `cannot run ${file} to drop root privileges (${r.error.message}); install util-linux's setpriv`;
  if (r.status !== 0) {
    return `uid ${UNPRIVILEGED_ID} cannot run sellout (exit ${r.status}: ${(r.stderr || r.stdout).trim().split('\n')[0]}); it needs read access to ${process.execPath}, ${ROOT} and its node_modules`;
  }
  return undefined;
}

/**
 * CLI children still running when this test process exits (a test that timed out leaves its
 * child behind otherwise: the child's own kill timer dies with the test process).
 */
const running = new Set<ChildProcess>();
process.once('exit', () => { for (const child of running) child.kill('SIGKILL'); });

/** Tracks a CLI child so it is killed if the test process exits first. */
export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('close', () => running.delete(child));
  return child;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [file, argv] = command(args, options.unprivileged ?? false);
    const child = track(spawn(file, argv, {
      cwd: options.cwd ?? ROOT,
      env: cliEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

export interface StartedCli {
  readonly child: ChildProcess;
  /** What it printed so far (filled as it comes). */
  readonly output: { stdout: string; stderr: string };
  /** Its exit code, once it exits. */
  readonly exited: Promise<number | null>;
  /** The run ID and the port of the server it seeds, from its `seeding` line (rejects if it exits first). */
  readonly seeded: Promise<{ runId: string; port: number }>;
}

/**
 * `sellout <args>` as a child process that keeps running while the test acts on it (signals it,
 * breaks its server); `detached` makes it lead its own process group, as a terminal's job does.
 */
export function startCli(args: readonly string[], options: { detached?: boolean } = {}): StartedCli {
  const child = track(spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false }));
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => { output.stdout += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const seeded = new Promise<{ runId: string; port: number }>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      output.stderr += d.toString();
      const m = /run (\S+) on \S+: seeding \d+ SKU\(s\) on redis:\/\/127\.0\.0\.1:(\d+)/.exec(output.stderr);
      if (m) resolve({ runId: m[1]!, port: Number(m[2]) });
    });
    child.once('close', (code) => reject(new Error(`sellout exited (${code}) before seeding: ${output.stderr}`)));
  });
  // A test that never awaits `seeded` (the run failed first) must not see an unhandled rejection.
  seeded.catch(() => {});
  return { child, output, exited, seeded };
}
