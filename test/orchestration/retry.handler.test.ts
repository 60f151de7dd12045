/**
 * RetryHandler against real SQS (local-aws-sqs) and DynamoDB (dynalite) semantics; EventBridge through
 * aws-sdk-client-mock. The logic (retry.ts) with injected randomness, then the Lambda handler (index.ts)
 * with its Powertools batch processing, as Lambda's SQS event source calls it.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SendMessageCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { EVENT_SOURCE, EventDetailTypes, JobMessage, messageFromRecord, parseJobMessage, serializeJobMessage } from '../../lib/contracts';
import { decide, DeadLetterDeps, handleDeadLetter } from '../../lambda/retry/retry';
import { JobRecords } from '../../runtime/jobs/job-records';
import { createJobTable, documentClient } from '../support/job-table';
import { LocalServer, startDynamo, startSqs, TEST_CREDENTIALS, TEST_REGION } from '../support/local-aws';
import { createQueue, drainQueue, newJob, recordingLog, runningJobs } from './helpers';
import { captureEachTest } from '../support/captured-output';

let sqs: LocalServer<SQSClient>;
let ddb: LocalServer<DynamoDBClient>;
let records: JobRecords;
const events = mockClient(EventBridgeClient);
/** Every SendMessage the real SQS client made, as sent (DelaySeconds included). */
const sent: SendMessageCommandInput[] = [];

beforeAll(async () => {
  [sqs, ddb] = await Promise.all([startSqs(), startDynamo()]);
  records = new JobRecords(documentClient(ddb.client), await createJobTable(ddb.client));
  sqs.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'SendMessageCommand') sent.push({ ...(args.input as SendMessageCommandInput) });
      return next(args);
    },
    { step: 'initialize', name: 'captureSends' },
  );
});
afterAll(async () => {
  await Promise.all([sqs.close(), ddb.close()]);
  events.restore();
});
beforeEach(() => {
  sent.length = 0;
  events.reset();
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
});

async function queues() {
  const [high, normal, parking, dlq, origin] = await Promise.all([1, 2, 3, 4, 5].map(() => createQueue(sqs.client)));
  /** `origin` holds the originals jobs are started from, so `high` holds only what the handler sends. */
  return { high, normal, parking, dlq, origin };
}

/** `body` as Lambda's SQS event source hands it over after SQS dead-lettered it: a real received message. */
async function deadLettered(dlqUrl: string, body: string): Promise<SQSRecord> {
  await sqs.client.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: body }));
  const r = await sqs.client.send(
    new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 0, AttributeNames: ['All'] }),
  );
  const m = r.Messages![0];
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body!,
    md5OfBody: m.MD5OfBody!,
    attributes: { ...(m.Attributes as Record<string, string>), ApproximateReceiveCount: '6' } as SQSRecord['attributes'],
    messageAttributes: {},
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:dlq',
    awsRegion: TEST_REGION,
  };
}

/** A worker takes the job and dies at once: its lease (0 s) has run out by the time the dead letter is handled. */
async function dyingRun(jobId: string, instanceId = 'i-0123456789abcdef0'): Promise<void> {
  const r = await records.start(jobId, { instanceId, runId: randomUUID(), queueUrl: 'q', receiptHandle: 'rh', leaseSeconds: 0, maxAttempts: 99 });
  if (!r.started) throw new Error(`not started: ${r.reason}`);
  await new Promise((resolve) => setTimeout(resolve, 5));
}

function putEventDetails() {
  return events.commandCalls(PutEventsCommand).map((c) => {
    const [entry] = c.args[0].input.Entries!;
    return { source: entry.Source, detailType: entry.DetailType, bus: entry.EventBusName, detail: JSON.parse(entry.Detail!) };
  });
}

describe('a failing job', () => {
  test('GIVEN a job whose holder keeps dying THEN it is retried with growing delays and attempt + 1, then parked with a FAILED record and a JobFailed event', async () => {
    const q = await queues();
    const log = recordingLog();
    const deps: DeadLetterDeps = {
      sqs: sqs.client,
      records,
      events: new EventBridgeClient({ region: TEST_REGION }),
      eventBusName: 'default',
      queueUrls: { high: q.high, normal: q.normal },
      parkingQueueUrl: q.parking,
      maxAttempts: 3,
      backoff: { baseSeconds: 10, maxSeconds: 3600 },
      random: () => 1,
      workload: 'agents',
      log,
    };
    const [held] = await runningJobs(sqs.client, records, q.high, 'i-0123456789abcdef0', 1, 'agents', { leaseSeconds: 0 });
    let body = serializeJobMessage(messageFromRecord((await records.get(held.jobId))!));

    const delays: number[] = [];
    for (const expectedAttempt of [2, 3]) {
      sent.length = 0;
      if (expectedAttempt > 2) await dyingRun(held.jobId);
      else await new Promise((resolve) => setTimeout(resolve, 5));
      const outcome = await handleDeadLetter(deps, await deadLettered(q.dlq, body));
      expect(outcome).toMatchObject({ action: 'retried', jobId: held.jobId, attempt: expectedAttempt });
      const [copy] = sent.filter((s) => s.QueueUrl === q.high);
      const parsed = parseJobMessage(copy.MessageBody);
      expect(parsed.ok && parsed.value).toMatchObject({ jobId: held.jobId, attempt: expectedAttempt, interruptions: 0 });
      expect(parsed.ok && parsed.value.lastError).toMatch(/dead-lettered after 6 receives/);
      expect(await records.get(held.jobId)).toMatchObject({ status: 'QUEUED', attempt: expectedAttempt });
      delays.push(copy.DelaySeconds!);
      body = copy.MessageBody!;
    }
    expect(delays).toEqual([10, 20]);
    const delayed = await sqs.client.send(
      new GetQueueAttributesCommand({ QueueUrl: q.high, AttributeNames: ['ApproximateNumberOfMessagesDelayed'] }),
    );
    expect(delayed.Attributes!.ApproximateNumberOfMessagesDelayed).toBe('2');
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0);

    await dyingRun(held.jobId);
    const parked = await handleDeadLetter(deps, await deadLettered(q.dlq, body));
    expect(parked).toMatchObject({ action: 'parked', jobId: held.jobId });
    expect(await records.get(held.jobId)).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/retry budget spent after 3 attempts/) });
    const onParking = await drainQueue(sqs.client, q.parking);
    expect(onParking).toHaveLength(1);
    expect(JSON.parse(onParking[0].Body!)).toMatchObject({ jobId: held.jobId, attempt: 3 });
    expect(putEventDetails()).toEqual([
      {
        source: EVENT_SOURCE,
        detailType: EventDetailTypes.JOB_FAILED,
        bus: 'default',
        detail: expect.objectContaining({
          jobId: held.jobId,
          workload: 'agents',
          agent: 'planner',
          priority: 'high',
          attempt: 3,
          reason: expect.stringMatching(/retry budget spent/),
        }),
      },
    ]);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'job parked' }));
  });

  test('the decision: missing record or payload is permanent; finished is skipped; the record decides ownership and budget', () => {
    const now = Date.parse('2026-11-25T08:00:00Z');
    const m = { ...messageFromRecord({ ...newJob(), status: 'QUEUED', attempt: 1, interruptions: 0, updatedAt: '' } as never) } as JobMessage;
    expect(decide(m, undefined, 6, now, 10)).toMatchObject({ kind: 'retry', permanent: true, error: expect.stringMatching(/record not found/) });
    // A dead holder (expired lease): a failed attempt, counted from the record (3), not the copy (1).
    const rec = { ...m, status: 'RUNNING', attempt: 3, interruptions: 2, updatedAt: '', leaseExpiresAt: now - 1 } as never;
    expect(decide(m, rec, 6, now, 10)).toMatchObject({ kind: 'retry', permanent: false, message: { attempt: 3, interruptions: 2 } });
    // A live holder: no attempt spent, a copy comes back once the lease would have expired.
    expect(decide(m, { ...(rec as object), leaseExpiresAt: now + 42_000 } as never, 6, now, 10)).toMatchObject({
      kind: 'resend',
      delaySeconds: 43,
      message: { attempt: 3 },
    });
    expect(decide(m, { ...(rec as object), leaseExpiresAt: now + 3_600_000 } as never, 6, now, 10)).toMatchObject({
      kind: 'resend',
      delaySeconds: 900,
    });
    // Queued, never started: a fresh copy after the backoff, no attempt spent.
    expect(decide(m, { ...(rec as object), status: 'QUEUED', leaseExpiresAt: undefined } as never, 6, now, 10)).toMatchObject({
      kind: 'resend',
      delaySeconds: 10,
      message: { attempt: 3 },
    });
    expect(decide({ ...m, payload: null }, { ...(rec as object), payload: undefined } as never, 6, now, 10)).toMatchObject({
      kind: 'retry',
      permanent: true,
      error: expect.stringMatching(/payload missing/),
    });
    expect(decide(m, { ...(rec as object), status: 'SUCCEEDED' } as never, 6, now, 10)).toMatchObject({ kind: 'skip' });
    expect(decide(m, { ...(rec as object), status: 'FAILED' } as never, 6, now, 10)).toMatchObject({ kind: 'skip' });
  });
});

describe('RetryHandler Lambda (index.ts) with batch processing', () => {
  const saved = { ...process.env };
  let q: Awaited<ReturnType<typeof queues>>;
  let handler: (e: SQSEvent) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>;
  /** What the handler wrote: EMF metrics (stdout) and Powertools log lines (stdout, warnings on stderr). */
  const output = captureEachTest();

  beforeAll(async () => {
    q = await queues();
    Object.assign(process.env, {
      AWS_REGION: TEST_REGION,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
      AI_BURST_WORKLOAD: 'agents',
      AI_BURST_JOB_TABLE: records.tableName,
      AI_BURST_EVENT_BUS: 'jobs-bus',
      // `normal` points at a queue that does not exist: its jobs fail to send and are reported as batch failures.
      AI_BURST_QUEUE_URLS: JSON.stringify({ high: q.high, normal: `${sqs.endpoint}/000000000000/no-such-queue` }),
      AI_BURST_PARKING_QUEUE_URL: q.parking,
      AI_BURST_MAX_ATTEMPTS: '3',
      AI_BURST_BACKOFF_POLICY: JSON.stringify({ baseSeconds: 1, maxSeconds: 60 }),
      AI_BURST_METRIC_NAMESPACE: 'AiBurst',
    });
    handler = (await import('../../lambda/retry/index')).handler as never;
  });
  afterAll(() => {
    process.env = saved;
  });

  function emf(name: string): Array<Record<string, any>> {
    return output.emf().filter((e) => e._aws.CloudWatchMetrics[0].Metrics.some((m: { Name: string }) => m.Name === name));
  }

  test('GIVEN a batch with poison bodies, a retryable job and a job whose queue is gone THEN the poison is parked at once, the others are processed, and only the failed one is reported', async () => {
    const [retryable] = await runningJobs(sqs.client, records, q.origin, 'i-0123456789abcdef1', 1, 'agents', { leaseSeconds: 0 });
    const [salvageable] = await runningJobs(sqs.client, records, q.origin, 'i-0123456789abcdef1', 1, 'agents', { leaseSeconds: 0 });
    const unsendable = newJob('agents', { priority: 'normal' });
    await records.create(unsendable);

    const poison = await deadLettered(q.dlq, 'this is not JSON');
    const truncated = await deadLettered(q.dlq, `{"v":1,"jobId":"${salvageable.jobId}","workload":"agents","agent":"plan`);
    const ok = await deadLettered(q.dlq, serializeJobMessage(messageFromRecord((await records.get(retryable.jobId))!)));
    const failing = await deadLettered(q.dlq, serializeJobMessage(messageFromRecord((await records.get(unsendable.jobId))!)));

    const response = await handler({ Records: [poison, truncated, ok, failing] });

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: failing.messageId }]);
    // Poison parked verbatim with the reason; the salvageable one also marks its record FAILED.
    const parked = await drainQueue(sqs.client, q.parking);
    expect(parked.map((m) => m.Body).sort()).toEqual([poison.body, truncated.body].sort());
    for (const m of parked) expect(m.MessageAttributes!['ai-burst-error'].StringValue).toMatch(/not a job message/);
    expect(await records.get(salvageable.jobId)).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/not a job message/) });
    // The batch's good message was processed: back on its queue with attempt + 1.
    expect(await records.get(retryable.jobId)).toMatchObject({ status: 'QUEUED', attempt: 2 });
    const [copy] = (await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: q.high, WaitTimeSeconds: 2, MaxNumberOfMessages: 10 }))).Messages!;
    expect(JSON.parse(copy.Body!)).toMatchObject({ jobId: retryable.jobId, attempt: 2 });
    // JobFailed for both parked bodies (one without a job id), on the configured bus.
    const details = putEventDetails();
    expect(details).toHaveLength(2);
    expect(details.every((d) => d.bus === 'jobs-bus' && d.source === EVENT_SOURCE && d.detailType === EventDetailTypes.JOB_FAILED)).toBe(true);
    expect(details.map((d) => d.detail.jobId ?? null).sort()).toEqual([null, salvageable.jobId].sort());
    // Metrics in the contract's namespace with only the Workload dimension.
    const [parkedMetric] = emf('JobsParked');
    expect(parkedMetric).toMatchObject({ JobsParked: 2, JobsRetried: 1, Workload: 'agents' });
    expect(parkedMetric._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'AiBurst', Dimensions: [['Workload']] });
    expect(output.text()).toMatch(/dead letter failed; SQS makes it visible again/);
  });

  test('GIVEN a dead-lettered copy of a job that already succeeded THEN it is dropped as handled, not retried', async () => {
    const [held] = await runningJobs(sqs.client, records, q.origin, 'i-0123456789abcdef2', 1);
    const body = serializeJobMessage(messageFromRecord((await records.get(held.jobId))!));
    await records.succeed(held.jobId, held.holder, { tokensIn: 1 });
    const onHigh = async () => {
      const { Attributes: a } = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: q.high, AttributeNames: ['All'] }));
      return Number(a!.ApproximateNumberOfMessages) + Number(a!.ApproximateNumberOfMessagesDelayed);
    };
    const before = await onHigh();
    const response = await handler({ Records: [await deadLettered(q.dlq, body)] });
    expect(response.batchItemFailures).toEqual([]);
    expect(await onHigh()).toBe(before);
    expect((await records.get(held.jobId))!.status).toBe('SUCCEEDED');
    expect(emf('JobsRetried')).toEqual([]);
  });

  test('GIVEN EventBridge rejects the JobFailed event THEN the item is reported failed (retried later), the record stays FAILED', async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });
    const job = newJob();
    await records.create(job);
    // Three runs that died: the record's attempt reaches the budget (3).
    for (let i = 0; i < 3; i++) await dyingRun(job.jobId);
    expect(await records.get(job.jobId)).toMatchObject({ attempt: 3 });
    const letter = await deadLettered(q.dlq, serializeJobMessage(messageFromRecord((await records.get(job.jobId))!)));
    const response = await handler({ Records: [letter] });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: letter.messageId }]);
    expect((await records.get(job.jobId))!.status).toBe('FAILED');
  });
});
