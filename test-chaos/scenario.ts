/**
 * One seeded fault-injection run (issue 12). ≥ 4 worker processes from the real bundle take jobs a JobClient
 * submits, against local SQS (receive count corrected, support/sqs-server.ts), DynamoDB and S3; the
 * InterruptionDrainer's and the RetryHandler's handler functions run here with real SDK clients. Faults, at
 * seeded points of the run's progress (jobs started so far) and on seeded victims: model 500s and timeouts
 * (per job, by seed), jobs whose every call fails, permanent bad payloads, duplicate sends, poison bodies (work
 * queues and DLQ), SIGKILL mid-job, a spot
 * notice seen first through IMDS with the drainer's event arriving late, a spot event reaching the drainer
 * before the worker's IMDS poll, a rebalance (drain tag), redeliveries while the holder is alive (visibility
 * set to 0 through the record's receipt handle) and dead letters of jobs whose holder is alive. Killed and reclaimed instances are replaced, as
 * the Auto Scaling group would. Every wait is bounded in count and time.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  JobRecord,
  METRIC_NAMESPACE,
  Tags,
  WORKER_CONFIG_VERSION,
  WorkerConfig,
  messageFromRecord,
  serializeJobMessage,
  ModelServerKind,
} from '../lib/contracts';
import { BatchingSQSClient } from '../lambda/drain/batching-sqs';
import { DrainDeps, handleDrainEvent } from '../lambda/drain/drain';
import { DeadLetterDeps, handleDeadLetter } from '../lambda/retry/retry';
import { JobClient } from '../runtime/client/job-client';
import { JobRecords } from '../runtime/jobs/job-records';
import { fixture } from '../test/orchestration/helpers';
import { HEALTH_PATH } from '../test/support/fake-model-server';
import { createJobTable, documentClient } from '../test/support/job-table';
import { TEST_REGION, clientConfig, uniqueName } from '../test/support/local-aws';
import { CallFault, Evidence, InstanceEvidence, JobEvidence, LogLine } from './evidence';
import { WorkerProcess } from './support/fleet';
import { ModelLedger } from './support/model-ledger';
import { Rng, pick, rng, rngFor, uuidFrom } from './support/rng';
import { ChaosSqs } from './support/sqs-server';

export const WORKLOAD = 'chat';
export const BUCKET = 'chaos-data';
const SETTINGS = {
  workers: 4,
  concurrency: 3,
  jobTimeoutSeconds: 3,
  visibilityTimeoutSeconds: 4,
  maxAttempts: 3,
  maxReceiveCount: 3,
  // EC2's own advice (5 s): the window in which a worker has not yet seen a notice the drainer already acted on.
  imdsPollSeconds: 5,
  backoff: { baseSeconds: 1, maxSeconds: 2 },
  /** A `timeout` call is held this long; the worker gives up at jobTimeoutSeconds. */
  holdMs: 8000,
  /** Submissions are spread over at least this long... */
  submitWindowMs: 16_000,
  /** ...and held back while this many submitted jobs have not started: a fault should find jobs running, not a long queue. */
  backlog: 24,
  /** Faults are placed by progress (jobs started so far), so they land mid-run however loaded the machine; this caps the wait. */
  phaseCapMs: 120_000,
  /** After the last submission, how long the run may take to settle before it is cut off. */
  settleMs: 55_000,
} as const;

export interface Servers {
  readonly sqs: ChaosSqs;
  readonly ddb: { endpoint: string; client: DynamoDBClient };
  readonly s3: { endpoint: string; client: S3Client };
  readonly sinkEndpoint: string;
  readonly bundle: string;
}

export interface ScenarioResult {
  readonly evidence: Evidence;
  /** What the run did and when (ms after the first submission). */
  readonly timeline: readonly string[];
  readonly stats: Readonly<Record<string, number>>;
}

type Category = 'normal' | 'transient-error' | 'transient-timeout' | 'doomed' | 'bad-payload';

interface PlannedJob {
  readonly n: number;
  readonly jobId: string;
  readonly uuid: string;
  readonly category: Category;
  readonly priority: 'high' | 'normal';
  readonly duplicateAfterMs?: number;
  readonly submitAtMs: number;
}

const POISON_WORK = ['not json at all', '{"v":1,"jobId":"nope"}', '{"hello":"world"}', '{"v":99,"jobId":"chat.x","attempt":"one"}'];
const POISON_DLQ = ['{"broken":', 'plain text in the DLQ'];

export function planJobs(seed: number, count: number): PlannedJob[] {
  return Array.from({ length: count }, (_, n) => {
    const r = rngFor(seed, n);
    const u = r();
    const category: Category =
      u < 0.08 ? 'transient-error' : u < 0.13 ? 'transient-timeout' : u < 0.17 ? 'doomed' : u < 0.19 ? 'bad-payload' : 'normal';
    const uuid = uuidFrom(r);
    // A job whose every call fails always gets a duplicate, landing while its retries run.
    const duplicate = r() < 0.12 || category === 'doomed';
    const duplicateAfterMs = category === 'doomed' ? 300 + Math.round(r() * 2700) : 300 + Math.round(r() * 5700);
    return {
      n,
      uuid,
      jobId: `${WORKLOAD}.${uuid}`,
      category,
      priority: r() < 0.3 ? 'high' : 'normal',
      ...(duplicate ? { duplicateAfterMs } : {}),
      submitAtMs: Math.round((n * SETTINGS.submitWindowMs) / count),
    };
  });
}

function faultOf(job: PlannedJob | undefined, nth: number): CallFault {
  switch (job?.category) {
    case 'doomed':
      return 'error';
    case 'transient-error':
      return nth === 0 ? 'error' : 'ok';
    case 'transient-timeout':
      return nth === 0 ? 'timeout' : 'ok';
    default:
      return 'ok';
  }
}

/** Most calls take 150–500 ms, one in five 1.5–2.5 s (a long generation): a redelivery then often finds it running. */
function durationOf(r: Rng): number {
  return r() < 0.2 ? 1500 + Math.round(r() * 1000) : 150 + Math.round(r() * 350);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const silent = { info: () => undefined, warn: () => undefined };

export async function runScenario(servers: Servers, seed: number, jobCount: number): Promise<ScenarioResult> {
  const r: Rng = rng(seed);
  const { sqs } = servers;
  const doc: DynamoDBDocumentClient = documentClient(servers.ddb.client);
  const table = await createJobTable(servers.ddb.client);
  const records = new JobRecords(doc, table);
  const queue = async (name: string, attributes: Record<string, string> = {}) =>
    (
      await sqs.client.send(
        new CreateQueueCommand({
          QueueName: uniqueName(name),
          Attributes: { VisibilityTimeout: String(SETTINGS.visibilityTimeoutSeconds), ...attributes },
        }),
      )
    ).QueueUrl!;
  const dlq = await queue('dlq');
  const dlqArn = (await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const redrive = { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: SETTINGS.maxReceiveCount }) };
  const [high, normal, parking] = await Promise.all([queue('high', redrive), queue('normal', redrive), queue('parking')]);
  const queueUrls = { high, normal };

  const plan = planJobs(seed, jobCount);
  const byId = new Map(plan.map((j) => [j.jobId, j]));
  const ledger = new ModelLedger(
    (jobId, nth) => ({
      fault: faultOf(byId.get(jobId), nth),
      durationMs: durationOf(rngFor(seed, byId.get(jobId)?.n ?? 0, nth + 1)),
    }),
    SETTINGS.holdMs,
  );

  let start = Date.now(); // reset to the first submission once the fleet is ready
  const timeline: string[] = [];
  const since = () => Date.now() - start;
  const note = (what: string) => timeline.push(`${String(since()).padStart(6)} ms  ${what}`);
  const logs: LogLine[] = [];
  const instances = new Map<string, { killedAt?: number; interruptedAt?: number; drainerDoneAt?: number }>();
  const fleet = new Map<string, WorkerProcess>();
  const targeted = new Set<string>();
  let instanceCount = 0;

  const config: WorkerConfig = {
    v: WORKER_CONFIG_VERSION,
    region: TEST_REGION,
    workload: WORKLOAD,
    queues: [
      { priority: 'high', url: high },
      { priority: 'normal', url: normal },
    ],
    parkingQueueUrl: parking,
    jobTable: table,
    payloadBucket: BUCKET,
    resultBucket: BUCKET,
    inlineResultMaxBytes: 0, // every result goes to S3: the result-object check reads what the record names
    autoScalingGroupName: 'chat-fleet',
    metricNamespace: METRIC_NAMESPACE,
    modelServer: { kind: ModelServerKind.OPENAI, baseUrl: 'http://127.0.0.1:1', healthPath: HEALTH_PATH, defaultModel: 'llama-3-8b' },
    concurrency: SETTINGS.concurrency,
    jobTimeoutSeconds: SETTINGS.jobTimeoutSeconds,
    visibilityTimeoutSeconds: SETTINGS.visibilityTimeoutSeconds,
    maxAttempts: SETTINGS.maxAttempts,
    hourlyPriceUsd: { 'g5.xlarge': 1.006 },
    pollWaitSeconds: 1,
    imdsPollSeconds: SETTINGS.imdsPollSeconds,
    metricsFlushSeconds: 3600,
    shutdownGraceSeconds: 2,
    retryBackoff: SETTINGS.backoff,
  };
  const env = {
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: servers.ddb.endpoint,
    AWS_ENDPOINT_URL_S3: servers.s3.endpoint,
    AWS_ENDPOINT_URL_AUTO_SCALING: servers.sinkEndpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH: servers.sinkEndpoint,
    // s3rver accepts only this key pair; local SQS and dynalite accept any.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };

  const launch = async (): Promise<WorkerProcess> => {
    instanceCount++;
    const instanceId = `i-${(0xc0000 + seed * 256 + instanceCount).toString(16).padStart(17, '0')}`;
    const model = await ledger.serverFor(instanceId);
    const w = await WorkerProcess.start({ bundle: servers.bundle, instanceId, config, modelBaseUrl: model.baseUrl, env, logs });
    fleet.set(instanceId, w);
    instances.set(instanceId, {});
    return w;
  };
  const live = () => [...fleet.values()].filter((w) => w.running && !targeted.has(w.instanceId));

  // The drainer (spot and rebalance events) and the retry handler, with real SDK clients against the local servers.
  const ec2 = mockClient(EC2Client);
  ec2.on(CreateTagsCommand).callsFake((input: { Resources?: string[] }) => {
    for (const id of input.Resources ?? []) fleet.get(id)?.imds.setTag(Tags.DRAINING, 'true');
    return {};
  });
  const events = mockClient(EventBridgeClient);
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
  const drainSqs = new BatchingSQSClient(clientConfig(sqs.endpoint));
  const drainDeps: DrainDeps = {
    sqs: drainSqs,
    records,
    autoScaling: new AutoScalingClient({ region: TEST_REGION }),
    ec2: new EC2Client({ region: TEST_REGION }),
    workload: WORKLOAD,
    groupName: 'chat-fleet',
    hookName: 'drain-on-terminate',
    drainTimeoutSeconds: 10,
    heartbeatTimeoutSeconds: 60,
    log: silent,
  };
  const retryDeps: DeadLetterDeps = {
    sqs: sqs.client,
    records,
    events: new EventBridgeClient({ region: TEST_REGION }),
    eventBusName: 'default',
    queueUrls,
    parkingQueueUrl: parking,
    maxAttempts: SETTINGS.maxAttempts,
    backoff: SETTINGS.backoff,
    random: rngFor(seed, 0xd1),
    workload: WORKLOAD,
    log: silent,
  };
  const drainerEvent = async (kind: 'spot' | 'rebalance', instanceId: string) => {
    const event = fixture(kind === 'spot' ? 'spot-interruption-warning' : 'rebalance-recommendation');
    event.detail['instance-id'] = instanceId;
    const summary = await handleDrainEvent(drainDeps, event);
    note(`drainer ${kind} event for ${instanceId}: ${summary.outcome}, requeued ${summary.requeued}, already handled ${summary.alreadyHandled}`);
    return summary;
  };

  let stopRetry = false;
  const stats = {
    liveDeadLetters: 0,
    deadLetters: 0,
    retryHandlerErrors: 0,
    redeliveriesForced: 0,
    duplicatesSent: 0,
    poisonSent: 0,
    submitErrors: 0,
  };
  const retryLoop = (async () => {
    for (let round = 0; !stopRetry && round < 1000; round++) {
      const got = await sqs.client
        .send(
          new ReceiveMessageCommand({
            QueueUrl: dlq,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            AttributeNames: ['All'],
          }),
        )
        .catch(() => ({ Messages: [] }));
      for (const m of got.Messages ?? []) {
        stats.deadLetters++;
        try {
          const attributes = { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount };
          await handleDeadLetter(retryDeps, { messageId: m.MessageId!, body: m.Body ?? '', attributes });
          await sqs.client.send(new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: m.ReceiptHandle }));
        } catch {
          stats.retryHandlerErrors++; // reported as a batch item failure: SQS makes it visible again
        }
      }
    }
  })();

  const poison: string[] = [];
  const fleetEvents: Promise<unknown>[] = [];
  // This process serves SQS, DynamoDB, S3 and the model servers: its event-loop delay says how loaded the run was.
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  try {
    await Promise.all(Array.from({ length: SETTINGS.workers }, () => launch()));
    const notReady = sleep(60_000).then(() => {
      throw new Error('fleet not ready in 60 s');
    });
    await Promise.race([Promise.all([...fleet.values()].map((w) => w.ready)), notReady]);
    start = Date.now();
    note(`fleet of ${fleet.size} ready`);
    const at = (ms: number) => sleep(Math.max(0, start + ms - Date.now()));
    let seen = 0;
    let startedRuns = 0;
    /** 'job started' lines so far (reruns included). */
    const progress = () => {
      for (; seen < logs.length; seen++) if (logs[seen].message === 'job started') startedRuns++;
      return startedRuns;
    };
    /** Until `fraction` of the jobs' worth of runs have started, or the phase cap. */
    const when = async (fraction: number) => {
      while (progress() < fraction * jobCount && since() < SETTINGS.phaseCapMs) await sleep(50);
    };
    const submit = async (job: PlannedJob) => {
      const client = new JobClient({
        sqs: sqs.client,
        dynamo: doc,
        s3: servers.s3.client,
        tableName: table,
        bucket: BUCKET,
        newId: () => job.uuid,
        workloads: {
          [WORKLOAD]: {
            queues: [
              { priority: 'high', url: high },
              { priority: 'normal', url: normal },
            ],
          },
        },
      });
      const payload =
        job.category === 'bad-payload'
          ? { chaosJobId: job.jobId, note: 'neither messages nor prompt: a permanent error' }
          : { chaosJobId: job.jobId, messages: [{ role: 'user', content: `job ${job.n} of seed ${seed}` }] };
      try {
        await client.submit({ workload: WORKLOAD, agent: 'chaos', priority: job.priority, payload });
      } catch {
        stats.submitErrors++;
        return;
      }
      if (job.duplicateAfterMs === undefined) return;
      // The producer's at-least-once send: the same body again, later, to the same queue.
      const body = serializeJobMessage(messageFromRecord((await records.get(job.jobId))!));
      await sleep(job.duplicateAfterMs);
      await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrls[job.priority], MessageBody: body }));
      stats.duplicatesSent++;
    };
    const submissions: Promise<void>[] = [];
    const submitting = (async () => {
      for (const job of plan) {
        await at(job.submitAtMs);
        while (submissions.length - progress() >= SETTINGS.backlog && since() < SETTINGS.phaseCapMs) await sleep(50);
        submissions.push(submit(job));
      }
      await Promise.all(submissions);
    })();

    const poisonSends = [
      ...POISON_WORK.map((body, i) => ({ body, url: i % 2 ? high : normal, at: 0.1 + i * 0.15 })),
      ...POISON_DLQ.map((body, i) => ({ body, url: dlq, at: 0.3 + i * 0.2 })),
    ].map(async (p) => {
      await when(p.at);
      await sqs.client.send(new SendMessageCommand({ QueueUrl: p.url, MessageBody: p.body }));
      poison.push(p.body);
      stats.poisonSent++;
    });

    /** A live worker with a model call open (so the kill lands mid-job), waiting up to 3 s for one. */
    const victim = async (): Promise<WorkerProcess | undefined> => {
      for (let i = 0; i < 30; i++) {
        const busy = live().filter((w) => ledger.openOn(w.instanceId) > 0);
        if (busy.length > 0) return pick(r, busy);
        await sleep(100);
      }
      return live().length > 0 ? pick(r, live()) : undefined;
    };
    const kill = async (w: WorkerProcess, why: string) => {
      instances.get(w.instanceId)!.killedAt = Date.now();
      note(`SIGKILL ${w.instanceId} (${why}, ${ledger.openOn(w.instanceId)} model calls open)`);
      await w.stop('SIGKILL');
      const next = await launch();
      note(`replacement ${next.instanceId} launched`);
    };
    const crash = async (progressAt: number) => {
      await when(progressAt);
      const w = await victim();
      if (!w) return;
      targeted.add(w.instanceId);
      await kill(w, 'crash mid-job');
    };
    const spotImdsFirst = async (progressAt: number) => {
      await when(progressAt);
      const w = await victim();
      if (!w) return;
      targeted.add(w.instanceId);
      instances.get(w.instanceId)!.interruptedAt = Date.now();
      w.imds.setInterruption();
      note(`spot notice on ${w.instanceId} via IMDS (the drainer's event comes 6 s later)`);
      await sleep(6000);
      await drainerEvent('spot', w.instanceId);
      instances.get(w.instanceId)!.drainerDoneAt ??= Date.now();
      await sleep(2000);
      await kill(w, 'spot reclaim');
    };
    const spotDrainerFirst = async (progressAt: number) => {
      await when(progressAt);
      const w = await victim();
      if (!w) return;
      targeted.add(w.instanceId);
      instances.get(w.instanceId)!.interruptedAt = Date.now();
      w.imds.setInterruption();
      note(`spot event for ${w.instanceId} reaches the drainer before the worker's IMDS poll`);
      await drainerEvent('spot', w.instanceId);
      instances.get(w.instanceId)!.drainerDoneAt = Date.now();
      await sleep(8000);
      await kill(w, 'spot reclaim');
    };
    const rebalance = async (progressAt: number) => {
      await when(progressAt);
      const w = await victim();
      if (!w) return;
      targeted.add(w.instanceId);
      w.imds.setRebalance();
      note(`rebalance recommendation for ${w.instanceId}`);
      await drainerEvent('rebalance', w.instanceId);
      for (let i = 0; i < 100 && ledger.openOn(w.instanceId) > 0; i++) await sleep(100);
      note(`SIGTERM ${w.instanceId} (drained after the rebalance)`);
      await w.stop('SIGTERM');
      const next = await launch();
      note(`replacement ${next.instanceId} launched`);
    };
    /** Make running jobs' messages visible at once while their holders live (a redelivery SQS may make at any time). */
    const redeliver = async (progressAt: number, count: number) => {
      await when(progressAt);
      const running = ((await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? []).filter(
        (i) => i.status === 'RUNNING' && i.receiptHandle && i.queueUrl && !targeted.has(String(i.instanceId)),
      ) as JobRecord[];
      // Prefer jobs in a long model call: the redelivered run then usually finishes first, and the holder's late
      // result shows whether a losing run can overwrite the winner's.
      const long = new Set(
        ledger
          .openCalls()
          .filter((c) => c.remainingMs > 1000)
          .map((c) => c.jobId),
      );
      const chosen = running
        .sort((a, b) => Number(long.has(b.jobId)) - Number(long.has(a.jobId)) || a.jobId.localeCompare(b.jobId))
        .filter(() => r() < 0.7)
        .slice(0, count);
      for (const job of chosen) {
        await sqs.client
          .send(new ChangeMessageVisibilityCommand({ QueueUrl: job.queueUrl, ReceiptHandle: job.receiptHandle, VisibilityTimeout: 0 }))
          .then(
            () => {
              stats.redeliveriesForced++;
            },
            () => undefined,
          );
      }
      const ids = chosen.map((j) => j.jobId).join(' ');
      note(`redelivery while the holder is alive: ${chosen.length} of ${running.length} running jobs made visible ${ids}`);
    };
    /**
     * Dead letters of jobs whose holder is alive: what SQS does to a duplicate copy a worker left in flight as
     * 'held' maxReceiveCount times. The retry handler gets them while the original run goes on.
     */
    const deadLetterLive = async (progressAt: number, count: number) => {
      await when(progressAt);
      const running = ((await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? []).filter(
        (i) => i.status === 'RUNNING' && !targeted.has(String(i.instanceId)),
      ) as JobRecord[];
      const chosen = running
        .sort((a, b) => a.jobId.localeCompare(b.jobId))
        .filter(() => r() < 0.5)
        .slice(0, count);
      for (const job of chosen) {
        await sqs.client.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: serializeJobMessage(messageFromRecord(job)) }));
        stats.liveDeadLetters++;
      }
      note(`dead letters of running jobs (holders alive): ${chosen.map((j) => j.jobId).join(' ')}`);
    };
    // Each fault at a seeded point of the run's progress (fraction of the jobs started).
    const jitter = () => r() * 0.04;
    fleetEvents.push(
      crash(0.12 + jitter()),
      redeliver(0.16, 3),
      spotImdsFirst(0.2 + jitter()),
      redeliver(0.3, 3),
      spotDrainerFirst(0.35 + jitter()),
      redeliver(0.45, 3),
      deadLetterLive(0.4, 2),
      rebalance(0.5 + jitter()),
      redeliver(0.6, 3),
      crash(0.65 + jitter()),
    );
    await Promise.all([submitting, ...poisonSends, ...fleetEvents]);
    note('all submissions and faults done');

    // Settle: every job terminal, or the deadline.
    const ids = plan.map((j) => j.jobId);
    const deadline = Date.now() + SETTINGS.settleMs;
    let open = ids.length;
    while (Date.now() < deadline) {
      const items = (await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
      const terminal = new Set(items.filter((i) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(String(i.status))).map((i) => String(i.jobId)));
      open = ids.filter((id) => !terminal.has(id)).length;
      if (open === 0) break;
      await sleep(1000);
    }
    note(open === 0 ? 'every job terminal' : `settle deadline passed with ${open} jobs not terminal`);
  } finally {
    stopRetry = true;
    loop.disable();
    await Promise.allSettled(fleetEvents);
    await Promise.all([...fleet.values()].map((w) => w.stop('SIGTERM')));
    await retryLoop;
    ec2.restore();
    events.restore();
    drainSqs.destroy();
  }

  // What is left on the queues: wait (bounded) until nothing is in flight or delayed, then take every message.
  const left = new Map<string, number>();
  const parkedBodies = new Set<string>();
  for (const url of [high, normal, dlq, parking]) {
    for (let i = 0; i < 20; i++) {
      const a =
        (
          await sqs.client.send(
            new GetQueueAttributesCommand({
              QueueUrl: url,
              AttributeNames: ['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
            }),
          )
        ).Attributes ?? {};
      if (Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0) === 0) break;
      await sleep(500);
    }
    for (let i = 0; i < 100; i++) {
      const got = await sqs.client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 600,
        }),
      );
      const messages = got.Messages ?? [];
      if (messages.length === 0) break;
      for (const m of messages) {
        if (url === parking) parkedBodies.add(m.Body ?? '');
        const id = /"jobId"\s*:\s*"([^"]+)"/.exec(m.Body ?? '')?.[1];
        if (id) left.set(id, (left.get(id) ?? 0) + 1);
      }
    }
  }

  const items = (await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
  const recordOf = new Map(items.map((i) => [String(i.jobId), i as JobRecord]));
  const jobs: JobEvidence[] = [];
  for (const job of plan) {
    const rec = recordOf.get(job.jobId);
    let resultObject: string | undefined;
    if (rec?.status === 'SUCCEEDED' && rec.resultRef) {
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(rec.resultRef);
      resultObject = m
        ? await servers.s3.client.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] })).then(
            (o) => o.Body!.transformToString('utf-8'),
            () => undefined,
          )
        : undefined;
    }
    jobs.push({
      jobId: job.jobId,
      record: rec && {
        status: rec.status,
        attempt: rec.attempt,
        resultRef: rec.resultRef,
        ...(rec.result !== undefined ? { result: JSON.stringify(rec.result) } : {}),
      },
      resultObject,
      messages: left.get(job.jobId) ?? 0,
    });
  }
  const calls = ledger.evidence();
  await ledger.close();
  const instanceEvidence: InstanceEvidence[] = [...instances].map(([instanceId, i]) => ({ instanceId, ...i }));
  const categories = plan.reduce<Record<string, number>>((m, j) => ({ ...m, [`jobs ${j.category}`]: (m[`jobs ${j.category}`] ?? 0) + 1 }), {});
  return {
    evidence: {
      maxAttempts: SETTINGS.maxAttempts,
      jobTimeoutMs: SETTINGS.jobTimeoutSeconds * 1000,
      jobs,
      calls,
      logs,
      instances: instanceEvidence,
      poison: poison.map((body) => ({ body, parked: parkedBodies.has(body) })),
    },
    timeline,
    stats: {
      ...stats,
      ...categories,
      instances: instanceCount,
      modelCalls: calls.length,
      firstStartMs: Math.min(...logs.filter((l) => l.message === 'job started').map((l) => l.time)) - start,
      loopDelayP99Ms: Math.round(loop.percentile(99) / 1e6),
      loopDelayMaxMs: Math.round(loop.max / 1e6),
    },
  };
}
