import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { GpuFleet, InterruptionDrainer, InterruptionDrainerProps, JobQueue, JobStore, Tags } from '../../lib';
import { WORKER_FIXTURE } from '../compute/support';
import { expectNagClean, testStack } from '../support/stacks';

function build(props: Partial<InterruptionDrainerProps> = {}, withKey = false) {
  const { stack } = testStack();
  const key = withKey ? new kms.Key(stack, 'Key', { enableKeyRotation: true }) : undefined;
  const jobQueue = new JobQueue(stack, 'Jobs', { workload: 'agents', encryptionKey: key });
  const jobStore = new JobStore(stack, 'Store');
  const autoScalingGroup = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Group', 'gpu-fleet');
  const drainer = new InterruptionDrainer(stack, 'Drainer', {
    autoScalingGroup,
    lifecycleHookName: 'drain-on-terminate',
    jobQueue,
    jobStore,
    costCenter: 'research',
    ...props,
  });
  return { stack, drainer, jobQueue, template: Template.fromStack(stack) };
}

/** Statements of the policies attached to a role. */
function statementsOf(template: Template, stack: Stack, role: iam.IRole): any[] {
  const roleId = stack.getLogicalId((role as iam.Role).node.defaultChild as iam.CfnRole);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

const id = (template: Template, type: string, prefix: string) => Object.keys(template.findResources(type)).find((k) => k.startsWith(prefix))!;

describe('InterruptionDrainer defaults', () => {
  const { stack, drainer, template } = build();
  const fnId = stack.getLogicalId(drainer.function.node.defaultChild as any);
  const dlqId = stack.getLogicalId(drainer.deadLetterQueue.node.defaultChild as any);
  const target = {
    Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
    DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
    RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
  };

  test('a rule for the spot interruption warning, targeting the function with a DLQ and bounded retries', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] },
      State: 'ENABLED',
      Targets: [Match.objectLike(target)],
    });
  });

  test('a rule for the rebalance recommendation, same target', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ec2'], 'detail-type': ['EC2 Instance Rebalance Recommendation'] },
      Targets: [Match.objectLike(target)],
    });
  });

  test("a rule for this group's terminate lifecycle action, filtered by group and hook name in the pattern", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: ['gpu-fleet'], LifecycleHookName: ['drain-on-terminate'] },
      },
      Targets: [Match.objectLike(target)],
    });
    template.resourceCountIs('AWS::Events::Rule', 3);
  });

  test('only EventBridge, from exactly these rules, may invoke the function', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    expect(permissions).toHaveLength(3);
    const ruleIds = Object.keys(template.findResources('AWS::Events::Rule'));
    for (const p of permissions) {
      expect(p.Properties).toMatchObject({
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      });
      expect(ruleIds).toContain(p.Properties.SourceArn['Fn::GetAtt'][0]);
    }
  });

  test("the function: Node 24, one vCPU (1769 MB ≥ 1024 MB), timeout = drain timeout + 30 s, traced, its own DLQ, configured through the contract's env names", () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      MemorySize: 1769,
      Timeout: 150,
      TracingConfig: { Mode: 'Active' },
      DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      Environment: {
        Variables: {
          AI_BURST_WORKLOAD: 'agents',
          AI_BURST_JOB_TABLE: { Ref: id(template, 'AWS::DynamoDB::Table', 'StoreTable') },
          AI_BURST_ASG_NAME: 'gpu-fleet',
          AI_BURST_LIFECYCLE_HOOK_NAME: 'drain-on-terminate',
          AI_BURST_DRAIN_TIMEOUT_SECONDS: '120',
          AI_BURST_LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS: '180',
          AI_BURST_METRIC_NAMESPACE: 'AiBurst',
        },
      },
    });
  });

  test("the DLQ is encrypted, TLS-only, keeps events 14 days, and only these rules' EventBridge deliveries may write to it", () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86400 });
    const policy = Object.values(template.findResources('AWS::SQS::QueuePolicy')).find((p) => p.Properties.Queues.some((q: any) => q.Ref === dlqId))!;
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    const allows = statements.filter((s: any) => s.Effect === 'Allow');
    expect(allows).toHaveLength(3);
    for (const s of allows) {
      expect(s).toMatchObject({ Action: 'sqs:SendMessage', Principal: { Service: 'events.amazonaws.com' } });
      expect(s.Condition.ArnEquals['aws:SourceArn']['Fn::GetAtt'][1]).toBe('Arn');
    }
  });

  test("least privilege: explicit actions, each on this workload's or this group's resources only", () => {
    const statements = statementsOf(template, stack, drainer.role);
    for (const s of statements) for (const a of [s.Action].flat()) expect(a).not.toContain('*');
    const byAction = (a: string) => statements.filter((s) => [s.Action].flat().includes(a));
    // Records: the instance index, and this workload's ids only.
    expect(byAction('dynamodb:Query')).toEqual([
      expect.objectContaining({
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id(template, 'AWS::DynamoDB::Table', 'StoreTable'), 'Arn'] }, '/index/byInstance']] },
      }),
    ]);
    expect(byAction('dynamodb:UpdateItem')).toEqual([
      expect.objectContaining({ Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['agents.*'] } } }),
    ]);
    // Queues: send the copy, delete the original, on the work queues only (not the DLQ or parking queue).
    const queueStatement = statements.find((s) => [s.Action].flat().includes('sqs:DeleteMessage'));
    expect(queueStatement.Action).toEqual(['sqs:SendMessage', 'sqs:DeleteMessage']);
    expect(queueStatement.Resource.map((r: any) => r['Fn::GetAtt'][0]).sort()).toEqual(
      Object.keys(template.findResources('AWS::SQS::Queue'))
        .filter((k) => k.startsWith('JobsQueue'))
        .sort(),
    );
    // Lifecycle: this group only.
    expect(byAction('autoscaling:CompleteLifecycleAction')).toEqual([
      {
        Action: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/gpu-fleet'],
          ],
        },
      },
    ]);
    // Draining tag: only on instances of this group, only the draining key.
    expect(byAction('ec2:CreateTags')).toEqual([
      {
        Action: 'ec2:CreateTags',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:us-east-1:123456789012:instance/*']] },
        Condition: {
          StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': 'gpu-fleet' },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.DRAINING] },
        },
      },
    ]);
    // Nothing else: no Describe calls, no "*" except X-Ray's write-only actions.
    for (const s of statements.filter((x) => x.Resource === '*')) expect(s.Action).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
    expect(statements.flatMap((s) => [s.Action].flat()).filter((a) => /Describe/.test(a))).toEqual([]);
  });

  test("log writes go to the function's own log group; no managed policies", () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: Match.absent(),
      AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] }),
    });
    const logs = statementsOf(template, stack, drainer.role).find((s) => [s.Action].flat().includes('logs:PutLogEvents'));
    expect(logs.Resource).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(drainer.logGroup.node.defaultChild as any), 'Arn'] });
  });

  test("metrics use the contract's namespace and the Workload dimension", () => {
    expect(stack.resolve(drainer.metricJobsRequeued().toMetricConfig().metricStat)).toMatchObject({
      namespace: 'AiBurst',
      metricName: 'JobsRequeued',
      dimensions: [{ name: 'Workload', value: 'agents' }],
      statistic: 'Sum',
    });
    expect(drainer.metricJobsInterrupted().metricName).toBe('JobsInterrupted');
    expect(stack.resolve(drainer.metricFailedEvents().dimensions)).toEqual({ QueueName: { 'Fn::GetAtt': [dlqId, 'QueueName'] } });
  });

  test('cost tags on the function and the DLQ', () => {
    const tags = [
      { Key: 'ai-burst:cost-center', Value: 'research' },
      { Key: 'ai-burst:workload', Value: 'agents' },
    ];
    template.hasResourceProperties('AWS::Lambda::Function', { Tags: Match.arrayWith(tags) });
    expect(template.findResources('AWS::SQS::Queue')[dlqId].Properties.Tags).toEqual(expect.arrayContaining(tags));
  });

  test('zero unacknowledged cdk-nag findings', () => expectNagClean(stack));
});

describe('InterruptionDrainer options', () => {
  test('a KMS-encrypted job queue: the drainer may encrypt with its key (GenerateDataKey + Decrypt), nothing more', () => {
    const { stack, drainer, template } = build({}, true);
    const kmsStatements = statementsOf(template, stack, drainer.role).filter((s) => [s.Action].flat().some((a: string) => a.startsWith('kms:')));
    expect(kmsStatements).toEqual([
      expect.objectContaining({ Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] } }),
    ]);
    expectNagClean(stack);
  });

  test('drainTimeout and the hook heartbeat flow to the function', () => {
    const { template } = build({ drainTimeout: Duration.minutes(5), lifecycleHookHeartbeat: Duration.minutes(10) });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 330,
      Environment: { Variables: Match.objectLike({ AI_BURST_DRAIN_TIMEOUT_SECONDS: '300', AI_BURST_LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS: '600' }) },
    });
  });

  test('drains a GpuFleet: its group, hook and heartbeat plug in as they are', () => {
    const { stack } = testStack();
    const jobQueue = new JobQueue(stack, 'Jobs', { workload: 'agents' });
    const jobStore = new JobStore(stack, 'Store');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    vpc.addFlowLog('FlowLog');
    const fleet = new GpuFleet(stack, 'Fleet', { vpc, jobQueue, jobStore, workerEntry: WORKER_FIXTURE });
    new InterruptionDrainer(stack, 'Drainer', {
      autoScalingGroup: fleet.autoScalingGroup,
      lifecycleHookName: fleet.terminationHookName,
      lifecycleHookHeartbeat: fleet.terminationHookHeartbeat,
      jobQueue,
      jobStore,
    });
    const template = Template.fromStack(stack);
    const groupId = id(template, 'AWS::AutoScaling::AutoScalingGroup', 'Fleet');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { AutoScalingGroupName: [{ Ref: groupId }], LifecycleHookName: [fleet.terminationHookName] } }),
    });
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleHookName: fleet.terminationHookName,
      AutoScalingGroupName: { Ref: groupId },
    });
    expectNagClean(stack);
  });

  test('fails if drainTimeout is out of range', () => {
    expect(() => build({ drainTimeout: Duration.minutes(20) })).toThrow(
      /InterruptionDrainer: drainTimeout must be between 10 seconds and 14 minutes \(got 20 minutes\)/,
    );
    expect(() => build({ drainTimeout: Duration.seconds(5) })).toThrow(/drainTimeout must be between/);
  });

  test('fails if lifecycleHookHeartbeat is out of range', () => {
    expect(() => build({ lifecycleHookHeartbeat: Duration.seconds(10) })).toThrow(
      /InterruptionDrainer: lifecycleHookHeartbeat must be between 30 seconds and 2 hours \(got 10 seconds\)/,
    );
  });

  /** A group with a terminate hook of `hookHeartbeat`, and a drainer for it. */
  function drainHook(hookHeartbeat: Duration, drainerHeartbeat?: Duration) {
    const { stack } = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
    const group = new autoscaling.AutoScalingGroup(stack, 'Group', {
      vpc,
      instanceType: new ec2.InstanceType('g5.xlarge'),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    });
    group.addLifecycleHook('Hook', {
      lifecycleHookName: 'drain',
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: hookHeartbeat,
    });
    const drainer = new InterruptionDrainer(stack, 'Drainer', {
      autoScalingGroup: group,
      lifecycleHookName: 'drain',
      lifecycleHookHeartbeat: drainerHeartbeat,
      jobQueue: new JobQueue(stack, 'Jobs', { workload: 'agents' }),
      jobStore: new JobStore(stack, 'Store'),
    });
    return { stack, drainer };
  }

  test("fails if lifecycleHookHeartbeat is longer than the heartbeat of the group's hook (the hook would time out between heartbeats)", () => {
    expect(() => drainHook(Duration.minutes(1), Duration.minutes(10))).toThrow(
      /InterruptionDrainer: lifecycleHookHeartbeat \(10 minutes\) must not exceed the heartbeat timeout of the group's lifecycle hook "drain" /,
    );
    expect(() => drainHook(Duration.minutes(1), Duration.minutes(10))).toThrow(/\(1 minute\): the hook would time out between two heartbeats/);
  });

  test("without lifecycleHookHeartbeat the drainer takes the hook's own heartbeat", () => {
    const { stack, drainer } = drainHook(Duration.minutes(1));
    const fn = Template.fromStack(stack).findResources('AWS::Lambda::Function', {
      Properties: { FunctionName: Match.absent(), Description: Match.stringLikeRegexp('requeues the agents jobs') },
    });
    expect(Object.values(fn)[0].Properties.Environment.Variables.AI_BURST_LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS).toBe('60');
    expect(drainer.workload).toBe('agents');
  });

  test("a drainer heartbeat equal to or shorter than the hook's is accepted", () => {
    expect(() => drainHook(Duration.minutes(5), Duration.minutes(5))).not.toThrow();
    expect(() => drainHook(Duration.minutes(5), Duration.minutes(2))).not.toThrow();
  });

  test('fails if lifecycleHookName is empty', () => {
    expect(() => build({ lifecycleHookName: '' })).toThrow(/InterruptionDrainer: lifecycleHookName must name the group's terminate lifecycle hook/);
  });
});
