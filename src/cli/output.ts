/**
 * Where a run's files go: `--out DIR`, or `reports/<UTC time>-<name>/` under the current directory.
 * A directory sellout writes a report into is marked with a manifest, `.sellout-report.json`: only
 * a directory holding one is taken for an earlier report, whose report files may be replaced.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { UsageError } from '../errors.js';
import { SUMMARY_VERSION } from '../summary/summary.js';
import { SELLOUT_VERSION } from '../version.js';

/** The file that marks a directory as sellout's own report directory (written first). */
export const MANIFEST = '.sellout-report.json';

/** Files a report directory may hold (what `writeReport` writes for `run` and `audit`, and the browser test's screenshot). */
const REPORT_FILE = /^(summary\.json|summary\.md|junit\.xml|report\.html|report\.png|skus\.csv|latency\.hlog|latency-[a-z_]+\.hgrm|audit\.json|audit\.md)$/;

export interface ReportManifest {
  readonly tool: 'sellout';
  readonly about: string;
  readonly selloutVersion: string;
  readonly summaryVersion: number;
  readonly runId: string;
  readonly writtenAt: string;
}

export interface PreparedReportDir {
  /** The directory as given (for display). */
  readonly dir: string;
  /** Directories created for it, outermost first: removed again when the run ends without a report. */
  readonly created: readonly string[];
}

/** `EACCES (permission denied)`: the code a user can search for and what it means. */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (!e?.code) return String((e as Error)?.message ?? err);
  const text = typeof e.errno === 'number' ? getSystemErrorMap().get(e.errno)?.[1] : undefined;
  return text ? `${e.code} (${text})` : e.code;
}

/**
 * Makes sure `dir` can take a report before anything runs (one line, exit 2, otherwise):
 * - missing levels are created one at a time below the nearest existing ancestor, which must be a
 *   directory (Node 20's recursive mkdir spins forever on a level it cannot create, like /proc/x);
 * - an existing directory must be empty or hold sellout's manifest: sellout never replaces files
 *   it did not write, even when they carry report names (another tool's summary.json or junit.xml);
 * - a file is created in it and removed again, proving it writable (access() says yes to root
 *   whatever the file system or mount says; a report lost after the run is the worst outcome).
 */
export function prepareReportDir(dir: string): PreparedReportDir {
  const absolute = resolve(dir);
  const missing: string[] = [];
  let existing = absolute;
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(existing).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a level above is a file; keep walking up to say which.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(existing) !== existing) {
        missing.unshift(existing);
        existing = dirname(existing);
        continue;
      }
      throw new UsageError(`--out ${dir}: expected a directory sellout can create, got ${reason(err)} looking at ${existing}`);
    }
    if (!isDirectory) {
      throw new UsageError(existing === absolute ? `--out ${dir}: expected a directory, got a file` : `--out ${dir}: expected a directory sellout can create, got a file at ${existing}`);
    }
    break;
  }
  if (missing.length === 0) checkExisting(dir, absolute);
  const created: string[] = [];
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (err) {
      removeCreated(created);
      throw new UsageError(`--out ${dir}: expected a directory sellout can create, got ${reason(err)} creating ${level}`);
    }
    created.push(level);
  }
  const probe = join(absolute, `.sellout-probe-${process.pid}`);
  try {
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (err) {
    removeCreated(created);
    throw new UsageError(`--out ${dir}: expected a directory sellout can write to, got ${reason(err)} creating a file in it`);
  }
  return { dir, created };
}

/** An existing --out: empty, or an earlier sellout report (its manifest says so). */
function checkExisting(dir: string, absolute: string): void {
  let names: string[];
  try {
    names = readdirSync(absolute).sort();
  } catch (err) {
    throw new UsageError(`--out ${dir}: expected a directory sellout can read, got ${reason(err)}`);
  }
  if (names.length === 0) return;
  if (!names.includes(MANIFEST)) {
    // Name a file sellout would have replaced, if there is one: that is why it refuses.
    const shown = names.find((name) => REPORT_FILE.test(name)) ?? names[0]!;
    const more = names.length > 1 ? ` and ${names.length - 1} more` : '';
    throw new UsageError(
      `--out ${dir}: expected an empty directory or an earlier sellout report, got a directory holding ${JSON.stringify(shown)}${more} but no ${MANIFEST} (sellout never replaces files it did not write)`,
    );
  }
  if (readManifest(join(absolute, MANIFEST)) === undefined) {
    throw new UsageError(`--out ${dir}: expected an earlier sellout report, got a ${MANIFEST} that sellout did not write (not JSON with "tool": "sellout")`);
  }
}

export function readManifest(path: string): ReportManifest | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<ReportManifest> | null;
    return value && typeof value === 'object' && value.tool === 'sellout' ? (value as ReportManifest) : undefined;
  } catch {
    return undefined;
  }
}

function removeCreated(created: readonly string[]): void {
  for (const level of [...created].reverse()) {
    try {
      rmdirSync(level); // only if still empty: never removes what someone put there meanwhile
    } catch {
      return;
    }
  }
}

/** The run ended without a report (an error before it could write one): remove the directories it created, if still empty. */
export function discardReportDir(prepared: PreparedReportDir): void {
  removeCreated(prepared.created);
}

/**
 * Writes a run's report: the manifest first (so a directory holding any report file is marked as
 * sellout's), then removes an earlier report's files (a stale latency-ok.hgrm would lie), then
 * writes the new ones.
 */
export function writeReport(dir: string, files: readonly { name: string; content: string }[], run: { runId: string }): string[] {
  ensureDir(dir);
  const manifest: ReportManifest = {
    tool: 'sellout',
    about: 'a sellout report directory: `sellout run --out` or `sellout audit --out` may replace its report files',
    selloutVersion: SELLOUT_VERSION,
    summaryVersion: SUMMARY_VERSION,
    runId: run.runId,
    writtenAt: new Date().toISOString(),
  };
  writeFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const name of readdirSync(dir)) if (REPORT_FILE.test(name)) rmSync(join(dir, name), { force: true });
  return writeFiles(dir, files);
}

export function defaultReportDir(name: string, now = new Date(), cwd = process.cwd()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = resolve(cwd, 'reports', `${stamp}-${name}`);
  let dir = base;
  for (let n = 2; existsSync(dir); n++) dir = `${base}-${n}`;
  return dir;
}

/** Creates `dir` if it vanished meanwhile, one level at a time (never a recursive mkdir: see prepareReportDir). */
function ensureDir(dir: string): void {
  const missing: string[] = [];
  for (let level = resolve(dir); !existsSync(level) && dirname(level) !== level; level = dirname(level)) missing.unshift(level);
  for (const level of missing) mkdirSync(level);
}

/** Writes rendered report files into the report directory; returns their paths. */
export function writeFiles(dir: string, files: readonly { name: string; content: string }[]): string[] {
  ensureDir(dir);
  return files.map(({ name, content }) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  });
}
