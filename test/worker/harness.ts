/**
 * Shared set-up of the worker end-to-end tests: local SQS / DynamoDB / S3 servers, the fake model server,
 * mocked CloudWatch and Auto Scaling, and helpers that start the REAL worker code in-process.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient, SetInstanceHealthCommand, SetInstanceProtectionCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, Message, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import {
  JOB_MESSAGE_VERSION,
  JobMessage,
  METRIC_NAMESPACE,
  WORKER_CONFIG_VERSION,
  WorkerConfig,
  formatJobId,
  serializeJobMessage,
  ModelServerKind,
} from '../../lib/contracts';
import { JobRecords } from '../../runtime/jobs/job-records';
import { Worker, WorkerDeps, WorkerEvents, startWorker } from '../../worker/worker';
import { silentLogger } from '../../runtime/log';
import { FakeModelServer, HEALTH_PATH, startFakeModelServer } from '../support/fake-model-server';
import { ImdsStub, ImdsStubOptions, startImdsStub } from '../support/imds-stub';
import { createJobTable, documentClient } from '../support/job-table';
import { LocalServer, TEST_REGION, clientConfig, startDynamo, startS3, startSqs, uniqueName } from '../support/local-aws';

export const WORKLOAD = 'chat';
export const PAYLOAD_BUCKET = 'payloads-test';
export const RESULT_BUCKET = 'results-test';
export const ASG = 'chat-fleet';
export const PRICE = 1.006;

export interface Env {
  sqs: LocalServer<SQSClient>;
  ddb: LocalServer<DynamoDBClient>;
  s3: LocalServer<S3Client>;
  doc: DynamoDBDocumentClient;
  table: string;
  records: JobRecords;
  model: FakeModelServer;
  cloudwatch: ReturnType<typeof mockClient>;
  autoscaling: ReturnType<typeof mockClient>;
  imdsStubs: ImdsStub[];
  workers: Worker[];
}

export async function startEnv(): Promise<Env> {
  const [sqs, ddb, s3, model] = await Promise.all([startSqs(), startDynamo(), startS3([PAYLOAD_BUCKET, RESULT_BUCKET]), startFakeModelServer()]);
  const doc = documentClient(ddb.client);
  const table = await createJobTable(ddb.client);
  const cloudwatch = mockClient(CloudWatchClient);
  cloudwatch.on(PutMetricDataCommand).resolves({});
  const autoscaling = mockClient(AutoScalingClient);
  autoscaling.on(SetInstanceProtectionCommand).resolves({});
  autoscaling.on(SetInstanceHealthCommand).resolves({});
  return { sqs, ddb, s3, doc, table, records: new JobRecords(doc, table), model, cloudwatch, autoscaling, imdsStubs: [], workers: [] };
}

export async function stopEnv(env: Env | undefined): Promise<void> {
  if (!env) return;
  await Promise.all(env.workers.map((w) => w.kill()));
  env.cloudwatch.restore();
  env.autoscaling.restore();
  await Promise.all([env.sqs.close(), env.ddb.close(), env.s3.close(), env.model.close(), ...env.imdsStubs.map((s) => s.close())]);
}

export interface Queues {
  high: string;
  normal: string;
  parking: string;
}

export async function makeQueues(env: Env, visibilityTimeoutSeconds = 30): Promise<Queues> {
  const create = async (name: string) =>
    (
      await env.sqs.client.send(
        new CreateQueueCommand({
          QueueName: uniqueName(name),
          Attributes: { VisibilityTimeout: String(visibilityTimeoutSeconds) },
        }),
      )
    ).QueueUrl!;
  const [high, normal, parking] = await Promise.all([create('high'), create('normal'), create('parking')]);
  return { high, normal, parking };
}

export function configFor(env: Env, queues: Queues, over: Partial<WorkerConfig> = {}): WorkerConfig {
  return {
    v: WORKER_CONFIG_VERSION,
    region: TEST_REGION,
    workload: WORKLOAD,
    queues: [
      { priority: 'high', url: queues.high },
      { priority: 'normal', url: queues.normal },
    ],
    parkingQueueUrl: queues.parking,
    jobTable: env.table,
    payloadBucket: PAYLOAD_BUCKET,
    resultBucket: RESULT_BUCKET,
    inlineResultMaxBytes: 4096,
    autoScalingGroupName: ASG,
    metricNamespace: METRIC_NAMESPACE,
    modelServer: { kind: ModelServerKind.OPENAI, baseUrl: env.model.baseUrl, healthPath: HEALTH_PATH, defaultModel: 'llama-3-8b' },
    concurrency: 1,
    jobTimeoutSeconds: 60,
    visibilityTimeoutSeconds: 30,
    maxAttempts: 3,
    hourlyPriceUsd: { 'g5.xlarge': PRICE },
    pollWaitSeconds: 1,
    imdsPollSeconds: 0.05,
    metricsFlushSeconds: 3600,
    shutdownGraceSeconds: 0,
    retryBackoff: { baseSeconds: 1, maxSeconds: 4 },
    ...over,
  };
}

export interface JobSpec {
  agent?: string;
  priority?: 'high' | 'normal';
  model?: string;
  payload?: unknown;
  payloadRef?: string;
  /** Text the fake model server sees, to tell jobs apart in its call log. */
  marker?: string;
  notBefore?: string;
}

/** Create the QUEUED record and send the message, as the JobApi does. Returns the job id and its message. */
export async function submit(env: Env, queues: Queues, spec: JobSpec = {}): Promise<{ jobId: string; message: JobMessage; marker: string }> {
  const marker = spec.marker ?? `m-${randomUUID().slice(0, 8)}`;
  const jobId = formatJobId(WORKLOAD, randomUUID());
  const priority = spec.priority ?? 'high';
  const payload = spec.payloadRef ? undefined : (spec.payload ?? { messages: [{ role: 'user', content: `hello there ${marker}` }] });
  const message: JobMessage = {
    v: JOB_MESSAGE_VERSION,
    jobId,
    workload: WORKLOAD,
    agent: spec.agent ?? 'planner',
    priority,
    ...(spec.model ? { model: spec.model } : {}),
    ...(spec.payloadRef ? { payloadRef: spec.payloadRef } : { payload }),
    submittedAt: new Date().toISOString(),
    attempt: 1,
    interruptions: 0,
    ...(spec.notBefore ? { notBefore: spec.notBefore } : {}),
  };
  await env.records.create({
    jobId,
    workload: WORKLOAD,
    agent: message.agent,
    model: message.model,
    priority,
    submittedAt: message.submittedAt,
    payload,
    payloadRef: spec.payloadRef,
  });
  await env.sqs.client.send(
    new SendMessageCommand({ QueueUrl: priority === 'high' ? queues.high : queues.normal, MessageBody: serializeJobMessage(message) }),
  );
  return { jobId, message, marker };
}

export interface Launched {
  worker: Worker;
  imds: ImdsStub;
}

/** A fresh directory for one test's files (stages file, boot marks). */
export function scratchDir(prefix = 'worker-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Start a worker (real code) with its own IMDS stub, without waiting for it to pull. Host files stay out of it:
 * no stages file unless the test gives one, no kernel boot time, boot marks in memory. Timers are short: health
 * probes every 20 ms, SetInstanceHealth retries after 1 ms, no wait for termination after giving up.
 */
export async function start(env: Env, config: WorkerConfig, deps: Partial<WorkerDeps> = {}, imdsOptions: ImdsStubOptions = {}): Promise<Launched> {
  const imds = await startImdsStub(imdsOptions);
  env.imdsStubs.push(imds);
  const worker = startWorker(
    { ...config, imdsEndpoint: imds.endpoint },
    {
      sqs: env.sqs.client,
      dynamo: env.doc,
      s3: env.s3.client,
      cloudwatch: new CloudWatchClient({ region: TEST_REGION }),
      autoscaling: new AutoScalingClient({ region: TEST_REGION }),
      logger: process.env.WORKER_TEST_LOGS ? undefined : silentLogger,
      random: () => 1,
      bootStagesPath: join(tmpdir(), `no-boot-stages-${randomUUID()}`),
      kernelBootTime: () => undefined,
      ...deps,
      timing: {
        healthPollMs: 20,
        healthWatchMs: 20,
        protectionIdleMs: 0,
        receiveErrorBackoffMs: 100,
        setInstanceHealthRetryMs: 1,
        giveUpLingerMs: 0,
        ...deps.timing,
      },
    },
  );
  env.workers.push(worker);
  return { worker, imds };
}

/** Start a worker (real code) with its own IMDS stub; resolves once it pulls. */
export async function launch(env: Env, config: WorkerConfig, deps: Partial<WorkerDeps> = {}, imdsOptions: ImdsStubOptions = {}): Promise<Launched> {
  const launched = await start(env, config, deps, imdsOptions);
  await launched.worker.ready;
  return launched;
}

/** A clock a test moves forward (the worker's `now`): real time plus what the test added. */
export function testClock(): { now: () => number; advance: (ms: number) => void } {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => (offset += ms) };
}

/** An SQS client of the local server that counts the ReceiveMessage calls made through it. */
export function countingSqs(env: Env): { client: SQSClient; receives: () => number } {
  const client = new SQSClient(clientConfig(env.sqs.endpoint));
  let receives = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ReceiveMessageCommand') receives += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countReceives' },
  );
  return { client, receives: () => receives };
}

/** The next `event` the worker emits that matches `predicate`. */
export function next<K extends keyof WorkerEvents & string>(
  worker: Worker,
  event: K,
  predicate: (...args: WorkerEvents[K]) => boolean = () => true,
): Promise<WorkerEvents[K][0]> {
  return new Promise((resolve) => {
    const listener = (...args: WorkerEvents[K]) => {
      if (!predicate(...args)) return;
      worker.events.off(event, listener);
      resolve(args[0]);
    };
    worker.events.on(event, listener);
  });
}

export function finishedJob(worker: Worker, jobId: string) {
  return next(worker, 'job-finished', (e) => e.jobId === jobId);
}

export async function receiveAll(env: Env, url: string, waitSeconds = 0): Promise<Message[]> {
  const r = await env.sqs.client.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: waitSeconds,
      AttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return r.Messages ?? [];
}

/** Messages on a queue, visible + in flight + delayed. */
export async function depth(env: Env, url: string): Promise<{ visible: number; inFlight: number; delayed: number }> {
  const r = await env.sqs.client.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = r.Attributes ?? {};
  return {
    visible: Number(a.ApproximateNumberOfMessages),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed),
  };
}

/** Every datum the mocked CloudWatch received. */
export function sentMetrics(env: Env): MetricDatum[] {
  return env.cloudwatch.commandCalls(PutMetricDataCommand).flatMap((c) => (c.args[0].input as { MetricData?: MetricDatum[] }).MetricData ?? []);
}

/** Sum of a metric's values (× counts) for one exact dimension set. */
export function metricSum(env: Env, name: string, dims: Record<string, string>): number {
  const want = Object.entries(dims)
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return sentMetrics(env)
    .filter(
      (d) =>
        d.MetricName === name &&
        (d.Dimensions ?? [])
          .map((x) => `${x.Name}=${x.Value}`)
          .sort()
          .join(',') === want,
    )
    .reduce((sum, d) => sum + (d.Values ?? []).reduce((s, v, i) => s + v * (d.Counts?.[i] ?? 1), 0), 0);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until the fake model server has had `count` calls for `marker` (open or finished). */
export async function modelCalled(env: Env, marker: string, count = 1): Promise<void> {
  while (env.model.callsWith(marker).length < count) await sleep(10);
}
