/**
 * Which requests of the plan a load worker sends: its lane, every `lanes`-th plan index from
 * `lane`. One process of W workers gives worker w the lane w of W. A distributed run's agent i of
 * N gives its worker w the lane i + w*N of N*W: the agent's workers together send the indices
 * i, i+N, i+2N, … whatever W is on its machine, so the N agents together send the plan one
 * process would (the same indices, the same SKUs and quantities, the same twins), and each open
 * model's pacer takes the same every-lanes-th send of the one schedule.
 *
 * Cross-worker twins travel through the previous worker of the same agent; cross-agent twins
 * through the same worker position of the previous agent (a retry landing on another app server).
 */
import type { DuplicatePattern } from './source.js';

export interface Lane {
  /** The first plan index of the lane. */
  readonly lane: number;
  /** Plan indices of the lane are lane, lane+lanes, … */
  readonly lanes: number;
  /** The first index of the lane whose twins this worker sends (cross-worker, cross-agent); its own lane otherwise. */
  readonly twinLane: number;
}

export function laneOf(segment: { readonly index: number; readonly count: number }, worker: number, workers: number, pattern: DuplicatePattern): Lane {
  const { index, count } = segment;
  const lane = index + worker * count;
  const lanes = count * workers;
  const twinLane = pattern === 'cross-worker'
    ? index + ((worker + workers - 1) % workers) * count
    : pattern === 'cross-agent'
      ? ((index + count - 1) % count) + worker * count
      : lane;
  return { lane, lanes, twinLane };
}
