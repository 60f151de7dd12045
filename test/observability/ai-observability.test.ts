import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AiObservability, AiObservabilityProps, CostReporter, JobQueue, ObservedWorkload } from '../../lib';
import { expectNagClean, testStack } from '../support/stacks';
import { dashboardBodies } from './metric-contract';

function platform(overrides: Partial<AiObservabilityProps> = {}, workloadOverrides: Partial<ObservedWorkload> = {}) {
  const { stack } = testStack();
  const realtime = new JobQueue(stack, 'Realtime', { workload: 'realtime' });
  const batch = new JobQueue(stack, 'Batch', { workload: 'batch', priorities: ['urgent', 'normal', 'backfill'] });
  const costReporter = new CostReporter(stack, 'Cost', { workloads: ['realtime', 'batch'], costCenter: 'research' });
  const obs = new AiObservability(stack, 'Obs', {
    workloads: [
      {
        queue: realtime,
        autoScalingGroupName: 'realtime-asg',
        dailyBudgetUsd: 50,
        agents: ['summarizer', 'triage'],
        capacityManagerFunction: lambda.Function.fromFunctionName(stack, 'Cm', 'realtime-capacity-manager'),
        ...workloadOverrides,
      },
      {
        queue: batch,
        autoScalingGroupName: 'batch-asg',
        oldestJobAgeSlo: Duration.hours(1),
        idleFleetAlarmAfter: Duration.minutes(10),
        failureRatioThreshold: 0.25,
      },
    ],
    costReporter,
    dailyBudgetUsd: 200,
    createAlarmTopic: true,
    costCenter: 'research',
    ...overrides,
  });
  return { stack, obs, realtime, batch, costReporter, template: Template.fromStack(stack) };
}

/** The alarm resource whose logical id contains `fragment` (exactly one). */
function alarm(template: Template, fragment: string): { id: string; props: any } {
  const found = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).filter(([id]) => id.includes(fragment));
  if (found.length !== 1) throw new Error(`expected one alarm matching ${fragment}, got ${found.map(([id]) => id).join(', ') || 'none'}`);
  return { id: found[0][0], props: found[0][1].Properties };
}

/** The metric stats of a math alarm, as `Namespace/MetricName`. */
function stats(props: any): string[] {
  return (props.Metrics ?? []).filter((m: any) => m.MetricStat).map((m: any) => `${m.MetricStat.Metric.Namespace}/${m.MetricStat.Metric.MetricName}`);
}

function expression(props: any): string {
  return props.Metrics.find((m: any) => m.ReturnData !== false && m.Expression).Expression;
}

describe('AiObservability: the dashboard', () => {
  const { stack, template } = platform();
  const [body] = dashboardBodies(template);
  const titles: string[] = body.widgets.map((w: any) => w.properties.title ?? w.properties.markdown?.split('\n')[0]);
  const widget = (title: string) => body.widgets.find((w: any) => w.properties.title === title);

  test('synthesizes without warnings (metric periods match their expressions)', () => {
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  test('one dashboard for the platform, opening on the last 3 hours', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(body.start).toBe('-PT3H');
    expect(body.periodOverride).toBe('auto');
  });

  test('a platform header, then a section per workload in the order given', () => {
    const headers = titles.filter((t) => t.startsWith('#'));
    expect(headers).toEqual(['# AI burst platform', '## Workload `realtime`', '## Workload `batch`']);
    const y = (t: string) => body.widgets[titles.indexOf(t)].y;
    expect(y('## Workload `realtime`')).toBeLessThan(y('## Workload `batch`'));
  });

  const SECTION = [
    'tokens in/out per model',
    'cost per 1M tokens (USD)',
    'spend rate (USD/h)',
    'inference latency p50/p90/p99 per model',
    'time to first token p50/p90/p99 per model',
    'queue depth per priority (waiting + running)',
    'oldest waiting job (s)',
    'fleet desired / in service vs backlog',
    'backlog per instance',
    'interruptions, requeues, retries, parked',
    'jobs submitted / succeeded / failed',
    'alarms',
    'top agents by spend (USD, time range)',
    'top agents by GPU-hours (time range)',
    'cost per successful job (USD)',
    'GPU utilization and memory (%)',
    'interruption tax (GPU-hours per 5 min)',
    'cold start by stage (s from launch, p50/p90)',
    'boot failures and lost model servers (per hour)',
  ];
  test.each(['realtime', 'batch'])('the %s section has every widget of the issue', (w) => {
    const section = titles.filter((t) => t.startsWith(`${w} · `)).map((t) => t.slice(w.length + 3));
    expect(section).toEqual(SECTION);
  });

  test('the platform header shows spend by workload, top agents across workloads and every alarm', () => {
    expect(titles).toEqual(
      expect.arrayContaining(['Platform · spend by workload (USD/h)', 'Platform · top agents by spend (USD, time range)', 'Platform · alarms']),
    );
    expect(widget('Platform · alarms').properties.alarms).toHaveLength(20);
    expect(widget('Platform · spend by workload (USD/h)').properties.annotations.horizontal[0].value).toBeCloseTo(200 / 24);
  });

  test('cost per 1M tokens is spend ÷ (tokens in + out) × 10⁶ by metric math', () => {
    const metrics = widget('realtime · cost per 1M tokens (USD)').properties.metrics;
    expect(metrics[0][0].expression).toBe('1000000 * spend / (tin + tout)');
    expect(metrics.slice(1).map((m: any) => [m[1], m[m.length - 1].id, m[m.length - 1].stat])).toEqual([
      ['SpendUsd', 'spend', 'Sum'],
      ['TokensIn', 'tin', 'Sum'],
      ['TokensOut', 'tout', 'Sum'],
    ]);
  });

  test('latency and TTFT show p50, p90 and p99 of every model found by SEARCH', () => {
    for (const [title, name] of [
      ['inference latency p50/p90/p99 per model', 'InferenceLatency'],
      ['time to first token p50/p90/p99 per model', 'TimeToFirstToken'],
    ]) {
      const metrics = widget(`realtime · ${title}`).properties.metrics;
      expect(metrics.map((m: any) => m[0].expression)).toEqual(
        ['p50', 'p90', 'p99'].map((p) => `SEARCH('{AiBurst,Model,Workload} MetricName="${name}" Workload="realtime"', '${p}', 60)`),
      );
    }
  });

  test('queue depth is drawn per priority, oldest job age against the SLO line', () => {
    const depth = widget('batch · queue depth per priority (waiting + running)').properties.metrics;
    expect(depth.filter((m: any) => m[0].expression).map((m: any) => [m[0].label, m[0].expression])).toEqual([
      ['urgent', 'batch_urgent_waiting + batch_urgent_running'],
      ['normal', 'batch_normal_waiting + batch_normal_running'],
      ['backfill', 'batch_backfill_waiting + batch_backfill_running'],
    ]);
    const age = widget('batch · oldest waiting job (s)').properties;
    expect(age.metrics.map((m: any) => m[1])).toEqual(Array(3).fill('ApproximateAgeOfOldestMessage'));
    expect(age.annotations.horizontal[0]).toMatchObject({ value: 3600, label: 'SLO' });
  });

  test('the fleet widget sets desired and in-service instances of the group against the backlog', () => {
    const metrics = widget('realtime · fleet desired / in service vs backlog').properties.metrics;
    expect(metrics.slice(0, 3).map((m: any) => m.slice(0, 4))).toEqual([
      ['AWS/AutoScaling', 'GroupDesiredCapacity', 'AutoScalingGroupName', 'realtime-asg'],
      ['AWS/AutoScaling', 'GroupInServiceInstances', 'AutoScalingGroupName', 'realtime-asg'],
      ['AiBurst', 'DesiredCapacity', 'Workload', 'realtime'],
    ]);
    expect(metrics[3][0]).toMatchObject({
      label: 'backlog',
      expression: 'realtime_high_waiting + realtime_high_running + realtime_normal_waiting + realtime_normal_running',
      yAxis: 'right',
    });
  });

  test('top agents by spend and GPU-hours come from SORT(SEARCH(…)) over the time range, as bars', () => {
    const spend = widget('realtime · top agents by spend (USD, time range)').properties;
    expect(spend).toMatchObject({ view: 'bar', setPeriodToTimeRange: true });
    expect(spend.metrics[0][0].expression).toBe(
      `SORT(SEARCH('{AiBurst,Agent,Workload} MetricName="SpendUsd" Workload="realtime"', 'Sum'), SUM, DESC, 10)`,
    );
    const gpu = widget('realtime · top agents by GPU-hours (time range)').properties;
    expect(gpu.metrics[0][0].expression).toBe(
      `SORT(SEARCH('{AiBurst,Agent,Workload} MetricName="GpuSeconds" Workload="realtime"', 'Sum'), SUM, DESC, 10) / 3600`,
    );
  });

  test('cost per successful job for the workload and for each named agent', () => {
    const metrics = widget('realtime · cost per successful job (USD)').properties.metrics;
    const lines = metrics.filter((m: any) => m[0].expression).map((m: any) => [m[0].label, m[0].expression]);
    expect(lines).toEqual([
      ['realtime (all agents)', 'spend / ok'],
      ['summarizer', 's0 / j0'],
      ['triage', 's1 / j1'],
    ]);
    expect(metrics.filter((m: any) => typeof m[0] === 'string' && m.includes('Agent')).map((m: any) => m.slice(1, 4))).toEqual([
      ['SpendUsd', 'Agent', 'summarizer'],
      ['JobsSucceeded', 'Agent', 'summarizer'],
      ['SpendUsd', 'Agent', 'triage'],
      ['JobsSucceeded', 'Agent', 'triage'],
    ]);
  });

  test('GPU utilization and memory come from the CloudWatch agent, per workload and per instance', () => {
    const metrics = widget('realtime · GPU utilization and memory (%)').properties.metrics;
    const named = metrics.filter((m: any) => typeof m[0] === 'string').map((m: any) => m.slice(0, 4));
    expect(named).toEqual([
      ['CWAgent', 'nvidia_smi_utilization_gpu', 'Workload', 'realtime'],
      ['CWAgent', 'nvidia_smi_utilization_memory', 'Workload', 'realtime'],
      ['CWAgent', 'nvidia_smi_memory_used', 'Workload', 'realtime'],
      ['CWAgent', 'nvidia_smi_memory_total', 'Workload', 'realtime'],
    ]);
    expect(metrics.map((m: any) => m[0].expression).filter(Boolean)).toEqual([
      '100 * used / total',
      `SEARCH('{CWAgent,AutoScalingGroupName,InstanceId} MetricName="nvidia_smi_utilization_gpu" ` +
        `AutoScalingGroupName="realtime-asg"', 'Average', 60)`,
    ]);
  });

  test('the interruption tax stacks interrupted, boot and idle GPU-hours with their share of GPU time', () => {
    const metrics = widget('realtime · interruption tax (GPU-hours per 5 min)').properties.metrics;
    const names = metrics.filter((m: any) => typeof m[0] === 'string').map((m: any) => m[1]);
    expect(new Set(names)).toEqual(new Set(['InterruptedGpuSeconds', 'BootGpuSeconds', 'IdleGpuSeconds', 'GpuSeconds']));
    expect(metrics.filter((m: any) => m[0].expression).map((m: any) => m[0].label)).toEqual([
      'lost to interruptions',
      'booting',
      'idle',
      'tax share of GPU time (%)',
    ]);
  });

  test('cold start: p50 and p90 of seconds from launch to each stage, one line per stage, per hour', () => {
    const metrics = widget('realtime · cold start by stage (s from launch, p50/p90)').properties.metrics;
    expect(metrics.map((m: any) => [m[0].expression, m[0].label])).toEqual(
      ['p50', 'p90'].map((p) => [
        `SEARCH('{AiBurst,Stage,Workload} MetricName="ColdStartSeconds" Workload="realtime"', '${p}', 3600)`,
        `${p} \${PROP('Dim.Stage')}`,
      ]),
    );
    const health = widget('realtime · boot failures and lost model servers (per hour)').properties.metrics;
    expect(health.map((m: any) => m[1])).toEqual(['BootFailures', 'ModelServerLost']);
  });
});

describe('AiObservability: the alarms', () => {
  const { stack, obs, template } = platform();
  const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];

  test('oldest job age over the SLO for 3 minutes (max over priorities); an idle queue is not a breach', () => {
    const { props } = alarm(template, 'WorkloadrealtimeOldestJobAge');
    expect(expression(props)).toBe('MAX([realtime_high_age, realtime_normal_age])');
    expect(stats(props)).toEqual(['AWS/SQS/ApproximateAgeOfOldestMessage', 'AWS/SQS/ApproximateAgeOfOldestMessage']);
    expect(props).toMatchObject({
      Threshold: 900,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
    expect(props.AlarmDescription).toMatch(/under-provisioned.*desired > in service/);
    expect(alarm(template, 'WorkloadbatchOldestJobAge').props.Threshold).toBe(3600);
  });

  test('fleet in service with no job in flight for N minutes (a cost leak)', () => {
    const { props } = alarm(template, 'WorkloadbatchFleetIdle');
    expect(expression(props)).toBe('IF(FILL(inservice, 0) > 0 AND (FILL(f0, 0) + FILL(f1, 0) + FILL(f2, 0)) == 0, 1, 0)');
    expect(stats(props)).toEqual(['AWS/AutoScaling/GroupInServiceInstances', ...Array(3).fill('AWS/SQS/ApproximateNumberOfMessagesNotVisible')]);
    expect(props).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 10,
      DatapointsToAlarm: 10,
      TreatMissingData: 'notBreaching',
    });
    expect(props.AlarmDescription).toMatch(/pay for idle GPUs/);
    expect(alarm(template, 'WorkloadrealtimeFleetIdle').props.EvaluationPeriods).toBe(30);
  });

  test('dead-letter queue not drained for 15 minutes, and any parked job', () => {
    const dlq = alarm(template, 'WorkloadrealtimeDeadLetters').props;
    expect(dlq).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Threshold: 1,
      EvaluationPeriods: 15,
      DatapointsToAlarm: 15,
      TreatMissingData: 'notBreaching',
    });
    expect(dlq.Dimensions[0].Value['Fn::GetAtt'][0]).toMatch(/RealtimeDeadLetterQueue/);
    const parked = alarm(template, 'WorkloadrealtimeParkedJobs').props;
    expect(parked).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(parked.Dimensions[0].Value['Fn::GetAtt'][0]).toMatch(/RealtimeParkingQueue/);
    expect(parked.AlarmDescription).toMatch(/redrive/);
  });

  test('failure ratio over the threshold in 2 of 3 five-minute windows', () => {
    const { props } = alarm(template, 'WorkloadbatchFailureRatio');
    expect(expression(props)).toBe('IF((FILL(ok, 0) + FILL(ko, 0)) > 0, FILL(ko, 0) / (FILL(ok, 0) + FILL(ko, 0)), 0)');
    expect(stats(props)).toEqual(['AiBurst/JobsSucceeded', 'AiBurst/JobsFailed']);
    expect(props.Metrics.filter((m: any) => m.MetricStat).every((m: any) => m.MetricStat.Period === 300 && m.MetricStat.Stat === 'Sum')).toBe(true);
    expect(props).toMatchObject({ Threshold: 0.25, EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching' });
    expect(alarm(template, 'WorkloadrealtimeFailureRatio').props.Threshold).toBe(0.1);
  });

  test('spend rate over the daily budget, per workload and for the platform', () => {
    const w = alarm(template, 'WorkloadrealtimeSpendOverBudget').props;
    expect(expression(w)).toBe('FILL(s, 0) * 96');
    expect(stats(w)).toEqual(['AiBurst/SpendUsd']);
    expect(w.Metrics.find((m: any) => m.MetricStat).MetricStat.Period).toBe(900);
    expect(w).toMatchObject({
      Threshold: 50,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
    const p = alarm(template, 'ObsSpendOverBudget').props;
    expect(expression(p)).toBe('(FILL(s0, 0) + FILL(s1, 0)) * 96');
    expect(p.Threshold).toBe(200);
    expect(() => alarm(template, 'WorkloadbatchSpendOverBudget')).toThrow(/none/);
  });

  test('spend data missing for 5 minutes is a breach: the reporter publishes 0 when nothing runs', () => {
    const { props } = alarm(template, 'WorkloadbatchSpendDataMissing');
    expect(props).toMatchObject({
      Namespace: 'AiBurst',
      MetricName: 'SpendUsd',
      Statistic: 'SampleCount',
      Dimensions: [{ Name: 'Workload', Value: 'batch' }],
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 5,
      TreatMissingData: 'breaching',
    });
  });

  test('CapacityManager errors in 3 of 5 minutes', () => {
    const { props } = alarm(template, 'WorkloadrealtimeCapacityManagerErrors');
    expect(props).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
    expect(props.Dimensions).toHaveLength(1);
    expect(props.Dimensions[0].Name).toBe('FunctionName');
    expect(JSON.stringify(props.Dimensions[0].Value)).toContain('function:realtime-capacity-manager');
    expect(() => alarm(template, 'WorkloadbatchCapacityManagerErrors')).toThrow(/none/);
  });

  test('every alarm of the stack is exposed and notifies the topic on ALARM and on OK', () => {
    const all = template.findResources('AWS::CloudWatch::Alarm');
    expect(obs.alarms).toHaveLength(Object.keys(all).length);
    expect(Object.keys(all)).toHaveLength(20);
    for (const a of Object.values(all)) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: topic }]);
      expect(a.Properties.OKActions).toEqual([{ Ref: topic }]);
    }
    expect(Object.keys(obs.workloadAlarms)).toEqual(['realtime', 'batch']);
    expect(obs.workloadAlarms.batch.spendOverBudget).toBeUndefined();
  });

  test('every alarm description says what it means and what to do', () => {
    for (const a of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(a.Properties.AlarmDescription.length).toBeGreaterThan(120);
      expect(a.Properties.AlarmDescription).toMatch(/check|see|read|open|look|lower|fix/i);
    }
  });

  test('the created topic is encrypted with a rotating key CloudWatch may use, and TLS-only', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('AlarmTopicKey'), 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': '123456789012' } }),
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test('cost tags: workload alarms carry their workload, shared resources the shared value', () => {
    expect(alarm(template, 'WorkloadbatchParkedJobs').props.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'ai-burst:workload', Value: 'batch' },
        { Key: 'ai-burst:cost-center', Value: 'research' },
      ]),
    );
    expect(alarm(template, 'ObsSpendOverBudget').props.Tags).toEqual(expect.arrayContaining([{ Key: 'ai-burst:workload', Value: '_shared' }]));
    for (const type of ['AWS::SNS::Topic', 'AWS::KMS::Key']) {
      expect(Object.values(template.findResources(type))[0].Properties.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'ai-burst:workload', Value: '_shared' },
          { Key: 'ai-burst:cost-center', Value: 'research' },
        ]),
      );
    }
  });

  test('zero unacknowledged cdk-nag findings', () => expectNagClean(stack));
});

describe('AiObservability options', () => {
  test('a given topic receives the actions and none is created; an Auto Scaling group construct names the group', () => {
    const { stack } = testStack();
    const queue = new JobQueue(stack, 'Q', { workload: 'solo' });
    const topic = sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:us-east-1:123456789012:ops');
    const group = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'G', 'solo-fleet');
    const obs = new AiObservability(stack, 'Obs', { workloads: [{ queue, autoScalingGroup: group }], alarmTopic: topic, dashboardName: 'ai-burst' });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SNS::Topic', 0);
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'ai-burst' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: ['arn:aws:sns:us-east-1:123456789012:ops'] });
    expect(alarm(t, 'FleetIdle').props.Metrics[1].MetricStat.Metric.Dimensions).toEqual([{ Name: 'AutoScalingGroupName', Value: 'solo-fleet' }]);
    expect(obs.alarms).toHaveLength(7);
    expect(obs.alarmTopic).toBe(topic);
    expectNagClean(stack);
  });

  test('without a topic, alarms have no actions; the namespace follows the cost reporter', () => {
    const { stack } = testStack();
    const queue = new JobQueue(stack, 'Q', { workload: 'solo' });
    const costReporter = new CostReporter(stack, 'Cost', { workloads: ['solo'], metricNamespace: 'Team/Ai' });
    const obs = new AiObservability(stack, 'Obs', { workloads: [{ queue, autoScalingGroupName: 'g' }], costReporter });
    expect(obs.metricNamespace).toBe('Team/Ai');
    const t = Template.fromStack(stack);
    for (const a of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) expect(a.Properties.AlarmActions).toBeUndefined();
    expect(alarm(t, 'SpendDataMissing').props.Namespace).toBe('Team/Ai');
    const [body] = dashboardBodies(t);
    expect(JSON.stringify(body)).toContain(`SEARCH('{\\"Team/Ai\\",Agent,Workload} MetricName=\\"SpendUsd\\"`);
  });
});

describe('AiObservability fails on invalid props', () => {
  function build(props: Partial<AiObservabilityProps>, workload: Partial<ObservedWorkload> = {}, queues = ['a']) {
    const { stack } = testStack();
    const workloads = queues.map((name, i) => ({
      queue: new JobQueue(stack, `Q${i}`, { workload: name }),
      autoScalingGroupName: `${name}-asg`,
      ...workload,
    }));
    return new AiObservability(stack, 'Obs', { workloads, ...props });
  }
  const eleven = Array.from({ length: 11 }, (_, i) => `w${i}`);

  test.each<[string, () => unknown, RegExp]>([
    ['no workloads', () => build({ workloads: [] }), /AiObservability: workloads must list 1 to 25 workloads \(got 0\)/],
    [
      'no group',
      () => build({}, { autoScalingGroupName: undefined }),
      /workloads\["a"\] needs exactly one of autoScalingGroup and autoScalingGroupName/,
    ],
    ['a workload twice', () => build({}, {}, ['a', 'a']), /AiObservability: workload "a" is listed twice/],
    [
      'an SLO under a minute',
      () => build({}, { oldestJobAgeSlo: Duration.seconds(30) }),
      /oldestJobAgeSlo must be between 1 minute and 1 day \(got 30 seconds\)/,
    ],
    [
      'an idle alarm under 5 minutes',
      () => build({}, { idleFleetAlarmAfter: Duration.minutes(2) }),
      /idleFleetAlarmAfter must be between 5 minutes and 1 day \(got 2 minutes\)/,
    ],
    ['a failure ratio over 1', () => build({}, { failureRatioThreshold: 1.5 }), /failureRatioThreshold must be between 0.01 and 1 \(got 1.5\)/],
    ['a zero budget', () => build({}, { dailyBudgetUsd: 0 }), /dailyBudgetUsd must be between 0.01 and 10000000 USD \(got 0 USD\)/],
    ['eleven named agents', () => build({}, { agents: eleven }), /agents lists at most 10 agents \(got 11\)/],
    ['a bad agent name', () => build({}, { agents: ['-x'] }), /agents "-x" is invalid/],
    ['a platform budget over 11 workloads', () => build({ dailyBudgetUsd: 10 }, {}, eleven), /dailyBudgetUsd covers at most 10 workloads .*got 11/],
    [
      'a topic and createAlarmTopic',
      () => build({ createAlarmTopic: true, alarmTopic: {} as sns.ITopic }),
      /give alarmTopic or createAlarmTopic, not both/,
    ],
    ['a topic key without createAlarmTopic', () => build({ alarmTopicKey: {} as never }), /alarmTopicKey is only used with createAlarmTopic: true/],
    ['a bad dashboard name', () => build({ dashboardName: 'my dashboard' }), /dashboardName "my dashboard" is invalid/],
    ['an AWS/ namespace', () => build({ metricNamespace: 'AWS/Foo' }), /metricNamespace "AWS\/Foo" is invalid/],
  ])('fails if %s', (_name, make, message) => {
    expect(make).toThrow(message);
  });

  test('fails if a workload is not covered by the cost reporter, or the namespaces differ', () => {
    const { stack } = testStack();
    const queue = new JobQueue(stack, 'Q', { workload: 'solo' });
    const costReporter = new CostReporter(stack, 'Cost', { workloads: ['other'] });
    expect(() => new AiObservability(stack, 'Obs', { workloads: [{ queue, autoScalingGroupName: 'g' }], costReporter })).toThrow(
      /the cost reporter does not cover "solo"; add them to its workloads/,
    );
    const covering = new CostReporter(stack, 'Cost2', { workloads: ['solo'] });
    expect(
      () => new AiObservability(stack, 'Obs2', { workloads: [{ queue, autoScalingGroupName: 'g' }], costReporter: covering, metricNamespace: 'X' }),
    ).toThrow(/metricNamespace "X" differs from the cost reporter's "AiBurst"/);
  });
});
