/** Where a run's files go: `--out DIR`, or `reports/<UTC time>-<name>/` under the current directory. */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** Files a report directory may hold (what `writeReport` writes, and the browser test's screenshot). */
const REPORT_FILE = /^(summary\.json|summary\.md|junit\.xml|report\.html|report\.png|latency\.hlog|latency-[a-z_]+\.hgrm)$/;

/**
 * Makes sure `dir` can take a report before anything runs: it is created if missing; an existing
 * one must be empty or an earlier sellout report (sellout never overwrites files it did not write).
 */
export function prepareReportDir(dir: string): string {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${dir}: expected a directory, got a file`);
    const foreign = readdirSync(dir).filter((name) => !REPORT_FILE.test(name));
    if (foreign.length > 0) {
      throw new UsageError(`--out ${dir}: expected an empty directory or an earlier sellout report, got a directory holding ${JSON.stringify(foreign[0])}${foreign.length > 1 ? ` and ${foreign.length - 1} more` : ''}`);
    }
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`--out ${dir}: expected a directory sellout can create, got ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return dir;
}

/** Writes a run's report files, first removing an earlier report's (a stale latency-ok.hgrm would lie). */
export function writeReport(dir: string, files: readonly { name: string; content: string }[]): string[] {
  mkdirSync(dir, { recursive: true });
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

/** Writes rendered report files into the report directory; returns their paths. */
export function writeFiles(dir: string, files: readonly { name: string; content: string }[]): string[] {
  mkdirSync(dir, { recursive: true });
  return files.map(({ name, content }) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  });
}
