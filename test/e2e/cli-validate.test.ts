/**
 * `sellout validate`: the scenario checked exactly as `run` loads it (the same problems, one line
 * each, exit 2), without Redis and without a report directory. Every test runs with the target
 * pointed at a closed port (or with no redis-server on PATH): a validate that tried to connect or
 * start a server would exit 3 (or hang on the connection) instead of answering at once.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

const NOWHERE = 'redis://127.0.0.1:1';
/** Where sellout would look for a target: all of them unreachable. */
const UNREACHABLE = { SELLOUT_REDIS_URL: NOWHERE, REDIS_URL: NOWHERE };
const SHA1 = /[0-9a-f]{40}/;
let tmp: string;

beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'sellout-validate-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

function write(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

describe('sellout validate', () => {
  it('accepts every shipped scenario (gate.yaml included) with one line: name, SKUs, length, model, script and its SHA-1', async () => {
    const files = readdirSync(join(ROOT, 'scenarios')).filter((f) => f.endsWith('.yaml')).sort();
    expect(files).toContain('gate.yaml');
    for (const f of files) {
      const r = await runCli(['validate', `scenarios/${f}`], { env: UNREACHABLE });
      expect(r.code, `${f}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(new RegExp(`^scenarios/${f.replace('.', '\\.')}: valid \\(.+, script lua/deduct\\.lua sha1 ${SHA1.source}\\)\\n$`));
    }
    const smoke = await runCli(['validate', 'scenarios/smoke.yaml'], { env: UNREACHABLE });
    expect(smoke.stdout).toMatch(/^scenarios\/smoke\.yaml: valid \(smoke, 5 SKUs, 3,000 requests, constant-rate 1,000\/s over 8 connections, script lua\/deduct\.lua sha1 [0-9a-f]{40}\)\n$/);
    const gate = await runCli(['validate', 'scenarios/gate.yaml'], { env: UNREACHABLE });
    expect(gate.stdout).toMatch(/^scenarios\/gate\.yaml: valid \(gate, 10 SKUs, 12s, constant-rate 1,500\/s over 8 connections, 7 threshold metric\(s\), script /);
  });

  it('lists every problem of a broken scenario, one line each, exit 2: the very lines run prints', async () => {
    const file = write('broken.yaml', `name: broken\nscript: ${ROOT}/lua/deduct.lua\nskus: {count: 0, stock: 10}\nrequests: 10\nload: {model: closed, connectoins: 4}\nthresholds: {latency.ok.p99: "< 5 parsecs"}\n`);
    const r = await runCli(['validate', file], { env: UNREACHABLE });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('sellout: 3 problem(s) in the scenario; nothing was run');
    expect(lines).toContain(`${file}: skus.count: expected a positive integer, got 0`);
    expect(lines.some((l) => l.startsWith(`${file}: load.connectoins: expected one of the keys`))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${file}: thresholds.latency.ok.p99: expected a condition on a duration`))).toBe(true);
    // run loads through the same path: the same lines, before it would touch the target.
    const run = await runCli(['run', file, '--redis', NOWHERE, '--out', join(tmp, 'never')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(r.stderr);
    expect(readdirSync(tmp)).not.toContain('never');
  });

  it('a missing script is exit 2 naming the path tried, from the scenario or from --script', async () => {
    const file = write('no-script.yaml', 'name: no-script\nscript: ./missing/deduct.lua\nskus: {count: 1, stock: 10}\nrequests: 10\n');
    const r = await runCli(['validate', file], { env: UNREACHABLE });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `${file}: script: expected a readable Lua file relative to the scenario file, got "./missing/deduct.lua" (tried ${join(tmp, 'missing', 'deduct.lua')}: no such file)\n` +
        'sellout: 1 problem(s) in the scenario; nothing was run\n',
    );
    const flag = await runCli(['validate', 'scenarios/smoke.yaml', '--script', 'nope/nothing.lua'], { env: UNREACHABLE });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe(
      `scenarios/smoke.yaml: script: expected a readable Lua file relative to the current directory, got "nope/nothing.lua" (tried ${join(ROOT, 'nope', 'nothing.lua')}: no such file) (from --script)\n` +
        'sellout: 1 problem(s) in the scenario; nothing was run\n',
    );
  });

  it('a scenario without script: is exit 2 in one line with the other mistakes, no stack trace, in validate and run alike', async () => {
    const file = write('unnamed.yaml', 'name: unnamed\nskus: {count: 0, stock: 10}\nrequests: 10\n');
    const expected =
      `${file}: script: expected the Lua script this scenario tests (a path relative to this file, or builtin:deduct), got nothing — name your script, or builtin:deduct\n` +
      `${file}: skus.count: expected a positive integer, got 0\n` +
      'sellout: 2 problem(s) in the scenario; nothing was run\n';
    for (const command of [['validate', file], ['run', file, '--redis', NOWHERE, '--out', join(tmp, 'never')], ['run', file, '--repeat', '3', '--redis', NOWHERE, '--out', join(tmp, 'never')]]) {
      const r = await runCli(command, { env: UNREACHABLE });
      expect(r.code, command.join(' ')).toBe(2);
      expect(r.stderr, command.join(' ')).toBe(expected);
      expect(r.stdout).toBe('');
    }
    expect(readdirSync(tmp)).not.toContain('never');
  });

  it('script: in a file is relative to that file only: not the current directory, not sellout\'s own copy', async () => {
    // The current directory (the project) has lua/deduct.lua, and so does sellout: neither stands in.
    const file = write('elsewhere.yaml', 'name: elsewhere\nscript: lua/deduct.lua\nskus: {count: 1, stock: 10}\nrequests: 10\n');
    const r = await runCli(['validate', file], { env: UNREACHABLE });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`${file}: script: expected a readable Lua file relative to the scenario file, got "lua/deduct.lua" (tried ${join(tmp, 'lua', 'deduct.lua')}: no such file)`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Once the file is where the scenario says, it is found (from any current directory).
    mkdirSync(join(tmp, 'lua'), { recursive: true });
    writeFileSync(join(tmp, 'lua', 'deduct.lua'), 'return 1\n');
    try {
      const found = await runCli(['validate', file], { env: UNREACHABLE });
      expect(found.code, found.stderr).toBe(0);
      expect(found.stdout).toContain(`, script ${join(tmp, 'lua', 'deduct.lua')} sha1 `);
      // --script from another directory: relative to where it was typed, not to the scenario file.
      const typed = await runCli(['validate', 'elsewhere.yaml', '--script', 'lua/deduct.lua'], { env: UNREACHABLE, cwd: tmp });
      expect(typed.code, typed.stderr).toBe(0);
      const fromSub = await runCli(['validate', '../elsewhere.yaml', '--script', 'deduct.lua'], { env: UNREACHABLE, cwd: join(tmp, 'lua') });
      expect(fromSub.code, fromSub.stderr).toBe(0);
      expect(fromSub.stdout).toContain(`script deduct.lua sha1 `);
      const notFromFile = await runCli(['validate', file, '--set', 'script=lua/deduct.lua'], { env: UNREACHABLE, cwd: join(tmp, 'lua') });
      expect(notFromFile.stderr.split('\n')[0]).toBe(`${file}: script: expected a readable Lua file relative to the current directory, got "lua/deduct.lua" (tried ${join(tmp, 'lua', 'lua', 'deduct.lua')}: no such file) (from --set)`);
    } finally {
      rmSync(join(tmp, 'lua'), { recursive: true, force: true });
    }
  });

  it('the bundled scripts are reachable by name, from the file, --set and --script; a misspelled one lists them', async () => {
    const file = write('builtin.yaml', 'name: builtin\nscript: builtin:seed-deduct\nskus: {count: 1, stock: 10}\nrequests: 10\n');
    const fromFile = await runCli(['validate', file], { env: UNREACHABLE, cwd: tmp });
    expect(fromFile.code, fromFile.stderr).toBe(0);
    // Shown by where it is (outside the current directory: absolute), never as if it were the team's lua/seed-deduct.lua.
    expect(fromFile.stdout).toContain(`script ${join(ROOT, 'lua', 'seed-deduct.lua')} sha1 `);
    for (const flags of [['--script', 'builtin:deduct'], ['--set', 'script=builtin:deduct']]) {
      const r = await runCli(['validate', file, ...flags], { env: UNREACHABLE, cwd: tmp });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`script ${join(ROOT, 'lua', 'deduct.lua')} sha1 `);
    }
    const typo = await runCli(['validate', file, '--script', 'builtin:seed-dedcut'], { env: UNREACHABLE });
    expect(typo.code).toBe(2);
    expect(typo.stderr.split('\n')[0]).toBe(`${file}: script: expected one of builtin:deduct, builtin:seed-deduct or a Lua file, got "builtin:seed-dedcut" (did you mean "builtin:seed-deduct"?) (from --script)`);
  });

  it('applies --set and --script as run does', async () => {
    const r = await runCli(['validate', 'scenarios/smoke.yaml', '--set', 'skus.count=7', '--set', 'requests=', '--set', 'duration=15s', '--script', 'lua/seed-deduct.lua'], { env: UNREACHABLE });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^scenarios\/smoke\.yaml: valid \(smoke, 7 SKUs, 15s, constant-rate .*, script lua\/seed-deduct\.lua sha1 [0-9a-f]{40}\)\n$/);
    const bad = await runCli(['validate', 'scenarios/smoke.yaml', '--set', 'load.connections=0'], { env: UNREACHABLE });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('scenarios/smoke.yaml: load.connections: expected a positive integer, got 0 (from --set)\nsellout: 1 problem(s) in the scenario; nothing was run\n');
    const malformed = await runCli(['validate', 'scenarios/smoke.yaml', '--set', 'nonsense'], { env: UNREACHABLE });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^sellout: --set: expected path=value/);
  });

  it('never touches Redis nor writes a report: quick with unreachable targets, and with no redis-server on PATH', async () => {
    const cwd = mkdtempSync(join(tmp, 'cwd-'));
    const scenario = join(ROOT, 'scenarios', 'smoke.yaml');
    const started = Date.now();
    const viaUrl = await runCli(['validate', scenario], { cwd, env: UNREACHABLE });
    // Without a URL, run would start the embedded redis-server from PATH: there is none here.
    const viaEmbedded = await runCli(['validate', scenario], { cwd, env: { PATH: join(tmp, 'empty-path') } });
    const elapsed = Date.now() - started;
    for (const r of [viaUrl, viaEmbedded]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(': valid (smoke, ');
    }
    // Two node start-ups; a connection attempt to a closed port, or a 5 s answer timeout, would show.
    expect(elapsed).toBeLessThan(10_000);
    expect(readdirSync(cwd)).toEqual([]); // no reports/ directory
  });
});
