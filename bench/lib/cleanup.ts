/**
 * Everything the bench starts is registered here and removed however the bench ends: at the end,
 * on an error, on Ctrl-C / SIGTERM / SIGHUP. Children run in process groups of their own
 * (detached), so a terminal's Ctrl-C reaches only the bench, which then kills each group it started
 * (by its id) rather than letting a `sellout run` child go on to verify a run nobody waits for.
 * The redis-server is sellout's embedded one: its watchdog stops it when this process exits, even
 * on SIGKILL; temporary directories are removed here.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const stoppers = new Set<() => Promise<void>>();
let exiting = false;

/** Spawns a child in its own process group, killed with its group when the bench ends. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

export function killTracked(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
}

/** A temporary directory under the OS temp dir, removed when the bench ends. */
export function tempDir(prefix = 'sellout-bench-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Something to stop (the redis-server) at the end; returns a function that unregisters it. */
export function onCleanup(stop: () => Promise<void>): () => void {
  stoppers.add(stop);
  return () => stoppers.delete(stop);
}

function cleanupSync(): void {
  for (const child of children) killTracked(child);
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

export async function cleanupAll(): Promise<void> {
  cleanupSync();
  const all = [...stoppers];
  stoppers.clear();
  await Promise.race([Promise.allSettled(all.map((stop) => stop())), new Promise((r) => setTimeout(r, 5000).unref())]);
}

/** True once a signal arrived: what fails after it is the cleanup's doing, not a finding. */
export function interrupted(): boolean {
  return exiting;
}

/** Installs the handlers: a signal kills what runs, removes what was made and exits 128+n. */
export function installCleanupHandlers(): void {
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    if (exiting) return;
    exiting = true;
    // Keeps the event loop alive until the exit below (the server's watchdog is unref'd).
    setInterval(() => {}, 1000);
    process.stderr.write(`\nbench: ${signal}: stopping every child process and the redis-server, removing temporary files\n`);
    void cleanupAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('SIGHUP', () => onSignal('SIGHUP', 129));
  // Last resort (an uncaught error, process.exit): synchronous kills and removals only.
  process.on('exit', cleanupSync);
}
