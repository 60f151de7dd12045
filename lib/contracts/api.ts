/**
 * The JobApi contract: the configuration the construct writes for its handlers (and a JobClient user builds
 * by hand), the submit request's limits, and the error codes every answer uses. Shared by the construct
 * (JSON-schema model, gateway responses), the submit/status Lambdas and JobClient, so they cannot drift.
 */

export const API_CONFIG_VERSION = 1;

export interface ApiQueueConfig {
  readonly priority: string;
  readonly url: string;
}

export interface ApiWorkloadConfig {
  /** Work queues, highest priority first (the order of the workload's JobQueue). */
  readonly queues: ApiQueueConfig[];
  /**
   * Name or ARN of the workload's CapacityManager function, invoked asynchronously with a {@link WakeEvent}
   * when a job lands on an empty queue set (the fleet is at or near zero). Absent: no wake-up.
   */
  readonly wakeFunction?: string;
}

export interface ApiBudgetConfig {
  /** Daily spend limit per agent name, USD per UTC day, over all workloads of the API. */
  readonly dailyLimitsUsd: Record<string, number>;
  /** Limit for agents not named in `dailyLimitsUsd`; absent: they are not limited. */
  readonly defaultDailyLimitUsd?: number;
  /** How long a warm handler reuses an agent's spend reading before asking CloudWatch again. */
  readonly cacheSeconds: number;
  /** Namespace the CostReporter publishes `SpendUsd` to. */
  readonly metricNamespace: string;
}

/** JSON in the handlers' `AI_BURST_API_CONFIG` variable, or the merge of the ApiConfigParts in their SSM parameters. */
export interface ApiConfig {
  readonly v: number;
  /** Workloads the API serves, by name. */
  readonly workloads: Record<string, ApiWorkloadConfig>;
  /** Largest request body (and inline payload) accepted, bytes; larger inputs use `payloadUpload`. */
  readonly inlinePayloadMaxBytes: number;
  /** Lifetime of a pre-signed payload upload (PUT) URL. */
  readonly uploadUrlSeconds: number;
  /** Lifetime of a pre-signed result download (GET) URL. */
  readonly resultUrlSeconds: number;
  /** At most one backlog probe (and wake) per workload per this many seconds per warm handler. */
  readonly wakeDebounceSeconds: number;
  /** How long job records and idempotency keys are kept (the JobStore's retention). */
  readonly retentionSeconds: number;
  readonly budgets?: ApiBudgetConfig;
}

/**
 * One SSM parameter's share of an ApiConfig. The first part carries every setting and some workloads, the
 * others only workloads; each fits one standard-tier parameter (SSM_STANDARD_PARAMETER_MAX_BYTES).
 */
export interface ApiConfigPart {
  readonly v: number;
  readonly workloads: Readonly<Record<string, ApiWorkloadConfig>>;
  readonly inlinePayloadMaxBytes?: number;
  readonly uploadUrlSeconds?: number;
  readonly resultUrlSeconds?: number;
  readonly wakeDebounceSeconds?: number;
  readonly retentionSeconds?: number;
  readonly budgets?: ApiBudgetConfig;
}

/** Largest value of a standard-tier SSM parameter (advanced: 8 KB, charged per parameter and month). */
export const SSM_STANDARD_PARAMETER_MAX_BYTES = 4096;

/** Splits an ApiConfig into parts: settings first, then workloads packed greedily, each part under `maxBytes` by `size`. */
export function splitApiConfig(config: ApiConfig, size: (json: string) => number, maxBytes: number): ApiConfigPart[] {
  const { workloads, ...settings } = config;
  const parts: Array<{ v: number; workloads: Record<string, ApiWorkloadConfig> }> = [{ ...settings, workloads: {} }];
  for (const [name, workload] of Object.entries(workloads)) {
    const last = parts[parts.length - 1];
    const grown = { ...last, workloads: { ...last.workloads, [name]: workload } };
    if (size(JSON.stringify(grown)) <= maxBytes) parts[parts.length - 1] = grown;
    else parts.push({ v: config.v, workloads: { [name]: workload } });
  }
  return parts;
}

/** The ApiConfig the parts were split from; throws when a part is missing its settings or has another version. */
export function mergeApiConfigParts(parts: readonly ApiConfigPart[]): ApiConfig {
  const bad = parts.find((p) => p.v !== API_CONFIG_VERSION);
  if (bad) throw new Error(`ApiConfig part has version ${bad.v}; this handler reads version ${API_CONFIG_VERSION}`);
  const [first] = parts;
  if (first?.inlinePayloadMaxBytes === undefined) throw new Error('the first ApiConfig part carries no settings (inlinePayloadMaxBytes missing)');
  return { ...first, workloads: Object.assign({}, ...parts.map((p) => p.workloads)) } as ApiConfig;
}

/** The payload the submit path sends (async invoke) to a workload's CapacityManager; it reads `wake`. */
export interface WakeEvent {
  readonly wake: true;
  readonly workload: string;
  /** The job whose submission found the workload's queues empty. */
  readonly jobId: string;
}

/** Request body limit when none is configured: the SQS message limit, which an inline payload must fit. */
export const DEFAULT_INLINE_PAYLOAD_MAX_BYTES = 256 * 1024;
/** Idempotency keys: printable ASCII without spaces or quotes, 1 to 128 characters (UUIDs, ULIDs, request ids). */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 128;
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
/** Fields a submit request may carry; anything else is refused. */
export const SUBMIT_REQUEST_FIELDS = ['workload', 'agent', 'model', 'priority', 'payload', 'payloadUpload', 'uploadId', 'idempotencyKey'] as const;

/** `code` of every `{ error: { code, message } }` answer, from the handlers and from API Gateway itself. */
export const ApiErrorCodes = {
  INVALID_JSON: 'INVALID_JSON',
  INVALID_REQUEST: 'INVALID_REQUEST',
  UNKNOWN_WORKLOAD: 'UNKNOWN_WORKLOAD',
  INVALID_PRIORITY: 'INVALID_PRIORITY',
  INVALID_JOB_ID: 'INVALID_JOB_ID',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  JOB_NOT_FOUND: 'JOB_NOT_FOUND',
  ROUTE_NOT_FOUND: 'ROUTE_NOT_FOUND',
  JOB_NOT_CANCELLABLE: 'JOB_NOT_CANCELLABLE',
  RESULT_NOT_AVAILABLE: 'RESULT_NOT_AVAILABLE',
  UPLOAD_NOT_FOUND: 'UPLOAD_NOT_FOUND',
  JOB_EXISTS: 'JOB_EXISTS',
  IDEMPOTENCY_IN_PROGRESS: 'IDEMPOTENCY_IN_PROGRESS',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
  ENQUEUE_FAILED: 'ENQUEUE_FAILED',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  // API Gateway's own answers (gateway responses)
  UNAUTHORIZED: 'UNAUTHORIZED',
  ACCESS_DENIED: 'ACCESS_DENIED',
  THROTTLED: 'THROTTLED',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  BAD_REQUEST: 'BAD_REQUEST',
  UPSTREAM_TIMEOUT: 'UPSTREAM_TIMEOUT',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
} as const;
export type ApiErrorCode = (typeof ApiErrorCodes)[keyof typeof ApiErrorCodes];

/** HTTP status of each handler error code. */
export const API_ERROR_STATUS: Readonly<Record<ApiErrorCode, number>> = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  UNKNOWN_WORKLOAD: 400,
  INVALID_PRIORITY: 400,
  INVALID_JOB_ID: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  JOB_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  JOB_NOT_CANCELLABLE: 409,
  RESULT_NOT_AVAILABLE: 409,
  UPLOAD_NOT_FOUND: 409,
  JOB_EXISTS: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  BUDGET_EXCEEDED: 429,
  ENQUEUE_FAILED: 503,
  INTERNAL_ERROR: 500,
  UNAUTHORIZED: 401,
  ACCESS_DENIED: 403,
  THROTTLED: 429,
  QUOTA_EXCEEDED: 429,
  BAD_REQUEST: 400,
  UPSTREAM_TIMEOUT: 504,
  SERVICE_UNAVAILABLE: 503,
};
