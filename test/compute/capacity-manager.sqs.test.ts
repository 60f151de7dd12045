/**
 * The capacity manager's evaluation against real queue attributes (local-aws-sqs) with Auto Scaling
 * through aws-sdk-client-mock: a stateful fake group that keeps the desired capacity and tags it is given.
 */
import {
  AutoScalingClient,
  AutoScalingGroup,
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { evaluate, evaluateLoop, HistoryMemory, ManagerConfig, parsePolicyConfig } from '../../lambda/capacity-manager/evaluate';
import { BUSY_HISTORY_TAG, decideCapacity, FleetState, resolveScalingPolicy } from '../../lib/compute/scaling-policy';
import { Dimensions, EnvNames, METRIC_NAMESPACE, MetricNames } from '../../lib/contracts';
import { clientConfig, LocalServer, startSqs, uniqueName } from '../support/local-aws';
import { CapturedOutput } from '../support/captured-output';

let sqs: LocalServer<SQSClient>;
beforeAll(async () => {
  sqs = await startSqs();
});
afterAll(async () => {
  await sqs.close();
});

const asgMock = mockClient(AutoScalingClient);
// These policies fix no idle window from the boot time (idleWindowFollowsBoot unset): CloudWatch must not be read.
const cwMock = mockClient(CloudWatchClient);
beforeEach(() => {
  cwMock.reset();
  cwMock.onAnyCommand().rejects(new Error('unexpected CloudWatch call'));
});
afterEach(() => expect(cwMock.calls()).toHaveLength(0));
const GROUP = 'fleet-agents';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const POLICY = { ...resolveScalingPolicy({ targetBacklogPerInstance: 1 }), evaluationIntervalSeconds: 10, loopSeconds: 50 };

/** A fake group: DescribeAutoScalingGroups reflects what SetDesiredCapacity and CreateOrUpdateTags did. */
function fakeGroup(initial: Partial<AutoScalingGroup>) {
  const group: AutoScalingGroup = {
    AutoScalingGroupName: GROUP,
    MinSize: 0,
    MaxSize: 10,
    DesiredCapacity: 0,
    Instances: [],
    Tags: [],
    DefaultCooldown: 300,
    AvailabilityZones: [],
    HealthCheckType: 'EC2',
    CreatedTime: new Date(T0),
    ...initial,
  } as AutoScalingGroup;
  asgMock.reset();
  asgMock.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({ AutoScalingGroups: [structuredClone(group)] }));
  asgMock.on(SetDesiredCapacityCommand).callsFake((input) => {
    group.DesiredCapacity = input.DesiredCapacity;
    return {};
  });
  asgMock.on(CreateOrUpdateTagsCommand).callsFake((input) => {
    for (const tag of input.Tags) {
      group.Tags = [...(group.Tags ?? []).filter((t) => t.Key !== tag.Key), { Key: tag.Key, Value: tag.Value, ResourceId: GROUP }];
    }
    return {};
  });
  return group;
}

function instances(n: number, busy = 0) {
  return Array.from({ length: n }, (_, i) => ({
    InstanceId: `i-${i}`,
    LifecycleState: 'InService',
    ProtectedFromScaleIn: i < busy,
    HealthStatus: 'Healthy',
    AvailabilityZone: 'us-east-1a',
  })) as AutoScalingGroup['Instances'];
}

async function queues(): Promise<Record<string, string>> {
  const urls: Record<string, string> = {};
  for (const p of ['high', 'normal']) {
    urls[p] = (await sqs.client.send(new CreateQueueCommand({ QueueName: uniqueName(`cm-${p}`) }))).QueueUrl!;
  }
  return urls;
}

function config(queueUrls: Record<string, string>): ManagerConfig {
  return { workload: 'agents', autoScalingGroupName: GROUP, queueUrls, policy: POLICY, metricNamespace: METRIC_NAMESPACE };
}

const clients = () => ({
  sqs: sqs.client,
  autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
  cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
});
const setCalls = () => asgMock.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input);

test('GIVEN an empty fleet WHEN one job is queued THEN one evaluation sets the desired capacity to 1', async () => {
  const urls = await queues();
  fakeGroup({ DesiredCapacity: 0 });
  await sqs.client.send(new SendMessageCommand({ QueueUrl: urls.normal, MessageBody: '{"job":1}' }));

  const { decision, changed, queue } = await evaluate(clients(), config(urls), T0);

  expect(queue.queues.find((q) => q.priority === 'normal')).toMatchObject({ visible: 1, inFlight: 0, delayed: 0 });
  expect(changed).toBe(true);
  expect(setCalls()).toEqual([{ AutoScalingGroupName: GROUP, DesiredCapacity: 1, HonorCooldown: false }]);
  expect(decision.reason).toMatch(/^scale out 0→1: backlog 1/);
});

test('GIVEN an empty fleet WHEN a burst of jobs lands on two priorities THEN it scales out at once, capped at max', async () => {
  const urls = await queues();
  fakeGroup({ DesiredCapacity: 0, MaxSize: 3 });
  for (let i = 0; i < 3; i++) await sqs.client.send(new SendMessageCommand({ QueueUrl: urls.high, MessageBody: `{"h":${i}}` }));
  for (let i = 0; i < 2; i++) await sqs.client.send(new SendMessageCommand({ QueueUrl: urls.normal, MessageBody: `{"n":${i}}` }));

  await evaluate(clients(), config(urls), T0);

  expect(setCalls()).toEqual([{ AutoScalingGroupName: GROUP, DesiredCapacity: 3, HonorCooldown: false }]);
});

test('GIVEN an empty fleet WHEN only a delayed retry waits THEN nothing is launched', async () => {
  const urls = await queues();
  fakeGroup({ DesiredCapacity: 0 });
  await sqs.client.send(new SendMessageCommand({ QueueUrl: urls.normal, MessageBody: '{"retry":1}', DelaySeconds: 600 }));

  const { queue, changed } = await evaluate(clients(), config(urls), T0);

  expect(queue.queues.find((q) => q.priority === 'normal')!.delayed).toBe(1);
  expect(changed).toBe(false);
  expect(setCalls()).toEqual([]);
});

test('GIVEN an idle fleet of 2 WHEN the queues stay empty THEN it steps down only after the idle window (180 s)', async () => {
  const urls = await queues();
  const group = fakeGroup({ DesiredCapacity: 2, Instances: instances(2) });

  // First sight: no history tag → both instances count as busy now; the history is persisted on the group.
  const first = await evaluate(clients(), config(urls), T0);
  expect(first.changed).toBe(false);
  expect(group.Tags!.find((t) => t.Key === BUSY_HISTORY_TAG)!.Value).toBe(`v1:2@${T0 / 1000}`);

  for (const seconds of [60, 120, 179]) {
    const { changed, decision } = await evaluate(clients(), config(urls), T0 + seconds * 1000);
    expect(changed).toBe(false);
    expect(decision.reason).toMatch(/^hold 2: .*holding 2 until idle for 180s/);
  }
  expect(setCalls()).toEqual([]);

  const after = await evaluate(clients(), config(urls), T0 + 181 * 1000);
  expect(after.decision.reason).toMatch(/^scale in 2→0/);
  expect(setCalls()).toEqual([{ AutoScalingGroupName: GROUP, DesiredCapacity: 0, HonorCooldown: false }]);
  expect(group.DesiredCapacity).toBe(0);
});

test('GIVEN a fleet of 2 with one busy worker WHEN idle past the window THEN only the idle instance is released', async () => {
  const urls = await queues();
  fakeGroup({ DesiredCapacity: 2, Instances: instances(2, 1) });
  await evaluate(clients(), config(urls), T0);
  await evaluate(clients(), config(urls), T0 + 200 * 1000);
  expect(setCalls()).toEqual([{ AutoScalingGroupName: GROUP, DesiredCapacity: 1, HonorCooldown: false }]);
});

test('the history tag is written only when it changes', async () => {
  const urls = await queues();
  fakeGroup({ DesiredCapacity: 0 });
  await evaluate(clients(), config(urls), T0);
  await evaluate(clients(), config(urls), T0 + 10_000);
  // An empty, idle fleet has an empty history: one write ("v1:"), then none.
  expect(asgMock.commandCalls(CreateOrUpdateTagsCommand).map((c) => c.args[0].input.Tags![0])).toEqual([
    { ResourceId: GROUP, ResourceType: 'auto-scaling-group', Key: BUSY_HISTORY_TAG, Value: 'v1:', PropagateAtLaunch: false },
  ]);
});

describe('busy-history tag: written on a material change, at most once a minute', () => {
  const tagWrites = () => asgMock.commandCalls(CreateOrUpdateTagsCommand).map((c) => c.args[0].input.Tags![0].Value!);
  const send = async (url: string, n: number) => {
    for (let i = 0; i < n; i++) await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `{"i":${i}}` }));
  };

  test('GIVEN steady load for 10 minutes of 10-s evaluations THEN the tag is written ≤ 11 times, ≥ 60 s apart', async () => {
    const urls = await queues();
    fakeGroup({ DesiredCapacity: 0 });
    await send(urls.normal, 3);
    const memory: HistoryMemory = {};
    const writtenAt: number[] = [];
    const histories = new Set<string>();
    for (let t = 0; t <= 600; t += 10) {
      const before = tagWrites().length;
      const { decision, history } = await evaluate(clients(), config(urls), T0 + t * 1000, memory);
      histories.add(JSON.stringify(decision.busyHistory));
      expect(history.written).toBe(tagWrites().length > before);
      if (history.written) writtenAt.push(t);
    }
    // The history moves at every evaluation (level 3 needed now), so the old code wrote 61 times.
    expect(histories.size).toBe(61);
    expect(writtenAt.length).toBeLessThanOrEqual(11);
    for (let i = 1; i < writtenAt.length; i++) expect(writtenAt[i] - writtenAt[i - 1]).toBeGreaterThanOrEqual(60);
    expect(setCalls()).toEqual([{ AutoScalingGroupName: GROUP, DesiredCapacity: 3, HonorCooldown: false }]);
    // The tag is never more than a write interval (+ one evaluation) behind.
    expect(tagWrites().at(-1)).toBe(`v1:3@${T0 / 1000 + writtenAt.at(-1)!}`);
    expect(600 - writtenAt.at(-1)!).toBeLessThanOrEqual(60);
  });

  test(
    'GIVEN the last write ≥ 60 s ago WHEN a new level is needed THEN it is written at once; a change within the minute ' +
      'waits and is written at the first evaluation allowed',
    async () => {
      const urls = await queues();
      fakeGroup({ DesiredCapacity: 2, Instances: instances(2) });
      const memory: HistoryMemory = {};
      await evaluate(clients(), config(urls), T0, memory);
      for (let t = 10; t <= 90; t += 10) expect((await evaluate(clients(), config(urls), T0 + t * 1000, memory)).history.written).toBe(false);
      expect(tagWrites()).toEqual([`v1:2@${T0 / 1000}`]);

      // WHEN 3 jobs arrive 100 s after the last write THEN level 3 is written at that evaluation.
      await send(urls.normal, 3);
      const at100 = await evaluate(clients(), config(urls), T0 + 100_000, memory);
      expect(at100.history).toEqual({ written: true, reason: 'levels [2] → [3]' });
      expect(tagWrites().at(-1)).toBe(`v1:3@${T0 / 1000 + 100}`);

      // WHEN 3 more arrive 10 s later THEN the scale-out happens at once but the tag waits until 60 s after the last write.
      await send(urls.high, 3);
      const at110 = await evaluate(clients(), config(urls), T0 + 110_000, memory);
      expect(at110.changed).toBe(true);
      expect(at110.decision.desired).toBe(6);
      expect(at110.history.written).toBe(false);
      expect(at110.history.reason).toMatch(/^levels \[3\] → \[6\]; waits: last write 10s ago/);
      for (let t = 120; t <= 150; t += 10) expect((await evaluate(clients(), config(urls), T0 + t * 1000, memory)).history.written).toBe(false);
      const at160 = await evaluate(clients(), config(urls), T0 + 160_000, memory);
      expect(at160.history.written).toBe(true);
      expect(tagWrites().at(-1)).toBe(`v1:6@${T0 / 1000 + 160}`);
      expect(setCalls().map((c) => c.DesiredCapacity)).toEqual([3, 6]);
    },
  );

  test('GIVEN a failed tag write (throttled) THEN the next evaluation writes it', async () => {
    const urls = await queues();
    fakeGroup({ DesiredCapacity: 0 });
    await send(urls.normal, 1);
    asgMock.on(CreateOrUpdateTagsCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    const memory: HistoryMemory = {};
    await expect(evaluate(clients(), config(urls), T0, memory)).rejects.toThrow('Rate exceeded');
    const next = await evaluate(clients(), config(urls), T0 + 10_000, memory);
    expect(next.history.written).toBe(true);
  });

  test('GIVEN a trace of busy workers THEN the decisions with the throttled tag are those of the history carried exactly', async () => {
    const urls = await queues();
    // Busy (scale-in protected) workers at each 10-s evaluation over 20 minutes: bursts, lulls longer and shorter than the window.
    const busyAt = (i: number) => [0, 2, 5, 5, 4, 1, 0, 0, 3, 0][Math.floor(i / 12) % 10] + (i % 7 === 0 ? 1 : 0);
    const steps = Array.from({ length: 120 }, (_, i) => ({ now: T0 + i * 10_000 + 137, busy: busyAt(i) }));
    const group = fakeGroup({ DesiredCapacity: 0 });
    const memory: HistoryMemory = {};
    const throttled: number[] = [];
    for (const step of steps) {
      group.Instances = instances(Math.max(step.busy, group.DesiredCapacity ?? 0), step.busy);
      throttled.push((await evaluate(clients(), config(urls), step.now, memory)).decision.desired);
    }

    // The reference: decideCapacity with each decision's history passed straight to the next (every change kept).
    let desired = 0;
    let history: FleetState['busyHistory'] = undefined;
    const reference = steps.map((step) => {
      const inService = Math.max(step.busy, desired);
      const state = { desired, min: 0, max: 10, inService, pending: 0, busy: step.busy, busyHistory: history };
      const d = decideCapacity({ queues: [] }, state, POLICY, step.now);
      desired = d.desired;
      history = d.busyHistory;
      return d.desired;
    });
    expect(throttled).toEqual(reference);
    expect(new Set(reference).size).toBeGreaterThan(3); // the trace does scale out and in
    expect(asgMock.commandCalls(CreateOrUpdateTagsCommand).length).toBeLessThan(steps.length / 4);
  });
});

test('fails with the group name when the group does not exist', async () => {
  const urls = await queues();
  asgMock.reset();
  asgMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
  await expect(evaluate(clients(), config(urls), T0)).rejects.toThrow(`Auto Scaling group ${GROUP} not found`);
});

describe('evaluateLoop', () => {
  test('evaluates every interval until the deadline and survives a failed evaluation', async () => {
    let clock = 0;
    const at: number[] = [];
    const errors: unknown[] = [];
    const result = await evaluateLoop(
      async () => {
        at.push(clock);
        clock += 300; // each evaluation takes 0.3 s
        if (at.length === 2) throw new Error('throttled');
      },
      (e) => errors.push(e),
      {
        until: 50_000,
        intervalMs: 10_000,
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
        },
      },
    );
    expect(at).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    expect(result).toEqual({ evaluations: 6, failures: 1 });
    expect(errors).toHaveLength(1);
  });
});

describe('parsePolicyConfig', () => {
  test.each(['targetBacklogPerInstance', 'evaluationIntervalSeconds', 'loopSeconds'])('fails if %s is missing', (field) => {
    const raw: Record<string, unknown> = { ...POLICY };
    delete raw[field];
    expect(() => parsePolicyConfig(raw)).toThrow(new RegExp(field));
  });
});

describe('handler', () => {
  const saved = { ...process.env };
  let handler: (event: unknown, context?: unknown) => Promise<{ evaluations: number; failures: number }>;
  const output = new CapturedOutput();
  let urls: Record<string, string>;

  beforeAll(async () => {
    urls = await queues();
    Object.assign(process.env, {
      [EnvNames.WORKLOAD]: 'agents',
      [EnvNames.ASG_NAME]: GROUP,
      [EnvNames.QUEUE_URLS]: JSON.stringify(urls),
      [EnvNames.SCALING_POLICY]: JSON.stringify({ ...POLICY, loopSeconds: 0 }),
      [EnvNames.METRIC_NAMESPACE]: METRIC_NAMESPACE,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: clientConfig(sqs.endpoint).credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: clientConfig(sqs.endpoint).credentials.secretAccessKey,
    });
    output.start([process.stdout]);
    // Loaded after the environment is set (its config is read at cold start), from the same module registry
    // as the mocked AutoScalingClient.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require('../../lambda/capacity-manager/index').handler;
  });
  afterAll(() => {
    output.stop();
    process.env = saved;
  });

  test('a wake evaluates once: scales out, logs the reason, emits both metrics with only the Workload dimension', async () => {
    fakeGroup({ DesiredCapacity: 0 });
    await sqs.client.send(new SendMessageCommand({ QueueUrl: urls.high, MessageBody: '{"job":"wake"}' }));
    output.reset();

    const result = await handler({ wake: true });

    expect(result).toEqual({ evaluations: 1, failures: 0 });
    expect(setCalls()).toEqual([{ AutoScalingGroupName: GROUP, DesiredCapacity: 1, HonorCooldown: false }]);
    const records = output.records();
    const log = records.find((r) => r.message?.startsWith('scale out 0→1'));
    expect(log).toMatchObject({ level: 'INFO', action: 'scale-out', desired: 1, workload: 'agents' });
    const [emf] = output.emf();
    expect(emf._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: METRIC_NAMESPACE,
        Dimensions: [[Dimensions.WORKLOAD]],
        Metrics: expect.arrayContaining([
          { Name: MetricNames.BACKLOG_PER_INSTANCE, Unit: 'Count' },
          { Name: MetricNames.DESIRED_CAPACITY, Unit: 'Count' },
        ]),
      },
    ]);
    expect(emf).toMatchObject({ [Dimensions.WORKLOAD]: 'agents', [MetricNames.BACKLOG_PER_INSTANCE]: 1, [MetricNames.DESIRED_CAPACITY]: 1 });
    expect(emf.service).toBeUndefined();
  });

  test('a scheduled run with a spent budget evaluates once and returns', async () => {
    fakeGroup({ DesiredCapacity: 1, Instances: instances(1, 1) });
    const result = await handler({ source: 'aws.events' }, { getRemainingTimeInMillis: () => 60_000 });
    expect(result).toEqual({ evaluations: 1, failures: 0 });
  });
});
