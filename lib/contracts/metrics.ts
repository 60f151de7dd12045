/**
 * Metric namespace, names and dimensions. Every metric a dashboard or alarm reads is named here and
 * emitted by a producer in this repo (worker, Lambdas, CostReporter); a contract test checks both sides.
 */

export const METRIC_NAMESPACE = 'AiBurst';

export const MetricNames = {
  // worker: per job
  TOKENS_IN: 'TokensIn',
  TOKENS_OUT: 'TokensOut',
  INFERENCE_LATENCY: 'InferenceLatency',
  TIME_TO_FIRST_TOKEN: 'TimeToFirstToken',
  JOB_DURATION: 'JobDuration',
  GPU_SECONDS: 'GpuSeconds',
  JOBS_SUCCEEDED: 'JobsSucceeded',
  JOBS_FAILED: 'JobsFailed',
  /** GPU-seconds spent on attempts that were later interrupted (part of the "interruption tax"). */
  INTERRUPTED_GPU_SECONDS: 'InterruptedGpuSeconds',
  /** GPU-seconds an instance spent waiting for its model server after boot. */
  BOOT_GPU_SECONDS: 'BootGpuSeconds',
  /** GPU-seconds an instance spent with nothing to do. */
  IDLE_GPU_SECONDS: 'IdleGpuSeconds',
  /** Seconds from launch to the end of each boot stage (dimension `Stage`, a `BootStages` value). */
  COLD_START_SECONDS: 'ColdStartSeconds',
  /** An instance that gave up at boot (script step failed, no GPU, model never healthy) and asked to be replaced. */
  BOOT_FAILURES: 'BootFailures',
  /** An instance whose model server stopped answering after it was healthy; its jobs were handed back. */
  MODEL_SERVER_LOST: 'ModelServerLost',
  // worker + drainer
  JOBS_INTERRUPTED: 'JobsInterrupted',
  JOBS_REQUEUED: 'JobsRequeued',
  /** Jobs left running through a spot notice (expected to end before the reclaim) that did finish. */
  JOBS_FINISHED_IN_NOTICE: 'JobsFinishedInNotice',
  // retry handler
  JOBS_RETRIED: 'JobsRetried',
  JOBS_PARKED: 'JobsParked',
  // API / client
  JOBS_SUBMITTED: 'JobsSubmitted',
  // capacity manager
  BACKLOG_PER_INSTANCE: 'BacklogPerInstance',
  DESIRED_CAPACITY: 'DesiredCapacity',
  // cost reporter
  SPEND_USD: 'SpendUsd',
} as const;
export type MetricName = (typeof MetricNames)[keyof typeof MetricNames];

/** CloudWatch units the worker publishes its metrics with (dashboards label axes with them). */
export const WORKER_METRIC_UNITS: Readonly<Partial<Record<MetricName, 'Count' | 'Milliseconds' | 'Seconds'>>> = {
  [MetricNames.TOKENS_IN]: 'Count',
  [MetricNames.TOKENS_OUT]: 'Count',
  [MetricNames.INFERENCE_LATENCY]: 'Milliseconds',
  [MetricNames.TIME_TO_FIRST_TOKEN]: 'Milliseconds',
  [MetricNames.JOB_DURATION]: 'Seconds',
  [MetricNames.GPU_SECONDS]: 'Seconds',
  [MetricNames.JOBS_SUCCEEDED]: 'Count',
  [MetricNames.JOBS_FAILED]: 'Count',
  [MetricNames.INTERRUPTED_GPU_SECONDS]: 'Seconds',
  [MetricNames.BOOT_GPU_SECONDS]: 'Seconds',
  [MetricNames.IDLE_GPU_SECONDS]: 'Seconds',
  [MetricNames.COLD_START_SECONDS]: 'Seconds',
  [MetricNames.BOOT_FAILURES]: 'Count',
  [MetricNames.MODEL_SERVER_LOST]: 'Count',
  [MetricNames.JOBS_INTERRUPTED]: 'Count',
  [MetricNames.JOBS_REQUEUED]: 'Count',
  [MetricNames.JOBS_RETRIED]: 'Count',
  [MetricNames.JOBS_PARKED]: 'Count',
};

export const Dimensions = {
  WORKLOAD: 'Workload',
  AGENT: 'Agent',
  MODEL: 'Model',
  /** CostReporter: `live` when priced from DescribeSpotPriceHistory, `snapshot` on fallback. */
  PRICE_SOURCE: 'PriceSource',
  /** Cold start: the boot stage (a `BootStages` value). */
  STAGE: 'Stage',
  /** Cold start: the instance's type (boot time depends on its disk and network). */
  INSTANCE_TYPE: 'InstanceType',
} as const;
export type DimensionName = (typeof Dimensions)[keyof typeof Dimensions];

/** Values of the CostReporter's `PriceSource` dimension. */
export const PriceSources = {
  /** Priced from DescribeSpotPriceHistory for the instance's type and Availability Zone. */
  LIVE: 'live',
  /** Priced from the dated snapshot in lib/cost/pricing.ts (price API failed, no live row, or on-demand). */
  SNAPSHOT: 'snapshot',
} as const;
export type PriceSource = (typeof PriceSources)[keyof typeof PriceSources];

/**
 * `Agent` value of spend the CostReporter cannot attribute (no GPU-seconds reported in its window).
 * Starts with a character no agent name may start with (AGENT_NAME_PATTERN), so it never collides.
 */
export const UNATTRIBUTED_AGENT = '(unattributed)';

const W: readonly DimensionName[] = [Dimensions.WORKLOAD];
const WA: readonly DimensionName[] = [Dimensions.WORKLOAD, Dimensions.AGENT];
const WM: readonly DimensionName[] = [Dimensions.WORKLOAD, Dimensions.MODEL];
const PER_JOB: readonly (readonly DimensionName[])[] = [W, WA, WM];

/**
 * The dimension sets each metric is published with. CloudWatch identifies a metric by its exact set of
 * dimensions and never rolls one set up into another, so a producer publishes the value once per set
 * listed here (a per-job metric: once with `Workload`, once with `Workload`+`Agent`, once with
 * `Workload`+`Model`), and dashboards and alarms read only these sets. The observability contract test
 * checks both sides. Percentile widgets (latency, TTFT) need raw values, not statistic sets.
 */
export const METRIC_DIMENSION_SETS: Readonly<Record<MetricName, readonly (readonly DimensionName[])[]>> = {
  [MetricNames.TOKENS_IN]: PER_JOB,
  [MetricNames.TOKENS_OUT]: PER_JOB,
  [MetricNames.INFERENCE_LATENCY]: PER_JOB,
  [MetricNames.TIME_TO_FIRST_TOKEN]: PER_JOB,
  [MetricNames.JOB_DURATION]: PER_JOB,
  [MetricNames.GPU_SECONDS]: PER_JOB,
  [MetricNames.JOBS_SUCCEEDED]: PER_JOB,
  [MetricNames.JOBS_FAILED]: PER_JOB,
  [MetricNames.INTERRUPTED_GPU_SECONDS]: PER_JOB,
  [MetricNames.BOOT_GPU_SECONDS]: [W],
  [MetricNames.IDLE_GPU_SECONDS]: [W],
  // Per stage for the dashboard and the CapacityManager's learned boot time; per type too, to compare types.
  [MetricNames.COLD_START_SECONDS]: [
    [Dimensions.WORKLOAD, Dimensions.STAGE],
    [Dimensions.WORKLOAD, Dimensions.INSTANCE_TYPE, Dimensions.STAGE],
  ],
  [MetricNames.BOOT_FAILURES]: [W],
  [MetricNames.MODEL_SERVER_LOST]: [W],
  [MetricNames.JOBS_INTERRUPTED]: [W],
  [MetricNames.JOBS_REQUEUED]: [W],
  [MetricNames.JOBS_FINISHED_IN_NOTICE]: [W],
  [MetricNames.JOBS_RETRIED]: [W],
  [MetricNames.JOBS_PARKED]: [W],
  [MetricNames.JOBS_SUBMITTED]: [W],
  [MetricNames.BACKLOG_PER_INSTANCE]: [W],
  [MetricNames.DESIRED_CAPACITY]: [W],
  [MetricNames.SPEND_USD]: [W, WA, [Dimensions.WORKLOAD, Dimensions.PRICE_SOURCE]],
};
