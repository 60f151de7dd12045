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
  // worker + drainer
  JOBS_INTERRUPTED: 'JobsInterrupted',
  JOBS_REQUEUED: 'JobsRequeued',
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

export const Dimensions = {
  WORKLOAD: 'Workload',
  AGENT: 'Agent',
  MODEL: 'Model',
  /** CostReporter: `live` when priced from DescribeSpotPriceHistory, `snapshot` on fallback. */
  PRICE_SOURCE: 'PriceSource',
} as const;
export type DimensionName = (typeof Dimensions)[keyof typeof Dimensions];
