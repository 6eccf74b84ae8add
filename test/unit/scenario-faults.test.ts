/**
 * The fault keys of a scenario (src/scenario/faults.ts): persistence, replicas and faults, each
 * mistake one line `file: path: expected …, got …`, all of them at once; and checkFaultsTarget,
 * which refuses before anything starts the faults a --redis target cannot take.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFaultsTarget, didYouMean } from '../../src/scenario/faults.js';
import { scenarioParser } from '../helpers/scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'sellout-faults-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const { parse, problems } = scenarioParser(dir);

const base = 'name: t\nscript: builtin:deduct\nskus: {stock: 10}\nduration: 10s\n';
const faults = (...lines: string[]) => `${base}faults:\n${lines.map((l) => `  - ${l}\n`).join('')}`;

describe('persistence, replicas and faults: defaults and what parses', () => {
  it('default to no persistence, no replica, no fault; the scenario as run shows the first two', () => {
    const s = parse(base);
    expect(s.persistence).toBe('none');
    expect(s.replicas).toBe(0);
    expect(s.faults).toEqual([]);
    expect(s.asRun).toContain('persistence: none\nreplicas: 0\n');
    expect(s.asRun).not.toContain('faults');
  });

  it('parses every action, times in ms, failover mode safe by default; asRun loads again as it ran', () => {
    const s = parse(`${faults(
      '{at: 0s, action: kill, restartAfter: 0ms}',
      '{at: 1s, action: kill, restartAfter: 1.5s}',
      '{at: 3s, action: pause, duration: 500ms}',
      '{at: 4s, action: client-pause, duration: 1s}',
      '{at: 5500ms, action: script-flush}',
      '{at: 6s, action: client-kill}',
      '{at: 7s, action: failover}',
      '{at: 8s, action: failover, mode: unsafe}',
    )}persistence: aof-everysec\nreplicas: 1\n`);
    expect(s.persistence).toBe('aof-everysec');
    expect(s.replicas).toBe(1);
    expect(s.faults).toEqual([
      { at: 0, action: 'kill', restartAfter: 0 },
      { at: 1000, action: 'kill', restartAfter: 1500 },
      { at: 3000, action: 'pause', duration: 500 },
      { at: 4000, action: 'client-pause', duration: 1000 },
      { at: 5500, action: 'script-flush' },
      { at: 6000, action: 'client-kill' },
      { at: 7000, action: 'failover', mode: 'safe' },
      { at: 8000, action: 'failover', mode: 'unsafe' },
    ]);
    expect(s.asRun).toContain('faults:\n  - at: 0ms\n    action: kill\n    restartAfter: 0ms\n  - at: 1s\n');
    expect(parse(s.asRun).faults).toEqual(s.faults);
  });

  it('a kill without restartAfter stays down: nothing may follow it', () => {
    expect(parse(faults('{at: 9s, action: kill}')).faults).toEqual([{ at: 9000, action: 'kill' }]);
    expect(problems(faults('{at: 2s, action: kill}', '{at: 5s, action: script-flush}'))).toEqual([
      'test.yaml: faults.1.at: expected no fault after faults.0 (kill at 2s without restartAfter: the server stays down to the end of the run), got "5s"',
    ]);
  });

  it('a requests scenario takes a fault at any time: its end cannot be known before it runs', () => {
    expect(parse('name: t\nscript: builtin:deduct\nskus: {stock: 10}\nrequests: 5\nfaults: [{at: 1h, action: client-kill}]\n').faults).toEqual([{ at: 3_600_000, action: 'client-kill' }]);
  });
});

describe('each mistake is one line', () => {
  it('an unknown action, with the closest one', () => {
    expect(problems(faults('{at: 1s, action: kil}'))).toEqual([
      'test.yaml: faults.0.action: expected one of kill, pause, client-pause, script-flush, client-kill, failover (did you mean "kill"?), got "kil"',
    ]);
    expect(problems(faults('{at: 1s, action: reboot}'))).toEqual([
      'test.yaml: faults.0.action: expected one of kill, pause, client-pause, script-flush, client-kill, failover, got "reboot"',
    ]);
    expect(problems(faults('{at: 1s}'))).toEqual([
      'test.yaml: faults.0.action: expected one of kill, pause, client-pause, script-flush, client-kill, failover, got nothing',
    ]);
    expect(didYouMean('clientpause', ['kill', 'client-pause'])).toBe(' (did you mean "client-pause"?)');
  });

  it('a field the action does not take, and a field it needs', () => {
    expect(problems(faults('{at: 1s, action: kill, duration: 2s}', '{at: 4s, action: script-flush, mode: safe}', '{at: 6s, action: pause}'))).toEqual([
      'test.yaml: faults.0.duration: expected no duration with action kill (it takes at, action, restartAfter), got "2s"',
      'test.yaml: faults.1.mode: expected no mode with action script-flush (it takes at, action), got "safe"',
      'test.yaml: faults.2.duration: expected a duration > 0 like "2s" (required by action pause), got nothing',
    ]);
  });

  it('at beyond the run\'s duration, or a ramp\'s stages', () => {
    expect(problems(faults('{at: 10s, action: client-kill}', '{at: 1m, action: script-flush}'))).toEqual([
      'test.yaml: faults.0.at: expected a time before the end of the run (duration 10s), got "10s"',
      'test.yaml: faults.1.at: expected a time before the end of the run (duration 10s), got "1m"',
    ]);
    const ramp = 'name: t\nscript: builtin:deduct\nskus: {stock: 10}\nload: {model: ramping-rate, stages: [{duration: 2s, target: 10}, {duration: 3s, target: 0}]}\nfaults: [{at: 6s, action: client-kill}]\n';
    expect(problems(ramp)).toEqual(['test.yaml: faults.0.at: expected a time before the end of the run (the ramp\'s stages last 5s), got "6s"']);
  });

  it('overlapping faults: a span runs from at to at + restartAfter or duration', () => {
    expect(problems(faults('{at: 1s, action: kill, restartAfter: 2s}', '{at: 2s, action: client-kill}'))).toEqual([
      'test.yaml: faults.1.at: expected a time after faults.0 (kill at 1s until 3s) is over: faults act on one server, one at a time, got "2s"',
    ]);
    // Listed out of order: the later one in time is reported.
    expect(problems(faults('{at: 5s, action: script-flush}', '{at: 4s, action: client-pause, duration: 2s}'))).toEqual([
      'test.yaml: faults.0.at: expected a time after faults.1 (client-pause at 4s until 6s) is over: faults act on one server, one at a time, got "5s"',
    ]);
    expect(problems(faults('{at: 5s, action: script-flush}', '{at: 5s, action: client-kill}'))).toEqual([
      'test.yaml: faults.1.at: expected a time other than that of faults.0 (script-flush at 5s): faults act on one server, one at a time, got "5s"',
    ]);
    // One ending as the next begins does not overlap.
    expect(parse(faults('{at: 1s, action: pause, duration: 2s}', '{at: 3s, action: kill, restartAfter: 0ms}', '{at: 3500ms, action: script-flush}')).faults).toHaveLength(3);
  });

  it('restartAfter or at negative', () => {
    expect(problems(faults('{at: 1s, action: kill, restartAfter: -1s}', '{at: -2s, action: client-kill}'))).toEqual([
      'test.yaml: faults.0.restartAfter: expected a duration, not a negative one, like "0ms" (restart at once) or "2s" (leave restartAfter out to keep the server down), got "-1s"',
      'test.yaml: faults.1.at: expected a time from the start of the load, not a negative one, like "5s" (0s: at once), got "-2s"',
    ]);
    expect(problems(faults('{at: 1s, action: kill, restartAfter: 2}'))).toEqual([
      'test.yaml: faults.0.restartAfter: expected a duration like "0ms" (restart at once) or "2s" (leave restartAfter out to keep the server down), got 2',
    ]);
  });

  it('persistence misspelled, replicas out of range, faults not a list', () => {
    expect(problems(`${base}persistence: aof-alwasy\nreplicas: 2\nfaults: {at: 1s, action: kill}\n`)).toEqual([
      'test.yaml: persistence: expected one of none, rdb, aof-everysec, aof-always (did you mean "aof-always"?), got "aof-alwasy"',
      'test.yaml: replicas: expected 0 or 1 (1 starts a replica of the embedded redis-server, for failover faults), got 2',
      'test.yaml: faults: expected a list of faults like [{at: "5s", action: kill, restartAfter: "2s"}], got a mapping {"at":"1s","action":"kill"}',
    ]);
  });

  it('failover without replicas: 1, and after an unsafe failover', () => {
    expect(problems(faults('{at: 1s, action: failover}'))).toEqual([
      'test.yaml: faults.0.action: expected replicas: 1 with action failover (it promotes the replica of the embedded redis-server; replicas is 0), got "failover"',
    ]);
    expect(problems(`${faults('{at: 1s, action: failover, mode: unsafe}', '{at: 2s, action: failover}', '{at: 3s, action: failover, mode: sure}')}replicas: 1\n`)).toEqual([
      'test.yaml: faults.2.mode: expected one of safe, unsafe (did you mean "safe"?), got "sure"',
      'test.yaml: faults.1.action: expected no failover after faults.0, an unsafe failover (it kills the old primary: no replica is left), got "failover"',
    ]);
    expect(parse(`${faults('{at: 1s, action: failover}', '{at: 2s, action: failover}')}replicas: 1\n`).faults).toHaveLength(2);
  });

  it('reports every problem at once, with the rest of the scenario\'s, and marks what --set wrote', () => {
    const lines = problems(
      `name: t\nscript: builtin:deduct\nskus: {stock: -1}\nduration: 10s\npersistence: rbd\nfaults:\n  - {at: 1s, action: kil}\n  - {at: 2s, action: pause, duration: 5s}\n  - {at: 3s, action: script-flush}\n  - {at: 20s, action: client-kill}\n  - {at: 8s, action: failover}\n`,
      ['faults.4.at=30s'],
    );
    expect(lines).toEqual([
      'test.yaml: skus.stock: expected an integer stock >= 0, got -1',
      'test.yaml: persistence: expected one of none, rdb, aof-everysec, aof-always (did you mean "rdb"?), got "rbd"',
      'test.yaml: faults.0.action: expected one of kill, pause, client-pause, script-flush, client-kill, failover (did you mean "kill"?), got "kil"',
      'test.yaml: faults.3.at: expected a time before the end of the run (duration 10s), got "20s"',
      'test.yaml: faults.4.at: expected a time before the end of the run (duration 10s), got "30s" (from --set)',
      'test.yaml: faults.2.at: expected a time after faults.1 (pause at 2s until 7s) is over: faults act on one server, one at a time, got "3s"',
      'test.yaml: faults.4.action: expected replicas: 1 with action failover (it promotes the replica of the embedded redis-server; replicas is 0), got "failover"',
    ]);
    for (const line of lines) expect(line.split('\n')).toHaveLength(1);
  });

  it('--set reaches into the list of faults', () => {
    const yaml = faults('{at: 1s, action: kill, restartAfter: 2s}', '{at: 5s, action: script-flush}');
    expect(parse(yaml, ['faults.0.restartAfter=0ms']).faults[0]).toEqual({ at: 1000, action: 'kill', restartAfter: 0 });
    expect(parse(yaml, ['faults.1=', 'faults.0.restartAfter=']).faults).toEqual([{ at: 1000, action: 'kill' }]);
    expect(parse(yaml, ['faults.0=']).faults).toEqual([{ at: 5000, action: 'script-flush' }]);
    expect(parse(yaml, ['faults.2={at: 8s, action: client-kill}']).faults).toHaveLength(3);
    expect(problems(yaml, ['faults.1.action=flush'])).toEqual([
      'test.yaml: faults.1.action: expected one of kill, pause, client-pause, script-flush, client-kill, failover, got "flush" (from --set)',
    ]);
  });
});

describe('checkFaultsTarget', () => {
  const s = parse(`${faults('{at: 1s, action: kill, restartAfter: 1s}', '{at: 3s, action: client-pause, duration: 1s}', '{at: 5s, action: pause, duration: 1s}', '{at: 7s, action: script-flush}', '{at: 8s, action: client-kill}', '{at: 9s, action: failover}')}replicas: 1\n`);

  it('takes everything on the embedded server', () => {
    expect(checkFaultsTarget(s, undefined)).toEqual([]);
  });

  it('names each fault that needs the embedded server, and replicas, without quoting the URL', () => {
    const lines = checkFaultsTarget(s, 'redis://u:Hunter2@cache:6379', 'sale.yaml');
    expect(lines).toEqual([
      'sale.yaml: faults.0: expected a fault this target can take (kill needs the embedded redis-server, the default without --redis: kill -9 and restart act on a redis-server process sellout started), got kill at 1s with a Redis URL (--redis, SELLOUT_REDIS_URL or REDIS_URL: a server sellout did not start)',
      'sale.yaml: faults.2: expected a fault this target can take (pause needs the embedded redis-server, the default without --redis: SIGSTOP and SIGCONT go to a redis-server process sellout started), got pause at 5s with a Redis URL (--redis, SELLOUT_REDIS_URL or REDIS_URL: a server sellout did not start)',
      'sale.yaml: faults.5: expected a fault this target can take (failover needs the embedded redis-server, the default without --redis: it promotes the replica sellout starts next to its redis-server (replicas: 1)), got failover at 9s with a Redis URL (--redis, SELLOUT_REDIS_URL or REDIS_URL: a server sellout did not start)',
      'sale.yaml: replicas: expected 0 with this target (replicas: 1 starts a replica of the embedded redis-server, the default without --redis), got 1 with a Redis URL (--redis, SELLOUT_REDIS_URL or REDIS_URL: a server sellout did not start)',
    ]);
    expect(lines.join('\n')).not.toContain('Hunter2');
    expect(checkFaultsTarget(s, 'docker')[0]).toMatch(/got kill at 1s with --redis docker \(a container: sellout does not signal its server\)$/);
    expect(checkFaultsTarget(s, 'cluster')[0]).toMatch(/got kill at 1s with --redis cluster \(faults that signal a server are not available on the embedded cluster\)$/);
    // Faults any server takes are fine anywhere.
    const anywhere = parse(faults('{at: 1s, action: client-pause, duration: 1s}', '{at: 3s, action: script-flush}', '{at: 4s, action: client-kill}'));
    expect(checkFaultsTarget(anywhere, 'redis://cache:6379')).toEqual([]);
  });
});
