/**
 * The run-time core every consumer shares, against real DynamoDB (dynalite) and SQS (local-aws-sqs)
 * semantics: conditional job transitions, interruption requeue, retry and park.
 */
import { randomUUID } from 'node:crypto';

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand as CreateSqsQueue, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { formatJobId, JobMessage, messageFromRecord, parseJobMessage, serializeJobMessage } from '../../lib/contracts';
import { JobRecords, NewJob } from '../../lambda/shared/job-records';
import { requeueInterrupted } from '../../lambda/shared/requeue';
import { backoffSeconds, delayed, remainingDelaySeconds, retryOrPark } from '../../lambda/shared/retry';
import { createJobTable, documentClient } from '../support/job-table';
import { LocalServer, startDynamo, startSqs, uniqueName } from '../support/local-aws';

let sqs: LocalServer<SQSClient>;
let ddb: LocalServer<DynamoDBClient>;
let records: JobRecords;

beforeAll(async () => {
  [sqs, ddb] = await Promise.all([startSqs(), startDynamo()]);
  records = new JobRecords(documentClient(ddb.client), await createJobTable(ddb.client));
});
afterAll(async () => { await Promise.all([sqs.close(), ddb.close()]); });

function newJob(over: Partial<NewJob> = {}): NewJob {
  return {
    jobId: formatJobId('agents', randomUUID()), workload: 'agents', agent: 'planner', priority: 'high',
    submittedAt: new Date().toISOString(), payload: { prompt: 'hello' }, ...over,
  };
}

async function queue(): Promise<string> {
  return (await sqs.client.send(new CreateSqsQueue({ QueueName: uniqueName('q'), Attributes: { VisibilityTimeout: '30' } }))).QueueUrl!;
}

async function receiveAll(url: string) {
  const r = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, AttributeNames: ['All'] }));
  return r.Messages ?? [];
}

/** Create a record and a message, receive it, and mark it RUNNING on `instanceId`. */
async function running(url: string, instanceId = 'i-1') {
  const job = newJob();
  await records.create(job);
  const record = (await records.get(job.jobId))!;
  await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: serializeJobMessage(messageFromRecord(record)) }));
  const [m] = await receiveAll(url);
  const started = await records.start(job.jobId, { instanceId, queueUrl: url, receiptHandle: m.ReceiptHandle!, receiveCount: 1 });
  expect(started.started).toBe(true);
  return { job, receiptHandle: m.ReceiptHandle! };
}

describe('JobRecords transitions', () => {
  test('create is idempotent on the job id', async () => {
    const job = newJob();
    expect(await records.create(job)).toBe('created');
    expect(await records.create(job)).toBe('exists');
    expect(await records.get(job.jobId)).toMatchObject({ status: 'QUEUED', attempt: 1, interruptions: 0, payload: { prompt: 'hello' } });
  });

  test('a finished job cannot be started again nor finished twice', async () => {
    const url = await queue();
    const { job, receiptHandle } = await running(url);
    expect(await records.succeed(job.jobId, receiptHandle, { tokensIn: 3, tokensOut: 5, resultRef: 's3://b/k' })).toBe(true);
    expect(await records.succeed(job.jobId, receiptHandle, { tokensIn: 9 })).toBe(false);
    const again = await records.start(job.jobId, { instanceId: 'i-2', queueUrl: url, receiptHandle: 'other', receiveCount: 2 });
    expect(again).toMatchObject({ started: false, reason: 'finished' });
    expect(await records.get(job.jobId)).toMatchObject({ status: 'SUCCEEDED', tokensIn: 3, tokensOut: 5 });
    expect((await records.get(job.jobId))!.instanceId).toBeUndefined();
  });

  test('a fresh copy never steals a running job; a redelivery of the same message takes it over', async () => {
    const url = await queue();
    const { job, receiptHandle } = await running(url);
    expect(await records.start(job.jobId, { instanceId: 'i-2', queueUrl: url, receiptHandle: 'h2', receiveCount: 1 }))
      .toMatchObject({ started: false, reason: 'held' });
    expect(await records.start(job.jobId, { instanceId: 'i-2', queueUrl: url, receiptHandle: 'h2', receiveCount: 2 }))
      .toMatchObject({ started: true, record: { instanceId: 'i-2' } });
    // The old holder lost the job: its late success is refused.
    expect(await records.succeed(job.jobId, receiptHandle, {})).toBe(false);
  });

  test('cancel only while queued; runningOn lists what an instance holds', async () => {
    const queued = newJob();
    await records.create(queued);
    expect(await records.cancel(queued.jobId)).toBe(true);
    const url = await queue();
    const a = await running(url, 'i-list');
    const b = await running(url, 'i-list');
    expect(await records.cancel(a.job.jobId)).toBe(false);
    expect((await records.runningOn('i-list')).map((r) => r.jobId).sort()).toEqual([a.job.jobId, b.job.jobId].sort());
  });
});

describe('requeueInterrupted', () => {
  test('puts the job back at once with interruptions + 1, a fresh receive count and its attempt unchanged', async () => {
    const url = await queue();
    const { job, receiptHandle } = await running(url, 'i-spot');
    expect(await requeueInterrupted(sqs.client, records, { jobId: job.jobId, queueUrl: url, receiptHandle })).toBe('requeued');
    const msgs = await receiveAll(url);
    expect(msgs).toHaveLength(1);
    const parsed = parseJobMessage(msgs[0].Body);
    expect(parsed.ok && parsed.value).toMatchObject({ jobId: job.jobId, interruptions: 1, attempt: 1 });
    expect(msgs[0].Attributes!.ApproximateReceiveCount).toBe('1');
    expect(await records.get(job.jobId)).toMatchObject({ status: 'QUEUED', interruptions: 1, attempt: 1 });
    expect(await records.runningOn('i-spot')).toEqual([]);
  });

  test('two racing callers (worker and drainer) publish exactly one copy', async () => {
    const url = await queue();
    const { job, receiptHandle } = await running(url);
    const held = { jobId: job.jobId, queueUrl: url, receiptHandle };
    const results = await Promise.all([requeueInterrupted(sqs.client, records, held), requeueInterrupted(sqs.client, records, held)]);
    expect(results.sort()).toEqual(['already-handled', 'requeued']);
    expect(await receiveAll(url)).toHaveLength(1);
  });
});

describe('retry policy', () => {
  test('full-jitter backoff grows with the attempt and respects the cap', () => {
    expect(backoffSeconds(1, { baseSeconds: 10, maxSeconds: 3600 }, () => 1)).toBe(10);
    expect(backoffSeconds(4, { baseSeconds: 10, maxSeconds: 3600 }, () => 1)).toBe(80);
    expect(backoffSeconds(20, { baseSeconds: 10, maxSeconds: 3600 }, () => 1)).toBe(3600);
    expect(backoffSeconds(4, { baseSeconds: 10, maxSeconds: 3600 }, () => 0)).toBe(0);
  });

  test('delays over 900 s become notBefore plus a re-delay', () => {
    const now = new Date('2026-11-25T08:00:00Z');
    const m = { notBefore: undefined } as unknown as JobMessage;
    expect(delayed(m, 300, now)).toEqual({ message: { notBefore: undefined }, delaySeconds: 300 });
    const long = delayed(m, 2000, now);
    expect(long.delaySeconds).toBe(900);
    expect(long.message.notBefore).toBe('2026-11-25T08:33:20.000Z');
    expect(remainingDelaySeconds(long.message, new Date('2026-11-25T08:15:00Z'))).toBe(900);
    expect(remainingDelaySeconds(long.message, new Date('2026-11-25T08:30:00Z'))).toBe(200);
    expect(remainingDelaySeconds(long.message, new Date('2026-11-25T08:34:00Z'))).toBeUndefined();
  });

  test('a failing job is retried with attempt + 1 and a delay, then parked FAILED when the budget is spent', async () => {
    const url = await queue();
    const parking = await queue();
    const parked: string[] = [];
    const deps = {
      sqs: sqs.client, records, queueUrls: { high: url }, parkingQueueUrl: parking, maxAttempts: 2,
      random: () => 0, onParked: async (m: JobMessage) => { parked.push(m.jobId); },
    };
    const { job, receiptHandle } = await running(url);
    const message = messageFromRecord((await records.get(job.jobId))!);
    expect(await retryOrPark(deps, message, { error: 'model 500', permanent: false, receiptHandle })).toEqual({ action: 'retried', delaySeconds: 0 });
    expect(await records.get(job.jobId)).toMatchObject({ status: 'QUEUED', attempt: 2, lastError: 'model 500' });
    const [retried] = await receiveAll(url);
    const second = parseJobMessage(retried.Body);
    expect(second.ok && second.value).toMatchObject({ attempt: 2, lastError: 'model 500' });

    await records.start(job.jobId, { instanceId: 'i-1', queueUrl: url, receiptHandle: retried.ReceiptHandle!, receiveCount: 1 });
    const outcome = await retryOrPark(deps, (second as { value: JobMessage }).value, { error: 'model 500', permanent: false, receiptHandle: retried.ReceiptHandle });
    expect(outcome).toMatchObject({ action: 'parked', reason: expect.stringMatching(/retry budget spent after 2 attempts/) });
    expect(await records.get(job.jobId)).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/budget spent/) });
    expect(await receiveAll(parking)).toHaveLength(1);
    expect(parked).toEqual([job.jobId]);
  });

  test('a permanent error parks at once; a dead-lettered job is retried without a receipt handle', async () => {
    const url = await queue();
    const parking = await queue();
    const deps = { sqs: sqs.client, records, queueUrls: { high: url }, parkingQueueUrl: parking, maxAttempts: 5, random: () => 0.5 };
    const a = newJob();
    await records.create(a);
    const am = messageFromRecord((await records.get(a.jobId))!);
    expect(await retryOrPark(deps, am, { error: 'payload missing', permanent: true })).toMatchObject({ action: 'parked' });
    expect(await records.get(a.jobId)).toMatchObject({ status: 'FAILED' });

    const { job } = await running(url);
    await receiveAll(url);
    const bm = messageFromRecord((await records.get(job.jobId))!);
    expect(await retryOrPark(deps, bm, { error: 'dead-lettered after 5 receives', permanent: false })).toEqual({ action: 'retried', delaySeconds: 5 });
    expect(await records.get(job.jobId)).toMatchObject({ status: 'QUEUED', attempt: 2 });
    const attrs = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessagesDelayed'] }));
    expect(Number(attrs.Attributes!.ApproximateNumberOfMessagesDelayed)).toBe(1);
  });

  test('a duplicate of a job that already succeeded is not parked', async () => {
    const url = await queue();
    const parking = await queue();
    const { job, receiptHandle } = await running(url);
    const message = messageFromRecord((await records.get(job.jobId))!);
    await records.succeed(job.jobId, receiptHandle, {});
    const deps = { sqs: sqs.client, records, queueUrls: { high: url }, parkingQueueUrl: parking, maxAttempts: 1 };
    expect(await retryOrPark(deps, message, { error: 'x', permanent: false })).toEqual({ action: 'already-handled' });
    expect(await receiveAll(parking)).toHaveLength(0);
  });
});
