/** The gate over N runs (`--repeat`): medians and spread per threshold, and which exit code wins. */
import { describe, expect, it } from 'vitest';
import { median, repeatVerdict } from '../../src/thresholds/repeat.js';
import { parseThresholds } from '../../src/thresholds/parse.js';
import type { SummaryV1 } from '../../src/summary/summary.js';

const thresholds = parseThresholds({ 'latency.ok.p99': '< 5ms', 'outcomes.error': '== 0' }).thresholds;

/** A summary reduced to what the gate reads: each threshold's actual and limit, and the verdict's exit code. */
function run(p99us: number, errors: number, exitCode = 0): SummaryV1 {
  return {
    thresholds: [
      { name: 'latency.ok.p99', condition: '< 5ms', status: p99us < 5000 ? 'pass' : 'fail', unit: 'us', actual: p99us, limit: 5000, margin: 5000 - p99us, text: '' },
      { name: 'outcomes.error', condition: '== 0', status: errors === 0 ? 'pass' : 'fail', unit: 'count', actual: errors, limit: 0, margin: -errors, text: '' },
    ],
    verdict: { exitCode },
  } as unknown as SummaryV1;
}

describe('--repeat', () => {
  it('takes the median (the mean of the middle two for an even count)', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });

  it('one noisy run does not fail the gate; the median does, and the spread shows both', () => {
    const noisy = repeatVerdict([run(2000, 0), run(10_700, 0, 4), run(2900, 0), run(2500, 0), run(3100, 0)], thresholds);
    expect(noisy.exitCode).toBe(0);
    expect(noisy.thresholds[0]).toMatchObject({ min: 2000, median: 2900, max: 10_700, status: 'pass' });
    expect(noisy.thresholds[0]!.text).toBe('latency.ok.p99 < 5ms: median 2.9 ms [2 ms .. 10.7 ms] over 5 run(s), limit 5 ms');
    const slow = repeatVerdict([run(6000, 0, 4), run(7000, 0, 4), run(3000, 0)], thresholds);
    expect(slow.exitCode).toBe(4);
    expect(slow.thresholds[0]!.status).toBe('fail');
  });

  it('a correctness failure in any run fails the gate whatever the medians say; the most serious code wins', () => {
    expect(repeatVerdict([run(1000, 0), run(1000, 0, 1), run(1000, 0)], thresholds).exitCode).toBe(1);
    expect(repeatVerdict([run(1000, 0, 1), run(1000, 0, 3), run(9000, 0, 4)], thresholds).exitCode).toBe(3);
  });
});
