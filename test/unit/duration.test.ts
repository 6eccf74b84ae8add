/** The one duration grammar: scenario durations (ms, also m/h and several parts) and latencies (us, one part). */
import { describe, expect, it } from 'vitest';
import { parseDurationMs, parseLatencyUs } from '../../src/duration.js';
import { parseTolerances } from '../../src/compare/compare.js';
import { parseThresholds } from '../../src/thresholds/parse.js';

describe('duration grammar', () => {
  it('reads a scenario duration in milliseconds, minutes, hours and several parts included', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('1m30s')).toBe(90_000);
    expect(parseDurationMs(' 2h ')).toBe(7_200_000);
    expect(parseDurationMs('250us')).toBe(0.25);
    for (const bad of ['10', 's', '1m 30s', '5 parsecs', '-1s', '']) expect(parseDurationMs(bad)).toBeUndefined();
  });

  it('reads a latency in microseconds: one part in us, µs, ms or s only', () => {
    expect(parseLatencyUs('250us')).toBe(250);
    expect(parseLatencyUs('250µs')).toBe(250);
    expect(parseLatencyUs('0.5 ms')).toBe(500);
    expect(parseLatencyUs('.5ms')).toBe(500);
    expect(parseLatencyUs('2s')).toBe(2_000_000);
    for (const bad of ['1m', '1h', '1ms500us', '5', 'ms']) expect(parseLatencyUs(bad)).toBeUndefined();
  });

  it('thresholds and compare tolerances take the same latencies', () => {
    for (const text of ['250us', '250µs', '1.5 ms', '2s']) {
      const { thresholds, problems } = parseThresholds({ 'latency.ok.p99': `< ${text}` });
      expect(problems).toEqual([]);
      expect(thresholds[0]!.limit).toBe(parseLatencyUs(text));
      expect(parseTolerances(`latency.ok.p99=${text}`).tolerances['latency.ok.p99']).toEqual({ absolute: parseLatencyUs(text) });
    }
    expect(parseThresholds({ 'latency.ok.p99': '< 1m' }).problems).toHaveLength(1);
    expect(parseTolerances('latency.ok.p99=1m').problems).toHaveLength(1);
  });
});
