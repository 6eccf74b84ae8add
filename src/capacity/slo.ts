/**
 * `--slo EXPR` (repeatable): a threshold written on one line, `latency.ok.p99 < 5ms`, turned into
 * the scenario's `thresholds:` mapping so each step is judged by the same code as `run`'s gate.
 */
import { UsageError } from '../errors.js';
import { OPERATORS } from '../thresholds/parse.js';

export const DEFAULT_SLO = 'latency.ok.p99 < 5ms';

/** `metric op value` as `{metric: "op value"}`; several on one metric become a list. */
export function sloThresholds(slos: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const slo of slos.length > 0 ? slos : [DEFAULT_SLO]) {
    // The first operator splits it; the two-character ones are tried first (`<=` is not `<`).
    const match = /^\s*([^<>=!\s]+)\s*(<=|>=|==|!=|<|>)\s*(.+?)\s*$/.exec(slo);
    if (match === null) {
      throw new UsageError(`--slo: expected a metric, an operator (${OPERATORS.join(' ')}) and a limit, like "${DEFAULT_SLO}", got ${JSON.stringify(slo)}`);
    }
    const [, metric, operator, limit] = match;
    const condition = `${operator} ${limit}`;
    const before = out[metric!];
    out[metric!] = before === undefined ? condition : [...(Array.isArray(before) ? before : [before]), condition];
  }
  return out;
}
