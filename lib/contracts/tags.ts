/** Cost-allocation tags on every resource; activate them in the Billing console to split spend. */
export const Tags = {
  WORKLOAD: 'ai-burst:workload',
  COST_CENTER: 'ai-burst:cost-center',
} as const;

/** Event source and detail types the library puts on EventBridge. */
export const EVENT_SOURCE = 'cdk-ai-burst';
export const EventDetailTypes = {
  JOB_FAILED: 'JobFailed',
} as const;
