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
} as const;
export type EnvName = (typeof EnvNames)[keyof typeof EnvNames];
