import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ScenarioError, UsageError } from '../../src/errors.js';
import { applyOverrides, loadScenario, parseOverride, parseScenario } from '../../src/scenario/load.js';
import { scenarioParser } from '../helpers/scenario.js';
import { parseDurationMs } from '../../src/duration.js';

const dir = mkdtempSync(join(tmpdir(), 'sellout-scenario-'));
writeFileSync(join(dir, 'mine.lua'), 'return 1');
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const { parse, problems } = scenarioParser(dir);

const minimal = 'name: t\nscript: builtin:deduct\nskus: {stock: 10}\nrequests: 5\n';

describe('scenario loading', () => {
  it('applies defaults', () => {
    const s = parse(minimal);
    expect(s.skus).toEqual({ count: 1, stock: 10, selection: { type: 'uniform' } });
    expect(s.quantity).toEqual([{ quantity: 1, weight: 1 }]);
    expect(s.load).toEqual({ model: 'closed', connections: 10, inFlight: 1 });
    expect(s.duplicates).toEqual({ ratio: 0, pattern: 'sequential' });
    expect(s.seed).toBe(1);
    expect(s.timeoutMs).toBe(5000);
    expect(s.scriptPath).toMatch(/lua[/\\]deduct\.lua$/);
    expect(s.asRun).toContain('name: t');
  });

  it('parses selection shorthands, quantity weights and durations', () => {
    const s = parse('name: t\nscript: builtin:deduct\nskus: {stock: 10, count: 3, selection: zipf}\nquantity: {2: 1, 1: 3}\nduration: 1m30s\n');
    expect(s.skus.selection).toEqual({ type: 'zipf', exponent: 1 });
    expect(s.quantity).toEqual([{ quantity: 1, weight: 3 }, { quantity: 2, weight: 1 }]);
    expect(s.duration).toBe(90_000);
    expect(parse('name: t\nscript: builtin:deduct\nskus: {stock: 1, selection: {type: hot, share: 0.5}}\nrequests: 1\n').skus.selection).toEqual({ type: 'hot', share: 0.5 });
  });

  it('reports every mistake at once, one line each, naming file, path, expectation and value', () => {
    const lines = problems(
      'name: "a b"\nskus: {count: 0, stock: -1, colour: red}\nquantity: {x: 1}\nload: {connections: many}\nduplicates: {ratio: 2}\n',
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^test\.yaml: name: expected a name of letters.*got "a b"$/),
        expect.stringMatching(/^test\.yaml: skus\.count: expected a positive integer, got 0$/),
        expect.stringMatching(/^test\.yaml: skus\.stock: expected an integer stock >= 0, got -1$/),
        expect.stringMatching(/^test\.yaml: skus\.colour: expected one of the keys count, stock, selection, got unknown key "colour"$/),
        expect.stringMatching(/^test\.yaml: quantity\.x: expected a quantity that is a positive integer up to 4294967295, got "x"$/),
        expect.stringMatching(/^test\.yaml: load\.connections: expected a positive integer, got "many"$/),
        expect.stringMatching(/^test\.yaml: duplicates\.ratio: expected a ratio between 0 and 1, got 2$/),
        expect.stringMatching(/^test\.yaml: requests: expected exactly one of `requests`.*got neither$/),
        expect.stringMatching(/^test\.yaml: script: expected the Lua script this scenario tests .*, got nothing — name your script, or builtin:deduct$/),
      ]),
    );
    for (const line of lines) expect(line.split('\n')).toHaveLength(1);
  });

  it('rejects unknown top-level keys and both requests and duration', () => {
    expect(problems(`${minimal}duratoin: 5s\n`)).toEqual([expect.stringMatching(/^test\.yaml: duratoin: expected one of the keys name, .*got unknown key "duratoin" \(did you mean "duration"\?\)$/)]);
    expect(problems(`${minimal}duration: 5s\n`)).toEqual([expect.stringMatching(/requests: expected exactly one .* got both$/)]);
    expect(problems('name: t\nscript: builtin:deduct\nskus: {stock: 1}\nduration: 5\n')).toEqual([expect.stringMatching(/duration: expected a duration with a unit, like "30s" or "500ms", got 5$/)]);
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(problems('name: t\nscript: builtin:deduct\nskus: {stock: 1\n')[0]).toMatch(/^test\.yaml:\d+:\d+: expected valid YAML, got /);
    expect(problems('- a\n- b\n')).toEqual(['test.yaml: (top level): expected a mapping of scenario keys, got a list ["a","b"]']);
  });

  it('--set overrides any key with a YAML value, validated the same way and marked as such', () => {
    const s = parse(minimal, ['load.connections=3', 'duplicates={ratio: 0.5, pattern: concurrent}', 'skus.selection=hot']);
    expect(s.load.connections).toBe(3);
    expect(s.duplicates).toEqual({ ratio: 0.5, pattern: 'concurrent' });
    expect(s.skus.selection).toEqual({ type: 'hot', share: 0.9 });
    expect(problems(minimal, ['load.connections=abc'])).toEqual(['test.yaml: load.connections: expected a positive integer, got "abc" (from --set)']);
    expect(problems(minimal, ['quantity=5000000000'])).toEqual([expect.stringMatching(/^test\.yaml: quantity: expected a positive integer or weights.*got 5000000000 \(from --set\)$/)]);
    expect(problems(minimal, ['quantity={1: -1}'])).toEqual(['test.yaml: quantity.1: expected a weight > 0, got -1 (from --set)']);
    expect(problems(minimal, ['quantity=0'])).toEqual([expect.stringMatching(/^test\.yaml: quantity: expected a positive integer or weights.*got 0 \(from --set\)$/)]);
    expect(parse('name: t\nscript: builtin:deduct\nskus: {stock: 10}\nrequests: 5\n', ['requests=', 'duration=2s']).duration).toBe(2000);
    expect(parse(minimal, ['requests=~', 'duration=1s']).requests).toBeUndefined();
    expect(() => parseOverride('__proto__.x=1')).toThrow(/__proto__ is not a scenario key/);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    expect(() => parseOverride('noequals')).toThrow(UsageError);
    expect(() => parseOverride('=3')).toThrow(/--set: expected path=value/);
  });

  it('a misspelled key or value names the closest one; `selection: zipff` is shown as written, not as a mapping', () => {
    expect(problems('name: t\nscript: builtin:deduct\nskus: {stock: 10, selection: zipff}\nrequsts: 5\nload: {conections: 2}\n')).toEqual([
      'test.yaml: skus.selection.type: expected one of uniform, zipf, hot (or {type: zipf, exponent: 1.1} / {type: hot, share: 0.9}), got "zipff" (did you mean "zipf"?)',
      expect.stringMatching(/^test\.yaml: load\.conections: expected one of the keys model, connections, .*, got unknown key "conections" \(did you mean "connections"\?\)$/),
      expect.stringMatching(/^test\.yaml: requsts: expected one of the keys name, .*, got unknown key "requsts" \(did you mean "requests"\?\)$/),
      expect.stringMatching(/^test\.yaml: requests: expected exactly one of/),
    ]);
    expect(problems(minimal, ['load.model=closd'])).toEqual(['test.yaml: load.model: expected one of closed, constant-rate, ramping-rate, got "closd" (did you mean "closed"?) (from --set)']);
    // Nothing close: no guess.
    expect(problems(minimal, ['zzzzzz=1'])[0]).toMatch(/got unknown key "zzzzzz" \(from --set\)$/);
  });

  it('--set walks into a list by index (faults.0.mode=unsafe) and leaves the rest of the list alone', () => {
    const raw = { faults: [{ at: '2s', action: 'failover', mode: 'safe' }, { at: '4s', action: 'script-flush' }], load: { connections: 2 } };
    const out = applyOverrides(raw, ['faults.0.mode=unsafe', 'load.connections=3'].map(parseOverride));
    expect(out).toEqual({ faults: [{ at: '2s', action: 'failover', mode: 'unsafe' }, { at: '4s', action: 'script-flush' }], load: { connections: 3 } });
    expect(raw.faults[0]!.mode).toBe('safe');
    // A name, not an index, into a list makes a mapping there, which the schema then rejects by name.
    expect(applyOverrides(raw, [parseOverride('faults.mode=x')])['faults']).toEqual({ mode: 'x' });
  });

  it('names the bundled scripts explicitly (builtin:deduct, builtin:seed-deduct); a misspelled name says which exist', () => {
    expect(parse(minimal, ['script=builtin:deduct']).scriptPath).toMatch(/lua[/\\]deduct\.lua$/);
    expect(parse(minimal, ['script=builtin:seed-deduct']).scriptPath).toMatch(/lua[/\\]seed-deduct\.lua$/);
    expect(parse(minimal, ['script=builtin:seed-deduct']).scriptSource).toContain('increase');
    expect(problems(minimal, ['script=builtin:dedcut'])).toEqual(['test.yaml: script: expected one of builtin:deduct, builtin:seed-deduct or a Lua file, got "builtin:dedcut" (did you mean "builtin:deduct"?) (from --set)']);
  });

  it('requires the script: a scenario without one is one line, reported with every other mistake', () => {
    const bare = 'name: t\nskus: {stock: 10}\nrequests: 5\n';
    const missing = 'test.yaml: script: expected the Lua script this scenario tests (a path relative to this file, or builtin:deduct), got nothing — name your script, or builtin:deduct';
    expect(problems(bare)).toEqual([missing]);
    // Removed by --set: the same line, marked as such.
    expect(problems(minimal, ['script='])).toEqual([`${missing} (from --set)`]);
    expect(problems('name: t\nskus: {stock: -1}\n')).toEqual([
      missing,
      'test.yaml: skus.stock: expected an integer stock >= 0, got -1',
      'test.yaml: requests: expected exactly one of `requests` (a count) or `duration` (like "10s"), got neither',
    ]);
    // Even the checks zod runs only on an otherwise valid scenario (a duplicates pattern against the load).
    expect(problems('name: t\nskus: {stock: 10}\nrequests: 5\nload: {connections: 1}\nduplicates: {pattern: cross-worker}\n')).toEqual([
      missing,
      'test.yaml: load.connections: expected at least 2 connections with duplicates pattern cross-worker, got 1',
    ]);
    expect(problems(`${minimal}script: ""\n`.replace('script: builtin:deduct\n', ''))).toEqual(['test.yaml: script: expected a path to a Lua script (relative to this file) or builtin:deduct, got ""']);
  });

  it('resolves a script: in the file relative to the scenario file only, never the current directory or sellout\'s own', () => {
    const bare = 'name: t\nskus: {stock: 10}\nrequests: 5\n';
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    const ROOT = fileURLToPath(new URL('../..', import.meta.url));
    // A scenario in sub/ and the current directory elsewhere (the project, which has lua/deduct.lua).
    const inSub = (yaml: string, overrides: string[] = [], cwd = ROOT) => parseScenario(yaml, join(sub, 'sale.yaml'), { cwd, overrides: overrides.map(parseOverride) });
    const problemsInSub = (yaml: string, overrides: string[] = [], cwd = ROOT): string[] => {
      try {
        inSub(yaml, overrides, cwd);
      } catch (err) {
        if (err instanceof ScenarioError) return [...err.problems];
        throw err;
      }
      throw new Error('expected a ScenarioError');
    };
    expect(inSub(`${bare}script: ../mine.lua\n`).scriptPath).toBe(join(dir, 'mine.lua'));
    expect(inSub(`${bare}script: ${join(dir, 'mine.lua')}\n`).scriptPath).toBe(join(dir, 'mine.lua'));
    // The current directory has lua/deduct.lua, and sellout has its own: neither stands in for the missing file.
    expect(problemsInSub(`${bare}script: lua/deduct.lua\n`)).toEqual([
      `${join(sub, 'sale.yaml')}: script: expected a readable Lua file relative to the scenario file, got "lua/deduct.lua" (tried ${join(sub, 'lua', 'deduct.lua')}: no such file)`,
    ]);
    expect(problemsInSub(`${bare}script: mine.lua\n`, [], dir)).toEqual([
      `sub/sale.yaml: script: expected a readable Lua file relative to the scenario file, got "mine.lua" (tried ${join(sub, 'mine.lua')}: no such file)`,
    ]);
    expect(problemsInSub(`${bare}script: ..\n`, [], dir)).toEqual([`sub/sale.yaml: script: expected a readable Lua file relative to the scenario file, got ".." (tried ${dir}: a directory)`]);
    expect(problemsInSub(`${bare}script: ${join(dir, 'nope.lua')}\n`, [], dir)).toEqual([
      `sub/sale.yaml: script: expected a readable Lua file, got ${JSON.stringify(join(dir, 'nope.lua'))} (tried ${join(dir, 'nope.lua')}: no such file)`,
    ]);
    expect(inSub(`${bare}script: builtin:seed-deduct\n`).scriptPath).toBe(join(ROOT, 'lua', 'seed-deduct.lua'));
  });

  it('resolves a script from --set relative to the current directory (where it was typed), not the scenario file', () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    const inSub = (overrides: string[]) => parseScenario(minimal, join(sub, 'sale.yaml'), { cwd: dir, overrides: overrides.map(parseOverride) });
    const typed = inSub(['script=mine.lua']);
    expect(typed.scriptPath).toBe(join(dir, 'mine.lua'));
    // The scenario as run names it as the scenario file would (relative to that file), so it loads again as it ran.
    expect(parseScenario(typed.asRun, join(sub, 'sale.yaml'), { cwd: sub }).scriptPath).toBe(join(dir, 'mine.lua'));
    expect(inSub(['script=builtin:deduct']).scriptPath).toMatch(/lua[/\\]deduct\.lua$/);
    let error: unknown;
    try { inSub(['script=lua/deduct.lua']); } catch (err) { error = err; }
    expect((error as ScenarioError).problems).toEqual([
      `sub/sale.yaml: script: expected a readable Lua file relative to the current directory, got "lua/deduct.lua" (tried ${join(dir, 'lua', 'deduct.lua')}: no such file) (from --set)`,
    ]);
    // --script is --set script=…, named as such.
    try { parseScenario(minimal, join(sub, 'sale.yaml'), { cwd: dir, overrides: [{ ...parseOverride('script=nope.lua'), flag: '--script' }] }); } catch (err) { error = err; }
    expect((error as ScenarioError).problems).toEqual([
      `sub/sale.yaml: script: expected a readable Lua file relative to the current directory, got "nope.lua" (tried ${join(dir, 'nope.lua')}: no such file) (from --script)`,
    ]);
    expect(problems(minimal, ['load=5'])).toEqual(['test.yaml: load: expected a mapping, got 5 (from --set)']);
  });

  it('a missing scenario file is a usage error', () => {
    expect(() => loadScenario(join(dir, 'missing.yaml'))).toThrow(/cannot read scenario file \(no such file\)/);
  });

  it('parses durations with units', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('1h')).toBe(3_600_000);
    expect(parseDurationMs('10')).toBeUndefined();
    expect(parseDurationMs('s')).toBeUndefined();
  });

  it('the README\'s scenario example validates', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /## Scenarios\n+```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    // As if saved next to the shipped scenarios, where its relative script path points.
    const s = parseScenario(example!, new URL('../../scenarios/readme.yaml', import.meta.url).pathname);
    expect(s.name).toBe('smoke');
    expect(s.thresholds).toEqual({ 'latency.ok.p99': '< 5ms', 'outcomes.error': '== 0' });
  });

  it('ships scenarios that validate', async () => {
    for (const name of ['smoke', 'hot-sku', 'many-skus', 'retry-storm']) {
      const s = loadScenario(new URL(`../../scenarios/${name}.yaml`, import.meta.url).pathname);
      expect(s.name).toBe(name);
    }
  });
});

describe('key templates, preflight and the cluster section', () => {
  it('default to the namespaced, hash-tagged keys, preflight on, no cluster section; the scenario as run shows them', () => {
    const s = parse(minimal);
    expect(s.keys).toEqual({ stock: 'sellout:<run>:inv:{<sku>}', journal: 'sellout:<run>:journal:{<sku>}' });
    expect(s.preflight).toBe(true);
    expect(s.cluster).toBeUndefined();
    expect(s.asRun).toContain('keys:\n  stock: sellout:<run>:inv:{<sku>}\n  journal: sellout:<run>:journal:{<sku>}\npreflight: true\n');
    // What asRun says loads again as it ran.
    expect(parse(s.asRun).keys).toEqual(s.keys);
  });

  it('take a team\'s own naming, preflight and shards, from the file or from --set', () => {
    const s = parse(`${minimal}keys: {stock: "shop:{<sku>}:stock", journal: "shop:{<sku>}:journal"}\ncluster: {shards: 5}\n`);
    expect(s.keys).toEqual({ stock: 'shop:{<sku>}:stock', journal: 'shop:{<sku>}:journal' });
    expect(s.cluster).toEqual({ shards: 5 });
    expect(parse(minimal, ['cluster={}']).cluster).toEqual({ shards: 3 });
    const o = parse(minimal, ['preflight=false', 'keys.stock=clc:inventory:<sku>', 'keys.journal=clc:inventory:stream:<sku>']);
    expect(o.preflight).toBe(false);
    expect(o.keys).toEqual({ stock: 'clc:inventory:<sku>', journal: 'clc:inventory:stream:<sku>' });
    expect(o.asRun).toContain('keys:\n  stock: clc:inventory:<sku>\n  journal: clc:inventory:stream:<sku>\npreflight: false\n');
    // Only one template given: the other keeps its default.
    expect(parse(minimal, ['keys.journal=j:{<sku>}']).keys).toEqual({ stock: 'sellout:<run>:inv:{<sku>}', journal: 'j:{<sku>}' });
  });

  it('a template without <sku> is one line naming the file, the field, what was expected and what was found', () => {
    expect(problems(`${minimal}keys: {stock: "clc:inventory"}\n`)).toEqual([
      'test.yaml: keys.stock: expected a key template with <sku> in it, like "shop:{<sku>}:stock" (<run> is the run ID), got "clc:inventory"',
    ]);
    expect(problems(minimal, ['keys.journal=sellout:<run>:journal'])).toEqual([
      'test.yaml: keys.journal: expected a key template with <sku> in it, like "shop:{<sku>}:stock" (<run> is the run ID), got "sellout:<run>:journal" (from --set)',
    ]);
    expect(problems(minimal, ['keys.stock=""'])).toEqual([expect.stringMatching(/^test\.yaml: keys\.stock: expected a key template with <sku> in it.*, got "" \(from --set\)$/)]);
    expect(problems(`${minimal}keys: {stock: 7}\n`)).toEqual([expect.stringMatching(/^test\.yaml: keys\.stock: expected a key template with <sku> in it.*, got 7$/)]);
  });

  it('an unknown placeholder is named, even next to <sku>', () => {
    expect(problems(`${minimal}keys: {stock: "clc:<sk>"}\n`)).toEqual(['test.yaml: keys.stock: expected only the placeholders <run> and <sku>, not <sk>, got "clc:<sk>"']);
    expect(problems(`${minimal}keys: {journal: "<SKU>:<sku>:<runid>"}\n`)).toEqual(['test.yaml: keys.journal: expected only the placeholders <run> and <sku>, not <SKU>, <runid>, got "<SKU>:<sku>:<runid>"']);
  });

  it('the stock and journal templates must differ', () => {
    expect(problems(`${minimal}keys: {stock: "k:{<sku>}", journal: "k:{<sku>}"}\n`)).toEqual([
      'test.yaml: keys.journal: expected a template other than keys.stock (the stock and the journal are two keys), got "k:{<sku>}"',
    ]);
    expect(problems(minimal, ['keys.stock=sellout:<run>:journal:{<sku>}'])).toEqual([
      expect.stringMatching(/^test\.yaml: keys\.journal: expected a template other than keys\.stock .*got "sellout:<run>:journal:\{<sku>\}"$/),
    ]);
  });

  it('rejects an unknown key, a preflight that is not a boolean and shards out of 1..16, each on its line', () => {
    expect(problems(`${minimal}keys: {stok: "a:<sku>"}\npreflight: "no"\ncluster: {shards: 17, nodes: 3}\n`)).toEqual(expect.arrayContaining([
      'test.yaml: keys.stok: expected one of the keys stock, journal, got unknown key "stok" (did you mean "stock"?)',
      'test.yaml: preflight: expected true or false, got "no"',
      'test.yaml: cluster.shards: expected a number of shards from 1 to 16, got 17',
      'test.yaml: cluster.nodes: expected one of the keys shards, got unknown key "nodes"',
    ]));
    expect(problems(minimal, ['cluster.shards=0'])).toEqual(['test.yaml: cluster.shards: expected a number of shards from 1 to 16, got 0 (from --set)']);
  });
});
