import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { JobQueue, JobStore, RetryHandler, RetryHandlerProps } from '../../lib';
import { expectNagClean, testStack } from '../support/stacks';

function build(props: Partial<RetryHandlerProps> = {}, opts: { key?: boolean; bus?: boolean; operator?: boolean } = {}) {
  const { stack } = testStack();
  const key = opts.key ? new kms.Key(stack, 'Key', { enableKeyRotation: true }) : undefined;
  const jobQueue = new JobQueue(stack, 'Jobs', { workload: 'agents', encryptionKey: key });
  const jobStore = new JobStore(stack, 'Store');
  const eventBus = opts.bus ? new events.EventBus(stack, 'Bus') : undefined;
  const handler = new RetryHandler(stack, 'Retry', { jobQueue, jobStore, eventBus, ...props });
  const operator = opts.operator ? new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() }) : undefined;
  if (operator) handler.grantRedrive(operator);
  return { stack, handler, jobQueue, operator, template: Template.fromStack(stack) };
}

function statementsOf(template: Template, stack: Stack, role: iam.IRole): any[] {
  const roleId = stack.getLogicalId((role as iam.Role).node.defaultChild as iam.CfnRole);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

const logicalId = (stack: Stack, c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as any);

describe('RetryHandler defaults', () => {
  const { stack, handler, jobQueue, operator, template } = build({}, { operator: true });
  const fnId = logicalId(stack, handler.function);
  const dlqId = logicalId(stack, jobQueue.deadLetterQueue);
  const parkingId = logicalId(stack, jobQueue.parkingQueue);
  const workIds = jobQueue.queues.map((q) => logicalId(stack, q));

  test("consumes the workload's dead-letter queue with partial batch responses", () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
      FunctionName: { Ref: fnId },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  });

  test("the function: Node 24, timeout ≤ 50 s (a sixth of the DLQ's 5-minute visibility), configured through the contract's env names", () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Timeout: 30,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: {
          AI_BURST_WORKLOAD: 'agents',
          AI_BURST_JOB_TABLE: Match.anyValue(),
          AI_BURST_QUEUE_URLS: Match.anyValue(),
          AI_BURST_PARKING_QUEUE_URL: { Ref: parkingId },
          AI_BURST_EVENT_BUS: 'default',
          AI_BURST_MAX_ATTEMPTS: '3',
          AI_BURST_BACKOFF_POLICY: '{"baseSeconds":10,"maxSeconds":3600}',
          AI_BURST_METRIC_NAMESPACE: 'AiBurst',
        },
      },
    });
    expect(template.findResources('AWS::SQS::Queue')[dlqId].Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * 30);
  });

  test('the queue URLs map each priority to its queue, in order', () => {
    const fn = template.findResources('AWS::Lambda::Function')[fnId];
    expect(JSON.stringify(fn.Properties.Environment.Variables.AI_BURST_QUEUE_URLS)).toBe(
      JSON.stringify({
        'Fn::Join': ['', ['{"high":"', { Ref: workIds[0] }, '","normal":"', { Ref: workIds[1] }, '"}']],
      }),
    );
  });

  test("least privilege: consume the DLQ, send to the work and parking queues, this workload's records, JobFailed on the default bus only", () => {
    const statements = statementsOf(template, stack, handler.role);
    for (const s of statements) for (const a of [s.Action].flat()) expect(a).not.toContain('*');
    const queueStatements = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('sqs:')));
    expect(queueStatements).toEqual([
      expect.objectContaining({
        Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: { 'Fn::GetAtt': [dlqId, 'Arn'] },
      }),
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Resource: [...workIds, parkingId].map((q) => ({ 'Fn::GetAtt': [q, 'Arn'] })),
      }),
    ]);
    expect(statements.filter((s) => [s.Action].flat().includes('dynamodb:UpdateItem'))).toEqual([
      expect.objectContaining({ Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['agents.*'] } } }),
    ]);
    expect(statements.filter((s) => [s.Action].flat().includes('events:PutEvents'))).toEqual([
      {
        Action: 'events:PutEvents',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:us-east-1:123456789012:event-bus/default']] },
        Condition: { StringEquals: { 'events:source': 'cdk-ai-burst' } },
      },
    ]);
    for (const s of statements.filter((x) => x.Resource === '*')) expect(s.Action).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
  });

  test("the redrive function holds JobQueue.grantRedrive and the workload's record grant; grantRedrive gives invoke on it only", () => {
    const redriveRole = handler.redriveFunction.role!;
    const statements = statementsOf(template, stack, redriveRole);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks', 'sqs:CancelMessageMoveTask'],
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:SendMessage']),
        Resource: workIds.map((q) => ({ 'Fn::GetAtt': [q, 'Arn'] })),
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['agents.*'] } } }),
    );
    for (const s of statements) for (const a of [s.Action].flat()) expect(a).not.toContain('*');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Timeout: 300,
      Environment: { Variables: Match.objectLike({ AI_BURST_PARKING_QUEUE_URL: { Ref: parkingId } }) },
    });
    // Nothing invokes it but principals granted by grantRedrive.
    expect(Object.values(template.findResources('AWS::Lambda::Permission'))).toEqual([]);

    expect(statementsOf(template, stack, operator!)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalId(stack, handler.redriveFunction), 'Arn'] },
      },
    ]);
  });

  test("metrics use the contract's namespace and the Workload dimension", () => {
    for (const [m, name] of [
      [handler.metricJobsRetried(), 'JobsRetried'],
      [handler.metricJobsParked(), 'JobsParked'],
    ] as const) {
      expect(stack.resolve(m.toMetricConfig().metricStat)).toMatchObject({
        namespace: 'AiBurst',
        metricName: name,
        dimensions: [{ name: 'Workload', value: 'agents' }],
        statistic: 'Sum',
      });
    }
  });
});

describe('RetryHandler nag', () => {
  test('zero unacknowledged cdk-nag findings', () => {
    const { stack } = build({}, { operator: true });
    expectNagClean(stack);
  });
});

describe('RetryHandler options', () => {
  test('a custom bus, budget, backoff and batch size', () => {
    const { stack, handler, template } = build(
      { maxAttempts: 5, backoffBase: Duration.seconds(30), backoffMax: Duration.hours(6), batchSize: 5 },
      { bus: true },
    );
    const busId = Object.keys(template.findResources('AWS::Events::EventBus'))[0];
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          AI_BURST_EVENT_BUS: { Ref: busId },
          AI_BURST_MAX_ATTEMPTS: '5',
          AI_BURST_BACKOFF_POLICY: '{"baseSeconds":30,"maxSeconds":21600}',
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 5 });
    expect(statementsOf(template, stack, handler.role).filter((s) => [s.Action].flat().includes('events:PutEvents'))[0].Resource).toEqual({
      'Fn::GetAtt': [busId, 'Arn'],
    });
  });

  test('a KMS-encrypted job queue: encrypt for the queues it sends to, decrypt for the DLQ it reads', () => {
    const { stack, handler, template } = build({}, { key: true });
    const kmsActions = statementsOf(template, stack, handler.role)
      .filter((s) => [s.Action].flat().some((a: string) => a.startsWith('kms:')))
      .flatMap((s) => [s.Action].flat());
    expect(new Set(kmsActions)).toEqual(new Set(['kms:Decrypt', 'kms:GenerateDataKey']));
    expectNagClean(stack);
  });

  test('fails if maxAttempts, batchSize or the backoff are out of range', () => {
    expect(() => build({ maxAttempts: 0 })).toThrow(/RetryHandler: maxAttempts must be an integer between 1 and 100 \(got 0\)/);
    expect(() => build({ batchSize: 11 })).toThrow(/RetryHandler: batchSize must be an integer between 1 and 10 \(got 11\)/);
    expect(() => build({ backoffBase: Duration.minutes(20) })).toThrow(
      /RetryHandler: backoffBase must be between 1 second and 15 minutes \(got 20 minutes\)/,
    );
    expect(() => build({ backoffBase: Duration.minutes(5), backoffMax: Duration.minutes(1) })).toThrow(
      /backoffMax \(1 minute\) must be at least backoffBase \(5 minutes\)/,
    );
  });
});
