/**
 * The submit and status handlers, invoked with API Gateway proxy events, against local SQS (local-aws-sqs),
 * DynamoDB (dynalite) and S3 (s3rver); the wake target (Lambda) and the spend source (CloudWatch) through
 * aws-sdk-client-mock.
 */
import { randomUUID } from 'node:crypto';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { ApiConfig, JOB_ID_PATTERN, parseJobMessage, resultKey } from '../../lib/contracts';
import { idempotencyItemKey, IdempotencyStore, requestFingerprint } from '../../runtime/client/idempotency';
import { checkSubmitRequest } from '../../runtime/client/submit-request';
import { RunningOn } from '../../runtime/jobs/job-records';
import { documentClient } from '../support/job-table';
import {
  BUCKET,
  freshConfig,
  harness,
  Harness,
  jobEvent,
  LocalAws,
  objectCount,
  parse,
  postJob,
  queueDepth,
  receiveBodies,
  startLocalAws,
  tableItems,
  totalDepth,
  WAKE_ARN,
} from './api-env';

let aws: LocalAws;
const lambda = new LambdaClient({ region: 'us-east-1' });
const cloudWatch = new CloudWatchClient({ region: 'us-east-1' });
const lambdaMock = mockClient(lambda);
const cloudWatchMock = mockClient(cloudWatch);

beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => {
  await aws.close();
});
beforeEach(() => {
  lambdaMock.reset();
  lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
  cloudWatchMock.reset();
});

async function setup(over: Partial<ApiConfig> = {}, extra: Parameters<typeof harness>[4] = {}): Promise<Harness> {
  const { config, tableName } = await freshConfig(aws, over);
  return harness(aws, config, tableName, { lambda, cloudWatch }, extra);
}

function url(h: Harness, workload: string, priority: string): string {
  return h.config.workloads[workload].queues.find((q) => q.priority === priority)!.url;
}

const job = { workload: 'agents', agent: 'planner', model: 'llama-3.1-8b', payload: { prompt: 'summarize', n: 3 } };

/** The jobs (not idempotency items) in the table. */
async function jobRecords(h: Harness) {
  return (await tableItems(aws, h.tableName)).filter((i) => JOB_ID_PATTERN.test(String(i.jobId)));
}

describe('POST /jobs', () => {
  test('queues the job on its priority queue with a QUEUED record and answers 202 with where to poll', async () => {
    // GIVEN
    const h = await setup();
    // WHEN
    const r = await h.submit(postJob({ ...job, priority: 'high' }));
    // THEN
    expect(r.statusCode).toBe(202);
    const body = parse(r.body);
    expect(body).toEqual({ jobId: expect.stringMatching(/^agents\.[0-9a-f-]{36}$/), status: 'QUEUED', statusUrl: expect.any(String) });
    expect(JOB_ID_PATTERN.test(body.jobId)).toBe(true);
    expect(body.statusUrl).toBe(`https://abc123.execute-api.us-east-1.amazonaws.com/v1/jobs/${body.jobId}`);
    expect(r.headers?.location).toBe(body.statusUrl);

    const [message] = await receiveBodies(aws.sqs.client, url(h, 'agents', 'high'));
    const parsed = parseJobMessage(message);
    expect(parsed).toEqual({
      ok: true,
      value: expect.objectContaining({
        jobId: body.jobId,
        workload: 'agents',
        agent: 'planner',
        model: 'llama-3.1-8b',
        priority: 'high',
        payload: { prompt: 'summarize', n: 3 },
        attempt: 1,
        interruptions: 0,
      }),
    });
    expect(await queueDepth(aws.sqs.client, url(h, 'agents', 'normal'))).toBe(0);
    expect(await h.client.records.get(body.jobId)).toMatchObject({
      status: 'QUEUED',
      attempt: 1,
      interruptions: 0,
      payload: { prompt: 'summarize', n: 3 },
      priority: 'high',
      agent: 'planner',
    });
  });

  test("without a priority the job goes to the workload's lowest priority", async () => {
    const h = await setup();
    const r = await h.submit(postJob(job));
    expect(r.statusCode).toBe(202);
    expect(await queueDepth(aws.sqs.client, url(h, 'agents', 'normal'))).toBe(1);
    expect(await queueDepth(aws.sqs.client, url(h, 'agents', 'high'))).toBe(0);
  });

  test('unicode, control characters and markup in the payload are data: they round-trip exactly', async () => {
    const h = await setup();
    const payload = {
      text: 'héllo 世界 🤖 \u0000\u0007\u001b[31m \u202e \uFFFE\uFFFF',
      html: '<script>alert(1)</script>',
      sql: "'; DROP TABLE jobs;--",
    };
    const r = await h.submit(postJob({ ...job, payload }));
    expect(r.statusCode).toBe(202);
    const [message] = await receiveBodies(aws.sqs.client, url(h, 'agents', 'normal'));
    expect(JSON.parse(message).payload).toEqual(payload);
    expect((await h.client.records.get(parse(r.body).jobId))!.payload).toEqual(payload);
  });

  test('fails with 503 ENQUEUE_FAILED, a FAILED record and a released idempotency key when the send fails; a retry then succeeds', async () => {
    // GIVEN a queue URL that does not exist
    const good = await setup();
    const broken = {
      ...good.config,
      workloads: { ...good.config.workloads, agents: { queues: [{ priority: 'normal', url: `${aws.sqs.endpoint}/000000000000/no-such-queue` }] } },
    };
    const b = harness(aws, broken, good.tableName, { lambda, cloudWatch });
    // WHEN
    const r = await b.submit(postJob({ ...job, idempotencyKey: 'retry-me' }));
    // THEN
    expect(r.statusCode).toBe(503);
    expect(parse(r.body).error.code).toBe('ENQUEUE_FAILED');
    expect(r.body).not.toMatch(/no-such-queue|127\.0\.0\.1|QueueDoesNotExist/);
    const [record] = await jobRecords(good);
    expect(record).toMatchObject({ status: 'FAILED', error: 'the job could not be queued' });
    const key = (await tableItems(aws, good.tableName)).find((i) => String(i.jobId).includes('.idem.'));
    expect(key).toMatchObject({ idemState: 'ABANDONED', targetJobId: record.jobId });

    // WHEN the caller retries with the same key once the queue is back
    const again = await good.submit(postJob({ ...job, idempotencyKey: 'retry-me' }));
    expect(again.statusCode).toBe(202);
    expect(parse(again.body).jobId).not.toBe(record.jobId);
    expect(await queueDepth(aws.sqs.client, url(good, 'agents', 'normal'))).toBe(1);
  });

  test('an unexpected failure is 500 INTERNAL_ERROR without internal names, and nothing is queued', async () => {
    const good = await setup();
    const h = harness(aws, good.config, 'no-such-table', { lambda, cloudWatch });
    const errors: unknown[] = [];
    const { createSubmitHandler } = await import('../../lambda/submit/handler');
    const handler = createSubmitHandler({ client: h.client, log: { error: (_m, extra) => errors.push(extra) } });
    const r = await handler(postJob(job));
    expect(r.statusCode).toBe(500);
    expect(parse(r.body)).toEqual({ error: { code: 'INTERNAL_ERROR', message: expect.stringMatching(/request id req-\d+/) } });
    expect(r.body).not.toMatch(/no-such-table|ResourceNotFound|\n\s+at /);
    expect(errors).toHaveLength(1); // the details go to the log
    expect(await totalDepth(aws, good.config)).toBe(0);
  });
});

describe('idempotency', () => {
  test('the same key returns the same job id and queues nothing new', async () => {
    const h = await setup();
    const first = await h.submit(postJob({ ...job, idempotencyKey: 'order-42' }));
    const second = await h.submit(postJob({ ...job, idempotencyKey: 'order-42' }));
    expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
    expect(parse(second.body).jobId).toBe(parse(first.body).jobId);
    expect(second.headers?.['idempotent-replayed']).toBe('true');
    expect(first.headers?.['idempotent-replayed']).toBeUndefined();
    expect(await queueDepth(aws.sqs.client, url(h, 'agents', 'normal'))).toBe(1);
    expect(await jobRecords(h)).toHaveLength(1);
  });

  test('10 concurrent requests with one key: one job id, one message, one record', async () => {
    const h = await setup();
    const answers = await Promise.all(Array.from({ length: 10 }, () => h.submit(postJob({ ...job, idempotencyKey: 'burst-1' }))));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(10).fill(202));
    expect(new Set(answers.map((a) => parse(a.body).jobId)).size).toBe(1);
    expect(answers.filter((a) => a.headers?.['idempotent-replayed'] === 'true')).toHaveLength(9);
    expect(await totalDepth(aws, h.config)).toBe(1);
    expect(await jobRecords(h)).toHaveLength(1);
  });

  test('the key is scoped to the agent: another agent with the same key gets its own job', async () => {
    const h = await setup();
    const a = await h.submit(postJob({ ...job, idempotencyKey: 'shared' }));
    const b = await h.submit(postJob({ ...job, agent: 'writer', idempotencyKey: 'shared' }));
    expect(parse(a.body).jobId).not.toBe(parse(b.body).jobId);
    expect(await totalDepth(aws, h.config)).toBe(2);
    expect(idempotencyItemKey('agents', 'planner', 'shared')).toMatch(/^agents\.idem\.[0-9a-f]{64}$/);
  });

  test('a key reused for a different request is refused with 422 and queues nothing', async () => {
    const h = await setup();
    await h.submit(postJob({ ...job, idempotencyKey: 'k-1' }));
    const r = await h.submit(postJob({ ...job, payload: { prompt: 'something else' }, idempotencyKey: 'k-1' }));
    expect(r.statusCode).toBe(422);
    expect(parse(r.body).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await totalDepth(aws, h.config)).toBe(1);
  });

  test('a request still in progress under the key gets 409 IDEMPOTENCY_IN_PROGRESS after the wait, and nothing is queued', async () => {
    // GIVEN the key is claimed by a request that is still running (not stale)
    const h = await setup({}, { idempotencyWaitMs: 200 });
    const request = checkSubmitRequest({ ...job, idempotencyKey: 'slow' }, { agents: ['high', 'normal'], batch: ['normal'] });
    const store = new IdempotencyStore(documentClient(aws.ddb.client), h.tableName);
    const held = await store.claim(
      idempotencyItemKey('agents', 'planner', 'slow'),
      'agents.0f8fad5b-d9cb-469f-a165-70867728950e',
      requestFingerprint(request),
    );
    expect(held.claimed).toBe(true);
    // WHEN the same request arrives
    const r = await h.submit(postJob({ ...job, idempotencyKey: 'slow' }));
    // THEN
    expect(r.statusCode).toBe(409);
    expect(parse(r.body).error.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    expect(r.headers?.['Retry-After']).toBe('2');
    expect(await totalDepth(aws, h.config)).toBe(0);
    expect(await jobRecords(h)).toHaveLength(0);
  });

  test('a stale claim whose submission died before writing its record is taken over by the retry', async () => {
    let now = Date.parse('2026-11-25T10:00:00Z');
    const h = await setup({}, { clock: () => new Date(now), idempotencyStaleSeconds: 120 });
    const request = checkSubmitRequest({ ...job, idempotencyKey: 'crashed' }, { agents: ['high', 'normal'], batch: ['normal'] });
    const store = new IdempotencyStore(documentClient(aws.ddb.client), h.tableName, { clock: () => new Date(now) });
    await store.claim(idempotencyItemKey('agents', 'planner', 'crashed'), 'agents.0f8fad5b-d9cb-469f-a165-70867728950e', requestFingerprint(request));
    now += 121_000;
    const r = await h.submit(postJob({ ...job, idempotencyKey: 'crashed' }));
    expect(r.statusCode).toBe(202);
    expect(parse(r.body).jobId).not.toBe('agents.0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(await totalDepth(aws, h.config)).toBe(1);
    const replay = await h.submit(postJob({ ...job, idempotencyKey: 'crashed' }));
    expect(parse(replay.body).jobId).toBe(parse(r.body).jobId);
    expect(await totalDepth(aws, h.config)).toBe(1);
  });
});

describe('per-agent budgets', () => {
  const budgets = { dailyLimitsUsd: { planner: 10 }, defaultDailyLimitUsd: 50, cacheSeconds: 60, metricNamespace: 'AiBurst' };

  test('an agent over its daily limit gets 429 naming agent, spend and limit; nothing is queued or written', async () => {
    // GIVEN SpendUsd today: $7 on agents + $5 on batch
    cloudWatchMock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'w0', Values: [7] },
        { Id: 'w1', Values: [5] },
      ],
    });
    const h = await setup({ budgets });
    // WHEN
    const r = await h.submit(postJob(job));
    // THEN
    expect(r.statusCode).toBe(429);
    expect(parse(r.body)).toEqual({
      error: {
        code: 'BUDGET_EXCEEDED',
        message: expect.stringContaining('agent "planner" has spent $12.00 today (UTC) of its daily budget of $10.00'),
      },
    });
    expect(await totalDepth(aws, h.config)).toBe(0);
    expect(await tableItems(aws, h.tableName)).toEqual([]);
    // The reading is per agent, per UTC day, summed over the API's workloads with one call.
    const [call] = cloudWatchMock.commandCalls(GetMetricDataCommand);
    const input = call.args[0].input;
    expect(input.MetricDataQueries!.map((q) => q.MetricStat!.Metric!.Dimensions)).toEqual([
      [
        { Name: 'Workload', Value: 'agents' },
        { Name: 'Agent', Value: 'planner' },
      ],
      [
        { Name: 'Workload', Value: 'batch' },
        { Name: 'Agent', Value: 'planner' },
      ],
    ]);
    expect(input.MetricDataQueries![0].MetricStat).toMatchObject({
      Stat: 'Sum',
      Period: 86400,
      Metric: { Namespace: 'AiBurst', MetricName: 'SpendUsd' },
    });
    expect(input.StartTime!.toISOString()).toMatch(/T00:00:00\.000Z$/);
  });

  test('readings are cached per agent; an agent under its limit (or the default) is accepted', async () => {
    cloudWatchMock.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'w0', Values: [3] }] });
    const h = await setup({ budgets });
    expect((await h.submit(postJob(job))).statusCode).toBe(202);
    expect((await h.submit(postJob(job))).statusCode).toBe(202);
    expect((await h.submit(postJob({ ...job, agent: 'writer' }))).statusCode).toBe(202);
    expect(cloudWatchMock.commandCalls(GetMetricDataCommand)).toHaveLength(2); // planner once, writer once
  });

  test('a spend source failure lets the job through (fail open) and is logged', async () => {
    cloudWatchMock.on(GetMetricDataCommand).rejects(new Error('Throttling'));
    const warnings: string[] = [];
    const h = await setup({ budgets }, { log: { warn: (m) => warnings.push(m) } });
    expect((await h.submit(postJob(job))).statusCode).toBe(202);
    expect(warnings).toEqual(['budget check skipped: spend could not be read']);
  });

  test('a replay of a job accepted before the agent went over budget still gets its job id', async () => {
    cloudWatchMock.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'w0', Values: [1] }] });
    let now = Date.parse('2026-11-25T10:00:00Z');
    const h = await setup({ budgets }, { clock: () => new Date(now) });
    const first = await h.submit(postJob({ ...job, idempotencyKey: 'before' }));
    cloudWatchMock.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'w0', Values: [11] }] });
    now += 61_000; // past the cache
    const replay = await h.submit(postJob({ ...job, idempotencyKey: 'before' }));
    const fresh = await h.submit(postJob({ ...job, idempotencyKey: 'after' }));
    expect(replay.statusCode).toBe(202);
    expect(parse(replay.body).jobId).toBe(parse(first.body).jobId);
    expect(fresh.statusCode).toBe(429);
    expect(await totalDepth(aws, h.config)).toBe(1);
  });
});

describe('wake-up', () => {
  async function drain(sqs: SQSClient, queueUrl: string): Promise<void> {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    for (const m of r.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
  }

  test('a job for a workload at zero wakes its CapacityManager once (async invoke), debounced per window', async () => {
    // GIVEN batch's queues are empty (fleet at zero) and a clock we move
    let now = Date.parse('2026-11-25T10:00:00Z');
    const h = await setup({ wakeDebounceSeconds: 30 }, { clock: () => new Date(now) });
    const sqsSend = jest.spyOn(aws.sqs.client, 'send');
    const probes = () => sqsSend.mock.calls.filter(([c]) => c.constructor.name === 'GetQueueAttributesCommand').length;
    const batchJob = { ...job, workload: 'batch' };

    // WHEN the first job arrives
    const first = await h.submit(postJob(batchJob));
    // THEN the manager is invoked asynchronously with a wake event
    const calls = lambdaMock.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toMatchObject({ FunctionName: WAKE_ARN, InvocationType: 'Event' });
    expect(JSON.parse(Buffer.from(calls[0].args[0].input.Payload as Uint8Array).toString())).toEqual({
      wake: true,
      workload: 'batch',
      jobId: parse(first.body).jobId,
    });
    expect(probes()).toBe(1); // one GetQueueAttributes per priority queue (batch has one)

    // WHEN more jobs arrive within the window: no probe, no wake
    await h.submit(postJob(batchJob));
    await h.submit(postJob(batchJob));
    now += 29_000;
    await h.submit(postJob(batchJob));
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(1);
    expect(probes()).toBe(1);

    // WHEN the window passed but jobs are waiting (the fleet is busy): a probe, no wake
    now += 2_000;
    await h.submit(postJob(batchJob));
    expect(probes()).toBe(2);
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(1);

    // WHEN the queue drained and the window passed again: the next job wakes it again
    await drain(aws.sqs.client, url(h, 'batch', 'normal'));
    now += 31_000;
    await h.submit(postJob(batchJob));
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(2);

    // A workload without a wake target never probes or wakes.
    await h.submit(postJob(job));
    expect(probes()).toBe(3);
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(2);
    sqsSend.mockRestore();
  });

  test('a failed wake does not fail the submission (the schedule covers it)', async () => {
    lambdaMock.on(InvokeCommand).rejects(new Error('TooManyRequestsException'));
    const h = await setup();
    const r = await h.submit(postJob({ ...job, workload: 'batch' }));
    expect(r.statusCode).toBe(202);
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(1);
    expect(await queueDepth(aws.sqs.client, url(h, 'batch', 'normal'))).toBe(1);
  });
});

function startOn(instanceId: string, queueUrl: string, receiptHandle: string): RunningOn {
  return { instanceId, runId: randomUUID(), queueUrl, receiptHandle, leaseSeconds: 300, maxAttempts: 3 };
}

describe('GET /jobs/{id}, GET /jobs/{id}/result, DELETE /jobs/{id}', () => {
  async function submitted(h: Harness) {
    return parse((await h.submit(postJob(job))).body).jobId as string;
  }

  async function runAndSucceed(h: Harness, jobId: string, outcome: Record<string, unknown>) {
    const queueUrl = url(h, 'agents', 'normal');
    const started = await h.client.records.start(jobId, startOn('i-0abc', queueUrl, 'rh-1'));
    if (!started.started) throw new Error(started.reason);
    expect(await h.client.records.succeed(jobId, started.holder, outcome)).toBe(true);
  }

  test("status round trip: the record's public fields, never the internal ones", async () => {
    const h = await setup();
    const jobId = await submitted(h);
    const queued = await h.status(jobEvent('GET', jobId));
    expect(queued.statusCode).toBe(200);
    expect(parse(queued.body)).toMatchObject({ jobId, status: 'QUEUED', attempt: 1, interruptions: 0, agent: 'planner', hasResult: false });

    // WHEN a worker holds it
    const started = await h.client.records.start(jobId, startOn('i-0abc', url(h, 'agents', 'normal'), 'secret-handle'));
    const holder = started.started ? started.holder : '';
    const running = await h.status(jobEvent('GET', jobId));
    const view = parse(running.body);
    expect(view).toMatchObject({ status: 'RUNNING', startedAt: expect.any(String) });
    for (const internal of [
      'receiptHandle',
      'queueUrl',
      'instanceId',
      'payload',
      'payloadRef',
      'ttl',
      'idempotencyKey',
      'resultRef',
      'result',
      'leaseHolder',
      'leaseExpiresAt',
      'interruptedOn',
      'reclaimAt',
      'expectedDoneAt',
    ]) {
      expect(view).not.toHaveProperty(internal);
    }
    expect(running.body).not.toMatch(/secret-handle|i-0abc|127\.0\.0\.1/);

    // WHEN it finishes
    await h.client.records.succeed(jobId, holder, {
      tokensIn: 120,
      tokensOut: 480,
      latencyMs: 900,
      gpuSeconds: 1.5,
      costUsd: 0.0004,
      result: { text: 'ok' },
    });
    expect(parse((await h.status(jobEvent('GET', jobId))).body)).toMatchObject({
      status: 'SUCCEEDED',
      tokensIn: 120,
      tokensOut: 480,
      latencyMs: 900,
      gpuSeconds: 1.5,
      costUsd: 0.0004,
      hasResult: true,
      finishedAt: expect.any(String),
    });
  });

  test('result: a pre-signed GET URL that fetches the result object, or the inline result', async () => {
    const h = await setup();
    const jobId = await submitted(h);
    const notYet = await h.status(jobEvent('GET', jobId, true));
    expect(notYet.statusCode).toBe(409);
    expect(parse(notYet.body).error.code).toBe('RESULT_NOT_AVAILABLE');

    const content = JSON.stringify({ text: 'the summary', tokens: 480 });
    await aws.s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: resultKey(jobId, 'run-1'), Body: content, ContentType: 'application/json' }),
    );
    await runAndSucceed(h, jobId, { resultRef: `s3://${BUCKET}/${resultKey(jobId, 'run-1')}`, tokensOut: 480 });

    const r = await h.status(jobEvent('GET', jobId, true));
    expect(r.statusCode).toBe(200);
    const body = parse(r.body);
    expect(body).toEqual({
      jobId,
      status: 'SUCCEEDED',
      resultUrl: expect.stringContaining(resultKey(jobId, 'run-1')),
      expiresAt: expect.any(String),
    });
    expect(body.resultUrl).toMatch(/X-Amz-Expires=60/);
    const fetched = await fetch(body.resultUrl);
    expect(fetched.status).toBe(200);
    expect(await fetched.text()).toBe(content);

    const inline = await setup();
    const inlineId = await submitted(inline);
    await runAndSucceed(inline, inlineId, { result: { text: 'short' } });
    expect(parse((await inline.status(jobEvent('GET', inlineId, true))).body)).toEqual({
      jobId: inlineId,
      status: 'SUCCEEDED',
      result: { text: 'short' },
    });
  });

  test('result: a record pointing outside its results prefix is never signed', async () => {
    const h = await setup();
    const jobId = await submitted(h);
    await runAndSucceed(h, jobId, { resultRef: `s3://${BUCKET}/payloads/agents/${jobId}.json` });
    const r = await h.status(jobEvent('GET', jobId, true));
    expect(r.statusCode).toBe(500);
    expect(r.body).not.toMatch(/X-Amz|payloads\//);
  });

  test('cancel: a QUEUED job becomes CANCELLED (repeatable); a running or finished one is 409', async () => {
    const h = await setup();
    const jobId = await submitted(h);
    const r = await h.status(jobEvent('DELETE', jobId));
    expect(r.statusCode).toBe(200);
    expect(parse(r.body)).toEqual({ jobId, status: 'CANCELLED' });
    expect((await h.client.records.get(jobId))!.status).toBe('CANCELLED');
    expect((await h.status(jobEvent('DELETE', jobId))).statusCode).toBe(200);

    const runningId = await submitted(h);
    await h.client.records.start(runningId, startOn('i-1', url(h, 'agents', 'normal'), 'rh'));
    const busy = await h.status(jobEvent('DELETE', runningId));
    expect(busy.statusCode).toBe(409);
    expect(parse(busy.body).error).toEqual({ code: 'JOB_NOT_CANCELLABLE', message: expect.stringContaining('is RUNNING') });
    expect((await h.client.records.get(runningId))!.status).toBe('RUNNING');
  });
});

describe('payloadUpload', () => {
  test('step 1 answers a pre-signed PUT URL and writes nothing; after the PUT, step 2 queues the job by reference', async () => {
    const h = await setup();
    // WHEN step 1
    const r1 = await h.submit(postJob({ workload: 'agents', agent: 'planner', payloadUpload: true }));
    // THEN
    expect(r1.statusCode).toBe(200);
    const { uploadId, upload } = parse(r1.body);
    expect(uploadId).toMatch(/^agents\.[0-9a-f-]{36}$/);
    expect(upload).toEqual({
      url: expect.stringContaining(`payloads/agents/${uploadId}.json`),
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      expiresAt: expect.any(String),
    });
    expect(upload.url).toMatch(/X-Amz-Expires=300/);
    expect(await totalDepth(aws, h.config)).toBe(0);
    expect(await tableItems(aws, h.tableName)).toEqual([]);

    // WHEN step 2 comes before the upload
    const early = await h.submit(postJob({ workload: 'agents', agent: 'planner', uploadId }));
    expect(early.statusCode).toBe(409);
    expect(parse(early.body).error.code).toBe('UPLOAD_NOT_FOUND');
    expect(await tableItems(aws, h.tableName)).toEqual([]);

    // WHEN the caller PUTs a large input to the URL, then commits
    const big = JSON.stringify({ document: 'x'.repeat(100_000) });
    const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: big });
    expect(put.status).toBe(200);
    const r2 = await h.submit(postJob({ workload: 'agents', agent: 'planner', uploadId, priority: 'high' }));
    // THEN the job id is the upload id and the message carries the reference, not the input
    expect(r2.statusCode).toBe(202);
    expect(parse(r2.body).jobId).toBe(uploadId);
    const [message] = await receiveBodies(aws.sqs.client, url(h, 'agents', 'high'));
    expect(JSON.parse(message)).toMatchObject({ jobId: uploadId, payloadRef: `s3://${BUCKET}/payloads/agents/${uploadId}.json` });
    expect(JSON.parse(message)).not.toHaveProperty('payload');
    expect(await h.client.records.get(uploadId)).toMatchObject({ status: 'QUEUED', payloadRef: `s3://${BUCKET}/payloads/agents/${uploadId}.json` });
    expect(await objectCount(aws)).toBeGreaterThanOrEqual(1);

    // A second commit of the same upload is refused and queues nothing.
    const twice = await h.submit(postJob({ workload: 'agents', agent: 'planner', uploadId }));
    expect(twice.statusCode).toBe(409);
    expect(parse(twice.body).error.code).toBe('JOB_EXISTS');
    expect(await totalDepth(aws, h.config)).toBe(1);
  });
});
