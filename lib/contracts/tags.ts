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

/**
 * `detail` of a `JobFailed` event (source {@link EVENT_SOURCE}): a job was parked — its record is FAILED
 * (when the job could be identified) and its message waits on the parking queue for inspection and redrive.
 */
export interface JobFailedDetail {
  /** Absent when the parked body was not a job message and no job id could be salvaged from it. */
  readonly jobId?: string;
  readonly workload: string;
  readonly agent?: string;
  readonly model?: string;
  readonly priority?: string;
  readonly attempt?: number;
  readonly interruptions?: number;
  /** Why the job was parked (budget spent, permanent error, unparseable message). */
  readonly reason: string;
  /** ISO-8601 time the job was parked. */
  readonly parkedAt: string;
}
