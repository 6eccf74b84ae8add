/** Where a run's files go: `--out DIR`, or `reports/<UTC time>-<name>/` under the current directory. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export function defaultReportDir(name: string, now = new Date(), cwd = process.cwd()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = resolve(cwd, 'reports', `${stamp}-${name}`);
  let dir = base;
  for (let n = 2; existsSync(dir); n++) dir = `${base}-${n}`;
  return dir;
}

export function writeJson(dir: string, file: string, value: unknown): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  return path;
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
