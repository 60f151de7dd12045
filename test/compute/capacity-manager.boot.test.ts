/**
 * The CapacityManager's learned boot time: GetMetricData on the fleet's ColdStartSeconds (CloudWatch through
 * aws-sdk-client-mock: no local server answers it), the pure rule, the container cache, the fallback on a
 * failed read, and what the handler logs. Queues are real (local-aws-sqs); Auto Scaling is a mocked fake
 * group, as in capacity-manager.sqs.test.ts.
 */
import { AutoScalingClient, AutoScalingGroup, DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { readBootSamples } from '../../lambda/capacity-manager/boot-time';
import { evaluate, HistoryMemory, ManagerConfig, ManagerPolicyConfig, parsePolicyConfig } from '../../lambda/capacity-manager/evaluate';
import { LEARNED_BOOT_REFRESH_SECONDS, LEARNED_BOOT_RETRY_SECONDS } from '../../lib/compute/learned-boot';
import { BUSY_HISTORY_TAG, resolveScalingPolicy } from '../../lib/compute/scaling-policy';
import { EnvNames, METRIC_NAMESPACE } from '../../lib/contracts';
import { CapturedOutput } from '../support/captured-output';
import { clientConfig, LocalServer, startSqs, uniqueName } from '../support/local-aws';

let sqs: LocalServer<SQSClient>;
let urls: Record<string, string>;
beforeAll(async () => {
  sqs = await startSqs();
  urls = { normal: (await sqs.client.send(new CreateQueueCommand({ QueueName: uniqueName('cm-boot') }))).QueueUrl! };
});
afterAll(async () => {
  await sqs.close();
});

const asgMock = mockClient(AutoScalingClient);
const cwMock = mockClient(CloudWatchClient);
const GROUP = 'fleet-boot';
const T0 = Date.UTC(2026, 11, 3, 9, 30, 17);
/** What the construct gives the function without an explicit idle window: the prior 180 s, the window following the boot time. */
const POLICY: ManagerPolicyConfig = {
  ...resolveScalingPolicy({ targetBacklogPerInstance: 1 }),
  evaluationIntervalSeconds: 10,
  loopSeconds: 50,
  idleWindowFollowsBoot: true,
};
const config = (policy: ManagerPolicyConfig = POLICY): ManagerConfig => ({
  workload: 'agents',
  autoScalingGroupName: GROUP,
  queueUrls: urls,
  policy,
  metricNamespace: METRIC_NAMESPACE,
});
const clients = () => ({
  sqs: sqs.client,
  autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
  cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
});

/** An idle group of `n` instances, last busy at T0 (tag), so the idle window alone decides the scale-in. */
function idleGroup(n: number): AutoScalingGroup {
  const group = {
    AutoScalingGroupName: GROUP,
    MinSize: 0,
    MaxSize: 10,
    DesiredCapacity: n,
    Instances: Array.from({ length: n }, (_, i) => ({ InstanceId: `i-${i}`, LifecycleState: 'InService', ProtectedFromScaleIn: false })),
    Tags: [{ Key: BUSY_HISTORY_TAG, Value: n > 0 ? `v1:${n}@${Math.ceil(T0 / 1000)}` : 'v1:' }],
  } as AutoScalingGroup;
  asgMock.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({ AutoScalingGroups: [structuredClone(group)] }));
  asgMock.on(SetDesiredCapacityCommand).callsFake((input) => {
    group.DesiredCapacity = input.DesiredCapacity;
    return {};
  });
  return group;
}

/** GetMetricData's answer for `count` boots with that p90 (none: no datapoints at all). */
function bootsSeen(count: number, p90?: number) {
  const at = new Date(T0 - 86_400_000);
  return {
    MetricDataResults: [
      { Id: 'p90', StatusCode: 'Complete' as const, Timestamps: count > 0 ? [at] : [], Values: count > 0 && p90 !== undefined ? [p90] : [] },
      { Id: 'samples', StatusCode: 'Complete' as const, Timestamps: count > 0 ? [at] : [], Values: count > 0 ? [count] : [] },
    ],
  };
}

const metricCalls = () => cwMock.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input);
const setCalls = () => asgMock.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input.DesiredCapacity);

beforeEach(() => {
  asgMock.reset();
  cwMock.reset();
});

test('the read: ColdStartSeconds {Workload, Stage=model-healthy}, p90 and SampleCount, one period of 24 h ending at the minute', async () => {
  cwMock.on(GetMetricDataCommand).resolves(bootsSeen(7, 402.5));
  expect(await readBootSamples(new CloudWatchClient({ region: 'us-east-1' }), 'AiBurst', 'agents', T0)).toEqual({ count: 7, p90Seconds: 402.5 });
  const [input] = metricCalls();
  const end = Date.UTC(2026, 11, 3, 9, 30, 0);
  expect(input.StartTime).toEqual(new Date(end - 86_400_000));
  expect(input.EndTime).toEqual(new Date(end));
  const metric = {
    Namespace: 'AiBurst',
    MetricName: 'ColdStartSeconds',
    Dimensions: [
      { Name: 'Workload', Value: 'agents' },
      { Name: 'Stage', Value: 'model-healthy' },
    ],
  };
  expect(input.MetricDataQueries).toEqual([
    { Id: 'p90', MetricStat: { Metric: metric, Period: 86_400, Stat: 'p90' }, ReturnData: true },
    { Id: 'samples', MetricStat: { Metric: metric, Period: 86_400, Stat: 'SampleCount' }, ReturnData: true },
  ]);
});

test('GIVEN CloudWatch splits the window in two periods THEN the counts add up and the larger p90 is kept', async () => {
  cwMock.on(GetMetricDataCommand).resolves({
    MetricDataResults: [
      { Id: 'p90', Values: [300, 420] },
      { Id: 'samples', Values: [3, 4] },
    ],
  });
  expect(await readBootSamples(new CloudWatchClient({ region: 'us-east-1' }), 'AiBurst', 'agents', T0)).toEqual({ count: 7, p90Seconds: 420 });
});

describe('which boot time a decision uses', () => {
  test.each([
    ['no boot in the window', 0, undefined],
    ['4 boots', 4, 360],
  ])('GIVEN %s THEN the prior 180 s: an idle instance is released after 180 s', async (_label, count, p90) => {
    cwMock.on(GetMetricDataCommand).resolves(bootsSeen(count, p90));
    idleGroup(1);
    const memory: HistoryMemory = {};
    const held = await evaluate(clients(), config(), T0 + 170_000, memory);
    expect(held.boot).toMatchObject({ bootSeconds: 180, source: 'prior', samples: count, read: 'read' });
    expect(held.decision.reason).toMatch(/holding 1 until idle for 180s/);
    const after = await evaluate(clients(), config(), T0 + 185_000, memory);
    expect(after.decision.reason).toMatch(/^scale in 1→0: .*idle for ≥ 180s/);
    expect(setCalls()).toEqual([0]);
  });

  test('GIVEN 5 boots with p90 360 s THEN the learned 360 s: the instance is held at 185 s and released after 360 s', async () => {
    cwMock.on(GetMetricDataCommand).resolves(bootsSeen(5, 360));
    idleGroup(1);
    const memory: HistoryMemory = {};
    const held = await evaluate(clients(), config(), T0 + 185_000, memory);
    expect(held.boot).toEqual({
      bootSeconds: 360,
      source: 'learned',
      samples: 5,
      p90Seconds: 360,
      reason: 'learned: p90 of 5 boots in the last 24 h',
      read: 'read',
      readingAgeSeconds: 0,
    });
    expect(held.changed).toBe(false);
    expect(held.decision.reason).toMatch(/holding 1 until idle for 360s/);
    const after = await evaluate(clients(), config(), T0 + 365_000, memory);
    expect(after.decision.reason).toMatch(/^scale in 1→0: .*idle for ≥ 360s/);
    expect(setCalls()).toEqual([0]);
  });

  test('GIVEN an explicit idle window THEN nothing uses the boot time and CloudWatch is not read', async () => {
    cwMock.on(GetMetricDataCommand).resolves(bootsSeen(50, 600));
    idleGroup(1);
    const fixed = { ...POLICY, idleWindowSeconds: 120, idleWindowFollowsBoot: false };
    const r = await evaluate(clients(), config(fixed), T0 + 125_000);
    expect(r.boot).toMatchObject({ bootSeconds: 180, source: 'prior', read: 'not-used' });
    expect(r.decision.reason).toMatch(/^scale in 1→0: .*idle for ≥ 120s/);
    expect(metricCalls()).toHaveLength(0);
  });
});

describe('the container cache: one read per LEARNED_BOOT_REFRESH_SECONDS, not per evaluation', () => {
  test('GIVEN a minute of 10-s evaluations (one invocation) THEN one GetMetricData', async () => {
    cwMock.on(GetMetricDataCommand).resolves(bootsSeen(6, 300));
    idleGroup(2);
    const memory: HistoryMemory = {};
    const reads: string[] = [];
    for (let t = 0; t <= 50; t += 10) reads.push((await evaluate(clients(), config(), T0 + t * 1000, memory)).boot.read);
    expect(metricCalls()).toHaveLength(1);
    expect(reads).toEqual(['read', 'cached', 'cached', 'cached', 'cached', 'cached']);
  });

  test('GIVEN 11 minutes of evaluations THEN a read at 0, 5 and 10 minutes; a new boot count takes effect at the next read', async () => {
    cwMock.on(GetMetricDataCommand).resolvesOnce(bootsSeen(4, 300)).resolves(bootsSeen(5, 300));
    idleGroup(0);
    const memory: HistoryMemory = {};
    const seen: Array<[number, string, number]> = [];
    for (let t = 0; t <= 660; t += 10) {
      const { boot } = await evaluate(clients(), config(), T0 + t * 1000, memory);
      if (boot.read === 'read') seen.push([t, boot.source, boot.bootSeconds]);
    }
    expect(LEARNED_BOOT_REFRESH_SECONDS).toBe(300);
    expect(seen).toEqual([
      [0, 'prior', 180],
      [300, 'learned', 300],
      [600, 'learned', 300],
    ]);
  });
});

describe('a failed read never blocks scaling', () => {
  test.each([
    ['AccessDenied', Object.assign(new Error('User is not authorized to perform: cloudwatch:GetMetricData'), { name: 'AccessDenied' })],
    ['Throttling', Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })],
  ])('GIVEN %s on the first read THEN the prior, a warning, the decision is made, and no retry for a minute', async (_label, error) => {
    cwMock.on(GetMetricDataCommand).rejects(error);
    idleGroup(1);
    const memory: HistoryMemory = {};
    const r = await evaluate(clients(), config(), T0 + 185_000, memory);
    expect(r.boot).toMatchObject({ bootSeconds: 180, source: 'prior', read: 'failed' });
    expect(r.boot.warning).toBe(
      `GetMetricData of ColdStartSeconds failed (${error.name}: ${error.message}); using the prior, retry in ${LEARNED_BOOT_RETRY_SECONDS}s`,
    );
    expect(setCalls()).toEqual([0]);
    await evaluate(clients(), config(), T0 + 195_000, memory);
    await evaluate(clients(), config(), T0 + 235_000, memory);
    expect(metricCalls()).toHaveLength(1);
    cwMock.on(GetMetricDataCommand).resolves(bootsSeen(5, 240));
    const retried = await evaluate(clients(), config(), T0 + 245_000, memory);
    expect(retried.boot).toMatchObject({ read: 'read', source: 'learned', bootSeconds: 240 });
    expect(metricCalls()).toHaveLength(2);
  });

  test('GIVEN a good reading, then a failed refresh THEN the last reading is kept (not the prior)', async () => {
    cwMock
      .on(GetMetricDataCommand)
      .resolvesOnce(bootsSeen(8, 420))
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    idleGroup(1);
    const memory: HistoryMemory = {};
    await evaluate(clients(), config(), T0, memory);
    const r = await evaluate(clients(), config(), T0 + 300_000, memory);
    expect(r.boot).toMatchObject({ bootSeconds: 420, source: 'learned', read: 'failed', readingAgeSeconds: 300 });
    expect(r.boot.warning).toMatch(/using the reading of 300s ago/);
    expect(r.decision.reason).toMatch(/holding 1 until idle for 420s/);
  });
});

test('the policy JSON: idleWindowFollowsBoot is a boolean when given, and absent means the static prior', () => {
  expect(() => parsePolicyConfig({ ...POLICY, idleWindowFollowsBoot: 'yes' })).toThrow(/idleWindowFollowsBoot must be true or false \(got "yes"\)/);
  const { idleWindowFollowsBoot: _omitted, ...older } = POLICY;
  expect(parsePolicyConfig(older).idleWindowFollowsBoot).toBeUndefined();
});

describe('handler', () => {
  const saved = { ...process.env };
  let handler: (event: unknown, context?: unknown) => Promise<{ evaluations: number; failures: number }>;
  const output = new CapturedOutput();

  beforeAll(() => {
    Object.assign(process.env, {
      [EnvNames.WORKLOAD]: 'agents',
      [EnvNames.ASG_NAME]: GROUP,
      [EnvNames.QUEUE_URLS]: JSON.stringify(urls),
      // A scheduled run of ~1 s evaluating every 0.2 s: several evaluations in one invocation.
      [EnvNames.SCALING_POLICY]: JSON.stringify({ ...POLICY, evaluationIntervalSeconds: 0.2, loopSeconds: 1 }),
      [EnvNames.METRIC_NAMESPACE]: METRIC_NAMESPACE,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: clientConfig(sqs.endpoint).credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: clientConfig(sqs.endpoint).credentials.secretAccessKey,
    });
    output.start([process.stdout, process.stderr]);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require('../../lambda/capacity-manager/index').handler;
  });
  afterAll(() => {
    output.stop();
    process.env = saved;
  });

  test('a failed read is a warning, the decision still logged with the prior; the decision is made', async () => {
    idleGroup(0);
    cwMock
      .on(GetMetricDataCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))
      .resolves(bootsSeen(9, 455));
    output.reset();
    expect(await handler({ wake: true })).toEqual({ evaluations: 1, failures: 0 });
    const warn = output.records().find((r) => r.level === 'WARN');
    expect(warn).toMatchObject({ bootSeconds: 180, bootSource: 'prior' });
    expect(warn!.message).toMatch(/^GetMetricData of ColdStartSeconds failed \(Throttling: Rate exceeded\); using the prior/);
    expect(output.records().find((r) => r.level === 'INFO' && r.action)).toMatchObject({ bootSeconds: 180, bootSource: 'prior', bootRead: 'failed' });
  });

  test('a scheduled invocation: many evaluations, at most one GetMetricData, each decision logs the boot time it used', async () => {
    idleGroup(0);
    cwMock.on(GetMetricDataCommand).resolves(bootsSeen(9, 455));
    output.reset();
    // The retry after the failed read above is due LEARNED_BOOT_RETRY_SECONDS later: move the clock past it.
    const now = Date.now;
    const skew = (LEARNED_BOOT_RETRY_SECONDS + 1) * 1000;
    Date.now = () => now() + skew;
    try {
      const result = await handler({ source: 'aws.events' }, { getRemainingTimeInMillis: () => 60_000 });
      expect(result.evaluations).toBeGreaterThanOrEqual(4);
      expect(result.failures).toBe(0);
    } finally {
      Date.now = now;
    }
    expect(metricCalls()).toHaveLength(1);
    const decisions = output.records().filter((r) => r.level === 'INFO' && r.action);
    expect(decisions.length).toBeGreaterThanOrEqual(4);
    for (const d of decisions) {
      expect(d).toMatchObject({
        bootSeconds: 455,
        bootSource: 'learned',
        bootSamples: 9,
        bootP90Seconds: 455,
        bootReason: 'learned: p90 of 9 boots in the last 24 h',
      });
    }
    expect(decisions.map((d) => d.bootRead)).toEqual(['read', ...decisions.slice(1).map(() => 'cached')]);
    expect(output.records().filter((r) => r.level === 'WARN')).toEqual([]);
  });
});
