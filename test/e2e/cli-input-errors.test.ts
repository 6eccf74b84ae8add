/**
 * Inputs that used to crash sellout with exit 70 and a stack trace, or were swallowed whole
 * (review defects 16a, 16c, 19b): each is now exit 2 with one line saying what was expected and
 * what was found, before anything runs. `--redis` points at a closed port: if a check came too
 * late the run would get as far as connecting and exit 3 instead. `--out` stays inside the test's
 * temporary directory, so even a run that got too far leaves nothing in reports/.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

const NOWHERE = 'redis://127.0.0.1:1';
const MIB = 1024 * 1024;
let tmp: string;

beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'sellout-input-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

function write(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

function expectNoCrash(r: { code: number | null; stderr: string }) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
}

const scenario = (extra = '') => `name: input\nscript: ${ROOT}/lua/deduct.lua\nskus: {count: 1, stock: 10}\nrequests: 10\n${extra}`;

describe('a malformed percent-encoding in the password', () => {
  it('is one line, exit 2, never quoting the password, from --redis or from the environment', async () => {
    const out = join(tmp, 'never-created');
    const flag = await runCli(['run', 'scenarios/smoke.yaml', '--redis', 'redis://u:%zzHunter2@127.0.0.1:6379', '--out', out]);
    expectNoCrash(flag);
    expect(flag.stderr).toBe('sellout: --redis: expected a percent-encoded password (% followed by two hex digits, like %40 for @), got a malformed % escape in the password (not shown)\n');
    const env = await runCli(['run', 'scenarios/smoke.yaml', '--out', out], { env: { SELLOUT_REDIS_URL: 'redis://u:%zzHunter2@127.0.0.1:6379' } });
    expectNoCrash(env);
    expect(env.stderr).toMatch(/^sellout: SELLOUT_REDIS_URL: expected a percent-encoded password .*\(not shown\)\n$/);
    for (const r of [flag, env]) expect(r.stdout + r.stderr).not.toMatch(/Hunter2|%zz/);
    expect(readdirSync(tmp)).not.toContain('never-created'); // checked before --out was created
  });
});

describe('a billion-laughs YAML', () => {
  // Seven levels of nine: 9^7 = 4.8 million strings from a 300-byte document.
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  const nodes = names.map((name, i) => `&${name} [${Array(9).fill(i === 0 ? 'lol' : `*${names[i - 1]}`).join(', ')}]`);
  const laughs = names.map((name, i) => `${name}: ${nodes[i]}`).join('\n');

  it('in a scenario file is one problem line, exit 2', async () => {
    const file = write('laughs.yaml', `${scenario()}${laughs}\n`);
    const r = await runCli(['run', file, '--redis', NOWHERE, '--out', join(tmp, 'out')]);
    expectNoCrash(r);
    expect(r.stderr).toBe(
      `${file}: expected valid YAML, got aliases (*name) that expand to too much data (the YAML parser stops a "billion laughs" document: Excessive alias count)\n` +
        'sellout: 1 problem(s) in the scenario; nothing was run\n',
    );
  });

  it('in a --set value is one line, exit 2, quoting only the start of the value', async () => {
    const value = `[${nodes.join(', ')}]`;
    const r = await runCli(['run', write('ok.yaml', scenario()), '--redis', NOWHERE, '--out', join(tmp, 'out'), '--set', `description=${value}`]);
    expectNoCrash(r);
    expect(r.stderr).toMatch(/^sellout: --set description: expected a YAML value, got "\[&a \[.{0,60}… \(aliases \(\*name\) that expand to too much data .*\)\n$/);
  });
});

describe('oversized files', () => {
  it('a scenario file over 1 MiB is one line naming the file, the limit and the size, exit 2', async () => {
    // Valid YAML: the padding is a comment, so before the cap this loaded and ran.
    const file = write('big.yaml', `${scenario()}#${'x'.repeat(MIB)}\n`);
    const size = Buffer.byteLength(`${scenario()}#${'x'.repeat(MIB)}\n`);
    const r = await runCli(['run', file, '--redis', NOWHERE, '--out', join(tmp, 'out')]);
    expectNoCrash(r);
    expect(r.stderr).toBe(`sellout: ${file}: expected a scenario file of at most 1 MiB, got 1.0 MiB (${size.toLocaleString('en-US')} bytes)\n`);
    const huge = write('huge.yaml', `${scenario()}#${'x'.repeat(50 * MIB - scenario().length - 2)}\n`);
    const r50 = await runCli(['run', huge, '--redis', NOWHERE, '--out', join(tmp, 'out')]);
    expectNoCrash(r50);
    expect(r50.stderr).toBe(`sellout: ${huge}: expected a scenario file of at most 1 MiB, got 50 MiB\n`);
    rmSync(huge);
  });

  it('a script over 1 MiB is one line naming the scenario, the script, the limit and the size, exit 2', async () => {
    const lua = `-- ${'x'.repeat(MIB)}\nreturn 1\n`;
    const script = write('big.lua', lua);
    const r = await runCli(['run', write('ok.yaml', scenario()), '--script', script, '--redis', NOWHERE, '--out', join(tmp, 'out')]);
    expectNoCrash(r);
    expect(r.stderr).toBe(`sellout: ${join(tmp, 'ok.yaml')}: script: expected a Lua file of at most 1 MiB, got ${script} of 1.0 MiB (${Buffer.byteLength(lua).toLocaleString('en-US')} bytes)\n`);
  });

  it('files at the limit still load (the cap is not off by one)', async () => {
    const head = scenario();
    const file = write('at-limit.yaml', `${head}#${'x'.repeat(MIB - Buffer.byteLength(head) - 2)}\n`);
    const r = await runCli(['run', file, '--redis', NOWHERE, '--out', join(tmp, 'out')]);
    expect(r.code, r.stderr).toBe(3); // loaded, then Redis is unreachable
    expect(r.stderr).toMatch(/^sellout: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
  });
});
