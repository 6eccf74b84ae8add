/**
 * sellout as a team gets it: the packed tarball (`npm pack`, what a registry would serve) installed
 * as a devDependency of an empty project, without optional dependencies (no native install
 * scripts), running a sale with a scenario and a script that live in that project.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ROOT, cliEnv } from '../helpers/cli.js';

let dir: string;
let project: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sellout-packed-'));
  project = join(dir, 'shop');
  mkdirSync(join(project, 'lua'), { recursive: true });
});
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

it('installs from the packed tarball into another project and runs a sale with that project\'s scenario and script', () => {
  const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, env: cliEnv({ npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // `npm test` has just built dist/; packing must not rebuild it (prepare) under the other test files' feet.
  const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT)) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  // The compiled CLI and the worker are in it; the sources of tests and benches are not.
  expect(files).toEqual(expect.arrayContaining(['bin/sellout.js', 'dist/src/cli/main.js', 'dist/src/load/worker.js', 'lua/deduct.lua', 'scenarios/smoke.yaml']));
  expect(files.filter((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('dist/bench/') || f.startsWith('src/'))).toEqual([]);

  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'shop', private: true, devDependencies: { sellout: `file:${join(dir, packed[0]!.filename)}` } }, null, 2));
  npm(['install', '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund'], project);
  expect(existsSync(join(project, 'node_modules', '.bin', 'sellout'))).toBe(true);
  // No dev-only or optional package came with it.
  const installed = readdirSync(join(project, 'node_modules'));
  for (const name of ['typescript', 'vitest', 'playwright-core', 'testcontainers']) expect(installed).not.toContain(name);

  // The team's own script (not sellout's bundled one: its SHA-1 differs) next to its scenario.
  const script = `-- shop's deduction script\n${readFileSync(join(ROOT, 'lua', 'deduct.lua'), 'utf8')}`;
  writeFileSync(join(project, 'lua', 'stock.lua'), script);
  writeFileSync(join(project, 'sale.yaml'), 'name: shop-sale\nscript: lua/stock.lua\nskus: {count: 3, stock: 50}\nrequests: 600\nload: {connections: 2, inFlight: 2}\nduplicates: {ratio: 0.1}\n');
  const r = spawnSync(join(project, 'node_modules', '.bin', 'sellout'), ['run', 'sale.yaml', '--out', 'reports/first'], { cwd: project, env: cliEnv(), encoding: 'utf8', timeout: 90_000 });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toMatch(/sellout shop-sale: PASS/);
  const summary = JSON.parse(readFileSync(join(project, 'reports', 'first', 'summary.json'), 'utf8'));
  expect(summary.scenario.script).toBe(join('lua', 'stock.lua'));
  expect(summary.scenario.scriptSha).toBe(createHash('sha1').update(script).digest('hex'));
  expect(summary.outcomes.ok).toBe(150);

  // Split over 2 agent processes: the installed CLI starts the installed CLI as its agents, and they
  // run the team's script as prepare stored it.
  const agents = spawnSync(join(project, 'node_modules', '.bin', 'sellout'), ['run', 'sale.yaml', '--agents', '2', '--out', 'reports/agents'], { cwd: project, env: cliEnv(), encoding: 'utf8', timeout: 90_000 });
  expect(agents.status, agents.stdout + agents.stderr).toBe(0);
  const split = JSON.parse(readFileSync(join(project, 'reports', 'agents', 'summary.json'), 'utf8'));
  expect(split.agents.map((a: { requests: number }) => a.requests)).toEqual([300, 300]);
  expect(split.scenario.scriptSha).toBe(summary.scenario.scriptSha);
  expect(split.outcomes.ok).toBe(150);
}, 180_000);
