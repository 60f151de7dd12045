import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { JobQueue, JobStore } from '../../lib';
import { FleetScaling } from '../../lib/compute/fleet-scaling';
import { GpuFleet } from '../../lib/compute/gpu-fleet';
import { expectNagClean, testStack } from '../support/stacks';
import { WORKER_FIXTURE } from './support';

describe('FleetScaling.targetTracking (the one L1 escape hatch)', () => {
  const { stack } = testStack();
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  vpc.addFlowLog('FlowLog');
  const jobQueue = new JobQueue(stack, 'Jobs', { workload: 'agents' });
  const fleet = new GpuFleet(stack, 'Fleet', {
    vpc,
    jobQueue,
    jobStore: new JobStore(stack, 'Store'),
    workerEntry: WORKER_FIXTURE,
    workerConcurrency: 2,
    scaling: FleetScaling.targetTracking({ estimatedInstanceWarmup: Duration.minutes(4) }),
  });
  const template = Template.fromStack(stack);
  const policies = Object.values(template.findResources('AWS::AutoScaling::ScalingPolicy'));
  const config = policies[0]?.Properties.TargetTrackingConfiguration;
  const metrics: any[] = config?.CustomizedMetricSpecification.Metrics ?? [];

  test('emits one target-tracking policy on this group and no CapacityManager', () => {
    expect(policies).toHaveLength(1);
    expect(policies[0].Properties).toMatchObject({
      PolicyType: 'TargetTrackingScaling',
      EstimatedInstanceWarmup: 240,
      AutoScalingGroupName: { Ref: stack.getLogicalId(fleet.autoScalingGroup.node.defaultChild as any) },
    });
    expect(fleet.capacityManager).toBeUndefined();
    expect(template.findResources('AWS::Lambda::Function')).toEqual({});
  });

  test('the target defaults to the jobs an instance runs at once', () => {
    expect(config.TargetValue).toBe(2);
  });

  test('the one returned expression is backlog per instance with the division guarded', () => {
    const returned = metrics.filter((m) => m.ReturnData !== false);
    expect(returned).toHaveLength(1);
    expect(returned[0].Expression).toBe('IF(instances > 0, (v0 + f0 + v1 + f1) / instances, v0 + f0 + v1 + f1)');
  });

  test('it reads visible + in-flight of every priority queue and the in-service instances of this group', () => {
    const byId = Object.fromEntries(metrics.map((m) => [m.Id, m]));
    expect(byId.v0.MetricStat.Metric).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible' });
    expect(byId.f1.MetricStat.Metric).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesNotVisible' });
    expect(byId.v0.MetricStat.Metric.Dimensions).toEqual([
      { Name: 'QueueName', Value: { 'Fn::GetAtt': [expect.stringMatching(/^JobsQueuehigh/), 'QueueName'] } },
    ]);
    expect(byId.instances.MetricStat.Metric).toMatchObject({ Namespace: 'AWS/AutoScaling', MetricName: 'GroupInServiceInstances' });
  });

  test('zero unacknowledged cdk-nag findings, each acknowledgement proven', () => {
    expectNagClean(stack);
  });

  test("GIVEN a weighted fleet THEN the divisor is the group's in-service capacity units (GroupInServiceCapacity), not its instances", () => {
    const { stack: own } = testStack();
    const weighted = new GpuFleet(own, 'Weighted', {
      vpc: new ec2.Vpc(own, 'Vpc', { maxAzs: 2, natGateways: 1 }),
      jobQueue: new JobQueue(own, 'WeightedJobs', { workload: 'weighted' }),
      jobStore: new JobStore(own, 'WeightedStore'),
      workerEntry: WORKER_FIXTURE,
      workerConcurrency: 8,
      instanceTypes: ['g5.xlarge', 'g5.12xlarge', 'g6.xlarge'],
      instanceWeights: { 'g5.12xlarge': 4 },
      scaling: FleetScaling.targetTracking(),
    });
    const t = Template.fromStack(own);
    const groupRef = { Ref: own.getLogicalId(weighted.autoScalingGroup.node.defaultChild as any) };
    const policy = Object.values(t.findResources('AWS::AutoScaling::ScalingPolicy')).find(
      (p) => JSON.stringify(p.Properties.AutoScalingGroupName) === JSON.stringify(groupRef),
    )!;
    const byId = Object.fromEntries(policy.Properties.TargetTrackingConfiguration.CustomizedMetricSpecification.Metrics.map((m: any) => [m.Id, m]));
    expect(byId.instances.MetricStat).toEqual({
      Metric: { Namespace: 'AWS/AutoScaling', MetricName: 'GroupInServiceCapacity', Dimensions: [{ Name: 'AutoScalingGroupName', Value: groupRef }] },
      Stat: 'Average',
      Period: 60,
    });
    expect(byId.backlogPerInstance).toMatchObject({
      Label: 'weighted backlog per capacity unit',
      Expression: 'IF(instances > 0, (v0 + f0 + v1 + f1) / instances, v0 + f0 + v1 + f1)',
    });
    // Target: 8 jobs per unit (workerConcurrency counts per unit in a weighted fleet).
    expect(policy.Properties.TargetTrackingConfiguration.TargetValue).toBe(8);
  });

  test('fails if the target is not positive', () => {
    const other = testStack().stack;
    const q = new JobQueue(other, 'Jobs', { workload: 'agents' });
    expect(
      () =>
        new GpuFleet(other, 'Fleet', {
          vpc: new ec2.Vpc(other, 'Vpc'),
          jobQueue: q,
          jobStore: new JobStore(other, 'Store'),
          workerEntry: WORKER_FIXTURE,
          scaling: FleetScaling.targetTracking({ targetBacklogPerInstance: 0 }),
        }),
    ).toThrow(/targetBacklogPerInstance must be between 0.01 and 100000 \(got 0\)/);
  });
});
