/** Environment variable names shared by the constructs that set them and the handlers that read them. */
export const EnvNames = {
  WORKLOAD: 'AI_BURST_WORKLOAD',
  JOB_TABLE: 'AI_BURST_JOB_TABLE',
  /** JSON object: priority → queue URL, in precedence order (highest first). */
  QUEUE_URLS: 'AI_BURST_QUEUE_URLS',
  DLQ_URL: 'AI_BURST_DLQ_URL',
  PARKING_QUEUE_URL: 'AI_BURST_PARKING_QUEUE_URL',
  PAYLOAD_BUCKET: 'AI_BURST_PAYLOAD_BUCKET',
  RESULT_BUCKET: 'AI_BURST_RESULT_BUCKET',
  ASG_NAME: 'AI_BURST_ASG_NAME',
  /** JSON: the scaling policy the CapacityManager passes to decideCapacity. */
  SCALING_POLICY: 'AI_BURST_SCALING_POLICY',
  EVENT_BUS: 'AI_BURST_EVENT_BUS',
  METRIC_NAMESPACE: 'AI_BURST_METRIC_NAMESPACE',
  MAX_ATTEMPTS: 'AI_BURST_MAX_ATTEMPTS',
  /** JSON object: workload → CapacityManager function name/ARN to wake on submit. */
  WAKE_FUNCTIONS: 'AI_BURST_WAKE_FUNCTIONS',
  /** JSON array of the workload names a platform-wide Lambda covers (the CostReporter). */
  WORKLOADS: 'AI_BURST_WORKLOADS',
  /** JobApi handlers: JSON ApiConfig (workloads with their queues and wake targets, limits, budgets). */
  API_CONFIG: 'AI_BURST_API_CONFIG',
  /**
   * JobApi handlers, as deployed: JSON array of the SSM parameter names that hold the ApiConfig in parts
   * (ApiConfigPart); read once per cold start. Used when API_CONFIG is not set.
   */
  API_CONFIG_PARAMETERS: 'AI_BURST_API_CONFIG_PARAMETERS',
  /** JobApi handlers: digest of the ApiConfig template, so a deploy that changes it starts fresh execution environments. */
  API_CONFIG_DIGEST: 'AI_BURST_API_CONFIG_DIGEST',
  /** InterruptionDrainer: the terminate lifecycle hook it completes (with ASG_NAME). */
  LIFECYCLE_HOOK_NAME: 'AI_BURST_LIFECYCLE_HOOK_NAME',
  /** InterruptionDrainer: longest it keeps requeueing an instance's jobs before completing the hook anyway. */
  DRAIN_TIMEOUT_SECONDS: 'AI_BURST_DRAIN_TIMEOUT_SECONDS',
  /** InterruptionDrainer: the lifecycle hook's heartbeat timeout; it records a heartbeat every half of it. */
  LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS: 'AI_BURST_LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS',
  /** RetryHandler: JSON BackoffPolicy ({ baseSeconds, maxSeconds }) of failure-driven retries. */
  BACKOFF_POLICY: 'AI_BURST_BACKOFF_POLICY',
  /**
   * Optional: region of the queues and the job table when the function runs in another region than its
   * platform (a GPU layer placed in another region). Unset = the function's own region.
   */
  DATA_REGION: 'AI_BURST_DATA_REGION',
} as const;
export type EnvName = (typeof EnvNames)[keyof typeof EnvNames];
