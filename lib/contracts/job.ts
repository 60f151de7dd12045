/**
 * The job message (SQS body) and job record (DynamoDB item) every part agrees on.
 * Dependency-free on purpose: constructs, Lambdas, the worker and the simulator all import it.
 */

/** Version of the SQS message body; bump on incompatible change, readers refuse unknown versions. */
export const JOB_MESSAGE_VERSION = 1;

export const JOB_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Priorities a JobQueue creates when none are given, highest first. */
export const DEFAULT_PRIORITIES: readonly string[] = ['high', 'normal'];

/** Name rules, shared by construct props, the API and message parsing. */
export const WORKLOAD_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
export const AGENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PRIORITY_NAME_PATTERN = /^[a-z][a-z0-9-]{0,15}$/;
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
/**
 * Job ids are `<workload>.<uuid>`. The workload prefix lets IAM confine a fleet to its own workload's
 * records (`dynamodb:LeadingKeys`) in the table all workloads share.
 */
export const JOB_ID_PATTERN = /^[a-z][a-z0-9-]{0,31}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A job id for `workload` from a random UUID (crypto.randomUUID()). */
export function formatJobId(workload: string, uuid: string): string {
  return `${workload}.${uuid.toLowerCase()}`;
}

/** The workload a job id belongs to, or undefined for a malformed id. */
export function workloadOfJobId(jobId: string): string | undefined {
  return JOB_ID_PATTERN.test(jobId) ? jobId.slice(0, jobId.indexOf('.')) : undefined;
}

/** S3 keys: payloads and results live under the workload's prefix, so grants can be scoped per workload. */
export function payloadKey(jobId: string): string {
  return `payloads/${workloadOfJobId(jobId) ?? 'unknown'}/${jobId}.json`;
}
/**
 * Each run writes its result under a key of its own, so a losing run can never overwrite the winner's
 * object; the SUCCEEDED write names the winning key in `resultRef`.
 */
export function resultKey(jobId: string, runId: string): string {
  return `results/${workloadOfJobId(jobId) ?? 'unknown'}/${jobId}/${runId}.json`;
}

/** The lease holder of one run: the instance and the run (one per delivery). */
export function leaseHolderOf(instanceId: string, runId: string): string {
  return `${instanceId}/${runId}`;
}

/** The instance part of a lease holder. */
export function instanceOfHolder(holder: string): string {
  const slash = holder.indexOf('/');
  return slash < 0 ? holder : holder.slice(0, slash);
}

/** Name of the job table's index on `instanceId` (the drainer's "what does this instance hold"). */
export const JOB_TABLE_INSTANCE_INDEX = 'byInstance';

/** SQS hard limits that several parts validate against. */
export const SQS_MAX_VISIBILITY_SECONDS = 12 * 60 * 60;
export const SQS_MAX_DELAY_SECONDS = 900;
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024;

/** The SQS message body of one job. */
export interface JobMessage {
  /** Message format version: {@link JOB_MESSAGE_VERSION}. */
  readonly v: number;
  readonly jobId: string;
  readonly workload: string;
  readonly agent: string;
  /** Model the worker asks its model server for. @default - the fleet's default model */
  readonly model?: string;
  readonly priority: string;
  /** Inline input (JSON). Exactly one of `payload` and `payloadRef` is set. */
  readonly payload?: unknown;
  /** `s3://bucket/key` of an input too large to inline. */
  readonly payloadRef?: string;
  /** ISO-8601 time the API accepted the job. */
  readonly submittedAt: string;
  /** 1 for the first run; +1 for each failure-driven retry (never for an interruption). */
  readonly attempt: number;
  /** How often spot reclaimed the instance running this job; does not spend the retry budget. */
  readonly interruptions: number;
  /** Why the previous attempt failed, carried for the retry handler. */
  readonly lastError?: string;
  /**
   * ISO-8601 time before which the job must not run. Backoffs longer than SQS's 900 s delay cap are
   * served by re-delaying: a consumer that receives the job early sends it back with the remaining delay.
   */
  readonly notBefore?: string;
}

/** The DynamoDB item of one job, key `jobId`. */
export interface JobRecord {
  readonly jobId: string;
  readonly workload: string;
  readonly agent: string;
  readonly model?: string;
  readonly priority: string;
  readonly status: JobStatus;
  readonly attempt: number;
  readonly interruptions: number;
  readonly submittedAt: string;
  readonly updatedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Set while RUNNING, removed when the job leaves RUNNING (index `byInstance`). */
  readonly instanceId?: string;
  readonly queueUrl?: string;
  readonly receiptHandle?: string;
  /**
   * The lease of the run that owns the job while RUNNING: `<instanceId>/<runId>` (one id per delivery) and
   * its expiry (epoch ms), renewed by every heartbeat. Another delivery may take a RUNNING job over only
   * once the lease has expired; every write of a run is conditional on its holder.
   */
  readonly leaseHolder?: string;
  readonly leaseExpiresAt?: number;
  /** When the running job is expected to end (epoch ms): its start + the fleet's expected duration, or its progress. */
  readonly expectedDoneAt?: number;
  /** Set by a spot notice on a job left to finish before the reclaim (epoch ms of the reclaim). */
  readonly reclaimAt?: number;
  /** The last instance whose interruption requeued the job: that instance never starts it again. */
  readonly interruptedOn?: string;
  /** Inline input, kept so the drainer can rebuild the message (it never sees the SQS body). */
  readonly payload?: unknown;
  readonly payloadRef?: string;
  readonly lastError?: string;
  readonly idempotencyKey?: string;
  readonly tokensIn?: number;
  readonly tokensOut?: number;
  readonly latencyMs?: number;
  readonly gpuSeconds?: number;
  readonly costUsd?: number;
  /** `s3://bucket/key` of the result, or absent when `result` holds it inline. */
  readonly resultRef?: string;
  readonly result?: unknown;
  readonly error?: string;
  /** Epoch seconds after which DynamoDB deletes the record. */
  readonly ttl?: number;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

function checkName(o: Record<string, unknown>, field: string, pattern: RegExp, optional = false): string | undefined {
  const value = o[field];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string') return `${field} must be a string (got ${describe(value)})`;
  if (!pattern.test(value)) return `${field} ${JSON.stringify(value.slice(0, 80))} must match ${pattern}`;
  return undefined;
}

function checkCount(o: Record<string, unknown>, field: string, min: number): string | undefined {
  const value = o[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    return `${field} must be an integer ≥ ${min} (got ${describe(value)})`;
  }
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value === 'object' ? 'object' : String(value);
}

/**
 * Parse and validate an SQS body. Never throws: a malformed body yields `{ ok: false, error }` with a
 * message naming the field, so consumers can park it with the reason instead of crashing.
 */
export function parseJobMessage(body: string | undefined): Parsed<JobMessage> {
  if (body === undefined || body === '') return fail('message body is empty');
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return fail('message body is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('message body must be a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.v !== JOB_MESSAGE_VERSION) return fail(`v must be ${JOB_MESSAGE_VERSION} (got ${describe(o.v)})`);
  const error =
    checkName(o, 'jobId', JOB_ID_PATTERN) ??
    checkName(o, 'workload', WORKLOAD_NAME_PATTERN) ??
    checkName(o, 'agent', AGENT_NAME_PATTERN) ??
    checkName(o, 'model', MODEL_NAME_PATTERN, true) ??
    checkName(o, 'priority', PRIORITY_NAME_PATTERN) ??
    checkCount(o, 'attempt', 1) ??
    checkCount(o, 'interruptions', 0);
  if (error) return fail(error);
  if (workloadOfJobId(o.jobId as string) !== o.workload)
    return fail(`jobId ${JSON.stringify(o.jobId)} does not belong to workload ${JSON.stringify(o.workload)}`);
  if (typeof o.submittedAt !== 'string' || Number.isNaN(Date.parse(o.submittedAt))) {
    return fail(`submittedAt must be an ISO-8601 time (got ${describe(o.submittedAt)})`);
  }
  const hasPayload = o.payload !== undefined;
  const hasRef = o.payloadRef !== undefined;
  if (hasPayload === hasRef) return fail('exactly one of payload and payloadRef must be set');
  if (hasRef && (typeof o.payloadRef !== 'string' || !/^s3:\/\/[^/]{3,63}\/.+/.test(o.payloadRef))) {
    return fail(`payloadRef must be an s3://bucket/key URI (got ${describe(o.payloadRef)})`);
  }
  if (o.lastError !== undefined && typeof o.lastError !== 'string') return fail('lastError must be a string');
  if (o.notBefore !== undefined && (typeof o.notBefore !== 'string' || Number.isNaN(Date.parse(o.notBefore)))) {
    return fail(`notBefore must be an ISO-8601 time (got ${describe(o.notBefore)})`);
  }
  return { ok: true, value: o as unknown as JobMessage };
}

/** Serialize a message; the inverse of {@link parseJobMessage}. */
export function serializeJobMessage(message: JobMessage): string {
  return JSON.stringify(message);
}

/**
 * The message for a job record: what a requeue re-publishes when only the record is at hand (the drainer
 * holds no SQS body). Attempt and interruptions are the record's.
 */
export function messageFromRecord(record: JobRecord): JobMessage {
  return {
    v: JOB_MESSAGE_VERSION,
    jobId: record.jobId,
    workload: record.workload,
    agent: record.agent,
    ...(record.model !== undefined ? { model: record.model } : {}),
    priority: record.priority,
    ...(record.payloadRef !== undefined ? { payloadRef: record.payloadRef } : { payload: record.payload ?? null }),
    submittedAt: record.submittedAt,
    attempt: record.attempt,
    interruptions: record.interruptions,
    ...(record.lastError !== undefined ? { lastError: record.lastError } : {}),
  };
}

/** Best-effort job id of a body that failed to parse, so its record can still be marked. */
export function salvageJobId(body: string | undefined): string | undefined {
  const match = body?.match(/"jobId"\s*:\s*"([a-z0-9.-]{38,70})"/);
  return match && JOB_ID_PATTERN.test(match[1]) ? match[1] : undefined;
}

/**
 * Statuses a job may move to from `from`: the contract lambda/shared/job-records.ts implements with its
 * conditional writes (besides two same-status moves: a redelivery taking over a RUNNING job, and the
 * RetryHandler re-queueing a QUEUED one). SUCCEEDED and CANCELLED are terminal.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  QUEUED: ['RUNNING', 'CANCELLED', 'FAILED'],
  RUNNING: ['QUEUED', 'SUCCEEDED', 'FAILED'],
  SUCCEEDED: [],
  FAILED: ['QUEUED'], // only by an operator's redrive of a parked job
  CANCELLED: [],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

/**
 * SendMessage's MessageGroupId for a job: its agent. On a standard queue this makes the queue a fair queue
 * (SQS, 2025): when one agent's backlog dwells, SQS delivers other agents' messages first, so a 10,000-job
 * batch does not hold up another agent's single job. Every send of a job (submit, retry, requeue, hand-back,
 * redrive) carries it; agent names (AGENT_NAME_PATTERN) are valid group ids (1-128 characters).
 */
export function jobMessageGroupId(job: { readonly agent: string }): string {
  return job.agent;
}
