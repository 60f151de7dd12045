/**
 * Shared by the orchestration handler tests and the drain bench: jobs made RUNNING on an instance against
 * the local servers, exactly as the worker leaves them (record RUNNING with the receipt handle, message
 * in flight), and the stored EventBridge fixtures.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { formatJobId, messageFromRecord, serializeJobMessage } from '../../lib/contracts';
import { JobRecords, NewJob } from '../../runtime/jobs/job-records';
import { uniqueName } from '../support/local-aws';

export const FIXTURE_INSTANCE = 'i-0abcdef1234567890';
export const FIXTURE_GROUP = 'gpu-fleet';
export const FIXTURE_HOOK = 'drain-on-terminate';
export const FIXTURE_TOKEN = '630aa23f-48eb-45e7-aba6-799ea6093a0f';

/** A stored EventBridge event from test/fixtures/events, parsed afresh each call. */
export function fixture(name: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'events', `${name}.json`), 'utf8'));
}

export async function createQueue(sqs: SQSClient, visibilitySeconds = 300): Promise<string> {
  const r = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('q'), Attributes: { VisibilityTimeout: String(visibilitySeconds) } }));
  return r.QueueUrl!;
}

export function newJob(workload = 'agents', over: Partial<NewJob> = {}): NewJob {
  return {
    jobId: formatJobId(workload, randomUUID()),
    workload,
    agent: 'planner',
    priority: 'high',
    submittedAt: new Date().toISOString(),
    payload: { prompt: 'hello' },
    ...over,
  };
}

export interface Held {
  readonly jobId: string;
  readonly queueUrl: string;
  readonly receiptHandle: string;
  /** The run's lease holder in the record. */
  readonly holder: string;
}

export interface RunningJobsOptions {
  /** @default 300 */
  readonly leaseSeconds?: number;
  /** Sets the records' expectedDoneAt (start + this): the notice rule reads it. @default - unknown */
  readonly expectedDurationSeconds?: number;
}

/**
 * `count` jobs of `workload` RUNNING on `instanceId`: records created, messages sent and received (in
 * flight), records started with the receipt handles — the state a spot notice finds.
 */
export async function runningJobs(
  sqs: SQSClient,
  records: JobRecords,
  queueUrl: string,
  instanceId: string,
  count: number,
  workload = 'agents',
  options: RunningJobsOptions = {},
): Promise<Held[]> {
  const jobs = Array.from({ length: count }, () => newJob(workload));
  await Promise.all(jobs.map((j) => records.create(j)));
  const bodies = await Promise.all(jobs.map(async (j) => serializeJobMessage(messageFromRecord((await records.get(j.jobId))!))));
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(i, i + 10).map((MessageBody, k) => ({ Id: String(k), MessageBody })),
      }),
    );
  }
  const held: Held[] = [];
  while (held.length < count) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, AttributeNames: ['All'] }));
    for (const m of r.Messages ?? []) {
      const { jobId } = JSON.parse(m.Body!);
      held.push({ jobId, queueUrl, receiptHandle: m.ReceiptHandle!, holder: '' });
    }
    if ((r.Messages ?? []).length === 0) throw new Error(`only ${held.length} of ${count} messages received`);
  }
  return Promise.all(
    held.map(async (h) => {
      const started = await records.start(h.jobId, {
        instanceId,
        runId: randomUUID(),
        queueUrl,
        receiptHandle: h.receiptHandle,
        leaseSeconds: options.leaseSeconds ?? 300,
        maxAttempts: 3,
        expectedDurationSeconds: options.expectedDurationSeconds,
      });
      if (!started.started) throw new Error(`could not start ${h.jobId}`);
      return { ...h, holder: started.holder };
    }),
  );
}

/** Every visible message of a queue, with attributes (receives them: they go in flight). */
export async function drainQueue(sqs: SQSClient, queueUrl: string) {
  const all = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    if (!r.Messages || r.Messages.length === 0) return all;
    all.push(...r.Messages);
  }
}

/** A log sink that records what a handler logged. */
export function recordingLog() {
  const lines: Array<{ level: 'info' | 'warn'; message: string; extra: Record<string, unknown> }> = [];
  return {
    lines,
    info: (message: string, ...extra: Record<string, unknown>[]) => {
      lines.push({ level: 'info', message, extra: Object.assign({}, ...extra) });
    },
    warn: (message: string, ...extra: Record<string, unknown>[]) => {
      lines.push({ level: 'warn', message, extra: Object.assign({}, ...extra) });
    },
  };
}
