import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { CostReporter, CostReporterProps } from '../../lib';
import { NAG_PROOFS, policyStatements } from '../support/nag';
import { expectNagClean, testStack } from '../support/stacks';

function build(props: Partial<CostReporterProps> = {}) {
  const { stack } = testStack();
  const reporter = new CostReporter(stack, 'Cost', { workloads: ['realtime', 'batch'], costCenter: 'research', ...props });
  return { stack, reporter, template: Template.fromStack(stack) };
}

describe('CostReporter defaults', () => {
  const { stack, reporter, template } = build();
  const fnId = Object.keys(template.findResources('AWS::Lambda::Function'))[0];

  test('one Node 24 function, bounded under the one-minute tick, with the workloads and namespace in its environment', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Timeout: 50,
      MemorySize: 256,
      TracingConfig: { Mode: 'Active' },
      Environment: { Variables: { AI_BURST_METRIC_NAMESPACE: 'AiBurst', AI_BURST_WORKLOADS: '["realtime","batch"]' } },
    });
    expect(reporter.metricNamespace).toBe('AiBurst');
  });

  test('an EventBridge schedule runs it every minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } })],
    });
  });

  test('a failed run is not retried (a retry could publish the same minute twice)', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0 });
  });

  test('IAM: exact read actions on "*", PutMetricData only in the library namespace, logs only to its log group', () => {
    const statements = policyStatements(template);
    const byAction = (a: string) => statements.filter((s) => [s.Action].flat().includes(a));
    expect(byAction('ec2:DescribeInstances')[0]).toMatchObject({ Action: ['ec2:DescribeInstances', 'ec2:DescribeSpotPriceHistory'], Resource: '*' });
    expect(byAction('cloudwatch:GetMetricData')[0]).toMatchObject({ Action: ['cloudwatch:ListMetrics', 'cloudwatch:GetMetricData'], Resource: '*' });
    expect(byAction('cloudwatch:PutMetricData')).toEqual([
      expect.objectContaining({
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'AiBurst' } },
      }),
    ]);
    const logStatement = byAction('logs:PutLogEvents')[0];
    expect(JSON.stringify(logStatement.Resource)).toContain('CostLogs');
    for (const s of statements) for (const a of [s.Action].flat()) expect(a).not.toMatch(/\*/);
  });

  test('its role carries no managed policy', () => {
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  test('logs are kept a month', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('its own alarm fires when runs fail in 3 of 5 minutes; silence is not a failure', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
      AlarmDescription: Match.stringLikeRegexp('CostReporter runs failed'),
    });
    expect(reporter.errorsAlarm).toBeDefined();
  });

  test('cost tags: the shared value for a multi-workload reporter, and the cost center', () => {
    for (const type of ['AWS::Lambda::Function', 'AWS::IAM::Role', 'AWS::Logs::LogGroup', 'AWS::CloudWatch::Alarm']) {
      const [resource] = Object.values(template.findResources(type));
      expect(resource.Properties.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'ai-burst:workload', Value: '_shared' },
          { Key: 'ai-burst:cost-center', Value: 'research' },
        ]),
      );
    }
  });

  test("metricSpendUsd reads the contract's dimension sets", () => {
    expect(reporter.metricSpendUsd('realtime').dimensions).toEqual({ Workload: 'realtime' });
    expect(reporter.metricSpendUsd('realtime', { agent: 'a' }).dimensions).toEqual({ Workload: 'realtime', Agent: 'a' });
    expect(reporter.metricSpendUsd('realtime', { priceSource: 'snapshot' }).dimensions).toEqual({ Workload: 'realtime', PriceSource: 'snapshot' });
    expect(reporter.metricSpendUsd('realtime').statistic).toBe('Sum');
  });

  test('zero unacknowledged cdk-nag findings', () => expectNagClean(stack));
});

describe('CostReporter options', () => {
  test('a custom namespace reaches both the environment and the PutMetricData condition', () => {
    const { template } = build({ metricNamespace: 'Team/AiBurst', logRetention: logs.RetentionDays.ONE_WEEK });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ AI_BURST_METRIC_NAMESPACE: 'Team/AiBurst' }) },
    });
    expect(policyStatements(template).find((s) => [s.Action].flat().includes('cloudwatch:PutMetricData'))!.Condition).toEqual({
      StringEquals: { 'cloudwatch:namespace': 'Team/AiBurst' },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  test('a single-workload reporter is tagged with that workload', () => {
    const { template } = build({ workloads: ['realtime'] });
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(fn.Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'ai-burst:workload', Value: 'realtime' }]));
  });
});

describe('CostReporter fails on invalid props', () => {
  test.each<[string, Partial<CostReporterProps>, RegExp]>([
    ['no workloads', { workloads: [] }, /CostReporter: workloads must list 1 to 100 names \(got 0\)/],
    ['a bad workload name', { workloads: ['Realtime'] }, /CostReporter: workloads "Realtime" is invalid/],
    ['a duplicate workload', { workloads: ['a', 'a'] }, /workloads lists "a" twice/],
    ['an AWS/ namespace', { metricNamespace: 'AWS/EC2' }, /metricNamespace "AWS\/EC2" is invalid/],
    ['an empty namespace', { metricNamespace: '' }, /metricNamespace "" is invalid/],
  ])('fails if %s', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

describe('CostReporter nag proofs can fail', () => {
  test('the no-DLQ proofs reject the template once its Errors alarm is gone', () => {
    const { template } = build();
    const json = JSON.parse(JSON.stringify(template.toJSON()));
    for (const [id, r] of Object.entries<any>(json.Resources)) if (r.Type === 'AWS::CloudWatch::Alarm') delete json.Resources[id];
    const stripped = Template.fromJSON(json);
    for (const rule of ['Serverless-LambdaDLQ', 'Serverless-LambdaAsyncFailureDestination', 'Serverless-EventBusDLQ']) {
      expect(() => NAG_PROOFS[rule].prove(stripped)).toThrow(/matches no kind in NO_DLQ_FUNCTION_KINDS/);
      expect(() => NAG_PROOFS[rule].prove(template)).not.toThrow();
    }
  });
});
