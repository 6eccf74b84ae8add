/**
 * The reusable GitHub Action (action.yml) parsed as YAML: its inputs and outputs are the documented
 * ones, it is a composite action, inputs reach its shell scripts only through environment variables
 * (never pasted into a script, where a scenario path could run code), and every sellout flag it
 * passes exists in the CLI.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { BIN, ROOT, cliEnv } from '../helpers/cli.js';

interface Step { name: string; id?: string; run?: string; uses?: string; env?: Record<string, string>; if?: string }
const action = YAML.parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { required: boolean; default?: string; description: string }>;
  outputs: Record<string, { value: string; description: string }>;
  runs: { using: string; steps: Step[] };
};

describe('action.yml', () => {
  it('takes scenario (required), script, redis, baseline and tolerance, and gives the verdict, the exit code and the report path', () => {
    expect(Object.keys(action.inputs)).toEqual(['scenario', 'script', 'redis', 'baseline', 'tolerance']);
    expect(action.inputs['scenario']!.required).toBe(true);
    for (const name of ['script', 'redis', 'baseline', 'tolerance']) expect(action.inputs[name]).toMatchObject({ required: false, default: '' });
    expect(Object.keys(action.outputs)).toEqual(['verdict', 'exit-code', 'report']);
    const ids = new Set(action.runs.steps.map((s) => s.id).filter(Boolean));
    for (const output of Object.values(action.outputs)) {
      const id = /steps\.([\w-]+)\.outputs/.exec(output.value)?.[1];
      expect(ids.has(id)).toBe(true);
    }
  });

  it('is composite, publishes a step summary and the report artifact, and fails the job on a failed sale', () => {
    expect(action.runs.using).toBe('composite');
    const names = action.runs.steps.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['Write the step summary', 'Upload the report directory', 'Fail on a failed sale or a regression']));
    expect(action.runs.steps.find((s) => s.name === 'Upload the report directory')!.uses).toMatch(/^actions\/upload-artifact@v4$/);
    expect(action.runs.steps.at(-1)!.run).toMatch(/exit "\$code"\s*$/);
  });

  it('never pastes an input into a shell script: inputs come in through env', () => {
    for (const step of action.runs.steps) {
      expect(step.run ?? '', step.name).not.toMatch(/\$\{\{\s*inputs\./);
      expect(step.run ?? '', step.name).not.toMatch(/\$\{\{\s*steps\./);
    }
  });

  it('passes only flags the CLI has', () => {
    const help = (command: string) => execFileSync(process.execPath, [BIN, command, '--help'], { env: cliEnv(), encoding: 'utf8' });
    const run = help('run');
    const compare = help('compare');
    const script = action.runs.steps.map((s) => s.run ?? '').join('\n');
    const flags = new Set(script.match(/(?<=args\+?=\(.*)--[a-z-]+/g) ?? []);
    expect([...flags].sort()).toEqual(['--out', '--redis', '--script', '--tolerance']);
    for (const flag of flags) {
      expect(run.includes(flag) || compare.includes(flag), flag).toBe(true);
    }
    expect(script).toContain('--out "$REPORT"');
    expect(run).toContain('--out');
    expect(compare).toContain('--tolerance');
  });
});
