/**
 * DESIGN.md §3: dependencies point down the layers (cli -> run/capacity/agents -> load, verify,
 * report -> summary, metrics, scenario, redis -> errors), and a module never imports a type from a
 * module that consumes it. This reads every import in src/ (type-only ones included) and fails on
 * one that points up. Modules of one layer may import each other.
 *
 * The middle of DESIGN's list is refined by what the code needs: the scenario checks its
 * thresholds (scenario -> thresholds); thresholds, metrics, redis and the engine fill summary.json's
 * types (-> summary), so summary sits under them and imports none of them; the small shared
 * modules (outcomes, keys, the duration grammar, typed arrays, number formats) sit under everything but errors.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Top layer first. A directory of src/ or a file at its top names its layer. */
const LAYERS: readonly (readonly string[])[] = [
  ['cli'],
  ['index.ts', 'run.ts', 'http-mode.ts', 'capacity', 'agents', 'audit', 'faults'],
  ['load', 'verify', 'report', 'compare', 'serve'],
  ['scenario', 'version.ts'],
  ['thresholds'],
  ['metrics', 'redis'],
  ['summary'],
  ['outcomes.ts', 'keys.ts', 'duration.ts', 'typed-arrays.ts', 'numbers.ts'],
  ['errors.ts'],
];

function layerOf(file: string): number {
  const top = relative(SRC, file).split('/')[0]!;
  const layer = LAYERS.findIndex((names) => names.includes(top));
  if (layer < 0) throw new Error(`src/${relative(SRC, file)}: not in any layer of layout.test.ts: give it one (DESIGN.md §3)`);
  return layer;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? sources(path) : e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports and re-exports of a file (static, type-only and dynamic), resolved to .ts paths in src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gms),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

/** Imports that point up the layers, as `from -> to (layer a above layer b)` lines. */
export function upwardImports(): string[] {
  const problems: string[] = [];
  for (const file of sources(SRC)) {
    const from = layerOf(file);
    for (const target of importsOf(file)) {
      const to = layerOf(target);
      if (to < from) {
        problems.push(`src/${relative(SRC, file)} imports src/${relative(SRC, target)}: ${LAYERS[to]!.join('/')} is a layer above ${LAYERS[from]!.join('/')}`);
      }
    }
  }
  return problems;
}

describe('layout (DESIGN.md §3)', () => {
  it('finds the imports it checks', () => {
    // A parser that found nothing would pass every layout.
    const run = importsOf(join(SRC, 'run.ts')).map((p) => relative(SRC, p));
    expect(run).toEqual(expect.arrayContaining(['load/coordinator.ts', 'summary/summary.ts', 'verify/invariants.ts']));
    expect(importsOf(join(SRC, 'redis/index.ts')).map((p) => relative(SRC, p))).toContain('summary/summary.ts');
  });

  it('no module imports from a layer above its own', () => {
    expect(upwardImports()).toEqual([]);
  });

  it('summary/ imports none of its consumers, and the scenario does not load the engine', () => {
    const importers = (dir: string) => sources(join(SRC, dir)).flatMap((f) => importsOf(f).map((t) => relative(SRC, t).split('/')[0]!));
    const consumers = ['report', 'thresholds', 'compare', 'verify', 'redis', 'load', 'metrics', 'run.ts', 'cli'];
    expect(importers('summary').filter((top) => consumers.includes(top))).toEqual([]);
    expect(importers('scenario').filter((top) => top === 'load')).toEqual([]);
  });
});
