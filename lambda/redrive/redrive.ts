/**
 * Redrive parked jobs after a fix: per parked message, the record goes FAILED → QUEUED with a fresh
 * attempt budget (records.reset), then a copy goes to the job's own priority queue, then the parked
 * message is deleted. Every SDK client is injected; the Lambda (index.ts) and a CLI both call this.
 *
 * Why not SQS StartMessageMoveTask: it moves a dead-letter queue's messages to one destination (or back
 * to the queue they were dead-lettered from). The parking queue holds jobs of every priority, most of
 * them sent there by the RetryHandler (not dead-lettered from a work queue), and its only redrive source
 * is the DLQ — so a move task can neither route each job to its priority queue nor reset the FAILED
 * record, and a worker would drop a copy whose record is still FAILED.
 */
import { ChangeMessageVisibilityBatchCommand, Message, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { jobMessageGroupId, JobMessage, parseJobMessage, serializeJobMessage, SQS_MAX_VISIBILITY_SECONDS } from '../../lib/contracts';
import { JobRecords } from '../../runtime/jobs/job-records';
import { deleteQuietly } from '../../runtime/jobs/requeue';
import { Log } from '../../runtime/log';

export type RedriveLog = Pick<Log, 'info' | 'warn'>;

export interface RedriveDeps {
  readonly sqs: SQSClient;
  readonly records: JobRecords;
  readonly workload: string;
  /** priority → work queue URL */
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly parkingQueueUrl: string;
  readonly log?: RedriveLog;
  readonly now?: () => number;
  /** Long-poll wait of each receive; an empty receive ends the run. @default 1 */
  readonly receiveWaitSeconds?: number;
}

export interface RedriveOptions {
  /** Redrive only these jobs; every other parked message stays parked. @default - every parked job */
  readonly jobIds?: readonly string[];
  /** Stop after this many jobs were sent back. @default 1000 */
  readonly maxJobs?: number;
  /** Stop receiving after this long; the caller runs again for the rest (`more` says so). @default 60 s */
  readonly timeBudgetMs?: number;
}

export interface RedriveReport {
  /** Jobs sent back to their priority queue with a fresh budget. */
  readonly redriven: string[];
  /** Parked copies of jobs that moved on meanwhile (running, succeeded, cancelled): deleted. */
  readonly stale: string[];
  /** Parked messages left in place, with the reason (not a job message, not selected, no record, …). */
  readonly kept: Array<{ readonly messageId: string; readonly jobId?: string; readonly reason: string }>;
  readonly errors: Array<{ readonly jobId: string; readonly error: string }>;
  /** True when the run stopped on its limits with parked messages possibly left to redrive. */
  readonly more: boolean;
}

export async function redriveParked(deps: RedriveDeps, options: RedriveOptions = {}): Promise<RedriveReport> {
  const now = deps.now ?? Date.now;
  const budget = options.timeBudgetMs ?? 60_000;
  const deadline = now() + budget;
  const maxJobs = options.maxJobs ?? 1000;
  const wanted = options.jobIds ? new Set(options.jobIds) : undefined;
  // Messages this run looks at stay invisible for the whole run, so none is seen twice; those kept
  // parked are made visible again at the end.
  const hold = Math.min(SQS_MAX_VISIBILITY_SECONDS, Math.ceil(budget / 1000) + 30);
  const report: RedriveReport = { redriven: [], stale: [], kept: [], errors: [], more: false };
  const keptHandles: string[] = [];

  try {
    for (;;) {
      if (report.redriven.length >= maxJobs || now() >= deadline) {
        (report as { more: boolean }).more = true;
        break;
      }
      const r = await deps.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: deps.parkingQueueUrl,
          MaxNumberOfMessages: Math.min(10, maxJobs - report.redriven.length),
          WaitTimeSeconds: deps.receiveWaitSeconds ?? 1,
          VisibilityTimeout: hold,
          AttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      const messages = r.Messages ?? [];
      if (messages.length === 0) break;
      await Promise.all(
        messages.map(async (m) => {
          let kept: boolean;
          try {
            kept = await redriveOne(deps, m, wanted, report);
          } catch (e) {
            report.errors.push({ jobId: parseJobMessage(m.Body).ok ? JSON.parse(m.Body!).jobId : '(unparseable)', error: String(e) });
            kept = true;
          }
          if (kept) keptHandles.push(m.ReceiptHandle!);
        }),
      );
    }
  } finally {
    await release(deps, keptHandles);
  }
  deps.log?.info('redrive finished', {
    redriven: report.redriven.length,
    stale: report.stale.length,
    kept: report.kept.length,
    errors: report.errors.length,
    more: report.more,
  });
  return report;
}

/** Redrive one parked message; true when it stays parked. */
async function redriveOne(deps: RedriveDeps, m: Message, wanted: Set<string> | undefined, report: RedriveReport): Promise<boolean> {
  const keep = (reason: string, jobId?: string): boolean => {
    report.kept.push({ messageId: m.MessageId ?? '', ...(jobId ? { jobId } : {}), reason });
    return true;
  };
  const parsed = parseJobMessage(m.Body);
  if (!parsed.ok) return keep(`not a job message: ${parsed.error}`);
  const message = parsed.value;
  if (wanted && !wanted.has(message.jobId)) return keep('not selected', message.jobId);
  if (message.workload !== deps.workload) return keep(`job of workload ${message.workload}, not ${deps.workload}`, message.jobId);
  const queueUrl = deps.queueUrls[message.priority];
  if (!queueUrl) return keep(`unknown priority ${message.priority}`, message.jobId);

  let record = await deps.records.reset(message.jobId);
  const wasReset = record !== undefined;
  if (!record) {
    const current = await deps.records.get(message.jobId);
    if (!current) return keep('job record not found (expired?)', message.jobId);
    if (current.status === 'FAILED') return keep('record changed during the redrive; run again', message.jobId);
    if (current.status !== 'QUEUED') {
      // Running or finished since it was parked: this copy is stale.
      await deleteQuietly(deps.sqs, deps.parkingQueueUrl, m.ReceiptHandle!);
      report.stale.push(message.jobId);
      return false;
    }
    // QUEUED without a live message: SQS parked the DLQ copy itself (the RetryHandler kept failing), or an
    // earlier redrive stopped between reset and send. Send it again; should a copy exist after all, only
    // one runs at a time (a fresh copy never takes over a RUNNING record) and a finished job's copies are dropped.
    record = current;
  }
  const copy: JobMessage = { ...message, attempt: record.attempt, interruptions: record.interruptions, lastError: undefined, notBefore: undefined };
  try {
    await deps.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: serializeJobMessage(copy), MessageGroupId: jobMessageGroupId(copy) }),
    );
  } catch (e) {
    // Put the record back so the job stays visibly failed and parked, ready for the next redrive.
    if (wasReset) await deps.records.fail(message.jobId, message.lastError ?? 'redrive failed to send the job back');
    report.errors.push({ jobId: message.jobId, error: String(e) });
    return true;
  }
  await deleteQuietly(deps.sqs, deps.parkingQueueUrl, m.ReceiptHandle!);
  report.redriven.push(message.jobId);
  return false;
}

async function release(deps: RedriveDeps, handles: string[]): Promise<void> {
  for (let i = 0; i < handles.length; i += 10) {
    try {
      await deps.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: deps.parkingQueueUrl,
          Entries: handles.slice(i, i + 10).map((ReceiptHandle, k) => ({ Id: String(k), ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      );
    } catch (e) {
      deps.log?.warn('could not make kept parked messages visible again; they reappear after the hold', { error: String(e) });
    }
  }
}
