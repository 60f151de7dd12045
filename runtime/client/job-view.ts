/**
 * What a caller may see of a job record. An allow-list, so a field added to the record later (or an
 * internal one: receiptHandle, queueUrl, instanceId, payload, resultRef, ttl, idempotency key) never leaks.
 */
import { JobRecord } from '../../lib/contracts';

/** The record fields a caller sees; everything else stays inside. */
const VISIBLE = [
  'jobId',
  'workload',
  'agent',
  'model',
  'priority',
  'status',
  'attempt',
  'interruptions',
  'submittedAt',
  'updatedAt',
  'startedAt',
  'finishedAt',
  'tokensIn',
  'tokensOut',
  'latencyMs',
  'gpuSeconds',
  'costUsd',
  'error',
  'lastError',
] as const;

export type JobView = Pick<JobRecord, (typeof VISIBLE)[number]> & {
  /** True when GET /jobs/{id}/result has something to return. */
  readonly hasResult: boolean;
};

export function jobView(record: JobRecord): JobView {
  const view: Record<string, unknown> = {};
  for (const k of VISIBLE) if (record[k] !== undefined) view[k] = record[k];
  view.hasResult = record.status === 'SUCCEEDED' && (record.resultRef !== undefined || record.result !== undefined);
  return view as unknown as JobView;
}
