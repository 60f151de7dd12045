/**
 * The real worker code, in-process, against local-aws-sqs + dynalite + s3rver + the fake OpenAI-compatible
 * server + an IMDS stub (CloudWatch and Auto Scaling through aws-sdk-client-mock): the success path and
 * every way a message is settled without a model call.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SetInstanceProtectionCommand } from '@aws-sdk/client-auto-scaling';
import { JOB_MESSAGE_VERSION, MetricNames, parseJobMessage, serializeJobMessage, ModelServerKind } from '../../lib/contracts';
import { clientConfig } from '../support/local-aws';
import {
  ASG,
  Env,
  PAYLOAD_BUCKET,
  PRICE,
  RESULT_BUCKET,
  WORKLOAD,
  configFor,
  depth,
  finishedJob,
  launch,
  makeQueues,
  metricSum,
  next,
  receiveAll,
  sentMetrics,
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

describe('success', () => {
  test('a small result is stored inline: SUCCEEDED with the server token counts, cost, the message deleted, protection on then off', async () => {
    // GIVEN a queued job and a worker
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues, { agent: 'planner' });
    env.autoscaling.resetHistory();
    const { worker, imds } = await launch(env, configFor(env, queues));

    // WHEN the worker takes it
    const finished = await finishedJob(worker, jobId);
    await worker.shutdown();

    // THEN the record holds the outcome with the server's usage (3 prompt words, 4 completion words)
    expect(finished.outcome).toBe('succeeded');
    const record = (await env.records.get(jobId))!;
    expect(record).toMatchObject({ status: 'SUCCEEDED', tokensIn: 3, tokensOut: 4, attempt: 1, interruptions: 0 });
    expect(record.result).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: `echo: hello there ${marker}` } }] });
    expect(record.resultRef).toBeUndefined();
    expect(record.instanceId).toBeUndefined();
    expect(record.gpuSeconds).toBeGreaterThan(0);
    expect(record.costUsd).toBeCloseTo((record.gpuSeconds! * PRICE) / 3600, 8);
    expect(record.latencyMs).toBeGreaterThanOrEqual(0);
    // the message is gone, nothing parked
    expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await receiveAll(env, queues.parking)).toHaveLength(0);
    // the model server saw the fleet's default model
    expect(env.model.callsWith(marker)).toHaveLength(1);
    expect(env.model.callsWith(marker)[0].body).toMatchObject({ model: 'llama-3-8b', stream: false });
    // scale-in protection on while busy, off when idle (own instance, own group)
    const protection = env.autoscaling.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input);
    expect(protection[0]).toEqual({ AutoScalingGroupName: ASG, InstanceIds: [imds.instanceId], ProtectedFromScaleIn: true });
    expect(protection[protection.length - 1]).toMatchObject({ ProtectedFromScaleIn: false });
  });

  test('metrics: tokens, latency, duration, GPU-seconds and outcome counts per Workload, Workload+Agent and Workload+Model; boot GPU-seconds', async () => {
    const queues = await makeQueues(env);
    env.cloudwatch.resetHistory();
    const { jobId } = await submit(env, queues, { agent: 'metrics-agent', model: 'mistral-7b' });
    const { worker } = await launch(env, configFor(env, queues));
    await finishedJob(worker, jobId);
    await worker.shutdown();

    const sets: Record<string, string>[] = [
      { Workload: WORKLOAD },
      { Workload: WORKLOAD, Agent: 'metrics-agent' },
      { Workload: WORKLOAD, Model: 'mistral-7b' },
    ];
    for (const dims of sets) {
      expect(metricSum(env, MetricNames.TOKENS_IN, dims)).toBe(3);
      expect(metricSum(env, MetricNames.TOKENS_OUT, dims)).toBe(4);
      expect(metricSum(env, MetricNames.JOBS_SUCCEEDED, dims)).toBe(1);
      expect(metricSum(env, MetricNames.GPU_SECONDS, dims)).toBeGreaterThan(0);
    }
    const names = new Set(sentMetrics(env).map((d) => d.MetricName));
    for (const name of [MetricNames.INFERENCE_LATENCY, MetricNames.JOB_DURATION, MetricNames.BOOT_GPU_SECONDS]) expect(names).toContain(name);
    // no TTFT without streaming; units from the contract
    expect(names).not.toContain(MetricNames.TIME_TO_FIRST_TOKEN);
    expect(sentMetrics(env).find((d) => d.MetricName === MetricNames.INFERENCE_LATENCY)!.Unit).toBe('Milliseconds');
    expect(sentMetrics(env).find((d) => d.MetricName === MetricNames.BOOT_GPU_SECONDS)!.Dimensions).toEqual([{ Name: 'Workload', Value: WORKLOAD }]);
  });

  test("a large result goes to S3 under the run's own key and the record points at it", async () => {
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues);
    const long = `${'lorem ipsum '.repeat(100)}${marker}`;
    env.model.script((call) => (call.raw.includes(marker) ? { content: long } : undefined));
    const { worker } = await launch(env, configFor(env, queues, { inlineResultMaxBytes: 256 }));
    await finishedJob(worker, jobId);
    await worker.shutdown();

    const record = (await env.records.get(jobId))!;
    expect(record).toMatchObject({
      status: 'SUCCEEDED',
      resultRef: expect.stringMatching(new RegExp(`^s3://${RESULT_BUCKET}/results/${WORKLOAD}/${jobId}/[0-9a-f-]{36}\\.json$`)),
      tokensOut: 201,
    });
    expect(record.result).toBeUndefined();
    const object = await env.s3.client.send(new GetObjectCommand({ Bucket: RESULT_BUCKET, Key: keyOf(record.resultRef!) }));
    expect(JSON.parse(await object.Body!.transformToString())).toMatchObject({ choices: [{ message: { content: long } }] });
  });

  test('streaming: the completion is reassembled, tokens come from the usage chunk, time to first token is published', async () => {
    const queues = await makeQueues(env);
    env.cloudwatch.resetHistory();
    const { jobId, marker } = await submit(env, queues, { agent: 'streamer' });
    const { worker } = await launch(
      env,
      configFor(env, queues, { modelServer: { kind: ModelServerKind.OPENAI, baseUrl: env.model.baseUrl, healthPath: '/health', stream: true } }),
    );
    await finishedJob(worker, jobId);
    await worker.shutdown();

    const record = (await env.records.get(jobId))!;
    expect(record).toMatchObject({ status: 'SUCCEEDED', tokensIn: 3, tokensOut: 4 });
    expect(record.result).toMatchObject({
      choices: [{ message: { role: 'assistant', content: `echo: hello there ${marker}` }, finish_reason: 'stop' }],
    });
    expect(env.model.callsWith(marker)[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const ttft = sentMetrics(env).filter((d) => d.MetricName === MetricNames.TIME_TO_FIRST_TOKEN);
    expect(ttft.map((d) => d.Dimensions!.map((x) => x.Name).join('+')).sort()).toEqual(['Workload', 'Workload+Agent', 'Workload+Model']);
    // the Model dimension names the server default when neither job nor fleet names a model
    expect(ttft.find((d) => d.Dimensions!.some((x) => x.Name === 'Model'))!.Dimensions).toContainEqual({ Name: 'Model', Value: 'default' });
  });

  test('a completion payload (prompt) goes to /v1/completions; an /invocations server reports tokens from its body', async () => {
    const queues = await makeQueues(env);
    const a = await submit(env, queues, { payload: { prompt: 'complete this please' } });
    const { worker } = await launch(env, configFor(env, queues));
    await finishedJob(worker, a.jobId);
    await worker.shutdown();
    expect(env.model.calls.some((c) => c.path === '/v1/completions' && c.raw.includes('complete this please'))).toBe(true);
    expect(await env.records.get(a.jobId)).toMatchObject({
      status: 'SUCCEEDED',
      tokensIn: 3,
      result: { choices: [{ text: 'echo: complete this please' }] },
    });

    const queues2 = await makeQueues(env);
    const b = await submit(env, queues2, { payload: { inputs: 'sagemaker style input' } });
    const w2 = await launch(
      env,
      configFor(env, queues2, { modelServer: { kind: ModelServerKind.INVOCATIONS, baseUrl: env.model.baseUrl, healthPath: '/ping' } }),
    );
    await finishedJob(w2.worker, b.jobId);
    await w2.worker.shutdown();
    expect(await env.records.get(b.jobId)).toMatchObject({
      status: 'SUCCEEDED',
      tokensIn: 3,
      tokensOut: 4,
      result: { generated_text: 'echo: sagemaker style input' },
    });
  });

  test('payloadRef inputs are read from S3; a missing payload is parked at once as a permanent error', async () => {
    const queues = await makeQueues(env);
    await env.s3.client.send(
      new PutObjectCommand({
        Bucket: PAYLOAD_BUCKET,
        Key: 'payloads/chat/big-input.json',
        Body: JSON.stringify({ messages: [{ role: 'user', content: 'from s3 bucket' }] }),
      }),
    );
    const ok = await submit(env, queues, { payloadRef: `s3://${PAYLOAD_BUCKET}/payloads/chat/big-input.json` });
    const missing = await submit(env, queues, { payloadRef: `s3://${PAYLOAD_BUCKET}/payloads/chat/not-there.json` });
    const { worker } = await launch(env, configFor(env, queues));
    const [okDone, missingDone] = await Promise.all([finishedJob(worker, ok.jobId), finishedJob(worker, missing.jobId)]);
    await worker.shutdown();

    expect(okDone.outcome).toBe('succeeded');
    expect(await env.records.get(ok.jobId)).toMatchObject({
      status: 'SUCCEEDED',
      tokensIn: 3,
      result: { choices: [{ message: { content: 'echo: from s3 bucket' } }] },
    });
    expect(missingDone.outcome).toBe('parked');
    expect(await env.records.get(missing.jobId)).toMatchObject({
      status: 'FAILED',
      attempt: 1,
      error: `permanent error: payload missing: s3://${PAYLOAD_BUCKET}/payloads/chat/not-there.json`,
    });
    expect(await receiveAll(env, queues.parking)).toHaveLength(1);
    expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  test('high priority first: with both queues loaded, the high job starts before the normal one', async () => {
    const queues = await makeQueues(env);
    const normal = await submit(env, queues, { priority: 'normal' });
    const high = await submit(env, queues, { priority: 'high' });
    const { worker } = await launch(env, configFor(env, queues));
    await Promise.all([finishedJob(worker, normal.jobId), finishedJob(worker, high.jobId)]);
    await worker.shutdown();
    const [h, n] = [(await env.records.get(high.jobId))!, (await env.records.get(normal.jobId))!];
    expect([h.status, n.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(Date.parse(h.finishedAt!)).toBeLessThanOrEqual(Date.parse(n.startedAt!));
  });

  test('concurrency: two slots run two jobs at once', async () => {
    const queues = await makeQueues(env);
    const gate = env.model.gate();
    const a = await submit(env, queues);
    const b = await submit(env, queues);
    env.model.script((call) => (call.raw.includes(a.marker) || call.raw.includes(b.marker) ? { until: gate.until } : undefined));
    const { worker } = await launch(env, configFor(env, queues, { concurrency: 2 }));
    const started = new Set<string>();
    await new Promise<void>((resolve) => {
      const check = () => {
        if (env.model.callsWith(a.marker).length + env.model.callsWith(b.marker).length === 2) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
    // both model calls are open at the same time, both records RUNNING on this instance
    expect((await env.records.runningOn(worker.status().instanceId!)).map((r) => r.jobId).sort()).toEqual([a.jobId, b.jobId].sort());
    worker.events.on('job-finished', (e) => started.add(e.jobId!));
    gate.release();
    await Promise.all([finishedJob(worker, a.jobId), finishedJob(worker, b.jobId)]);
    await worker.shutdown();
    expect(started).toEqual(new Set([a.jobId, b.jobId]));
  });
});

describe('messages settled without a model call', () => {
  test('a malformed message is parked verbatim with the reason and the loop goes on', async () => {
    const queues = await makeQueues(env);
    await env.sqs.client.send(new SendMessageCommand({ QueueUrl: queues.high, MessageBody: 'this is not json {' }));
    await env.sqs.client.send(
      new SendMessageCommand({ QueueUrl: queues.high, MessageBody: JSON.stringify({ v: JOB_MESSAGE_VERSION, jobId: 'nope' }) }),
    );
    const { jobId } = await submit(env, queues);
    const { worker } = await launch(env, configFor(env, queues));
    await finishedJob(worker, jobId);
    await worker.shutdown();

    expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED' });
    const parked = await receiveAll(env, queues.parking);
    expect(parked.map((m) => m.Body).sort()).toEqual([JSON.stringify({ v: JOB_MESSAGE_VERSION, jobId: 'nope' }), 'this is not json {'].sort());
    const reasons = parked.map((m) => m.MessageAttributes!['ai-burst-error'].StringValue);
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/malformed job message: message body is not JSON/),
        expect.stringMatching(/malformed job message: jobId/),
      ]),
    );
    expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  test('a duplicate delivery of a finished job: no model call, no second result, no status regression', async () => {
    const queues = await makeQueues(env);
    const { jobId, message, marker } = await submit(env, queues);
    const { worker } = await launch(env, configFor(env, queues, { inlineResultMaxBytes: 0 }));
    await finishedJob(worker, jobId);
    const before = (await env.records.get(jobId))!;
    const objectBefore = await env.s3.client.send(new HeadObjectCommand({ Bucket: RESULT_BUCKET, Key: keyOf(before.resultRef!) }));

    // WHEN the same job is delivered again
    const dup = finishedJob(worker, jobId);
    await env.sqs.client.send(new SendMessageCommand({ QueueUrl: queues.high, MessageBody: serializeJobMessage(message) }));
    expect((await dup).outcome).toBe('skipped-finished');
    await worker.shutdown();

    // THEN nothing changed and the duplicate is gone
    expect(env.model.callsWith(marker)).toHaveLength(1);
    expect(await env.records.get(jobId)).toEqual(before);
    const objects = await env.s3.client.send(new ListObjectsV2Command({ Bucket: RESULT_BUCKET, Prefix: `results/${WORKLOAD}/${jobId}` }));
    expect(objects.Contents).toHaveLength(1);
    const objectAfter = await env.s3.client.send(new HeadObjectCommand({ Bucket: RESULT_BUCKET, Key: keyOf(before.resultRef!) }));
    expect(objectAfter.ETag).toBe(objectBefore.ETag);
    expect(objectAfter.LastModified).toEqual(objectBefore.LastModified);
    expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  test('a cancelled job is deleted without a model call', async () => {
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues);
    expect(await env.records.cancel(jobId)).toBe(true);
    const { worker } = await launch(env, configFor(env, queues));
    expect((await finishedJob(worker, jobId)).outcome).toBe('skipped-finished');
    await worker.shutdown();
    expect(env.model.callsWith(marker)).toHaveLength(0);
    expect(await env.records.get(jobId)).toMatchObject({ status: 'CANCELLED' });
    expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  test('a job whose notBefore is ahead goes back with the remaining delay and is deleted', async () => {
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues, { notBefore: new Date(Date.now() + 600_000).toISOString() });
    const { worker } = await launch(env, configFor(env, queues));
    const e = await finishedJob(worker, jobId);
    await worker.shutdown();
    expect(e).toMatchObject({ outcome: 'delayed' });
    expect(e.delaySeconds).toBeGreaterThan(590);
    expect(e.delaySeconds).toBeLessThanOrEqual(600);
    expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
    expect(env.model.callsWith(marker)).toHaveLength(0);
    expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED' });
  });

  test('a copy of a job another instance runs under a live lease waits out the lease (not deleted, no model call)', async () => {
    const queues = await makeQueues(env);
    const { jobId, message, marker } = await submit(env, queues);
    // another instance holds it
    const [m] = await receiveAll(env, queues.high);
    const other = await env.records.start(jobId, {
      instanceId: 'i-other',
      runId: 'run-other',
      queueUrl: queues.high,
      receiptHandle: m.ReceiptHandle!,
      leaseSeconds: 300,
      maxAttempts: 3,
    });
    expect(other.started).toBe(true);
    await env.sqs.client.send(new SendMessageCommand({ QueueUrl: queues.high, MessageBody: serializeJobMessage(message) }));
    const { worker } = await launch(env, configFor(env, queues));
    const held = await finishedJob(worker, jobId);
    expect(held.outcome).toBe('skipped-held');
    // deferred for the lease's remaining time (≈300 s), not just the queue's visibility timeout
    expect(held.delaySeconds).toBeGreaterThan(290);
    await worker.shutdown();
    expect(env.model.callsWith(marker)).toHaveLength(0);
    expect(await env.records.get(jobId)).toMatchObject({ status: 'RUNNING', instanceId: 'i-other' });
    // the original (held by i-other) and the copy are both still in flight (not deleted)
    expect(await depth(env, queues.high)).toMatchObject({ inFlight: 2 });
  });
});

test('the loop waits for the model server health endpoint before pulling', async () => {
  const queues = await makeQueues(env);
  const { jobId } = await submit(env, queues);
  env.model.setHealthy(false);
  const checks = env.model.healthChecks();
  let ready = false;
  const launched = launch(env, configFor(env, queues)).then((l) => {
    ready = true;
    return l;
  });
  while (env.model.healthChecks() < checks + 3) await new Promise((r) => setTimeout(r, 10));
  // THEN nothing was taken while unhealthy
  expect(ready).toBe(false);
  expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED' });
  expect(await depth(env, queues.high)).toMatchObject({ visible: 1, inFlight: 0 });
  env.model.setHealthy(true);
  const { worker } = await launched;
  await finishedJob(worker, jobId);
  await worker.shutdown();
  expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED' });
});

describe('stopping work around a receive', () => {
  test('a message that arrives from a receive after draining began is handed back unchanged, with a fresh receive count', async () => {
    // GIVEN an SQS client whose receive answers are held until the test lets them through
    const queues = await makeQueues(env);
    const sqs = new SQSClient(clientConfig(env.sqs.endpoint));
    const gate = env.model.gate();
    let held = false;
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const messages = (out.output as { Messages?: unknown[] }).Messages;
        if (context.commandName === 'ReceiveMessageCommand' && messages?.length) {
          held = true;
          await gate.until;
        }
        return out;
      },
      { step: 'initialize', name: 'holdReceives' },
    );
    const { worker, imds } = await launch(env, configFor(env, queues), { sqs });
    const { jobId, marker } = await submit(env, queues);
    while (!held) await sleep(10);

    // WHEN a rebalance recommendation lands while that receive is on its way
    const draining = next(worker, 'draining');
    imds.setRebalance();
    await draining;
    const handedBack = finishedJob(worker, jobId);
    gate.release();

    // THEN the job is not started but handed back: record untouched, a copy with receive count 1
    expect((await handedBack).outcome).toBe('handed-back');
    await worker.shutdown();
    expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED', attempt: 1, interruptions: 0 });
    expect(env.model.callsWith(marker)).toHaveLength(0);
    const copies = await receiveAll(env, queues.high);
    expect(copies).toHaveLength(1);
    expect(copies[0].Attributes!.ApproximateReceiveCount).toBe('1');
    expect(parseJobMessage(copies[0].Body)).toMatchObject({ ok: true, value: { jobId, attempt: 1, interruptions: 0 } });
    sqs.destroy();
  });

  test('shutdown while the model server is still booting: ready rejects, done resolves, nothing was pulled', async () => {
    const queues = await makeQueues(env);
    const { jobId } = await submit(env, queues);
    env.model.setHealthy(false);
    const launched = launch(env, configFor(env, queues)).catch((e: Error) => e);
    const checks = env.model.healthChecks();
    while (env.model.healthChecks() < checks + 2) await sleep(10);
    const worker = env.workers[env.workers.length - 1];
    await worker.shutdown();
    env.model.setHealthy(true);
    expect(await launched).toBeInstanceOf(Error);
    await expect(worker.done).resolves.toBeUndefined();
    expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED' });
  });
});

test('idle GPU-seconds are reported per workload', async () => {
  const queues = await makeQueues(env);
  env.cloudwatch.resetHistory();
  const { worker } = await launch(env, configFor(env, queues));
  await sleep(200);
  await worker.shutdown();
  const idle = metricSum(env, MetricNames.IDLE_GPU_SECONDS, { Workload: WORKLOAD });
  expect(idle).toBeGreaterThan(0.1);
  expect(
    sentMetrics(env)
      .filter((d) => d.MetricName === MetricNames.IDLE_GPU_SECONDS)
      .every((d) => d.Dimensions!.length === 1),
  ).toBe(true);
});

/** The key of an s3://bucket/key reference. */
function keyOf(ref: string): string {
  return ref.replace(/^s3:\/\/[^/]+\//, '');
}
