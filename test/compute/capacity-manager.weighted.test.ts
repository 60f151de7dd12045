/**
 * A weighted fleet is provisioned in weight units: the CapacityManager decides in units (it sums each
 * instance's WeightedCapacity), and the worker runs `concurrency × weight` slots, so the units bought give
 * enough slots for the backlog whichever instance types the group launches. Queues are real (local-aws-sqs);
 * Auto Scaling is mocked (aws-sdk-client-mock), as in capacity-manager.sqs.test.ts.
 */
import {
  AutoScalingClient,
  AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  Instance,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateQueueCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { METRIC_NAMESPACE } from '../../lib/contracts';
import { evaluate, ManagerConfig, readFleetState } from '../../lambda/capacity-manager/evaluate';
import { resolveScalingPolicy } from '../../lib/compute/scaling-policy';
import { economics } from '../../worker/cost';
import { LocalServer, startSqs, uniqueName } from '../support/local-aws';

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
const GROUP = 'fleet-weighted';
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const WEIGHTS = { 'g5.xlarge': 1, 'g5.12xlarge': 4 };
const SLOTS_PER_UNIT = 8;
// What GpuFleet gives the manager for workerConcurrency 8: 8 jobs per unit, target = 8 per unit.
const POLICY = { ...resolveScalingPolicy({ jobsPerInstance: SLOTS_PER_UNIT }), evaluationIntervalSeconds: 10, loopSeconds: 50 };

function weightedGroup(instances: Instance[], desired = 0): AutoScalingGroup {
  const group = {
    AutoScalingGroupName: GROUP,
    MinSize: 0,
    MaxSize: 16,
    DesiredCapacity: desired,
    Instances: instances,
    Tags: [],
    DefaultCooldown: 300,
    AvailabilityZones: [],
    HealthCheckType: 'EC2',
    CreatedTime: new Date(T0),
    MixedInstancesPolicy: {
      LaunchTemplate: { Overrides: Object.entries(WEIGHTS).map(([InstanceType, w]) => ({ InstanceType, WeightedCapacity: String(w) })) },
    },
  } as AutoScalingGroup;
  asgMock.reset();
  asgMock.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({ AutoScalingGroups: [structuredClone(group)] }));
  asgMock.on(SetDesiredCapacityCommand).callsFake((input) => {
    group.DesiredCapacity = input.DesiredCapacity;
    return {};
  });
  return group;
}

function instance(id: string, type: keyof typeof WEIGHTS, state = 'InService', busy = false): Instance {
  return {
    InstanceId: id,
    InstanceType: type,
    WeightedCapacity: String(WEIGHTS[type]),
    LifecycleState: state,
    ProtectedFromScaleIn: busy,
    HealthStatus: 'Healthy',
    AvailabilityZone: 'us-east-1a',
  } as Instance;
}

async function queueWith(jobs: number): Promise<Record<string, string>> {
  const url = (await sqs.client.send(new CreateQueueCommand({ QueueName: uniqueName('weighted') }))).QueueUrl!;
  for (let i = 0; i < jobs; i += 10) {
    const entries = Array.from({ length: Math.min(10, jobs - i) }, (_, k) => ({ Id: `m${i + k}`, MessageBody: JSON.stringify({ n: i + k }) }));
    await sqs.client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
  }
  return { normal: url };
}

const config = (queueUrls: Record<string, string>): ManagerConfig => ({
  workload: 'agents',
  autoScalingGroupName: GROUP,
  queueUrls,
  policy: POLICY,
  metricNamespace: METRIC_NAMESPACE,
});
const clients = () => ({
  sqs: sqs.client,
  autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
  cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
});
const slotsOf = (types: Array<keyof typeof WEIGHTS>) =>
  types.reduce((sum, t) => sum + economics(t, 'us-east-1', SLOTS_PER_UNIT, {}, WEIGHTS).concurrency, 0);

/** Every way the group can fill `units` with these weights (Auto Scaling may overshoot with a heavy type). */
function fills(units: number): Array<Array<keyof typeof WEIGHTS>> {
  const out: Array<Array<keyof typeof WEIGHTS>> = [];
  for (let big = 0; big * 4 < units + 4; big++) {
    const small = Math.max(0, units - big * 4);
    if (big * 4 + small >= units && (small === 0 || big * 4 < units)) {
      out.push([...Array(big).fill('g5.12xlarge'), ...Array(small).fill('g5.xlarge')]);
    }
  }
  return out;
}

test(
  'GIVEN 32 queued jobs, 8 slots per unit, weights {g5.xlarge: 1, g5.12xlarge: 4} WHEN the empty fleet is evaluated ' +
    'THEN it asks for 4 units, and every mix of types that fills 4 units runs ≥ 32 jobs at once',
  async () => {
    weightedGroup([]);
    const { decision } = await evaluate(clients(), config(await queueWith(32)), T0);
    expect(decision.desired).toBe(4);
    expect(decision.reason).toMatch(/at target 8\/unit needs 4/);
    const mixes = fills(decision.desired);
    expect(mixes.map((m) => m.join('+'))).toEqual(expect.arrayContaining(['g5.12xlarge', 'g5.xlarge+g5.xlarge+g5.xlarge+g5.xlarge']));
    for (const mix of mixes) expect(slotsOf(mix)).toBeGreaterThanOrEqual(32);
    // The bug this replaces: one g5.12xlarge with 8 slots for 32 jobs.
    expect(slotsOf(['g5.12xlarge'])).toBe(32);
  },
);

test('GIVEN one g5.12xlarge in service (4 units) WHEN 32 jobs wait THEN the fleet holds at 4 units, not 4 instances', async () => {
  weightedGroup([instance('i-big', 'g5.12xlarge')], 4);
  const { decision, changed, fleet } = await evaluate(clients(), config(await queueWith(32)), T0);
  expect(fleet).toMatchObject({ inService: 4, pending: 0, weighted: true });
  expect(decision.desired).toBe(4);
  expect(changed).toBe(false);
  expect(decision.backlogPerInstance).toBe(8);
});

test(
  'GIVEN a busy g5.12xlarge and a pending g5.xlarge WHEN the queue is empty THEN busy and pending count their weights ' +
    'and the busy instance pins its 4 units',
  async () => {
    weightedGroup([instance('i-big', 'g5.12xlarge', 'InService', true), instance('i-small', 'g5.xlarge', 'Pending')], 5);
    const { fleet } = await readFleetState(new AutoScalingClient({ region: 'us-east-1' }), GROUP);
    expect(fleet).toMatchObject({ inService: 4, pending: 1, busy: 4, weighted: true });
    // 5 units last needed 10 minutes ago (past the 180 s idle window): only the busy instance's weight stays.
    const memory = { carry: { history: [{ level: 5, at: T0 - 600_000 }], tag: undefined } };
    const { decision } = await evaluate(clients(), config(await queueWith(0)), T0, memory);
    expect(decision.reason).toMatch(/\(4 pinned by running jobs\)/);
    expect(decision.desired).toBe(4);
  },
);

test('GIVEN an unweighted group THEN instances count 1 each and the reason says /instance (as before)', async () => {
  const group = weightedGroup([instance('i-1', 'g5.xlarge'), instance('i-2', 'g5.12xlarge')], 2);
  group.MixedInstancesPolicy = { LaunchTemplate: { Overrides: [{ InstanceType: 'g5.xlarge' }, { InstanceType: 'g5.12xlarge' }] } };
  for (const i of group.Instances ?? []) delete i.WeightedCapacity;
  const { decision, fleet } = await evaluate(clients(), config(await queueWith(16)), T0);
  expect(fleet.inService).toBe(2);
  expect(fleet.weighted).toBeUndefined();
  expect(decision.reason).toMatch(/at target 8\/instance needs 2/);
});
