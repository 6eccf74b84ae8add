/** `--help` is where a new user looks first: exit codes, examples and the scenario's keys are there. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ExitCode } from '../../src/errors.js';

describe('--help', () => {
  it('sellout --help lists every exit code with its meaning, and examples', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const code of new Set(Object.values(ExitCode))) expect(r.stdout).toMatch(new RegExp(`^  ${code} +\\S`, 'm'));
    expect(r.stdout).toMatch(/^Examples:\n  sellout run scenarios\/smoke\.yaml/m);
  });

  it('sellout run --help names the scenario keys, shows examples, and no "(default: [])"', async () => {
    const r = await runCli(['run', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('(default: [])');
    for (const key of ['skus:', 'quantity', 'requests | duration', 'load:', 'duplicates:', 'keys:', 'faults', 'thresholds']) expect(r.stdout).toContain(key);
    expect(r.stdout).toMatch(/--set load\.connections=16/);
  });
});
