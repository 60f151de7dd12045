/**
 * What the RetryHandler does with one dead-lettered SQS message, with every client injected (index.ts
 * wires them and runs the batch through Powertools' BatchProcessor). SQS moved the message here after
 * `maxReceiveCount` receives: the worker crashed, or copies kept bouncing off a live lease. The record decides
 * (see `decide`); a dead holder's job goes through the shared retry policy (retryOrPark): budget left → back to
 * its priority queue with full-jitter backoff and `attempt + 1`; budget spent or a permanent error → record
 * FAILED, message parked, a JobFailed event.
 * A body that is not a job message is parked at once (parkRaw) — it can never succeed.
 *
 * Throwing means "report this item as failed": SQS makes it visible again for another try, and after
 * the DLQ's own maxReceiveCount it lands on the parking queue (the DLQ's DLQ), so nothing loops forever.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  EVENT_SOURCE,
  EventDetailTypes,
  JobFailedDetail,
  JobMessage,
  JobRecord,
  SQS_MAX_DELAY_SECONDS,
  parseJobMessage,
  salvageJobId,
  serializeJobMessage,
  workloadOfJobId,
  jobMessageGroupId,
} from '../../lib/contracts';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { backoffSeconds, parkRaw, retryOrPark, RetryDeps } from '../../runtime/jobs/retry';
import { Log } from '../../runtime/log';

export type DeadLetterLog = Pick<Log, 'info' | 'warn'>;

export interface DeadLetterDeps extends Omit<RetryDeps, 'onParked'> {
  readonly workload: string;
  readonly events: EventBridgeClient;
  /** Name or ARN of the bus JobFailed events go to. */
  readonly eventBusName: string;
  readonly log: DeadLetterLog;
}

/** The parts of an SQS record this handler reads (aws-lambda's SQSRecord has them). */
export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly attributes?: { readonly ApproximateReceiveCount?: string };
}

export type DeadLetterOutcome =
  | { readonly action: 'retried'; readonly jobId: string; readonly attempt: number; readonly delaySeconds: number }
  | { readonly action: 'parked'; readonly jobId?: string; readonly reason: string }
  | { readonly action: 'resent'; readonly jobId: string; readonly delaySeconds: number; readonly reason: string }
  | { readonly action: 'already-handled'; readonly jobId: string; readonly reason: string };

/** The decision for a parsed job message and its record, before any write. Pure. */
export type Decision =
  | { readonly kind: 'skip'; readonly reason: string }
  /** Nobody runs the job: send a fresh copy (no attempt spent) after `delaySeconds`. */
  | { readonly kind: 'resend'; readonly message: JobMessage; readonly delaySeconds: number; readonly reason: string }
  | { readonly kind: 'retry'; readonly message: JobMessage; readonly error: string; readonly permanent: boolean };

/**
 * What a dead letter means depends on the record, the authority on ownership and on the budget:
 * - RUNNING under a live lease: its holder is alive (a duplicate copy kept bouncing off the lease); a fresh copy
 *   comes back after the lease would expire, in case the holder dies — no attempt is spent;
 * - RUNNING under an expired lease: the holder died; this is a failed attempt (retry or park, by the record's attempt);
 * - QUEUED: no run happened (copies were received but never started): a fresh copy, no attempt spent.
 */
export function decide(
  message: JobMessage,
  record: JobRecord | undefined,
  receiveCount: number | undefined,
  nowMs: number,
  backoff: number,
): Decision {
  const error =
    `dead-lettered after ${receiveCount ?? 'too many'} receives (the worker crashed, lost its lease or kept failing)` +
    (message.lastError ? `; last error: ${message.lastError}` : '');
  if (!record) {
    return { kind: 'retry', message, error: 'job record not found (expired or never written): nothing to run', permanent: true };
  }
  if (record.status === 'SUCCEEDED' || record.status === 'CANCELLED') {
    return { kind: 'skip', reason: `job already ${record.status}: the dead-lettered copy is stale` };
  }
  if (record.status === 'FAILED') return { kind: 'skip', reason: 'job already FAILED and parked' };
  const current: JobMessage = { ...message, attempt: record.attempt, interruptions: record.interruptions };
  if (record.status === 'RUNNING' && record.leaseExpiresAt !== undefined && record.leaseExpiresAt >= nowMs) {
    const delaySeconds = Math.min(SQS_MAX_DELAY_SECONDS, Math.ceil((record.leaseExpiresAt - nowMs) / 1000) + 1);
    return { kind: 'resend', message: current, delaySeconds, reason: 'a live lease holds the job: a copy returns after the lease' };
  }
  const payloadMissing =
    message.payloadRef === undefined &&
    (message.payload === undefined || message.payload === null) &&
    record.payloadRef === undefined &&
    (record.payload === undefined || record.payload === null);
  if (payloadMissing)
    return { kind: 'retry', message: current, error: 'payload missing: the job has neither payload nor payloadRef', permanent: true };
  if (record.status === 'QUEUED') {
    return {
      kind: 'resend',
      message: current,
      delaySeconds: Math.min(SQS_MAX_DELAY_SECONDS, backoff),
      reason: 'queued but never started: a fresh copy',
    };
  }
  return { kind: 'retry', message: current, error, permanent: false };
}

export async function handleDeadLetter(deps: DeadLetterDeps, letter: DeadLetter): Promise<DeadLetterOutcome> {
  const receiveCount = Number(letter.attributes?.ApproximateReceiveCount) || undefined;
  const parsed = parseJobMessage(letter.body);
  if (!parsed.ok) return parkPoison(deps, letter, `not a job message: ${parsed.error}`);
  const message = parsed.value;
  if (message.workload !== deps.workload) {
    // Another workload's record is out of this handler's reach (its grant is confined to its own ids).
    return parkPoison(deps, letter, `job ${message.jobId} belongs to workload ${message.workload}, not ${deps.workload}`);
  }

  const record = await deps.records.get(message.jobId);
  const backoff = backoffSeconds(record?.attempt ?? message.attempt, deps.backoff, deps.random);
  const decision = decide(message, record, receiveCount, now(deps).getTime(), backoff);
  if (decision.kind === 'skip') {
    deps.log.info('dead letter already handled', { jobId: message.jobId, reason: decision.reason });
    return { action: 'already-handled', jobId: message.jobId, reason: decision.reason };
  }
  const queueUrl = deps.queueUrls[message.priority];
  if (decision.kind === 'resend' && queueUrl) {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: serializeJobMessage(decision.message),
        DelaySeconds: decision.delaySeconds,
        MessageGroupId: jobMessageGroupId(decision.message),
      }),
    );
    deps.log.info('dead letter sent back without spending an attempt', {
      jobId: message.jobId,
      reason: decision.reason,
      delaySeconds: decision.delaySeconds,
    });
    return { action: 'resent', jobId: message.jobId, delaySeconds: decision.delaySeconds, reason: decision.reason };
  }
  const retry = decision.kind === 'retry' ? decision : { message: decision.message, error: `unknown priority ${message.priority}`, permanent: true };
  const result = await retryOrPark(
    { ...deps, onParked: (m, reason) => putJobFailed(deps, detailOf(m, reason, now(deps).toISOString())) },
    retry.message,
    { error: retry.error, permanent: retry.permanent },
  );
  switch (result.action) {
    case 'retried':
      deps.log.info('job retried', { jobId: message.jobId, attempt: retry.message.attempt + 1, delaySeconds: result.delaySeconds });
      return { action: 'retried', jobId: message.jobId, attempt: retry.message.attempt + 1, delaySeconds: result.delaySeconds };
    case 'parked':
      deps.log.warn('job parked', { jobId: message.jobId, reason: result.reason });
      return { action: 'parked', jobId: message.jobId, reason: result.reason };
    case 'already-handled':
      deps.log.info('dead letter already handled', { jobId: message.jobId, reason: 'the job moved on meanwhile' });
      return { action: 'already-handled', jobId: message.jobId, reason: 'the job moved on meanwhile' };
  }
}

/**
 * Park a body that cannot be retried as it is. When a job id of this workload can be salvaged from it,
 * its record is marked FAILED too, so the caller polling the job sees the failure.
 */
async function parkPoison(deps: DeadLetterDeps, letter: DeadLetter, reason: string): Promise<DeadLetterOutcome> {
  await parkRaw(deps.sqs, deps.parkingQueueUrl, letter.body, reason);
  const salvaged = salvageJobId(letter.body);
  const jobId = salvaged && workloadOfJobId(salvaged) === deps.workload ? salvaged : undefined;
  if (jobId) await deps.records.fail(jobId, reason);
  await putJobFailed(deps, { ...(jobId ? { jobId } : {}), workload: deps.workload, reason, parkedAt: now(deps).toISOString() });
  deps.log.warn('poison message parked', { messageId: letter.messageId, jobId, reason });
  return { action: 'parked', jobId, reason };
}

function now(deps: Pick<RetryDeps, 'now'>): Date {
  return (deps.now ?? (() => new Date()))();
}

function detailOf(m: JobMessage, reason: string, parkedAt: string): JobFailedDetail {
  return {
    jobId: m.jobId,
    workload: m.workload,
    agent: m.agent,
    ...(m.model !== undefined ? { model: m.model } : {}),
    priority: m.priority,
    attempt: m.attempt,
    interruptions: m.interruptions,
    reason,
    parkedAt,
  };
}

/**
 * One JobFailed event. A rejected entry throws, so the batch item is retried: the retry parks again (the
 * record is already FAILED), which at worst leaves a second parked copy — the redrive resets a record once.
 */
export async function putJobFailed(deps: Pick<DeadLetterDeps, 'events' | 'eventBusName'>, detail: JobFailedDetail): Promise<void> {
  const r = await deps.events.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: deps.eventBusName,
          Source: EVENT_SOURCE,
          DetailType: EventDetailTypes.JOB_FAILED,
          Detail: JSON.stringify(detail),
        },
      ],
    }),
  );
  if ((r.FailedEntryCount ?? 0) > 0) {
    const entry = r.Entries?.[0];
    throw new Error(`PutEvents rejected the JobFailed event: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim());
  }
}
