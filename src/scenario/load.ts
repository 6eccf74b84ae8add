/**
 * Reads a scenario file, applies `--set path=value` overrides, validates it and resolves the
 * script. Every problem is collected and thrown at once as a ScenarioError, one line each:
 * `file: path: expected …, got …`.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { z } from 'zod';
import { ScenarioError, UsageError } from '../errors.js';
import { didYouMean, faultScheduleIssues, formatMs } from './faults.js';
import { SCRIPT_REQUIRED, scenarioSchema, type ScenarioConfig } from './schema.js';

export interface Scenario extends ScenarioConfig {
  /** Absolute path of the scenario file. */
  readonly file: string;
  /** Absolute path of the Lua script the run loads. */
  readonly scriptPath: string;
  readonly scriptSource: string;
  /** The scenario as it runs (overrides and defaults applied), as YAML, for reports. */
  readonly asRun: string;
}

export interface Override {
  readonly path: string[];
  readonly value: unknown;
  readonly text: string;
  /** The flag it came from, for messages: `--set` unless said (`--script PATH` is `script=PATH`). */
  readonly flag?: string;
}

/**
 * The sellout package root, where the bundled scripts (builtin:deduct, builtin:seed-deduct) are:
 * the nearest directory above this file with sellout's package.json, whether this runs from
 * dist/src/ (built) or src/ (tests).
 */
export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(resolve(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'sellout') return dir;
    } catch {
      // no package.json here: keep walking up
    }
    if (dirname(dir) === dir) return resolve(from, '..', '..');
  }
}

/**
 * Size caps: a scenario is a page of YAML and a deduction script a page of Lua. A bigger file is a
 * mistake (a log or a dump named by accident) that would otherwise be copied into every report
 * (summary.json keeps the scenario as run, report.html embeds it).
 */
export const MAX_SCENARIO_BYTES = 1024 * 1024;
export const MAX_SCRIPT_BYTES = 1024 * 1024;

/** `1 MiB`, `50 MiB`, `1.0 MiB (1,048,577 bytes)`. */
export function formatBytes(bytes: number): string {
  const exact = `${bytes.toLocaleString('en-US')} bytes`;
  if (bytes < 1024) return exact;
  const [value, unit] = bytes < 1024 * 1024 ? [bytes / 1024, 'KiB'] : [bytes / 1024 / 1024, 'MiB'];
  // Exact bytes too when the rounded figure hides them (1 MiB + 1 byte is over a 1 MiB limit).
  return Number.isInteger(value) ? `${value} ${unit}` : `${value.toFixed(1)} ${unit} (${exact})`;
}

/**
 * Reads at most `limit` bytes of a file: { text }, or { size } of a file over the limit (its size,
 * or undefined for a device or pipe that gave more than the limit: never read to its end).
 * File system errors are thrown as they come.
 */
export function readCapped(path: string, limit: number): { text: string } | { size: number | undefined } {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > limit) return { size: stat.size };
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    // A file that grew since fstat: still over the limit.
    if (length > limit) return { size: stat.isFile() ? Math.max(stat.size, length) : undefined };
    return { text: buffer.subarray(0, length).toString('utf8') };
  } finally {
    closeSync(fd);
  }
}

/** What a YAML parser error says, on one line. */
function yamlReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/Excessive alias count/i.test(message)) {
    return 'aliases (*name) that expand to too much data (the YAML parser stops a "billion laughs" document: Excessive alias count)';
  }
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** Parses one `--set path=value` (value as YAML, so `--set load.connections=8` is a number). */
export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  const path = eq > 0 ? text.slice(0, eq).trim() : '';
  if (eq <= 0 || !/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(path)) {
    throw new UsageError(`--set: expected path=value (like load.connections=8), got ${JSON.stringify(text)}`);
  }
  const unsafe = path.split('.').find((key) => key === '__proto__' || key === 'constructor' || key === 'prototype');
  if (unsafe !== undefined) throw new UsageError(`--set: expected a scenario key path, got ${JSON.stringify(path)} (${unsafe} is not a scenario key)`);
  let value: unknown;
  try {
    value = YAML.parse(text.slice(eq + 1));
  } catch (err) {
    throw new UsageError(`--set ${path}: expected a YAML value, got ${truncate(JSON.stringify(text.slice(eq + 1)))} (${yamlReason(err)})`);
  }
  return { path: path.split('.'), value: value ?? null, text };
}

/**
 * Applies `--set` overrides; a null value (`--set requests=` or `=~`) removes the key. A number
 * indexes into a list (`--set faults.0.restartAfter=0ms`; removing an entry removes it from the list).
 */
export function applyOverrides(raw: unknown, overrides: readonly Override[]): Record<string, unknown> {
  const root: Record<string, unknown> = isPlainObject(raw) ? structuredClone(raw) : {};
  const isIndex = (key: string | undefined) => key !== undefined && /^\d+$/.test(key);
  for (const { path, value } of overrides) {
    let node = root;
    path.slice(0, -1).forEach((key, i) => {
      const child = node[key];
      if (!isPlainObject(child) && !(Array.isArray(child) && isIndex(path[i + 1]))) node[key] = {};
      node = node[key] as Record<string, unknown>;
    });
    const last = path.at(-1)!;
    if (value !== null) node[last] = value;
    else if (Array.isArray(node) && isIndex(last)) node.splice(Number(last), 1);
    else delete node[last];
  }
  return root;
}

export interface LoadOptions {
  readonly overrides?: readonly Override[];
  readonly cwd?: string;
  /**
   * The script as prepared elsewhere (a distributed run's manifest carries it): used as it is,
   * instead of reading the file the scenario names, which the agent's machine may not have.
   */
  readonly preparedScript?: { readonly path: string; readonly source: string };
}

export function loadScenario(file: string, options: LoadOptions = {}): Scenario {
  const cwd = options.cwd ?? process.cwd();
  const absolute = resolve(cwd, file);
  const shown = displayPath(absolute, cwd);
  let read: ReturnType<typeof readCapped>;
  try {
    read = readCapped(absolute, MAX_SCENARIO_BYTES);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${shown}: cannot read scenario file (${code === 'ENOENT' ? 'no such file' : code ?? String(err)})`);
  }
  if (!('text' in read)) {
    throw new UsageError(`${shown}: expected a scenario file of at most ${formatBytes(MAX_SCENARIO_BYTES)}, got ${read.size === undefined ? `more than ${formatBytes(MAX_SCENARIO_BYTES)}` : formatBytes(read.size)}`);
  }
  return parseScenario(read.text, absolute, { ...options, cwd });
}

export function parseScenario(text: string, absoluteFile: string, options: LoadOptions = {}): Scenario {
  const cwd = options.cwd ?? process.cwd();
  const shown = displayPath(absoluteFile, cwd);
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return `${shown}${pos ? `:${pos.line}:${pos.col}` : ''}: expected valid YAML, got ${what}`;
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (err) {
    // A "billion laughs" document parses (aliases are small) but explodes when expanded.
    throw new ScenarioError([`${shown}: expected valid YAML, got ${yamlReason(err)}`]);
  }
  if (raw !== null && raw !== undefined && !isPlainObject(raw)) {
    throw new ScenarioError([`${shown}: (top level): expected a mapping of scenario keys, got ${describe(raw)}`]);
  }
  const overrides = options.overrides ?? [];
  const merged = applyOverrides(raw ?? {}, overrides);
  const overriddenPaths = new Set(overrides.map((o) => o.path.join('.')));
  // Checked outside zod, whose object-level refinements only run once every field is valid:
  // this way a missing `script` or `requests` is reported together with every other mistake. (The
  // stand-in script only lets zod check the rest: a scenario without one never gets past here.)
  const noScript = merged['script'] === undefined
    ? `${shown}: script: expected ${SCRIPT_REQUIRED}, got nothing — name your script, or builtin:deduct${isOverridden(overriddenPaths, 'script') ? ' (from --set)' : ''}`
    : undefined;
  const parsed = scenarioSchema.safeParse(noScript ? { ...merged, script: 'builtin:deduct' } : merged, { reportInput: true });
  const howLong = requestsOrDuration(merged, shown);
  // Faults against the rest of the scenario (run length, one another, replicas), for the same reason.
  const schedule = formatIssues(faultScheduleIssues(merged).map((issue) => ({ code: 'custom' as const, ...issue })), shown, overriddenPaths);
  if (!parsed.success || noScript || howLong || schedule.length > 0) {
    throw new ScenarioError([
      ...(noScript ? [noScript] : []),
      ...(parsed.success ? [] : formatIssues(parsed.error.issues, shown, overriddenPaths)),
      ...(howLong ? [howLong] : []),
      ...schedule,
    ]);
  }
  const config = parsed.data;
  // A path in the scenario file is relative to that file, and only to it: a scenario means the same
  // script whatever directory it is run from, and a path that is wrong is an error, never another
  // file of the same name (the current directory's, or sellout's own). One typed on the command line
  // (--script, --set script=) is relative to the directory it was typed in.
  const fromCommandLine = overrides.findLast((o) => o.path.length === 1 && o.path[0] === 'script');
  const prepared = options.preparedScript;
  if (prepared !== undefined) return Object.freeze({ ...config, file: absoluteFile, scriptPath: prepared.path, scriptSource: prepared.source, asRun: text });
  const scriptPath = resolveScript(config.script, fromCommandLine ? cwd : dirname(absoluteFile));
  if (typeof scriptPath !== 'string') {
    const from = fromCommandLine ? ` (from ${fromCommandLine.flag ?? '--set'})` : '';
    const base = fromCommandLine ? 'the current directory' : 'the scenario file';
    throw new ScenarioError([
      scriptPath.tried === undefined
        ? `${shown}: script: expected one of ${Object.keys(BUILTIN_SCRIPTS).join(', ')} or a Lua file, got ${JSON.stringify(config.script)}${didYouMean(config.script, Object.keys(BUILTIN_SCRIPTS))}${from}`
        : `${shown}: script: expected a readable Lua file${isAbsolute(config.script) ? '' : ` relative to ${base}`}, got ${JSON.stringify(config.script)} (tried ${scriptPath.tried}: ${scriptPath.reason})${from}`,
    ]);
  }
  return Object.freeze({
    ...config,
    file: absoluteFile,
    scriptPath,
    scriptSource: readScript(scriptPath, shown, cwd),
    // As the scenario file would say it (relative to that file), so the scenario as run loads again
    // as it ran wherever it is read: a path typed on the command line was relative to the shell's directory.
    asRun: YAML.stringify(toYamlShape(fromCommandLine && !config.script.startsWith('builtin:') ? { ...config, script: relative(dirname(absoluteFile), scriptPath) || scriptPath } : config)),
  });
}

function readScript(path: string, shown: string, cwd: string): string {
  let read: ReturnType<typeof readCapped>;
  try {
    read = readCapped(path, MAX_SCRIPT_BYTES);
  } catch (err) {
    throw new ScenarioError([`${shown}: script: expected a readable Lua file, got ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  if (!('text' in read)) {
    const script = displayPath(path, cwd);
    throw new UsageError(`${shown}: script: expected a Lua file of at most ${formatBytes(MAX_SCRIPT_BYTES)}, got ${script} of ${read.size === undefined ? `more than ${formatBytes(MAX_SCRIPT_BYTES)}` : formatBytes(read.size)}`);
  }
  return read.text;
}

function requestsOrDuration(raw: Record<string, unknown>, shown: string): string | undefined {
  const hasRequests = raw['requests'] !== undefined;
  const hasDuration = raw['duration'] !== undefined;
  if (hasRequests !== hasDuration) return undefined;
  // A ramp ends with its last stage, so it may omit both.
  const load = raw['load'];
  if (!hasRequests && typeof load === 'object' && load !== null && (load as Record<string, unknown>)['model'] === 'ramping-rate') return undefined;
  return `${shown}: requests: expected exactly one of \`requests\` (a count) or \`duration\` (like "10s"), got ${hasRequests ? 'both' : 'neither'}`;
}

/** The scripts sellout ships, by explicit name (`script: builtin:deduct`), so a scenario says which one it tests. */
export const BUILTIN_SCRIPTS: Readonly<Record<string, string>> = {
  'builtin:deduct': 'lua/deduct.lua',
  'builtin:seed-deduct': 'lua/seed-deduct.lua',
};

/**
 * The absolute path of a script: a builtin: name, or a path resolved against `base` (an absolute
 * one as it is), with no other place tried. Else the path tried and why it is not a script file
 * (no `tried` for an unknown builtin: name).
 */
export function resolveScript(script: string, base: string): string | { tried?: string; reason: string } {
  if (script.startsWith('builtin:')) {
    const path = BUILTIN_SCRIPTS[script];
    return path === undefined ? { reason: 'no such builtin script' } : resolve(PROJECT_ROOT, path);
  }
  const tried = resolve(base, script);
  try {
    const stat = statSync(tried);
    return stat.isFile() ? tried : { tried, reason: stat.isDirectory() ? 'a directory' : 'not a regular file' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { tried, reason: code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : code ?? String(err) };
  }
}

/** Turns the parsed config back into the shape a user writes (quantity weights as a map). */
function toYamlShape(config: ScenarioConfig): unknown {
  const quantity =
    config.quantity.length === 1 ? config.quantity[0]!.quantity : Object.fromEntries(config.quantity.map((q) => [q.quantity, q.weight]));
  const { duration, faults, ...rest } = config;
  // Durations are stored in ms; written back with their unit so asRun loads again as it ran.
  const load = config.load.stages ? { ...config.load, stages: config.load.stages.map((s) => ({ ...s, duration: `${s.duration}ms` })) } : config.load;
  const faultsAsWritten = faults.map((f) => ({
    ...f,
    at: formatMs(f.at),
    ...('restartAfter' in f && f.restartAfter !== undefined ? { restartAfter: formatMs(f.restartAfter) } : {}),
    ...('duration' in f ? { duration: formatMs(f.duration) } : {}),
  }));
  return { ...rest, load, quantity, ...(duration !== undefined ? { duration: `${duration}ms` } : {}), ...(faults.length > 0 ? { faults: faultsAsWritten } : {}) };
}

const SECTION_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(scenarioSchema.shape),
  skus: ['count', 'stock', 'selection'],
  load: ['model', 'connections', 'inFlight', 'workers', 'rate', 'startRate', 'stages', 'maxInFlight'],
  duplicates: ['ratio', 'pattern', 'delayMs'],
  keys: ['stock', 'journal'],
  cluster: ['shards'],
  http: ['url', 'method', 'headers', 'body', 'outcomes', 'stockField'],
};

export function formatIssues(issues: readonly z.core.$ZodIssue[], shown: string, overridden: ReadonlySet<string>): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const at = issue.path.map(String);
    const where = at.length ? at.join('.') : '(top level)';
    const from = isOverridden(overridden, at.join('.')) ? ' (from --set)' : '';
    if (issue.code === 'unrecognized_keys') {
      const allowed = SECTION_KEYS[at.join('.')];
      for (const key of issue.keys) {
        const path = [...at, key].join('.');
        lines.push(
          `${shown}: ${path}: expected ${allowed ? `one of the keys ${allowed.join(', ')}` : 'no such key'}, got unknown key ${JSON.stringify(key)}${allowed ? didYouMean(key, allowed) : ''}${isOverridden(overridden, path) ? ' (from --set)' : ''}`,
        );
      }
      continue;
    }
    const input = 'input' in issue ? shorthand(at, issue.input) : undefined;
    const got = 'input' in issue ? describe(input) : 'nothing';
    lines.push(`${shown}: ${where}: expected ${expectedText(issue)}, got ${got}${suggestion(issue, at, input)}${from}`);
  }
  return lines;
}

/**
 * `selection: zipff` is turned into `{type: "zipff"}` before it is checked: show what was written,
 * not the mapping made of it.
 */
function shorthand(at: readonly string[], input: unknown): unknown {
  if (at.at(-1) === 'type' && at.at(-2) === 'selection' && isPlainObject(input) && Object.keys(input).length === 1) return input['type'];
  return input;
}

/** ` (did you mean "zipf"?)` for a word close to one of the values the field takes. */
function suggestion(issue: z.core.$ZodIssue, at: readonly string[], input: unknown): string {
  if (issue.code === 'invalid_value') return didYouMean(input, issue.values.map(String));
  if (at.at(-1) === 'type' && at.at(-2) === 'selection') return didYouMean(input, SELECTION_TYPES);
  return '';
}

const SELECTION_TYPES = ['uniform', 'zipf', 'hot'];

/** A problem at `path` came from --set when an override wrote that path or a section above it. */
function isOverridden(overridden: ReadonlySet<string>, path: string): boolean {
  // The problem is at or under a key --set wrote, or --set wrote under the (unknown) key at fault.
  for (const p of overridden) if (path === p || path.startsWith(`${p}.`) || p.startsWith(`${path}.`)) return true;
  return false;
}

function expectedText(issue: z.core.$ZodIssue): string {
  const message = issue.message;
  // Our own messages are written as the expectation ("a positive integer"); zod's defaults are not.
  if (!message.startsWith('Invalid') && !message.startsWith('Too ')) return message;
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'nonoptional'
        ? 'a value (this key is required)'
        : ({ object: 'a mapping', array: 'a list', record: 'a mapping', int: 'an integer' } as Record<string, string>)[issue.expected] ?? `a ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `a value >= ${String(issue.minimum)}`;
    case 'too_big':
      return `a value <= ${String(issue.maximum)}`;
    default:
      return message;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'object') return `a mapping ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'string') return truncate(JSON.stringify(value));
  return String(value);
}

function truncate(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function displayPath(absolute: string, cwd: string): string {
  const rel = relative(cwd, absolute);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absolute;
}
