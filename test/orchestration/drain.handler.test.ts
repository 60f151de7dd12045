/**
 * InterruptionDrainer handler logic against real SQS (local-aws-sqs) and DynamoDB (dynalite) semantics,
 * fed with the stored EventBridge fixtures; Auto Scaling and EC2 through aws-sdk-client-mock.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand, RecordLifecycleActionHeartbeatCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { parseJobMessage, Tags } from '../../lib/contracts';
import { BatchingSQSClient } from '../../lambda/drain/batching-sqs';
import { DrainDeps, handleDrainEvent } from '../../lambda/drain/drain';
import { parseDrainEvent } from '../../lambda/drain/events';
import { JobRecords } from '../../runtime/jobs/job-records';
import { requeueInterrupted } from '../../runtime/jobs/requeue';
import { createJobTable, documentClient } from '../support/job-table';
import { clientConfig, LocalServer, startDynamo, startSqs } from '../support/local-aws';
import { captureEachTest } from '../support/captured-output';
import { createQueue, drainQueue, fixture, FIXTURE_GROUP, FIXTURE_HOOK, FIXTURE_INSTANCE, FIXTURE_TOKEN, recordingLog, runningJobs } from './helpers';

let sqs: LocalServer<SQSClient>;
let ddb: LocalServer<DynamoDBClient>;
const asg = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);

beforeAll(async () => {
  [sqs, ddb] = await Promise.all([startSqs(), startDynamo()]);
});
afterAll(async () => {
  await Promise.all([sqs.close(), ddb.close()]);
  asg.restore();
  ec2.restore();
});
beforeEach(() => {
  asg.reset();
  ec2.reset();
  asg.on(CompleteLifecycleActionCommand).resolves({});
  asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});
  ec2.on(CreateTagsCommand).resolves({});
});

/** A fresh table and queue per test: the fixtures all name the same instance. */
async function world(over: Partial<DrainDeps> = {}) {
  const records = new JobRecords(documentClient(ddb.client), await createJobTable(ddb.client));
  const queueUrl = await createQueue(sqs.client);
  const log = recordingLog();
  const deps: DrainDeps = {
    sqs: new BatchingSQSClient(clientConfig(sqs.endpoint)),
    records,
    autoScaling: new AutoScalingClient({ region: 'us-east-1' }),
    ec2: new EC2Client({ region: 'us-east-1' }),
    workload: 'agents',
    groupName: FIXTURE_GROUP,
    hookName: FIXTURE_HOOK,
    drainTimeoutSeconds: 110,
    heartbeatTimeoutSeconds: 60,
    retryPauseMs: 1,
    log,
    ...over,
  };
  return { records, queueUrl, log, deps };
}

describe('spot interruption warning', () => {
  test('GIVEN an instance holding 3 jobs WHEN the warning and then the terminate lifecycle action arrive THEN all 3 are visible again at once with interruptions + 1, a fresh receive count, and the lifecycle action is completed', async () => {
    const { records, queueUrl, deps } = await world();
    const held = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 3);

    const summary = await handleDrainEvent(deps, fixture('spot-interruption-warning'));
    expect(summary).toMatchObject({ outcome: 'drained', kind: 'spot-interruption', requeued: 3, alreadyHandled: 0, leftInFlight: 0 });

    // Visible at once: no lease to wait out; the originals are gone.
    const messages = await drainQueue(sqs.client, queueUrl);
    expect(messages).toHaveLength(3);
    const bodies = messages.map((m) => parseJobMessage(m.Body));
    expect(bodies.map((b) => b.ok && b.value.jobId).sort()).toEqual(held.map((h) => h.jobId).sort());
    for (const [i, m] of messages.entries()) {
      const b = bodies[i];
      expect(b.ok && { attempt: b.value.attempt, interruptions: b.value.interruptions }).toEqual({ attempt: 1, interruptions: 1 });
      // Receive budget untouched: the copy is a new message, first received now.
      expect(m.Attributes!.ApproximateReceiveCount).toBe('1');
    }
    for (const h of held) {
      expect(await records.get(h.jobId)).toMatchObject({ status: 'QUEUED', attempt: 1, interruptions: 1 });
    }
    expect(await records.runningOn(FIXTURE_INSTANCE)).toEqual([]);
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);

    // The group then terminates the instance: nothing left in flight, the action completes at once.
    const lifecycle = await handleDrainEvent(deps, fixture('terminate-lifecycle-action'));
    expect(lifecycle).toMatchObject({ outcome: 'drained', requeued: 0, lifecycleCompleted: true, heartbeats: 0 });
    const calls = asg.commandCalls(CompleteLifecycleActionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({
      AutoScalingGroupName: FIXTURE_GROUP,
      LifecycleHookName: FIXTURE_HOOK,
      LifecycleActionToken: FIXTURE_TOKEN,
      LifecycleActionResult: 'CONTINUE',
      InstanceId: FIXTURE_INSTANCE,
    });
    const attrs = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(attrs.Attributes!.ApproximateNumberOfMessages).toBe('3');
  });

  test('GIVEN jobs expected to end before the reclaim THEN they are left to finish (reclaimAt marked), the rest requeued at once, and the instance tagged draining', async () => {
    const warning = fixture('spot-interruption-warning') as { time: string };
    const noticeAt = Date.now();
    const event = { ...warning, time: new Date(noticeAt).toISOString() };
    const { records, queueUrl, deps } = await world({ now: () => noticeAt });
    // 30 s expected: ends ~30 s after the notice, well before the reclaim at +120 s less the margin.
    const short = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 2, 'agents', { expectedDurationSeconds: 30 });
    // 600 s expected, or unknown: requeued.
    const long = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 1, 'agents', { expectedDurationSeconds: 600 });
    const unknown = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 1);

    const summary = await handleDrainEvent(deps, event);

    expect(summary).toMatchObject({ outcome: 'drained', requeued: 2, kept: 2, leftInFlight: 0, taggedDraining: true });
    for (const h of short) {
      expect(await records.get(h.jobId)).toMatchObject({ status: 'RUNNING', leaseHolder: h.holder, reclaimAt: noticeAt + 120_000, interruptions: 0 });
    }
    for (const h of [...long, ...unknown])
      expect(await records.get(h.jobId)).toMatchObject({ status: 'QUEUED', interruptions: 1, interruptedOn: FIXTURE_INSTANCE });
    expect((await drainQueue(sqs.client, queueUrl)).map((m) => JSON.parse(m.Body!).jobId).sort()).toEqual(
      [...long, ...unknown].map((h) => h.jobId).sort(),
    );
    expect(ec2.commandCalls(CreateTagsCommand)[0].args[0].input).toEqual({
      Resources: [FIXTURE_INSTANCE],
      Tags: [{ Key: 'ai-burst:draining', Value: 'true' }],
    });
    // The kept jobs finish normally: their holder still owns them.
    expect(await records.succeed(short[0].jobId, short[0].holder, {})).toBe(true);
  });

  test('GIVEN the same warning delivered twice THEN the second finds nothing and no duplicate is published', async () => {
    const { records, queueUrl, deps } = await world();
    await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 3);
    const [first, second] = [
      await handleDrainEvent(deps, fixture('spot-interruption-warning')),
      await handleDrainEvent(deps, fixture('spot-interruption-warning')),
    ];
    expect(first.requeued).toBe(3);
    expect(second).toMatchObject({ outcome: 'drained', requeued: 0, alreadyHandled: 0 });
    expect(await drainQueue(sqs.client, queueUrl)).toHaveLength(3);
  });

  test('GIVEN the worker requeued one job first WHEN the warning arrives THEN only the other two are requeued, one copy each', async () => {
    const { records, queueUrl, deps } = await world();
    const held = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 3);
    expect(await requeueInterrupted(sqs.client, records, held[0])).toBe('requeued');
    const summary = await handleDrainEvent(deps, fixture('spot-interruption-warning'));
    expect(summary).toMatchObject({ requeued: 2, leftInFlight: 0 });
    const ids = (await drainQueue(sqs.client, queueUrl)).map((m) => JSON.parse(m.Body!).jobId);
    expect(ids.sort()).toEqual(held.map((h) => h.jobId).sort());
    expect((await records.get(held[0].jobId))!.interruptions).toBe(1);
  });

  test('GIVEN the worker requeues at the same moment as the drainer THEN every job has exactly one copy and one interruption', async () => {
    const { records, queueUrl, deps } = await world();
    const held = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 5);
    const [summary, worker] = await Promise.all([
      handleDrainEvent(deps, fixture('spot-interruption-warning')),
      Promise.all(held.map((h) => requeueInterrupted(sqs.client, records, h))),
    ]);
    const workerWon = worker.filter((r) => r === 'requeued').length;
    expect(summary.requeued + workerWon).toBe(5);
    const ids = (await drainQueue(sqs.client, queueUrl)).map((m) => JSON.parse(m.Body!).jobId);
    expect(ids.sort()).toEqual(held.map((h) => h.jobId).sort());
    for (const h of held) expect((await records.get(h.jobId))!.interruptions).toBe(1);
  });

  test("GIVEN an instance running only another workload's jobs THEN the warning is dropped with a log line and those jobs are untouched", async () => {
    const { records, queueUrl, log, deps } = await world();
    const theirs = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 2, 'images');
    const summary = await handleDrainEvent(deps, fixture('spot-interruption-warning'));
    expect(summary).toMatchObject({ outcome: 'dropped', requeued: 0 });
    expect(summary.reason).toMatch(/runs jobs of images only, not agents/);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'event dropped' }));
    for (const h of theirs) expect((await records.get(h.jobId))!.status).toBe('RUNNING');
    expect(await drainQueue(sqs.client, queueUrl)).toHaveLength(0);
  });
});

describe('terminate lifecycle action', () => {
  test('GIVEN no spot notice (a replacement, e.g. Capacity Rebalancing) THEN the jobs may finish until the drain timeout, heartbeating the hook; only what is left is requeued, then the action completes', async () => {
    let clock = Date.now();
    let onSleep: () => Promise<void> = async () => {};
    const { records, queueUrl, deps } = await world({
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
        await onSleep();
      },
      retryPauseMs: 10_000,
      drainTimeoutSeconds: 110,
      heartbeatTimeoutSeconds: 60,
    });
    const held = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 3);
    // Two jobs finish during the wait; the third runs past the drain timeout.
    let sleeps = 0;
    onSleep = async () => {
      sleeps++;
      if (sleeps === 2) await records.succeed(held[0].jobId, held[0].holder, {});
      if (sleeps === 5) await records.succeed(held[1].jobId, held[1].holder, {});
    };
    const summary = await handleDrainEvent(deps, fixture('terminate-lifecycle-action'));
    expect(summary).toMatchObject({
      outcome: 'drained',
      kind: 'terminate-lifecycle',
      requeued: 1,
      finishedWhileWaiting: 2,
      leftInFlight: 0,
      lifecycleCompleted: true,
      taggedDraining: true,
    });
    expect(summary.heartbeats).toBeGreaterThanOrEqual(2);
    expect(ec2.commandCalls(CreateTagsCommand)[0].args[0].input).toEqual({
      Resources: [FIXTURE_INSTANCE],
      Tags: [{ Key: 'ai-burst:draining', Value: 'true' }],
    });
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
    const requeued = (await drainQueue(sqs.client, queueUrl)).map((m) => JSON.parse(m.Body!).jobId);
    expect(requeued).toEqual([held[2].jobId]);
    expect((await records.get(held[0].jobId))!.status).toBe('SUCCEEDED');
  });

  test('GIVEN a spot notice left a job to finish THEN the terminate hook waits for it only until the reclaim, not the drain timeout', async () => {
    let clock = Date.now();
    const { records, queueUrl, deps } = await world({
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      retryPauseMs: 5_000,
      drainTimeoutSeconds: 600,
    });
    const [kept] = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 1);
    const reclaimAt = clock + 60_000;
    expect(await records.keepThroughNotice(kept.jobId, kept.holder, reclaimAt)).toBe(true);
    const start = clock;
    const summary = await handleDrainEvent(deps, fixture('terminate-lifecycle-action'));
    expect(summary).toMatchObject({ requeued: 1, lifecycleCompleted: true });
    expect(clock - start).toBeLessThanOrEqual(60_000);
    expect(clock - start).toBeGreaterThanOrEqual(50_000);
  });

  test('GIVEN a job whose holder died (expired lease) THEN the terminate hook requeues it at once', async () => {
    let clock = Date.now() + 1000;
    const { records, queueUrl, deps } = await world({
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 2, 'agents', { leaseSeconds: 0 });
    const start = clock;
    const summary = await handleDrainEvent(deps, fixture('terminate-lifecycle-action'));
    expect(summary).toMatchObject({ requeued: 2, leftInFlight: 0, lifecycleCompleted: true });
    expect(clock - start).toBeLessThan(5_000);
    expect(await drainQueue(sqs.client, queueUrl)).toHaveLength(2);
  });

  test('GIVEN the same lifecycle action twice THEN the second completion finds no pending action and returns normally', async () => {
    const { records, queueUrl, log, deps } = await world();
    await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 2, 'agents', { leaseSeconds: 0 });
    await new Promise((r) => setTimeout(r, 5));
    asg
      .on(CompleteLifecycleActionCommand)
      .resolvesOnce({})
      .rejects(Object.assign(new Error(`No active Lifecycle Action found with token ${FIXTURE_TOKEN}`), { name: 'ValidationError' }));
    expect(await handleDrainEvent(deps, fixture('terminate-lifecycle-action'))).toMatchObject({ requeued: 2, lifecycleCompleted: true });
    expect(await handleDrainEvent(deps, fixture('terminate-lifecycle-action'))).toMatchObject({ requeued: 0, lifecycleCompleted: false });
    expect(log.lines.map((l) => l.message)).toContain('lifecycle action no longer pending (completed before, or timed out)');
    expect(await drainQueue(sqs.client, queueUrl)).toHaveLength(2);
  });

  test('GIVEN requeues that fail at first THEN the drainer heartbeats while it waits and completes once nothing is in flight', async () => {
    let clock = Date.now() + 1000;
    const { records, queueUrl, deps } = await world({
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      retryPauseMs: 20_000,
      heartbeatTimeoutSeconds: 30,
    });
    await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 3, 'agents', { leaseSeconds: 0 });
    let failuresLeft = 3;
    const flaky = Object.create(records) as JobRecords;
    flaky.release = async (...args: Parameters<JobRecords['release']>) => {
      if (failuresLeft-- > 0) throw new Error('ProvisionedThroughputExceededException');
      return records.release(...args);
    };
    const summary = await handleDrainEvent({ ...deps, records: flaky }, fixture('terminate-lifecycle-action'));
    expect(summary).toMatchObject({ requeued: 3, failures: 3, leftInFlight: 0, lifecycleCompleted: true });
    expect(summary.heartbeats).toBeGreaterThanOrEqual(1);
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)[0].args[0].input).toMatchObject({
      AutoScalingGroupName: FIXTURE_GROUP,
      LifecycleHookName: FIXTURE_HOOK,
      LifecycleActionToken: FIXTURE_TOKEN,
    });
    expect(await drainQueue(sqs.client, queueUrl)).toHaveLength(3);
  });

  test('GIVEN requeues that keep failing THEN the drainer stops at the drain timeout, completes the action and says what is left', async () => {
    let clock = Date.now() + 1000;
    const start = clock;
    const { records, queueUrl, log, deps } = await world({
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      retryPauseMs: 5_000,
      drainTimeoutSeconds: 30,
    });
    await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 2, 'agents', { leaseSeconds: 0 });
    const broken = Object.create(records) as JobRecords;
    broken.release = async () => {
      throw new Error('AccessDeniedException');
    };
    const summary = await handleDrainEvent({ ...deps, records: broken }, fixture('terminate-lifecycle-action'));
    expect(summary).toMatchObject({ requeued: 0, leftInFlight: 2, lifecycleCompleted: true });
    expect(clock - start).toBeLessThanOrEqual(30_000);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringMatching(/deadline passed/) }));
  });

  test('GIVEN a lifecycle action of another group THEN it is dropped with a log line: no requeue, no completion', async () => {
    const { records, queueUrl, log, deps } = await world();
    const held = await runningJobs(sqs.client, records, queueUrl, 'i-0fedcba9876543210', 1);
    const summary = await handleDrainEvent(deps, fixture('terminate-lifecycle-action-other-group'));
    expect(summary).toMatchObject({ outcome: 'dropped', requeued: 0 });
    expect(summary.reason).toMatch(/group other-fleet/);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'event dropped' }));
    expect(asg.calls()).toHaveLength(0);
    expect((await records.get(held[0].jobId))!.status).toBe('RUNNING');
  });
});

describe('rebalance recommendation', () => {
  test('GIVEN an instance of this fleet THEN it is tagged draining and nothing is requeued', async () => {
    const { records, queueUrl, deps } = await world();
    const held = await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 2);
    const summary = await handleDrainEvent(deps, fixture('rebalance-recommendation'));
    expect(summary).toMatchObject({ outcome: 'tagged', requeued: 0 });
    expect(ec2.commandCalls(CreateTagsCommand)[0].args[0].input).toEqual({
      Resources: [FIXTURE_INSTANCE],
      Tags: [{ Key: Tags.DRAINING, Value: 'true' }],
    });
    for (const h of held) expect((await records.get(h.jobId))!.status).toBe('RUNNING');
    expect(await drainQueue(sqs.client, queueUrl)).toHaveLength(0);
  });

  test('GIVEN an instance of another group (IAM refuses the tag by its group-name condition) THEN the event is dropped, not retried', async () => {
    const { log, deps } = await world();
    ec2
      .on(CreateTagsCommand)
      .rejects(Object.assign(new Error('You are not authorized to perform this operation.'), { name: 'UnauthorizedOperation' }));
    const summary = await handleDrainEvent(deps, fixture('rebalance-recommendation'));
    expect(summary).toMatchObject({ outcome: 'dropped' });
    expect(summary.reason).toMatch(/not one of group gpu-fleet \(UnauthorizedOperation\)/);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'event dropped' }));
  });

  test("GIVEN an instance running another workload's jobs THEN the event is dropped without calling EC2", async () => {
    const { records, queueUrl, deps } = await world();
    await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 1, 'images');
    expect(await handleDrainEvent(deps, fixture('rebalance-recommendation'))).toMatchObject({ outcome: 'dropped' });
    expect(ec2.calls()).toHaveLength(0);
  });

  test('an unexpected EC2 error propagates (the event is retried, boundedly, by Lambda)', async () => {
    const { deps } = await world();
    ec2.on(CreateTagsCommand).rejects(Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded' }));
    await expect(handleDrainEvent(deps, fixture('rebalance-recommendation'))).rejects.toThrow(/Request limit exceeded/);
  });
});

describe('malformed and unknown events', () => {
  test.each([
    ['a spot warning without an instance id', fixture('spot-interruption-warning-malformed'), /instance-id is missing or malformed/],
    [
      'an event of another detail type',
      { ...fixture('spot-interruption-warning'), 'detail-type': 'EC2 Instance State-change Notification' },
      /unhandled event/,
    ],
    [
      'a lifecycle action without a token',
      (() => {
        const e = fixture('terminate-lifecycle-action');
        delete e.detail.LifecycleActionToken;
        return e;
      })(),
      /LifecycleActionToken are required/,
    ],
    [
      'a launch lifecycle transition',
      (() => {
        const e = fixture('terminate-lifecycle-action');
        e.detail.LifecycleTransition = 'autoscaling:EC2_INSTANCE_LAUNCHING';
        return e;
      })(),
      /unexpected transition/,
    ],
    ['a string', 'not an event', /not a JSON object/],
    ['null', null, /not a JSON object/],
    ['an event without detail', { source: 'aws.ec2', 'detail-type': 'EC2 Spot Instance Interruption Warning' }, /no detail object/],
  ])('%s is dropped with a log line and no error', async (_name, event, reason) => {
    const { log, deps } = await world();
    const summary = await handleDrainEvent(deps, event);
    expect(summary.outcome).toBe('dropped');
    expect(summary.reason).toMatch(reason);
    expect(log.lines).toEqual([expect.objectContaining({ level: 'warn', message: 'event dropped' })]);
    expect(asg.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
  });

  test('the stored fixtures parse into the events the drainer expects', () => {
    expect(parseDrainEvent(fixture('spot-interruption-warning'))).toEqual({
      ok: true,
      event: { kind: 'spot-interruption', instanceId: FIXTURE_INSTANCE, noticeAt: Date.parse('2026-11-25T08:22:00Z') },
    });
    expect(parseDrainEvent(fixture('rebalance-recommendation'))).toEqual({ ok: true, event: { kind: 'rebalance', instanceId: FIXTURE_INSTANCE } });
    expect(parseDrainEvent(fixture('terminate-lifecycle-action'))).toEqual({
      ok: true,
      event: { kind: 'terminate-lifecycle', instanceId: FIXTURE_INSTANCE, groupName: FIXTURE_GROUP, hookName: FIXTURE_HOOK, token: FIXTURE_TOKEN },
    });
  });
});

describe('InterruptionDrainer Lambda (index.ts)', () => {
  const saved = { ...process.env };
  let records: JobRecords;
  let queueUrl: string;
  let handler: (event: unknown) => Promise<unknown>;
  /** What the handler wrote: EMF metrics (stdout) and Powertools log lines (stdout, warnings on stderr). */
  const output = captureEachTest();

  beforeAll(async () => {
    records = new JobRecords(documentClient(ddb.client), await createJobTable(ddb.client));
    queueUrl = await createQueue(sqs.client);
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
      AI_BURST_WORKLOAD: 'agents',
      AI_BURST_JOB_TABLE: records.tableName,
      AI_BURST_ASG_NAME: FIXTURE_GROUP,
      AI_BURST_LIFECYCLE_HOOK_NAME: FIXTURE_HOOK,
      AI_BURST_DRAIN_TIMEOUT_SECONDS: '110',
      AI_BURST_LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS: '120',
      AI_BURST_METRIC_NAMESPACE: 'AiBurst',
    });
    handler = (await import('../../lambda/drain/index')).handler;
  });
  afterAll(() => {
    process.env = saved;
  });

  const emf = () => output.emf();

  test('GIVEN a spot warning for an instance holding 3 jobs THEN it requeues them and publishes JobsInterrupted and JobsRequeued with only the Workload dimension', async () => {
    await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 3);
    expect(await handler(fixture('spot-interruption-warning'))).toMatchObject({ outcome: 'drained', requeued: 3 });
    const [metrics] = emf();
    expect(metrics).toMatchObject({ JobsInterrupted: 3, JobsRequeued: 3, Workload: 'agents' });
    expect(metrics._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'AiBurst', Dimensions: [['Workload']] });
    expect(await drainQueue(sqs.client, queueUrl)).toHaveLength(3);
  });

  test('GIVEN a malformed event THEN the handler returns normally with a Powertools log line and publishes nothing', async () => {
    await expect(handler(fixture('spot-interruption-warning-malformed'))).resolves.toMatchObject({ outcome: 'dropped' });
    const logLine = output.lines().find((l) => l.includes('event dropped'));
    expect(JSON.parse(logLine!)).toMatchObject({
      level: 'WARN',
      message: 'event dropped',
      workload: 'agents',
      eventId: '5d4c3b2a-1908-4f7e-8d6c-5b4a39281706',
    });
    expect(emf()).toEqual([]);
  });
});

describe('time budget', () => {
  test('GIVEN almost no Lambda time left THEN the first pass still requeues everything and the action is completed', async () => {
    const { records, queueUrl, deps } = await world();
    await runningJobs(sqs.client, records, queueUrl, FIXTURE_INSTANCE, 3);
    const summary = await handleDrainEvent(deps, fixture('terminate-lifecycle-action'), () => 1000);
    expect(summary).toMatchObject({ requeued: 3, leftInFlight: 0, lifecycleCompleted: true });
  });
});
