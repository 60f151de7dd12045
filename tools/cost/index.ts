/**
 * Cost tools (pure TypeScript: no AWS SDK, no aws-cdk-lib): the dated price snapshot, the cost model and
 * the scaling simulator that replays a trace through the CapacityManager's `decideCapacity`.
 */
export * from '../../lib/cost/pricing';
export { estimateCost, DEFAULT_COST_INSTANCE_TYPES } from './cost-model';
export type { CostModelInput, CostOption, CostEstimate } from './cost-model';
export { COST_MODEL_SERVERS, modelServerCannotRun } from './model-server-fit';
export type { CostModelServer } from './model-server-fit';
export { InputError as CostInputError } from './errors';
export { simulate, toReport, parsePolicies } from './simulator/simulate';
export type { PolicyRun, SimulationReport, SimulationResult } from './simulator/simulate';
export type { SimulationOptions } from './simulator/options';
export { parseTraceCsv, parseTraceFile, traceToCsv, TRACE_HEADER } from './simulator/trace';
export type { Trace, TraceJob, TraceSettings } from './simulator/trace';
export { POLICY_NAMES } from './simulator/policies';
export type { PolicyName } from './simulator/policies';
export { standardTraces, STRESS_SETTINGS } from './simulator/standard-traces';
export { checkGoals } from './simulator/goals';
export type { GoalCheck } from './simulator/goals';
export { withLiveSpotPrices } from './live-prices';
export type { SpotObservation } from './live-prices';
