/**
 * `--out` is checked before any load, in one line with exit 2 (review defects 9, 11, 12): a level
 * that cannot be created (/proc/x spun at 100% CPU in Node 20's recursive mkdir), a directory of
 * another tool's files with report names (they were overwritten), an existing directory sellout
 * cannot write to (the run printed PASS and then lost its report). A real redis-server serves the
 * runs, so a check that came too late would let the load run and show in stdout.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SummaryV1 } from '../../src/summary/summary.js';
import { runCli, unprivilegedPrecondition } from '../helpers/cli.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
let tmp: string;
const small = ['--quiet', '--set', 'requests=300', '--set', 'load.connections=2'];
const run = (out: string, options: Parameters<typeof runCli>[1] = {}) => runCli(['run', 'scenarios/smoke.yaml', '--redis', redis.url, '--out', out, ...small], options);
const lines = (text: string) => text.trimEnd().split('\n');

beforeAll(async () => {
  redis = await startTestRedis();
  tmp = mkdtempSync(join(tmpdir(), 'sellout-out-dir-'));
});
afterAll(async () => {
  await redis?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('--out that cannot be created', () => {
  it('a level under /proc is one line and exit 2 within seconds, not a spin', async () => {
    if (!existsSync('/proc/self')) throw new Error('this test needs Linux /proc (where mkdir of /proc/x fails), and /proc/self is missing');
    for (const out of ['/proc/x', '/proc/sellout-test/a/b']) {
      const started = Date.now();
      const r = await run(out, { timeoutMs: 20_000 });
      expect(r.signal, `${out} was killed after 20 s: the mkdir spins`).toBeNull();
      expect(r.code, r.stderr).toBe(2);
      const level = out === '/proc/x' ? '/proc/x' : '/proc/sellout-test';
      expect(r.stderr).toMatch(new RegExp(`^sellout: --out ${out}: expected a directory sellout can create, got ENOENT \\(no such file or directory\\) creating ${level}\\n$`));
      expect(r.stdout).toBe('');
      expect(Date.now() - started).toBeLessThan(15_000);
    }
  });

  it('a file on the way is named, and a failed run leaves no directory it created behind', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'mine');
    const r = await run(join(file, 'report'));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`sellout: --out ${join(file, 'report')}: expected a directory sellout can create, got a file at ${file}\n`);
    expect(readFileSync(file, 'utf8')).toBe('mine');

    // Redis unreachable (exit 3): the levels created for --out are removed again.
    const out = join(tmp, 'new', 'deeper');
    const lost = await runCli(['run', 'scenarios/smoke.yaml', '--redis', 'redis://127.0.0.1:1', '--out', out]);
    expect(lost.code, lost.stderr).toBe(3);
    expect(existsSync(join(tmp, 'new'))).toBe(false);
  });
});

describe('--out holding files sellout did not write', () => {
  it('refuses a directory of another tool\'s files with report names and leaves them byte-identical', async () => {
    for (const name of ['summary.json', 'junit.xml', 'summary.md', 'report.png']) {
      const dir = join(tmp, `foreign-${name}`);
      mkdirSync(dir);
      const content = Buffer.from(`another tool's ${name}\n\u0000\u00ff`, 'latin1');
      writeFileSync(join(dir, name), content);
      const r = await run(dir);
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toBe(`sellout: --out ${dir}: expected an empty directory or an earlier sellout report, got a directory holding "${name}" but no .sellout-report.json (sellout never replaces files it did not write)\n`);
      expect(r.stdout).toBe('');
      expect(readdirSync(dir)).toEqual([name]);
      expect(readFileSync(join(dir, name)).equals(content), `${name} changed`).toBe(true);
    }
  });

  it('refuses a manifest sellout did not write', async () => {
    const dir = join(tmp, 'fake-manifest');
    mkdirSync(dir);
    writeFileSync(join(dir, '.sellout-report.json'), '{"tool": "other"}');
    writeFileSync(join(dir, 'summary.json'), '{}');
    const r = await run(dir);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([`sellout: --out ${dir}: expected an earlier sellout report, got a .sellout-report.json that sellout did not write (not JSON with "tool": "sellout")`]);
    expect(readFileSync(join(dir, 'summary.json'), 'utf8')).toBe('{}');
  });

  it('marks its own report directory, reuses it for a second run and re-renders it with `sellout report`', async () => {
    const dir = join(tmp, 'mine');
    const first = await run(dir);
    expect(first.code, first.stderr).toBe(0);
    const manifest = () => JSON.parse(readFileSync(join(dir, '.sellout-report.json'), 'utf8')) as Record<string, unknown>;
    const runId = () => (JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as SummaryV1).run.id;
    const firstId = runId();
    expect(manifest()).toMatchObject({ tool: 'sellout', summaryVersion: 1, runId: firstId });
    writeFileSync(join(dir, 'notes.txt'), 'kept'); // not a report file: left alone

    const second = await run(dir);
    expect(second.code, second.stderr).toBe(0);
    expect(runId()).not.toBe(firstId);
    expect(manifest()).toMatchObject({ tool: 'sellout', runId: runId() });
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('kept');

    const report = await runCli(['report', dir]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain('wrote report.html, summary.md, junit.xml');
  });
});

describe('--out that exists but cannot be written', () => {
  it('is one line and exit 2 before any load, run by an unprivileged user', async () => {
    // Root writes through chmod 555, so the CLI runs as uid 65534 (setpriv) when the tests run as root.
    const missing = unprivilegedPrecondition();
    if (missing) throw new Error(`cannot run the CLI unprivileged, which this test needs: ${missing}`);
    const parent = join(tmp, 'unwritable');
    mkdirSync(parent);
    const dir = join(parent, 'ro');
    mkdirSync(dir);
    chmodSync(tmp, 0o755); // mkdtemp made it 0700: the unprivileged user must reach dir
    chmodSync(parent, 0o755);
    chmodSync(dir, 0o555);
    try {
      const r = await run(dir, { unprivileged: true });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe(''); // no "PASS (exit 0)" for a run whose report is lost: no run at all
      expect(r.stderr).toBe(`sellout: --out ${dir}: expected a directory sellout can write to, got EACCES (permission denied) creating a file in it\n`);
      expect(readdirSync(dir)).toEqual([]);
      // The same directory, writable, works for the same user: the refusal was the mode, nothing else.
      chmodSync(dir, 0o777);
      const ok = await run(dir, { unprivileged: true });
      expect(ok.code, ok.stderr).toBe(0);
      expect(readdirSync(dir)).toEqual(expect.arrayContaining(['.sellout-report.json', 'summary.json']));
    } finally {
      chmodSync(dir, 0o755);
    }
  });
});
