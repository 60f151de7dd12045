/**
 * The capacity manager's evaluation against real queue attributes (local-aws-sqs) with Auto Scaling
 * through aws-sdk-client-mock: a stateful fake group that keeps the desired capacity and tags it is given.
 */
import {
  AutoScalingClient, AutoScalingGroup, CreateOrUpdateTagsCommand, DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { evaluate, evaluateLoop, ManagerConfig, parsePolicyConfig } from '../../lambda/capacity-manager/evaluate';
import { BUSY_HISTORY_TAG, resolveScalingPolicy } from '../../lib/compute/scaling-policy';
import { Dimensions, EnvNames, METRIC_NAMESPACE, MetricNames } from '../../lib/contracts';
import { clientConfig, LocalServer, startSqs, uniqueName } from '../support/local-aws';
import { CapturedOutput } from '../support/captured-output';

let sqs: LocalServer<SQSClient>;
beforeAll(async () => { sqs = await startSqs(); });
afterAll(async () => { await sqs.close(); });

const asgMock = mockClient(AutoScalingClient);
const GROUP = 'fleet-agents';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const POLICY = { ...resolveScalingPolicy({ targetBacklogPerInstance: 1 }), evaluationIntervalSeconds: 10, loopSeconds: 50 };

/** A fake group: DescribeAutoScalingGroups reflects what SetDesiredCapacity and CreateOrUpdateTags did. */
function fakeGroup(initial: Partial<AutoScalingGroup>) {
  const group: AutoScalingGroup = {
    AutoScalingGroupName: GROUP, MinSize: 0, MaxSize: 10, DesiredCapacity: 0, Instances: [], Tags: [],
    DefaultCooldown: 300, AvailabilityZones: [], HealthCheckType: 'EC2', CreatedTime: new Date(T0),
    ...initial,
  } as AutoScalingGroup;
  asgMock.reset();
  asgMock.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({ AutoScalingGroups: [structuredClone(group)] }));
  asgMock.on(SetDesiredCapacityCommand).callsFake((input) => { group.DesiredCapacity = input.DesiredCapacity; return {}; });
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
    InstanceId: `i-${i}`, LifecycleState: 'InService', ProtectedFromScaleIn: i < busy, HealthStatus: 'Healthy', AvailabilityZone: 'us-east-1a',
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
  return { workload: 'agents', autoScalingGroupName: GROUP, queueUrls, policy: POLICY };
}

const clients = () => ({ sqs: sqs.client, autoscaling: new AutoScalingClient({ region: 'us-east-1' }) });
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
    const result = await evaluateLoop(async () => {
      at.push(clock);
      clock += 300; // each evaluation takes 0.3 s
      if (at.length === 2) throw new Error('throttled');
    }, (e) => errors.push(e), { until: 50_000, intervalMs: 10_000, now: () => clock, sleep: async (ms) => { clock += ms; } });
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
    expect(emf._aws.CloudWatchMetrics).toEqual([{
      Namespace: METRIC_NAMESPACE,
      Dimensions: [[Dimensions.WORKLOAD]],
      Metrics: expect.arrayContaining([{ Name: MetricNames.BACKLOG_PER_INSTANCE, Unit: 'Count' }, { Name: MetricNames.DESIRED_CAPACITY, Unit: 'Count' }]),
    }]);
    expect(emf).toMatchObject({ [Dimensions.WORKLOAD]: 'agents', [MetricNames.BACKLOG_PER_INSTANCE]: 1, [MetricNames.DESIRED_CAPACITY]: 1 });
    expect(emf.service).toBeUndefined();
  });

  test('a scheduled run with a spent budget evaluates once and returns', async () => {
    fakeGroup({ DesiredCapacity: 1, Instances: instances(1, 1) });
    const result = await handler({ source: 'aws.events' }, { getRemainingTimeInMillis: () => 60_000 });
    expect(result).toEqual({ evaluations: 1, failures: 0 });
  });
});
