/**
 * cdk-ai-burst-tools: what runs outside CDK (and what jsii cannot carry) — JobClient, the cost model, the
 * scaling simulator and the `ai-burst` CLI. The construct package is `cdk-ai-burst`.
 */
export { JobClient } from '../runtime/client/job-client';
export * from '../runtime/client/job-client';
export * from './cost';
export { decideCapacity, resolveScalingPolicy, deriveTargetBacklog } from '../lib/compute/scaling-policy';
export type { CapacityDecision, FleetState, QueueState, ScalingPolicy, ResolvedScalingPolicy } from '../lib/compute/scaling-policy';
export { cloudWatchAgentConfig, cloudWatchAgentConfigJson } from '../lib/observability/cloudwatch-agent-config';
export type { CloudWatchAgentConfig, CloudWatchAgentConfigOptions } from '../lib/observability/cloudwatch-agent-config';
export * from '../lib/contracts';
