/** sellout's public API. */
export { runScenario, type RunOptions, type RunOutput, type IntervalHistogram, type LoadProgress } from './run.js';
export { loadScenario, parseScenario, parseOverride, type Scenario, type Override } from './scenario/load.js';
export type { ScenarioConfig } from './scenario/schema.js';
export { summarySchema, type SummaryV1, type RunStatus, type SkuSummary, type SkuTotals, type InvariantResult, type InvariantStatus, type FaultV1, type OutcomesOutsideFaultsV1 } from './summary/summary.js';
export type { SkuTable } from './summary/skus.js';
export { ExitCode, SelloutError, UsageError, ScenarioError, TargetError } from './errors.js';
export { OUTCOMES, type Outcome } from './outcomes.js';
export { startSaleService, type SaleService, type SaleServiceOptions, type SaleKeys } from './serve/service.js';
