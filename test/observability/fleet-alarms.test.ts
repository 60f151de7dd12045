/**
 * Per-workload metric regions on the dashboard (`ObservedWorkload.metricsRegion`) and FleetAlarms, the
 * fleet-side alarms that must live in the region where the fleet publishes its metrics.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AiObservability, CostReporter, FleetAlarms, JobQueue } from '../../lib';
import { expectNagClean, testStack } from '../support/stacks';
import { dashboardBodies } from './metric-contract';

const AWAY = 'us-west-2';
const options = (row: unknown[]) => (typeof row[row.length - 1] === 'object' ? (row[row.length - 1] as Record<string, any>) : {});

describe('GIVEN a workload observed with metricsRegion = another region', () => {
  const { stack } = testStack();
  const home = new JobQueue(stack, 'Home', { workload: 'home' });
  const remote = new JobQueue(stack, 'Remote', { workload: 'remote' });
  const costReporter = new CostReporter(stack, 'Cost', { workloads: ['home'] }); // need not cover the remote one
  const obs = new AiObservability(stack, 'Obs', {
    workloads: [
      { queue: home, autoScalingGroupName: 'home-asg' },
      { queue: remote, autoScalingGroupName: 'remote-asg', metricsRegion: AWAY, dailyBudgetUsd: 10 },
    ],
    costReporter,
    dailyBudgetUsd: 100,
    createAlarmTopic: true,
  });
  const template = Template.fromStack(stack);
  const [body] = dashboardBodies(template);
  const rows = (title: string): unknown[][] => body.widgets.find((w: any) => w.properties.title === title).properties.metrics;

  test('THEN a widget metric the fleet publishes carries that region, and the same metric of the home workload none', () => {
    const [remoteRow] = rows('remote · backlog per instance');
    expect(remoteRow.slice(0, 4)).toEqual(['AiBurst', 'BacklogPerInstance', 'Workload', 'remote']);
    expect(options(remoteRow).region).toBe(AWAY);
    expect(options(rows('home · backlog per instance')[0]).region).toBeUndefined();
    expect(obs.metric('TokensIn', 'remote').region).toBe(AWAY);
    expect(obs.metric('TokensIn', 'home').region).toBeUndefined();
  });

  test('THEN group and GPU metrics and SEARCH expressions read that region; JobsSubmitted and queue metrics stay home', () => {
    const fleet = rows('remote · fleet desired / in service vs backlog');
    expect(fleet.filter((r) => r[0] === 'AWS/AutoScaling').map((r) => options(r).region)).toEqual([AWAY, AWAY]);
    expect(fleet.filter((r) => r[0] === 'AWS/SQS').every((r) => options(r).region === undefined)).toBe(true);
    const gpu = rows('remote · GPU utilization and memory (%)');
    expect(gpu.filter((r) => r[0] === 'CWAgent').every((r) => options(r).region === AWAY)).toBe(true);
    expect(gpu.filter((r) => /SEARCH/.test(String(options(r).expression))).map((r) => options(r).region)).toEqual([AWAY]);
    const jobs = rows('remote · jobs submitted / succeeded / failed');
    expect(jobs.filter((r) => typeof r[0] === 'string').map((r) => [r[1], options(r).region])).toEqual(
      expect.arrayContaining([
        ['JobsSubmitted', undefined],
        ['JobsSucceeded', AWAY],
        ['JobsFailed', AWAY],
      ]),
    );
  });

  test('THEN only its queue alarms are created here; the home workload keeps every alarm and the platform budget', () => {
    expect(
      Object.keys(obs.workloadAlarms.remote)
        .filter((k) => (obs.workloadAlarms.remote as any)[k] !== undefined)
        .sort(),
    ).toEqual(['deadLetters', 'oldestJobAge', 'parkedJobs']);
    expect(obs.workloadAlarms.home.fleetIdle).toBeDefined();
    expect(obs.workloadAlarms.home.spendDataMissing).toBeDefined();
    expect(
      Object.keys(template.findResources('AWS::CloudWatch::Alarm'))
        .filter((id) => id.includes('Remote') || id.includes('remote'))
        .map((id) => id.replace(/^ObsWorkloadremote|[0-9A-F]{8}$/g, ''))
        .sort(),
    ).toEqual(['DeadLettersAlarm', 'OldestJobAgeAlarm', 'ParkedJobsAlarm']);
    const budget = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).find(([id]) => id.startsWith('ObsSpendOverBudget'))![1];
    expect(JSON.stringify(budget.Properties.Metrics)).not.toContain('remote');
  });

  test('THEN zero unacknowledged cdk-nag findings', () => expectNagClean(stack));
});

describe('GIVEN metricsRegion misused', () => {
  test('fails if every workload reads another region and a platform budget is set', () => {
    const { stack } = testStack();
    const queue = new JobQueue(stack, 'Q', { workload: 'solo' });
    expect(
      () => new AiObservability(stack, 'Obs', { workloads: [{ queue, autoScalingGroupName: 'g', metricsRegion: AWAY }], dailyBudgetUsd: 5 }),
    ).toThrow(/dailyBudgetUsd covers the workloads whose metrics are in this stack's region \(us-east-1\).*FleetAlarms/);
  });

  test('fails if metricsRegion is not a region name', () => {
    const { stack } = testStack();
    const queue = new JobQueue(stack, 'Q', { workload: 'solo' });
    expect(() => new AiObservability(stack, 'Obs', { workloads: [{ queue, autoScalingGroupName: 'g', metricsRegion: 'Oregon' }] })).toThrow(
      /workloads\["solo"\]\.metricsRegion.*Oregon.*us-west-2/,
    );
  });

  test("metricsRegion equal to the stack's region changes nothing", () => {
    const build = (metricsRegion?: string) => {
      const { stack } = testStack();
      const queue = new JobQueue(stack, 'Q', { workload: 'solo' });
      new AiObservability(stack, 'Obs', { workloads: [{ queue, autoScalingGroupName: 'g', metricsRegion }] });
      return Template.fromStack(stack).toJSON();
    };
    expect(build('us-east-1')).toEqual(build());
  });
});

describe("GIVEN FleetAlarms in the fleet's region, with the queues in another", () => {
  const app = new App();
  const homeStack = new Stack(app, 'Home', { env: { account: '123456789012', region: 'us-east-1' } });
  const gpuStack = new Stack(app, 'Gpu', { env: { account: '123456789012', region: AWAY } });
  const queue = new JobQueue(homeStack, 'Q', { workload: 'batch' });
  const costReporter = new CostReporter(gpuStack, 'Cost', { workloads: ['batch'] });
  const alarms = new FleetAlarms(gpuStack, 'Alarms', {
    workload: 'batch',
    autoScalingGroupName: 'batch-asg',
    capacityManagerFunction: lambda.Function.fromFunctionName(gpuStack, 'Cm', 'batch-cm'),
    idleFleetAlarmAfter: Duration.minutes(20),
    dailyBudgetUsd: 30,
    costReporter,
    createAlarmTopic: true,
  });
  const template = Template.fromStack(gpuStack);

  test("THEN fleet idle reads the CapacityManager's backlog and the group, for the configured window", () => {
    const idle = template.findResources('AWS::CloudWatch::Alarm')[gpuStack.getLogicalId(alarms.fleetIdle.node.defaultChild as any)].Properties;
    expect(idle.EvaluationPeriods).toBe(20);
    expect(idle.TreatMissingData).toBe('notBreaching');
    const names = idle.Metrics.filter((m: any) => m.MetricStat)
      .map((m: any) => m.MetricStat.Metric.MetricName)
      .sort();
    expect(names).toEqual(['BacklogPerInstance', 'GroupInServiceInstances']);
    expect(idle.AlarmDescription).toMatch(/no job waiting or in flight for 20 minutes/);
  });

  test.each([
    ['bootFailures', 'BootFailures', 3],
    ['modelServerLost', 'ModelServerLost', 2],
  ] as const)('THEN %s fires on %s ≥ %d in 30 minutes of the workload, silence is fine', (field, metricName, threshold) => {
    const alarm = template.findResources('AWS::CloudWatch::Alarm')[gpuStack.getLogicalId(alarms[field].node.defaultChild as any)].Properties;
    expect(alarm).toMatchObject({
      MetricName: metricName,
      Namespace: 'AiBurst',
      Dimensions: [{ Name: 'Workload', Value: 'batch' }],
      Statistic: 'Sum',
      Period: 1800,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(alarm.AlarmDescription).toMatch(/^\[ai-burst:batch\] .*replaced/);
  });

  test("THEN every alarm and the cost reporter's errors alarm notify the created topic", () => {
    expect(alarms.alarms).toHaveLength(8);
    const topic = gpuStack.getLogicalId(alarms.alarmTopic!.node.defaultChild as any);
    for (const a of alarms.alarms) {
      const props = template.findResources('AWS::CloudWatch::Alarm')[gpuStack.getLogicalId(a.node.defaultChild as any)].Properties;
      expect(props.AlarmActions).toEqual([{ Ref: topic }]);
      expect(props.OKActions).toEqual([{ Ref: topic }]);
    }
    expect(alarms.alarms).toContain(costReporter.errorsAlarm);
  });

  test('THEN zero unacknowledged cdk-nag findings', () => expectNagClean(gpuStack));

  test('fails if jobQueue is in another region', () => {
    expect(() => new FleetAlarms(gpuStack, 'Bad', { workload: 'batch', autoScalingGroupName: 'g', jobQueue: queue })).toThrow(
      /jobQueue is in region us-east-1 but the alarms are in us-west-2/,
    );
  });

  test('fails if the cost reporter does not cover the workload', () => {
    expect(() => new FleetAlarms(gpuStack, 'Bad2', { workload: 'other', autoScalingGroupName: 'g', costReporter })).toThrow(
      /cost reporter does not cover "other"/,
    );
  });

  test('fails if failureRatioThreshold is out of range', () => {
    expect(() => new FleetAlarms(gpuStack, 'Bad3', { workload: 'batch', autoScalingGroupName: 'g', failureRatioThreshold: 2 })).toThrow(
      /failureRatioThreshold/,
    );
  });
});
