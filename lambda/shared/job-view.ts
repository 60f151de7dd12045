/**
 * What a caller may see of a job record. An allow-list, so a field added to the record later (or an
 * internal one: receiptHandle, queueUrl, instanceId, payload, resultRef, ttl, idempotency key) never leaks.
 */
import { JobRecord, JobStatus } from '../../lib/contracts';

export interface JobView {
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
  readonly tokensIn?: number;
  readonly tokensOut?: number;
  readonly latencyMs?: number;
  readonly gpuSeconds?: number;
  readonly costUsd?: number;
  /** Why the job failed (FAILED). */
  readonly error?: string;
  /** Why the previous attempt failed, while a retry is pending. */
  readonly lastError?: string;
  /** True when GET /jobs/{id}/result has something to return. */
  readonly hasResult: boolean;
}

const VISIBLE = [
  'jobId', 'workload', 'agent', 'model', 'priority', 'status', 'attempt', 'interruptions', 'submittedAt', 'updatedAt',
  'startedAt', 'finishedAt', 'tokensIn', 'tokensOut', 'latencyMs', 'gpuSeconds', 'costUsd', 'error', 'lastError',
] as const;

export function jobView(record: JobRecord): JobView {
  const view: Record<string, unknown> = {};
  for (const k of VISIBLE) if (record[k] !== undefined) view[k] = record[k];
  view.hasResult = record.status === 'SUCCEEDED' && (record.resultRef !== undefined || record.result !== undefined);
  return view as unknown as JobView;
}
