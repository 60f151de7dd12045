/**
 * The retry policy, shared by the worker (a model call failed) and the RetryHandler (SQS dead-lettered a
 * job whose holder died): budget left → the job goes back to its priority queue after an exponential
 * backoff with full jitter and `attempt + 1`; budget spent or a permanent error → FAILED record, message
 * parked. The record's attempt is the budget, never the message's.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { jobMessageGroupId, JobMessage, JobRecord, SQS_MAX_DELAY_SECONDS, serializeJobMessage } from '../../lib/contracts';
import { JobRecords } from './job-records';

export interface BackoffPolicy {
  /** Delay scale of the first retry. */
  readonly baseSeconds: number;
  /** Cap of any one delay (may exceed 900 s: served by re-delaying). */
  readonly maxSeconds: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseSeconds: 10, maxSeconds: 3600 };

/**
 * Full-jitter exponential backoff (AWS Architecture Blog): uniform in [0, min(max, base × 2^(attempt-1))].
 * `random` is injected so tests and the simulator are deterministic.
 */
export function backoffSeconds(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

/** A copy of `message` to send now, split so a delay over SQS's 900 s cap becomes `notBefore` + re-delay. */
export function delayed(message: JobMessage, delaySeconds: number, now: Date): { message: JobMessage; delaySeconds: number } {
  if (delaySeconds <= SQS_MAX_DELAY_SECONDS) return { message: { ...message, notBefore: undefined }, delaySeconds };
  return { message: { ...message, notBefore: new Date(now.getTime() + delaySeconds * 1000).toISOString() }, delaySeconds: SQS_MAX_DELAY_SECONDS };
}

/**
 * For a consumer that received a job with `notBefore` still ahead: the delay to send it back with,
 * or undefined when it may run now.
 */
export function remainingDelaySeconds(message: JobMessage, now: Date): number | undefined {
  if (!message.notBefore) return undefined;
  const remaining = Math.ceil((Date.parse(message.notBefore) - now.getTime()) / 1000);
  return remaining > 0 ? Math.min(remaining, SQS_MAX_DELAY_SECONDS) : undefined;
}

export interface RetryDeps {
  readonly sqs: SQSClient;
  readonly records: JobRecords;
  /** priority → work queue URL */
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly parkingQueueUrl: string;
  readonly maxAttempts: number;
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
  readonly now?: () => Date;
  /** Called once a job is parked (e.g. put a JobFailed event, count a metric). */
  readonly onParked?: (message: JobMessage, reason: string) => Promise<void>;
}

export interface Failure {
  readonly error: string;
  /** Validation errors, missing payloads: retrying cannot help. */
  readonly permanent: boolean;
  /**
   * The worker's lease holder when its run failed: the record is released only if this run still holds it.
   * Absent for the RetryHandler, which retries only a job whose holder died (expired lease) — see `retryDead`.
   */
  readonly holder?: string;
}

export type RetryResult =
  | { readonly action: 'retried'; readonly delaySeconds: number }
  | { readonly action: 'parked'; readonly reason: string }
  | { readonly action: 'already-handled' };

/**
 * Decide and carry out retry or park for one failed job. The budget is the record's `attempt` (the message's
 * copy is only a hint: a stale copy cannot push a job past `maxAttempts`): the record moves to QUEUED with
 * `attempt + 1` only while `attempt < maxAttempts`, in the same conditional write that releases the lease.
 * The caller deletes the original message (or reports the batch item as done) only after this resolves.
 */
export async function retryOrPark(deps: RetryDeps, message: JobMessage, failure: Failure): Promise<RetryResult> {
  const now = (deps.now ?? (() => new Date()))();
  const queueUrl = deps.queueUrls[message.priority];
  if (failure.permanent || !queueUrl) {
    const reason = !queueUrl ? `unknown priority ${message.priority}` : `permanent error: ${failure.error}`;
    return park(deps, message, reason, failure.holder);
  }
  let record: JobRecord | undefined;
  if (failure.holder !== undefined) {
    const r = await deps.records.release(message.jobId, failure.holder, { retry: true, error: failure.error, maxAttempts: deps.maxAttempts });
    if (!r.released && r.reason === 'exhausted') {
      return park(deps, message, `retry budget spent after ${r.record?.attempt ?? message.attempt} attempts: ${failure.error}`, failure.holder);
    }
    record = r.released ? r.record : undefined;
  } else {
    record = await deps.records.retryDead(message.jobId, failure.error, deps.maxAttempts);
    if (!record) {
      const current = await deps.records.get(message.jobId);
      const dead = current?.status === 'RUNNING' && (current.leaseExpiresAt === undefined || current.leaseExpiresAt < now.getTime());
      if (dead && current.attempt >= deps.maxAttempts) {
        return park(deps, message, `retry budget spent after ${current.attempt} attempts: ${failure.error}`);
      }
    }
  }
  // Lost the job meanwhile (cancelled, finished, requeued by the drainer, held by a live lease): nothing to retry.
  if (!record) return { action: 'already-handled' };
  const wait = backoffSeconds(record.attempt - 1, deps.backoff, deps.random);
  const next = delayed({ ...message, attempt: record.attempt, interruptions: record.interruptions, lastError: failure.error }, wait, now);
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: serializeJobMessage(next.message),
      DelaySeconds: next.delaySeconds,
      MessageGroupId: jobMessageGroupId(next.message),
    }),
  );
  return { action: 'retried', delaySeconds: wait };
}

/**
 * Record FAILED with the reason and keep the message on the parking queue for inspection and redrive. With
 * `holder`, only while that run holds the job; without, only while no live lease holds it.
 */
export async function park(
  deps: Pick<RetryDeps, 'sqs' | 'records' | 'parkingQueueUrl' | 'onParked'>,
  message: JobMessage,
  reason: string,
  holder?: string,
): Promise<RetryResult> {
  if (!(await deps.records.fail(message.jobId, reason, holder))) {
    const current = await deps.records.get(message.jobId);
    // Succeeded, cancelled or run by a live holder meanwhile: nothing to park. (FAILED: parking is re-done.)
    if (current && current.status !== 'FAILED') return { action: 'already-handled' };
  }
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: deps.parkingQueueUrl,
      MessageBody: serializeJobMessage({ ...message, attempt: Math.max(message.attempt, 1), lastError: reason }),
    }),
  );
  await deps.onParked?.(message, reason);
  return { action: 'parked', reason };
}

/** Park a body that is not a job message at all, keeping it verbatim with the reason as an attribute. */
export async function parkRaw(sqs: SQSClient, parkingQueueUrl: string, body: string, reason: string): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: parkingQueueUrl,
      MessageBody: body === '' ? '(empty body)' : body,
      MessageAttributes: { 'ai-burst-error': { DataType: 'String', StringValue: reason.slice(0, 1000) } },
    }),
  );
}
