/**
 * The run-time core every consumer shares, against real DynamoDB (dynalite) and SQS (local-aws-sqs)
 * semantics: conditional job transitions under a lease, interruption requeue, retry and park with the
 * record's attempt as the budget.
 */
import { randomUUID } from 'node:crypto';

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand as CreateSqsQueue,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { formatJobId, JobMessage, messageFromRecord, parseJobMessage, serializeJobMessage } from '../../lib/contracts';
import { JobRecords, NewJob, RunningOn } from '../../runtime/jobs/job-records';
import { requeueInterrupted } from '../../runtime/jobs/requeue';
import { backoffSeconds, delayed, remainingDelaySeconds, retryOrPark } from '../../runtime/jobs/retry';
import { createJobTable, documentClient } from '../support/job-table';
import { LocalServer, startDynamo, startSqs, uniqueName } from '../support/local-aws';

let sqs: LocalServer<SQSClient>;
let ddb: LocalServer<DynamoDBClient>;
let records: JobRecords;
/** The records' clock: tests move it past a lease instead of waiting. */
let clockMs = Date.parse('2026-11-25T08:00:00Z');
const LEASE = 60;

beforeAll(async () => {
  [sqs, ddb] = await Promise.all([startSqs(), startDynamo()]);
  records = new JobRecords(documentClient(ddb.client), await createJobTable(ddb.client), { clock: () => new Date(clockMs) });
});
afterAll(async () => {
  await Promise.all([sqs.close(), ddb.close()]);
});

function newJob(over: Partial<NewJob> = {}): NewJob {
  return {
    jobId: formatJobId('agents', randomUUID()),
    workload: 'agents',
    agent: 'planner',
    priority: 'high',
    submittedAt: new Date().toISOString(),
    payload: { prompt: 'hello' },
    ...over,
  };
}

async function queue(): Promise<string> {
  return (await sqs.client.send(new CreateSqsQueue({ QueueName: uniqueName('q'), Attributes: { VisibilityTimeout: '30' } }))).QueueUrl!;
}

async function receiveAll(url: string) {
  const r = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, AttributeNames: ['All'] }));
  return r.Messages ?? [];
}

function on(instanceId: string, url: string, receiptHandle: string, over: Partial<RunningOn> = {}): RunningOn {
  return { instanceId, runId: randomUUID(), queueUrl: url, receiptHandle, leaseSeconds: LEASE, maxAttempts: 3, ...over };
}

/** Create a record and a message, receive it, and mark it RUNNING on `instanceId`. */
async function running(url: string, instanceId = 'i-1') {
  const job = newJob();
  await records.create(job);
  const record = (await records.get(job.jobId))!;
  await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: serializeJobMessage(messageFromRecord(record)) }));
  const [m] = await receiveAll(url);
  const started = await records.start(job.jobId, on(instanceId, url, m.ReceiptHandle!));
  if (!started.started) throw new Error(`not started: ${started.reason}`);
  return { job, receiptHandle: m.ReceiptHandle!, holder: started.holder };
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
    const { job, holder } = await running(url);
    expect(await records.succeed(job.jobId, holder, { tokensIn: 3, tokensOut: 5, resultRef: 's3://b/k' })).toBe(true);
    expect(await records.succeed(job.jobId, holder, { tokensIn: 9 })).toBe(false);
    const again = await records.start(job.jobId, on('i-2', url, 'other'));
    expect(again).toMatchObject({ started: false, reason: 'finished' });
    const record = (await records.get(job.jobId))!;
    expect(record).toMatchObject({ status: 'SUCCEEDED', tokensIn: 3, tokensOut: 5 });
    expect([record.instanceId, record.leaseHolder, record.leaseExpiresAt]).toEqual([undefined, undefined, undefined]);
  });

  test('RUNNING carries the lease: holder <instance>/<run> and an expiry renewed by each heartbeat', async () => {
    const url = await queue();
    const { job, holder } = await running(url, 'i-lease');
    expect(holder).toMatch(/^i-lease\/[0-9a-f-]{36}$/);
    expect(await records.get(job.jobId)).toMatchObject({ status: 'RUNNING', leaseHolder: holder, leaseExpiresAt: clockMs + LEASE * 1000 });
    clockMs += 20_000;
    expect(await records.renew(job.jobId, holder, LEASE, clockMs + 5000)).toBe(true);
    expect(await records.get(job.jobId)).toMatchObject({ leaseExpiresAt: clockMs + LEASE * 1000, expectedDoneAt: clockMs + 5000 });
    expect(await records.renew(job.jobId, 'i-other/run', LEASE)).toBe(false);
  });

  test('a redelivered copy never takes over a live lease, whatever its receive count; it learns the time left', async () => {
    const url = await queue();
    const { job, holder } = await running(url);
    clockMs += 10_000;
    const copy = await records.start(job.jobId, on('i-2', url, 'h2'));
    expect(copy).toMatchObject({ started: false, reason: 'held', leaseRemainingMs: (LEASE - 10) * 1000 });
    // The holder is unaffected: it renews and finishes.
    expect(await records.renew(job.jobId, holder, LEASE)).toBe(true);
    expect(await records.succeed(job.jobId, holder, {})).toBe(true);
  });

  test('once the lease expired (its holder died) a delivery takes the job over, spending one attempt', async () => {
    const url = await queue();
    const { job, holder } = await running(url);
    clockMs += (LEASE + 1) * 1000;
    const takeover = await records.start(job.jobId, on('i-2', url, 'h2'));
    expect(takeover).toMatchObject({ started: true, takeover: true, record: { instanceId: 'i-2', attempt: 2 } });
    // The dead holder's late writes are refused.
    expect(await records.succeed(job.jobId, holder, {})).toBe(false);
    expect(await records.renew(job.jobId, holder, LEASE)).toBe(false);
  });

  test('two deliveries racing for an expired lease: exactly one takes it over', async () => {
    const url = await queue();
    const { job } = await running(url);
    clockMs += (LEASE + 1) * 1000;
    const results = await Promise.all([records.start(job.jobId, on('i-2', url, 'a')), records.start(job.jobId, on('i-3', url, 'b'))]);
    expect(results.filter((r) => r.started)).toHaveLength(1);
    expect(await records.get(job.jobId)).toMatchObject({ attempt: 2 });
  });

  test('an expired lease with the budget spent is not taken over: exhausted', async () => {
    const url = await queue();
    const { job } = await running(url);
    clockMs += (LEASE + 1) * 1000;
    expect(await records.start(job.jobId, on('i-2', url, 'h2', { maxAttempts: 1 }))).toMatchObject({ started: false, reason: 'exhausted' });
  });

  test('an instance never starts a job it was interrupted on; another instance does', async () => {
    const url = await queue();
    const { job, receiptHandle, holder } = await running(url, 'i-spot');
    expect(await requeueInterrupted(sqs.client, records, { jobId: job.jobId, queueUrl: url, receiptHandle, holder })).toBe('requeued');
    expect(await records.get(job.jobId)).toMatchObject({ status: 'QUEUED', interruptedOn: 'i-spot', interruptions: 1 });
    expect(await records.start(job.jobId, on('i-spot', url, 'again'))).toMatchObject({ started: false, reason: 'interrupted-here' });
    expect(await records.start(job.jobId, on('i-next', url, 'other'))).toMatchObject({ started: true, takeover: false, record: { attempt: 1 } });
  });

  test('the expected end is start + expected duration, and a notice mark is kept only by the holder', async () => {
    const url = await queue();
    const job = newJob();
    await records.create(job);
    const started = await records.start(job.jobId, on('i-1', url, 'h', { expectedDurationSeconds: 30 }));
    expect(started).toMatchObject({ started: true, record: { expectedDoneAt: clockMs + 30_000 } });
    const holder = (started as { holder: string }).holder;
    expect(await records.keepThroughNotice(job.jobId, 'i-1/someone-else', clockMs + 120_000)).toBe(false);
    expect(await records.keepThroughNotice(job.jobId, holder, clockMs + 120_000)).toBe(true);
    expect(await records.get(job.jobId)).toMatchObject({ reclaimAt: clockMs + 120_000 });
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
    const { job, receiptHandle, holder } = await running(url, 'i-spot');
    expect(await requeueInterrupted(sqs.client, records, { jobId: job.jobId, queueUrl: url, receiptHandle, holder })).toBe('requeued');
    const msgs = await receiveAll(url);
    expect(msgs).toHaveLength(1);
    const parsed = parseJobMessage(msgs[0].Body);
    expect(parsed.ok && parsed.value).toMatchObject({ jobId: job.jobId, interruptions: 1, attempt: 1 });
    expect(msgs[0].Attributes!.ApproximateReceiveCount).toBe('1');
    const record = (await records.get(job.jobId))!;
    expect(record).toMatchObject({ status: 'QUEUED', interruptions: 1, attempt: 1 });
    expect([record.leaseHolder, record.leaseExpiresAt]).toEqual([undefined, undefined]);
    expect(await records.runningOn('i-spot')).toEqual([]);
  });

  test('two racing callers (worker and drainer) publish exactly one copy', async () => {
    const url = await queue();
    const { job, receiptHandle, holder } = await running(url);
    const held = { jobId: job.jobId, queueUrl: url, receiptHandle, holder };
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
      sqs: sqs.client,
      records,
      queueUrls: { high: url },
      parkingQueueUrl: parking,
      maxAttempts: 2,
      random: () => 0,
      onParked: async (m: JobMessage) => {
        parked.push(m.jobId);
      },
    };
    const { job, holder } = await running(url);
    const message = messageFromRecord((await records.get(job.jobId))!);
    expect(await retryOrPark(deps, message, { error: 'model 500', permanent: false, holder })).toEqual({ action: 'retried', delaySeconds: 0 });
    expect(await records.get(job.jobId)).toMatchObject({ status: 'QUEUED', attempt: 2, lastError: 'model 500' });
    const [retried] = await receiveAll(url);
    const second = parseJobMessage(retried.Body);
    expect(second.ok && second.value).toMatchObject({ attempt: 2, lastError: 'model 500' });

    const again = await records.start(job.jobId, on('i-1', url, retried.ReceiptHandle!, { maxAttempts: 2 }));
    const outcome = await retryOrPark(deps, (second as { value: JobMessage }).value, {
      error: 'model 500',
      permanent: false,
      holder: (again as { holder: string }).holder,
    });
    expect(outcome).toMatchObject({ action: 'parked', reason: expect.stringMatching(/retry budget spent after 2 attempts/) });
    expect(await records.get(job.jobId)).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/budget spent/) });
    expect(await receiveAll(parking)).toHaveLength(1);
    expect(parked).toEqual([job.jobId]);
  });

  test("the record's attempt is the budget: a stale copy claiming attempt 1 cannot retry past maxAttempts", async () => {
    const url = await queue();
    const parking = await queue();
    const deps = { sqs: sqs.client, records, queueUrls: { high: url }, parkingQueueUrl: parking, maxAttempts: 3, random: () => 0 };
    const { job, holder } = await running(url);
    const stale = messageFromRecord((await records.get(job.jobId))!); // attempt 1, kept by a duplicate
    expect(await retryOrPark(deps, stale, { error: 'e1', permanent: false, holder })).toMatchObject({ action: 'retried' });
    let h = ((await records.start(job.jobId, on('i-1', url, 'r2'))) as { holder: string }).holder;
    expect(await retryOrPark(deps, stale, { error: 'e2', permanent: false, holder: h })).toMatchObject({ action: 'retried' });
    h = ((await records.start(job.jobId, on('i-1', url, 'r3'))) as { holder: string }).holder;
    // The copy says attempt 1; the record says 3 = maxAttempts: parked, never a 4th attempt.
    expect(await retryOrPark(deps, stale, { error: 'e3', permanent: false, holder: h })).toMatchObject({ action: 'parked' });
    expect(await records.get(job.jobId)).toMatchObject({ status: 'FAILED', attempt: 3 });
  });

  test("a permanent error parks at once; a dead holder's job is retried without a holder, a live one is not", async () => {
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
    // Live lease: the RetryHandler's retry is refused, the record untouched.
    expect(await retryOrPark(deps, bm, { error: 'dead-lettered after 5 receives', permanent: false })).toEqual({ action: 'already-handled' });
    expect(await records.get(job.jobId)).toMatchObject({ status: 'RUNNING', attempt: 1 });
    clockMs += (LEASE + 1) * 1000;
    expect(await retryOrPark(deps, bm, { error: 'dead-lettered after 5 receives', permanent: false })).toEqual({
      action: 'retried',
      delaySeconds: 5,
    });
    expect(await records.get(job.jobId)).toMatchObject({ status: 'QUEUED', attempt: 2 });
    const attrs = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessagesDelayed'] }));
    expect(Number(attrs.Attributes!.ApproximateNumberOfMessagesDelayed)).toBe(1);
  });

  test('a duplicate of a job that already succeeded is not parked', async () => {
    const url = await queue();
    const parking = await queue();
    const { job, holder } = await running(url);
    const message = messageFromRecord((await records.get(job.jobId))!);
    await records.succeed(job.jobId, holder, {});
    const deps = { sqs: sqs.client, records, queueUrls: { high: url }, parkingQueueUrl: parking, maxAttempts: 1 };
    expect(await retryOrPark(deps, message, { error: 'x', permanent: false })).toEqual({ action: 'already-handled' });
    expect(await receiveAll(parking)).toHaveLength(0);
  });
});
