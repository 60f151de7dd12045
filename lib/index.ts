// The construct package's public surface, by name: constructs, their props and interfaces, and the contract
// values a CDK app wires (tags, metric names, event names). Helpers stay in their modules or under private/.
// The run-time contracts, the cost model and the simulator are imported by path (the tools' side).

// Platform
export { AiBurstPlatform, type AiBurstPlatformProps, type AiBurstWorkload, type AiBurstWorkloadOptions } from './platform';

// Layer 1: API and job store
export { JobApi, type JobApiProps, type JobApiUsagePlanOptions, type JobApiWorkload } from './api/job-api';
export { CognitoAuthorization, type CognitoAuthorizationOptions, JobApiAuthorization, JobApiAuthorizationKind } from './api/job-api-authorization';
export { type IJobStore, JobStore, type JobStoreProps } from './store/job-store';

// Layer 2: compute
export { DEFAULT_GPU_INSTANCE_TYPES, DLAMI_SSM_PARAMETER, GpuFleet, type GpuFleetProps } from './compute/gpu-fleet';
export { CapacityManager, type CapacityManagerProps, type ScalingPolicyOptions } from './compute/capacity-manager';
export {
  type CapacityManagerScalingOptions,
  FleetScaling,
  type FleetScalingBinding,
  type IScalableGpuFleet,
  type TargetTrackingScalingOptions,
} from './compute/fleet-scaling';
export {
  type CommandsModelServerOptions,
  type ContainerModelServerOptions,
  ModelServer,
  type ModelServerBaseOptions,
  type ModelServerConfig,
  type VllmModelServerOptions,
} from './compute/model-server';
export {
  DEFAULT_VLLM_DLC_TAG,
  DLC_ACCOUNT,
  ModelServerImage,
  type ModelServerImageConfig,
  type PullThroughCacheImageOptions,
} from './compute/model-server-image';
export { ModelWeights, type ModelWeightsConfig } from './compute/model-weights';
export { type ResolvedScalingPolicy, type ScalingPolicy } from './compute/scaling-policy';

// Layer 3: queues and orchestration
export { type IJobQueue, JobQueue, type JobQueueAttributes, JobQueueBase, type JobQueueMetricOptions, type JobQueueProps } from './queue/job-queue';
export { InterruptionDrainer, type InterruptionDrainerProps } from './orchestration/interruption-drainer';
export { RetryHandler, type RetryHandlerProps } from './orchestration/retry-handler';
export { InterruptionDrill, type InterruptionDrillProps } from './drill/interruption-drill';

// Layer 4: observability
export { AiObservability } from './observability/ai-observability';
export { type AiObservabilityProps, type ObservedWorkload, type WorkloadAlarms } from './observability/ai-observability-props';
export { type WorkloadMetricOptions } from './observability/metric-options';
export { FleetAlarms, type FleetAlarmsProps } from './observability/fleet-alarms';
export { CostReporter, type CostReporterProps, type SpendMetricOptions } from './observability/cost-reporter';
export {
  AgentDimensions,
  CloudWatchAgent,
  type CloudWatchAgentConfig,
  type CloudWatchAgentConfigOptions,
  cloudWatchAgentConfig,
  cloudWatchAgentConfigJson,
  CW_AGENT_NAMESPACE,
  GPU_AGENT_DIMENSION_SETS,
  type GpuAgentMetricName,
  GpuAgentMetrics,
} from './observability/cloudwatch-agent-config';

// Contracts a CDK app wires: cost tags, metric names and dimensions, the events the library publishes
export { EVENT_SOURCE, EventDetailTypes, type JobFailedDetail, SHARED_WORKLOAD_TAG_VALUE, Tags } from './contracts/tags';
export { type DimensionName, Dimensions, METRIC_NAMESPACE, type MetricName, MetricNames, type PriceSource, PriceSources } from './contracts/metrics';
export { ModelServerKind, type WorkerModelServerConfig } from './contracts/worker-config';

// The dated price snapshot GpuFleet prices jobs with (the cost model and simulator are in cdk-ai-burst-tools)
export {
  type CommitmentDiscount,
  hourlyPrice,
  type InstancePrice,
  instancePrice,
  isGpuInstanceType,
  knownInstanceTypes,
  knownRegions,
  type Market,
  MARKETS,
  PRICE_SNAPSHOT,
  type PriceSnapshot,
} from './cost/pricing';
