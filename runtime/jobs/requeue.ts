/**
 * Put an interrupted job back on its queue at once without spending its retry budget — the one
 * implementation the worker (on its spot notice) and the InterruptionDrainer (on the EventBridge event)
 * both call.
 *
 * Order matters: (1) the record moves RUNNING → QUEUED with `interruptions + 1`, releasing the lease in the
 * same write, conditional on the lease holder, so of two racing callers exactly one proceeds (and the
 * interrupted instance is recorded: it never starts the job again); (2) the winner publishes a
 * fresh copy (a new message: ApproximateReceiveCount starts again, so maxReceiveCount is untouched);
 * (3) only then is the original deleted. A crash between steps leaves the original in flight, and SQS
 * redelivers it after its lease: never lost.
 */
import { DeleteMessageCommand, ReceiptHandleIsInvalid, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { jobMessageGroupId, messageFromRecord, serializeJobMessage } from '../../lib/contracts';
import { JobRecords } from './job-records';

export interface HeldJob {
  readonly jobId: string;
  readonly queueUrl: string;
  readonly receiptHandle: string;
  /** The lease holder the caller saw (the worker's own run, or the record the drainer read). */
  readonly holder: string;
}

export type RequeueResult = 'requeued' | 'already-handled';

export async function requeueInterrupted(sqs: SQSClient, records: JobRecords, job: HeldJob): Promise<RequeueResult> {
  const released = await records.release(job.jobId, job.holder, { interruption: true });
  if (!released.released) return 'already-handled';
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: job.queueUrl,
      MessageBody: serializeJobMessage(messageFromRecord(released.record)),
      MessageGroupId: jobMessageGroupId(released.record),
    }),
  );
  await deleteQuietly(sqs, job.queueUrl, job.receiptHandle);
  return 'requeued';
}

/** Delete a message whose copy or outcome is stored; a stale handle is fine (it was already gone or moved). */
export async function deleteQuietly(sqs: SQSClient, queueUrl: string, receiptHandle: string): Promise<void> {
  try {
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
  } catch (e) {
    if (e instanceof ReceiptHandleIsInvalid) return;
    throw e;
  }
}
