/**
 * Ownership by lease, end to end with the real worker against the local servers: a redelivered copy never
 * takes over a live holder's job, a losing run never overwrites the winner's result, a drained instance stops
 * taking work the moment its job is taken from it, and the spot notice lets a job finish that fits before the
 * reclaim. Each test is a bug report from issue "every job runs to completion once".
 */
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { MetricNames, serializeJobMessage } from '../../lib/contracts';
import { requeueInterrupted } from '../../runtime/jobs/requeue';
import { jsonLogger } from '../../runtime/log';
import {
  Env,
  RESULT_BUCKET,
  WORKLOAD,
  configFor,
  depth,
  finishedJob,
  launch,
  makeQueues,
  metricSum,
  modelCalled,
  next,
  sleep,
  startEnv,
  stopEnv,
  submit,
} from './harness';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await stopEnv(env);
});
afterEach(() => {
  env.model.script(undefined);
});

async function resultKeys(jobId: string): Promise<string[]> {
  const r = await env.s3.client.send(new ListObjectsV2Command({ Bucket: RESULT_BUCKET, Prefix: `results/${WORKLOAD}/${jobId}/` }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

test('a redelivered copy (receive count > 1) while the holder is alive: no takeover, no model call; the holder finishes once', async () => {
  // GIVEN worker A holding a job whose model call waits on a gate
  const queues = await makeQueues(env, 2);
  const { jobId, message, marker } = await submit(env, queues);
  const gate = env.model.gate();
  env.model.script((call) => (call.raw.includes(marker) ? { until: gate.until } : undefined));
  const config = configFor(env, queues, { visibilityTimeoutSeconds: 2 });
  const a = await launch(env, config);
  await modelCalled(env, marker);
  // AND a duplicate copy that has already been received once (so it comes back with receive count 2)
  await env.sqs.client.send(new SendMessageCommand({ QueueUrl: queues.high, MessageBody: serializeJobMessage(message) }));
  const first = await env.sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queues.high, VisibilityTimeout: 1, WaitTimeSeconds: 1 }));
  expect(first.Messages).toHaveLength(1);

  // WHEN worker B receives that copy again
  const b = await launch(env, config);
  const held = await next(b.worker, 'job-finished', (e) => e.jobId === jobId);

  // THEN B leaves it (waits out A's lease), and A's run is the only model call and finishes
  expect(held.outcome).toBe('skipped-held');
  gate.release();
  expect((await finishedJob(a.worker, jobId)).outcome).toBe('succeeded');
  await Promise.all([a.worker.shutdown(), b.worker.shutdown()]);
  expect(env.model.callsWith(marker)).toHaveLength(1);
  expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED', attempt: 1 });
});

test("a run that lost its job never overwrites the result: it deletes its own object and the record names the winner's", async () => {
  // GIVEN worker A running a job (large results go to S3) whose first model call waits on a gate
  const queues = await makeQueues(env);
  const { jobId, marker } = await submit(env, queues);
  const gate = env.model.gate();
  let calls = 0;
  env.model.script((call) => {
    if (!call.raw.includes(marker)) return undefined;
    calls += 1;
    return calls === 1 ? { until: gate.until, content: 'from the losing run' } : { content: 'from the winning run' };
  });
  const config = configFor(env, queues, { inlineResultMaxBytes: 0 });
  const a = await launch(env, config);
  await modelCalled(env, marker);

  // WHEN the job is taken from A (the drainer requeues it) and worker B runs it to SUCCEEDED first
  const [record] = await env.records.runningOn(a.imds.instanceId);
  await requeueInterrupted(env.sqs.client, env.records, {
    jobId,
    queueUrl: record.queueUrl!,
    receiptHandle: record.receiptHandle!,
    holder: record.leaseHolder!,
  });
  const b = await launch(env, config);
  expect((await finishedJob(b.worker, jobId)).outcome).toBe('succeeded');
  // AND then A's model call answers (A may also have learned of the loss from its heartbeat first)
  gate.release();
  while (a.worker.status().inFlight.length > 0) await sleep(20);
  await Promise.all([a.worker.shutdown(), b.worker.shutdown()]);

  // THEN the winner's object stands alone, and it is the one the record names
  const done = (await env.records.get(jobId))!;
  expect(done.status).toBe('SUCCEEDED');
  const keys = await resultKeys(jobId);
  expect(keys).toEqual([done.resultRef!.replace(`s3://${RESULT_BUCKET}/`, '')]);
  const object = await env.s3.client.send(new GetObjectCommand({ Bucket: RESULT_BUCKET, Key: keys[0] }));
  expect(await object.Body!.transformToString()).toContain('from the winning run');
});

test('when the drainer requeues a job of this instance, the worker stops taking work at once and never restarts that job', async () => {
  // GIVEN worker A (2 slots) running one job
  const queues = await makeQueues(env, 3);
  const running = await submit(env, queues);
  const gate = env.model.gate();
  env.model.script((call) => (call.raw.includes(running.marker) ? { until: gate.until } : undefined));
  const a = await launch(env, configFor(env, queues, { concurrency: 2, visibilityTimeoutSeconds: 3 }));
  await modelCalled(env, running.marker);

  // WHEN the drainer requeues it (before A's own IMDS poll sees any notice) and A's next heartbeat is refused
  const [record] = await env.records.runningOn(a.imds.instanceId);
  await requeueInterrupted(env.sqs.client, env.records, {
    jobId: running.jobId,
    queueUrl: record.queueUrl!,
    receiptHandle: record.receiptHandle!,
    holder: record.leaseHolder!,
  });
  while (a.worker.status().accepting) await sleep(20);

  // THEN A takes nothing new: neither the requeued copy nor a new job
  const fresh = await submit(env, queues);
  await sleep(1500);
  expect(env.model.callsWith(running.marker)).toHaveLength(1);
  expect(env.model.callsWith(fresh.marker)).toHaveLength(0);
  expect(a.worker.status()).toMatchObject({ accepting: false, interrupted: true });
  gate.release();
  await a.worker.shutdown();
  expect(await env.records.get(running.jobId)).toMatchObject({ status: 'QUEUED', interruptions: 1, interruptedOn: a.imds.instanceId });
  expect(await env.records.get(fresh.jobId)).toMatchObject({ status: 'QUEUED', interruptions: 0 });
  expect(await depth(env, queues.high)).toMatchObject({ visible: 2 });
});

test('an instance that receives a job it was interrupted on hands it back untouched', async () => {
  const queues = await makeQueues(env);
  const { jobId, marker } = await submit(env, queues);
  const instanceId = 'i-0bad0000000000001';
  // GIVEN the job ran on this instance and was requeued by its interruption
  const [m] = (await env.sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queues.high, WaitTimeSeconds: 1 }))).Messages ?? [];
  const started = await env.records.start(jobId, {
    instanceId,
    runId: 'r1',
    queueUrl: queues.high,
    receiptHandle: m.ReceiptHandle!,
    leaseSeconds: 60,
    maxAttempts: 3,
  });
  expect(started.started).toBe(true);
  await requeueInterrupted(env.sqs.client, env.records, {
    jobId,
    queueUrl: queues.high,
    receiptHandle: m.ReceiptHandle!,
    holder: `${instanceId}/r1`,
  });

  // WHEN the worker of that same instance receives the requeued copy
  const again = await launch(env, configFor(env, queues), { identity: { instanceId, instanceType: 'g6.xlarge' } });
  const e = await finishedJob(again.worker, jobId);
  await again.worker.shutdown();

  // THEN it does not start it, hands it back and stops taking work
  expect(e.outcome).toBe('skipped-interrupted-here');
  expect(env.model.callsWith(marker)).toHaveLength(0);
  expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED', interruptions: 1 });
  expect(await depth(env, queues.high)).toMatchObject({ visible: 1 });
});

describe('spot notice with an expected job duration', () => {
  test('a job expected to end before the reclaim keeps running and finishes; JobsFinishedInNotice counts it', async () => {
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues, { agent: 'notice-agent' });
    const gate = env.model.gate();
    env.model.script((call) => (call.raw.includes(marker) ? { until: gate.until } : undefined));
    env.cloudwatch.resetHistory();
    const a = await launch(env, configFor(env, queues, { expectedJobSeconds: 30 }));
    await modelCalled(env, marker);

    const handled = next(a.worker, 'interrupted');
    a.imds.setInterruption({ action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() });
    const event = await handled;
    expect(event).toMatchObject({ kept: 1, requeued: [] });
    expect(await env.records.get(jobId)).toMatchObject({ status: 'RUNNING', reclaimAt: expect.any(Number) });
    gate.release();
    expect((await finishedJob(a.worker, jobId)).outcome).toBe('succeeded');
    await a.worker.shutdown();
    expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED', interruptions: 0 });
    expect(metricSum(env, MetricNames.JOBS_FINISHED_IN_NOTICE, { Workload: WORKLOAD })).toBe(1);
    expect(metricSum(env, MetricNames.JOBS_REQUEUED, { Workload: WORKLOAD })).toBe(0);
  });

  test('a job expected to outlast the reclaim is requeued at once', async () => {
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues);
    const gate = env.model.gate();
    env.model.script((call) => (call.raw.includes(marker) ? { until: gate.until } : undefined));
    const a = await launch(env, configFor(env, queues, { expectedJobSeconds: 600 }));
    await modelCalled(env, marker);
    const handled = next(a.worker, 'interrupted');
    a.imds.setInterruption({ action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() });
    expect(await handled).toMatchObject({ kept: 0, requeued: [{ jobId, result: 'requeued' }] });
    gate.release();
    await a.worker.shutdown();
    expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED', interruptions: 1 });
  });

  test('a kept job still running shortly before the reclaim is requeued then, not left to its lease', async () => {
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues);
    env.model.script((call) => (call.raw.includes(marker) ? { until: new Promise(() => undefined) } : undefined));
    const a = await launch(env, configFor(env, queues, { expectedJobSeconds: 1 }));
    await modelCalled(env, marker);
    // A reclaim 21.5 s out: kept (expected to end in ~1 s, within the 20 s margin), but the model never answers.
    const handled = next(a.worker, 'interrupted');
    a.imds.setInterruption({ action: 'terminate', time: new Date(Date.now() + 21_500).toISOString() });
    expect(await handled).toMatchObject({ kept: 1 });
    // THEN half the margin before the reclaim it is requeued, long before its 30 s lease would have expired
    while ((await env.records.get(jobId))!.status === 'RUNNING') await sleep(200);
    expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED', interruptions: 1 });
    await a.worker.shutdown();
  }, 40_000);
});

test('a log line keeps its own time even when a field is named time (the spot notice carries one)', () => {
  const lines: string[] = [];
  const log = jsonLogger({ write: (l) => lines.push(l), now: () => Date.parse('2026-11-25T08:20:05Z') });
  log.warn('spot interruption notice', { time: '2026-11-25T08:22:00Z', action: 'terminate' });
  expect(JSON.parse(lines[0])).toMatchObject({ time: '2026-11-25T08:20:05.000Z', level: 'warn', message: 'spot interruption notice' });
});
