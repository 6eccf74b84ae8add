// A thread that stamps its half of a ping-pong on the shared clock (src/load/clock.ts, compiled).
import { workerData } from 'node:worker_threads';
const { threadClock } = await import(workerData.clockModule);
const clock = threadClock();
const turn = new Int32Array(workerData.turn);
const stamps = new Float64Array(workerData.stamps);
const { side, rounds } = workerData;
for (let i = 0; i < rounds; i++) {
  // Wait for our turn (the other side stamped just before handing it over), then stamp.
  while (Atomics.load(turn, 0) !== 2 * i + side) Atomics.wait(turn, 0, Atomics.load(turn, 0), 1000);
  stamps[2 * i + side] = clock.nowMs();
  Atomics.store(turn, 0, 2 * i + side + 1);
  Atomics.notify(turn, 0);
}
