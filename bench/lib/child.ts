/**
 * A whole `sellout run` as a child process (node bin/sellout.js run <scenario> --redis <url>
 * --out <tmp> --quiet), the way a user runs it: startup, seeding, load, verification, reports.
 *
 * While it runs, /proc is polled every POLL_MS: VmHWM and VmRSS (/proc/<pid>/status), the
 * process's CPU (/proc/<pid>/stat: every thread, live or exited) and its main thread's
 * (/proc/<pid>/task/<pid>/stat). At exit, a preloaded hook (bench/child-usage.ts, `--import`)
 * writes the child's own getrusage: user+sys CPU of the whole process and its max RSS, exact, so
 * nothing after the last poll is lost.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { removeDir, spawnTracked, tempDir } from './cleanup.js';
import { ROOT } from './server.js';

const POLL_MS = 20;
const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

export interface ProcSample {
  /** Wall clock, epoch milliseconds (fractional). */
  readonly atMs: number;
  readonly rssBytes: number;
  /** CPU seconds so far: the whole process, and its main thread. */
  readonly cpuS: number;
  readonly mainCpuS: number;
}

export interface ChildRun {
  readonly wallMs: number;
  /** Peak RSS: the larger of the last VmHWM polled and the exit hook's getrusage maxrss. */
  readonly peakRssBytes: number;
  /** User+sys CPU of the whole process (exit hook), seconds. */
  readonly cpuS: number;
  readonly samples: ProcSample[];
  /** The summary.json the run wrote, and its size in bytes. */
  readonly summary: SummaryV1;
  readonly summaryBytes: number;
  readonly exitCode: number;
}

/** A summary field the bench reads, checked, so an engine change shows as a clear message. */
export function field<T>(summary: SummaryV1, path: string, value: T | undefined): T {
  if (value === undefined || value === null) throw new Error(`summary.json of run ${summary.run?.id ?? '?'} has no ${path}: the bench reads it`);
  return value;
}

export interface ChildScenario {
  readonly name: string;
  readonly skus: number;
  readonly stock: number;
  readonly requests?: number;
  readonly duration?: string;
  readonly connections: number;
  readonly inFlight: number;
  readonly workers: number | undefined;
}

export function scenarioYaml(s: ChildScenario, scriptPath: string): string {
  return [
    `name: ${s.name}`,
    `script: ${JSON.stringify(scriptPath)}`,
    `skus: {count: ${s.skus}, stock: ${s.stock}, selection: uniform}`,
    s.requests !== undefined ? `requests: ${s.requests}` : `duration: ${s.duration}`,
    `load: {model: closed, connections: ${s.connections}, inFlight: ${s.inFlight}${s.workers ? `, workers: ${s.workers}` : ''}}`,
    '',
  ].join('\n');
}

function readProc(pid: number): { rss: number; hwm: number; cpuS: number; mainCpuS: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const cpu = (path: string) => {
      const stat = readFileSync(path, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime (fields 14, 15)
    };
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    // A zombie (exited, not reaped yet) has no Vm* lines: it is gone as far as memory goes.
    if (!Number.isFinite(rss) || !Number.isFinite(hwm)) return undefined;
    return { rss, hwm, cpuS: cpu(`/proc/${pid}/stat`), mainCpuS: cpu(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined; // exited between polls
  }
}

const nowMs = () => performance.timeOrigin + performance.now();

/** Runs one scenario in a child `sellout run` against the bench's server; throws unless it passes. */
export async function runSelloutChild(scenario: ChildScenario, scriptPath: string, redisUrl: string): Promise<ChildRun> {
  const dir = tempDir(`sellout-bench-${scenario.name}-`);
  try {
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, scenarioYaml(scenario, scriptPath));
    const out = join(dir, 'report');
    const usageFile = join(dir, 'usage.json');
    const hook = pathToFileURL(join(ROOT, 'dist', 'bench', 'child-usage.js')).href;
    const args = ['--import', hook, join(ROOT, 'bin', 'sellout.js'), 'run', file, '--redis', redisUrl, '--out', out, '--quiet'];
    const started = nowMs();
    const child = spawnTracked(process.execPath, args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BENCH_USAGE_FILE: usageFile },
    });
    let output = '';
    const keep = (d: Buffer) => { if (output.length < 100_000) output += d.toString(); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const samples: ProcSample[] = [];
    let hwm = 0;
    const poll = () => {
      if (child.pid === undefined) return;
      const p = readProc(child.pid);
      if (!p) return;
      hwm = Math.max(hwm, p.hwm);
      samples.push({ atMs: nowMs(), rssBytes: p.rss, cpuS: p.cpuS, mainCpuS: p.mainCpuS });
    };
    const timer = setInterval(poll, POLL_MS);
    poll();
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
    clearInterval(timer);
    const wallMs = nowMs() - started;
    if (exitCode !== 0) {
      throw new Error(`sellout run (${scenario.name}) exited ${exitCode}: ${output.trim().split('\n').slice(-6).join(' | ')}`);
    }
    let usage: { userUs: number; systemUs: number; maxRssKb: number };
    try {
      usage = JSON.parse(readFileSync(usageFile, 'utf8')) as typeof usage;
    } catch {
      throw new Error(`sellout run (${scenario.name}) left no CPU figures (the --import hook dist/bench/child-usage.js did not run)`);
    }
    const summaryPath = join(out, 'summary.json');
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as SummaryV1;
    return {
      wallMs,
      peakRssBytes: Math.max(hwm, usage.maxRssKb * 1024),
      cpuS: (usage.userUs + usage.systemUs) / 1e6,
      samples,
      summary,
      summaryBytes: statSync(summaryPath).size,
      exitCode,
    };
  } finally {
    removeDir(dir);
  }
}

/** CPU seconds (whole process, main thread) at a wall-clock time, interpolated between polls. */
export function cpuAt(samples: readonly ProcSample[], atMs: number): { cpuS: number; mainCpuS: number } {
  const after = samples.findIndex((s) => s.atMs >= atMs);
  if (after <= 0) {
    const s = after === 0 ? samples[0]! : samples.at(-1)!;
    return { cpuS: s.cpuS, mainCpuS: s.mainCpuS };
  }
  const a = samples[after - 1]!;
  const b = samples[after]!;
  const f = (atMs - a.atMs) / (b.atMs - a.atMs);
  return { cpuS: a.cpuS + f * (b.cpuS - a.cpuS), mainCpuS: a.mainCpuS + f * (b.mainCpuS - a.mainCpuS) };
}

/** The load window of a run from its summary: t0 (run.startedAt is the load's shared start) and durationMs. */
export function loadWindow(summary: SummaryV1): { fromMs: number; toMs: number } {
  const from = Date.parse(field(summary, 'run.startedAt', summary.run?.startedAt));
  const duration = field(summary, 'durationMs', summary.durationMs);
  if (!Number.isFinite(from)) throw new Error(`summary.json run.startedAt is not a time: ${summary.run.startedAt}`);
  return { fromMs: from, toMs: from + duration };
}
