/**
 * `sellout validate <scenario>`: loads and checks a scenario exactly as `run` does (the same
 * loadScenarioFromArgs: --set, --script, the schema, thresholds, faults against the run, the
 * script's presence, readability and size) and stops there: no Redis, no report directory. For a
 * pre-commit hook or a review. Valid: one line on stdout, exit 0. Invalid: every problem on
 * stderr, one line each, exit 2 (thrown as run throws them; main prints them the same way).
 *
 * What only a target can tell is left to `run`: faults or `replicas: 1` with a server sellout did
 * not start, a `cluster:` section against a standalone server, whether the server accepts the
 * script.
 */
import { isAbsolute, relative } from 'node:path';
import { scriptSha } from '../../redis/script.js';
import type { Scenario } from '../../scenario/load.js';
import { formatMs } from '../../scenario/faults.js';
import { ExitCode } from '../../errors.js';
import { loadScenarioFromArgs, type ScenarioArgs } from '../scenario-args.js';

export function validateCommand(file: string, options: ScenarioArgs, io: { stdout: (t: string) => void }): number {
  const scenario = loadScenarioFromArgs(file, options);
  io.stdout(`${shownPath(scenario.file)}: valid (${describeScenario(scenario)})\n`);
  return ExitCode.ok;
}

/** `smoke, 5 SKUs, 3,000 requests, constant-rate 1,000/s over 8 connections, script lua/deduct.lua sha1 …`. */
export function describeScenario(s: Scenario): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const howLong = s.requests !== undefined ? `${n(s.requests)} requests` : s.duration !== undefined ? `${formatMs(s.duration)}` : 'as long as its stages';
  const over = `over ${n(s.load.connections)} connection${s.load.connections === 1 ? '' : 's'}`;
  const model = s.load.model === 'closed'
    ? `closed ${n(s.load.connections)} connection${s.load.connections === 1 ? '' : 's'} x ${n(s.load.inFlight)} in flight`
    : s.load.model === 'constant-rate'
      ? `constant-rate ${n(s.load.rate ?? 0)}/s ${over}`
      : `ramping-rate, ${s.load.stages?.length ?? 0} stage(s) ${over}`;
  const faults = s.faults.length > 0 ? `, ${s.faults.length} fault(s)` : '';
  const thresholds = s.thresholds ? `, ${Object.keys(s.thresholds).length} threshold metric(s)` : '';
  return `${s.name}, ${n(s.skus.count)} SKU${s.skus.count === 1 ? '' : 's'}, ${howLong}, ${model}${faults}${thresholds}, script ${shownPath(s.scriptPath)} sha1 ${scriptSha(s.scriptSource)}`;
}

function shownPath(absolute: string): string {
  const rel = relative(process.cwd(), absolute);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absolute;
}
