/** sellout's public API. */
export { runScenario, type RunOptions, type RunOutput, type IntervalHistogram, type LoadProgress } from './run.js';
export { loadScenario, parseScenario, parseOverride, type Scenario, type Override } from './scenario/load.js';
export type { ScenarioConfig } from './scenario/schema.js';
export type { SummaryV1, RunStatus, SkuSummary } from './summary/summary.js';
export type { InvariantResult, InvariantStatus } from './summary/summary.js';
export { ExitCode, SelloutError, UsageError, ScenarioError, TargetError } from './errors.js';
export { OUTCOMES, type Outcome } from './outcomes.js';
