/** Cost-allocation tags on every resource; activate them in the Billing console to split spend. */
export const Tags = {
  WORKLOAD: 'ai-burst:workload',
  COST_CENTER: 'ai-burst:cost-center',
  /**
   * Set to `true` on an instance by the InterruptionDrainer on a rebalance recommendation; the worker reads
   * it through IMDS instance tags and stops taking jobs.
   */
  DRAINING: 'ai-burst:draining',
} as const;

/**
 * `ai-burst:workload` value on resources one platform shares between its workloads (the CostReporter, the
 * alarm topic). Starts with `_`, which no workload name may (WORKLOAD_NAME_PATTERN), so it never collides.
 */
export const SHARED_WORKLOAD_TAG_VALUE = '_shared';

/** Event source and detail types the library puts on EventBridge. */
export const EVENT_SOURCE = 'cdk-ai-burst';
export const EventDetailTypes = {
  JOB_FAILED: 'JobFailed',
} as const;
