/**
 * Times from different worker threads compare (issue 8, item 5): the real-time checks set a reply
 * seen on one worker against a send made on another. Two threads play ping-pong through shared
 * memory, each stamping its turn on the clock the load workers use; since each stamp happens
 * after the other thread's previous one, a stamp earlier than its predecessor measures how far
 * the two threads' clocks disagree.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { threadClock } from '../../src/load/clock.js';

/** The bound the real-time checks may rely on (they only compare times farther apart). */
const BOUND_MS = 0.05;
const ROUNDS = 3000;

function runSide(side: 0 | 1, turn: SharedArrayBuffer, stamps: SharedArrayBuffer): Promise<void> {
  const worker = new Worker(new URL('../helpers/clock-worker.mjs', import.meta.url), {
    workerData: { side, rounds: ROUNDS, turn, stamps, clockModule: pathToFileURL(fileURLToPath(new URL('../../dist/src/load/clock.js', import.meta.url))).href },
  });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`clock worker exited ${code}`))));
  });
}

describe('one clock across threads', () => {
  it(`stamps made in turn by two worker threads never go back by more than ${BOUND_MS * 1000} us`, async () => {
    const turn = new SharedArrayBuffer(4);
    const stamps = new SharedArrayBuffer(ROUNDS * 2 * 8);
    await Promise.all([runSide(0, turn, stamps), runSide(1, turn, stamps)]);
    const t = new Float64Array(stamps);
    let worst = 0;
    for (let i = 1; i < t.length; i++) worst = Math.max(worst, t[i - 1]! - t[i]!);
    expect(t[t.length - 1]).toBeGreaterThan(t[0]!);
    expect(worst).toBeLessThan(BOUND_MS);
  });

  it('calibrates against the process-wide clock to within a microsecond', () => {
    const clock = threadClock();
    expect(clock.errorMs).toBeLessThan(0.001);
    const shared = Number(process.hrtime.bigint()) / 1e6;
    expect(Math.abs(clock.nowMs() - shared)).toBeLessThan(1);
  });
});
