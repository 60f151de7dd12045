import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { JobQueue, JobQueueAttributes, JobQueueProps } from '../../lib';
import { expectNagClean, testStack } from '../support/stacks';

function build(props: Partial<JobQueueProps> = {}) {
  const { stack } = testStack();
  const queue = new JobQueue(stack, 'Jobs', { workload: 'agents', ...props });
  return { stack, queue, template: Template.fromStack(stack) };
}

function queuesOf(template: Template) {
  return template.findResources('AWS::SQS::Queue');
}

describe('JobQueue defaults', () => {
  const { stack, queue, template } = build({ costCenter: 'research' });
  const queues = queuesOf(template);
  const ids = Object.keys(queues);
  const dlqId = ids.find((id) => id.includes('DeadLetterQueue'))!;
  const parkingId = ids.find((id) => id.includes('ParkingQueue'))!;
  const workIds = ids.filter((id) => id !== dlqId && id !== parkingId);

  test('creates one queue per default priority plus a DLQ and a parking queue', () => {
    expect(queue.priorities).toEqual(['high', 'normal']);
    expect(workIds).toHaveLength(2);
    expect(dlqId).toBeDefined();
    expect(parkingId).toBeDefined();
  });

  test('every queue uses SQS-managed SSE', () => {
    for (const q of Object.values(queues)) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
  });

  test('every queue has a TLS-only policy', () => {
    const policies = template.findResources('AWS::SQS::QueuePolicy');
    const protectedQueues = new Set<string>();
    for (const p of Object.values(policies)) {
      const denies = p.Properties.PolicyDocument.Statement.filter(
        (s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      );
      if (denies.length > 0) for (const q of p.Properties.Queues) protectedQueues.add(q.Ref);
    }
    expect([...protectedQueues].sort()).toEqual([...ids].sort());
  });

  test('every work queue redrives to the DLQ after 5 receives', () => {
    for (const id of workIds) {
      expect(queues[id].Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: 5,
      });
    }
  });

  test('the DLQ parks what its consumer keeps failing on', () => {
    expect(queues[dlqId].Properties.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': [parkingId, 'Arn'] });
  });

  test("DLQ and parking retention is longer than the work queues'", () => {
    const work = Math.max(...workIds.map((id) => queues[id].Properties.MessageRetentionPeriod));
    expect(work).toBe(4 * 86400);
    expect(queues[dlqId].Properties.MessageRetentionPeriod).toBeGreaterThan(work);
    expect(queues[parkingId].Properties.MessageRetentionPeriod).toBeGreaterThan(work);
  });

  test('visibility timeout is a lease of min(jobTimeout, 15 min) and receives long-poll', () => {
    expect(queue.jobTimeout.toSeconds()).toBe(3600);
    for (const id of workIds) {
      expect(queues[id].Properties.VisibilityTimeout).toBe(900);
      expect(queues[id].Properties.ReceiveMessageWaitTimeSeconds).toBe(20);
    }
  });

  test('cost tags on every queue', () => {
    for (const q of Object.values(queues)) {
      expect(q.Properties.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'ai-burst:workload', Value: 'agents' },
          { Key: 'ai-burst:cost-center', Value: 'research' },
        ]),
      );
    }
  });

  test('zero unacknowledged cdk-nag findings', () => expectNagClean(stack));
});

describe('JobQueue options', () => {
  test('custom priorities in order, short job timeout drives visibility', () => {
    const { queue, template } = build({ priorities: ['urgent', 'batch', 'backfill'], jobTimeout: Duration.minutes(2) });
    expect(queue.priorities).toEqual(['urgent', 'batch', 'backfill']);
    expect(queue.queueFor('batch')).toBe(queue.queues[1]);
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { VisibilityTimeout: 120 }, 3);
  });

  test('a customer KMS key encrypts every queue', () => {
    const { stack } = testStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new JobQueue(stack, 'Jobs', { workload: 'agents', encryptionKey: key });
    const queues = Template.fromStack(stack).findResources('AWS::SQS::Queue');
    for (const q of Object.values(queues)) {
      expect(q.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] });
      expect(q.Properties.SqsManagedSseEnabled).toBeUndefined();
    }
    expectNagClean(stack);
  });

  test('queueFor rejects an unknown priority', () => {
    const { queue } = build();
    expect(() => queue.queueFor('low')).toThrow(/unknown priority "low"; this workload has high, normal/);
  });
});

describe('JobQueue grants', () => {
  function grantTemplate(grant: (q: JobQueue, r: iam.Role) => void, withKey = false) {
    const { stack } = testStack();
    const key = withKey ? new kms.Key(stack, 'Key', { enableKeyRotation: true }) : undefined;
    const queue = new JobQueue(stack, 'Jobs', { workload: 'agents', encryptionKey: key });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    grant(queue, role);
    return Template.fromStack(stack);
  }
  function actions(template: Template): string[] {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    return statements.flatMap((s: any) => [s.Action].flat());
  }

  test('grantSubmit only sends', () => {
    const a = actions(grantTemplate((q, r) => q.grantSubmit(r)));
    expect(a).toEqual(expect.arrayContaining(['sqs:SendMessage']));
    expect(a).not.toContain('sqs:ReceiveMessage');
    expect(a).not.toContain('sqs:DeleteMessage');
  });

  test('grantConsume receives, deletes, heartbeats, and may requeue and park', () => {
    const a = actions(grantTemplate((q, r) => q.grantConsume(r)));
    expect(a).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage']));
    expect(a).not.toContain('sqs:StartMessageMoveTask');
  });

  test('grantRedrive can start message move tasks on parking and DLQ only', () => {
    const t = grantTemplate((q, r) => q.grantRedrive(r));
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks', 'sqs:CancelMessageMoveTask'],
            Resource: [
              { 'Fn::GetAtt': [Match.stringLikeRegexp('ParkingQueue'), 'Arn'] },
              { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] },
            ],
          }),
        ]),
      },
    });
  });

  test('grants include the KMS key when one is used', () => {
    for (const grant of [(q: JobQueue, r: iam.Role) => q.grantSubmit(r), (q: JobQueue, r: iam.Role) => q.grantConsume(r)]) {
      expect(actions(grantTemplate(grant, true))).toEqual(expect.arrayContaining(['kms:GenerateDataKey', 'kms:Decrypt']));
    }
  });

  test('no grant uses a wildcard action or resource, also with a KMS key', () => {
    for (const withKey of [false, true])
      for (const grant of [
        (q: JobQueue, r: iam.Role) => q.grantSubmit(r),
        (q: JobQueue, r: iam.Role) => q.grantConsume(r),
        (q: JobQueue, r: iam.Role) => q.grantRedrive(r),
      ]) {
        const statements = Object.values(grantTemplate(grant, withKey).findResources('AWS::IAM::Policy')).flatMap(
          (p: any) => p.Properties.PolicyDocument.Statement,
        );
        for (const s of statements) {
          expect([s.Action].flat().some((x: string) => x.includes('*'))).toBe(false);
          expect([s.Resource].flat()).not.toContain('*');
        }
      }
  });
});

describe('JobQueue metrics', () => {
  const { queue } = build();
  test('backlog is visible + in-flight, Maximum, per priority and combined', () => {
    const all = queue.metricBacklog().toMetricConfig().mathExpression!;
    expect(all.expression).toBe('agents_high_waiting + agents_high_running + agents_normal_waiting + agents_normal_running');
    const high = queue.metricBacklog({ priority: 'high' }).toMetricConfig().mathExpression!;
    expect(high.expression).toBe('agents_high_waiting + agents_high_running');
    const names = Object.values(all.usingMetrics).map((m) => m.toMetricConfig().metricStat!.metricName);
    expect(names).toEqual([
      'ApproximateNumberOfMessagesVisible',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateNumberOfMessagesNotVisible',
    ]);
    for (const m of Object.values(all.usingMetrics)) expect(m.toMetricConfig().metricStat!.statistic).toBe('Maximum');
  });
  test('metric options follow the CDK metricXxx(props?) rule: priority, period and label in one object', () => {
    const high = queue.metricBacklog({ priority: 'high', period: Duration.minutes(5), label: 'high' });
    const config = high.toMetricConfig();
    expect(config.renderingProperties?.label).toBe('high');
    expect(config.mathExpression!.period).toBe(300);
    for (const m of Object.values(config.mathExpression!.usingMetrics)) expect(m.toMetricConfig().metricStat!.period.toSeconds()).toBe(300);
  });
  test('math ids are unique per workload and priority, so backlogs of two workloads share a graph', () => {
    const { stack } = testStack();
    const a = new JobQueue(stack, 'A', { workload: 'doc-analysis', priorities: ['normal'] });
    const b = new JobQueue(stack, 'B', { workload: 'realtime', priorities: ['normal'] });
    const ids = [a, b].flatMap((q) => Object.keys(q.metricBacklog().toMetricConfig().mathExpression!.usingMetrics));
    expect(ids).toEqual(['doc_analysis_normal_waiting', 'doc_analysis_normal_running', 'realtime_normal_waiting', 'realtime_normal_running']);
    new cloudwatch.Dashboard(stack, 'D').addWidgets(new cloudwatch.GraphWidget({ left: [a.metricBacklog(), b.metricBacklog()] }));
    expect(() => Template.fromStack(stack)).not.toThrow();
  });
  test('oldest job age is the max over priorities', () => {
    expect(queue.metricOldestJobAge().toMetricConfig().mathExpression!.expression).toBe('MAX([agents_high_age, agents_normal_age])');
    expect(queue.metricOldestJobAge({ priority: 'normal' }).toMetricConfig().metricStat!.metricName).toBe('ApproximateAgeOfOldestMessage');
  });
  test('an unknown priority names the ones there are', () => {
    expect(() => queue.metricBacklog({ priority: 'low' })).toThrow(/unknown priority "low"; this workload has high, normal/);
  });
  test('dead letters and parked jobs read their own queues', () => {
    expect(queue.metricDeadLetters().toMetricConfig().metricStat!.metricName).toBe('ApproximateNumberOfMessagesVisible');
    expect(queue.metricParkedJobs().toMetricConfig().metricStat!.metricName).toBe('ApproximateNumberOfMessagesVisible');
  });
});

describe('JobQueue.fromJobQueueAttributes: bring your own queues', () => {
  function imported(attrs: Partial<JobQueueAttributes> = {}, withKey = false) {
    const { stack } = testStack();
    const key = withKey ? kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab') : undefined;
    const q = (name: string) => sqs.Queue.fromQueueArn(stack, name, `arn:aws:sqs:us-east-1:123456789012:${name}`);
    const jobQueue = JobQueue.fromJobQueueAttributes(stack, 'Jobs', {
      workload: 'agents',
      priorities: ['high', 'normal'],
      queues: [q('agents-high'), q('agents-normal')],
      deadLetterQueue: q('agents-dlq'),
      parkingQueue: q('agents-parked'),
      encryptionKey: key,
      ...attrs,
    });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    return { stack, jobQueue, role };
  }
  const statements = (stack: any) =>
    Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);

  test('GIVEN imported queues WHEN granting consume THEN the role gets the same actions a JobQueue grants, on those queues', () => {
    const { stack, jobQueue, role } = imported({}, true);
    jobQueue.grantConsume(role);
    const found = statements(stack);
    const sqsStatement = found.find((s: any) => [s.Action].flat().includes('sqs:ReceiveMessage'));
    expect(sqsStatement.Resource).toEqual(['arn:aws:sqs:us-east-1:123456789012:agents-high', 'arn:aws:sqs:us-east-1:123456789012:agents-normal']);
    expect(found.some((s: any) => [s.Action].flat().includes('kms:Decrypt'))).toBe(true);
    const park = found.find((s: any) => [s.Resource].flat().includes('arn:aws:sqs:us-east-1:123456789012:agents-parked'));
    expect([park.Action].flat()).toContain('sqs:SendMessage');
  });

  test('GIVEN imported queues THEN the metrics, timeouts and lookups work as on a JobQueue', () => {
    const { jobQueue } = imported({ jobTimeout: Duration.hours(2) });
    expect(jobQueue.visibilityTimeout.toMinutes()).toBe(15);
    expect(jobQueue.maxReceiveCount).toBe(5);
    expect(jobQueue.queueFor('normal').queueName).toBe('agents-normal');
    expect(jobQueue.metricBacklog().toMetricConfig().mathExpression!.expression).toBe(
      'agents_high_waiting + agents_high_running + agents_normal_waiting + agents_normal_running',
    );
    expect(jobQueue.metricParkedJobs().toMetricConfig().metricStat!.dimensions).toEqual([{ name: 'QueueName', value: 'agents-parked' }]);
  });

  test.each<[string, Partial<JobQueueAttributes>, RegExp]>([
    [
      'fewer queues than priorities',
      { priorities: ['high', 'normal', 'low'] },
      /queues must list one queue per priority \(got 2 queues for 3 priorities\)/,
    ],
    ['a bad workload name', { workload: 'Agents' }, /JobQueue: workload "Agents" is invalid/],
    ['maxReceiveCount 1', { maxReceiveCount: 1 }, /maxReceiveCount must be an integer between 2 and 1000 \(got 1\)/],
    ['a 13 h visibility timeout', { visibilityTimeout: Duration.hours(13) }, /visibilityTimeout must be between 1 minute and 12 hours/],
  ])('fails if %s', (_name, attrs, message) => {
    expect(() => imported(attrs)).toThrow(message);
  });
});

describe('JobQueue fails on invalid props', () => {
  test.each<[string, Partial<JobQueueProps>, RegExp]>([
    ['workload with capitals', { workload: 'Agents' }, /JobQueue: workload "Agents" is invalid: use lower-case/],
    ['empty priorities', { priorities: [] }, /priorities must list 1 to 5 names \(got 0\)/],
    ['six priorities', { priorities: ['a', 'b', 'c', 'd', 'e', 'f'] }, /priorities must list 1 to 5 names \(got 6\)/],
    ['bad priority name', { priorities: ['High!'] }, /priorities "High!" is invalid/],
    ['duplicate priority', { priorities: ['high', 'high'] }, /priorities lists "high" twice/],
    ['jobTimeout over the 12 h SQS cap', { jobTimeout: Duration.hours(13) }, /jobTimeout must be between 1 minute and 12 hours \(got 13 hours\)/],
    ['jobTimeout under a minute', { jobTimeout: Duration.seconds(10) }, /jobTimeout must be between 1 minute and 12 hours \(got 10 seconds\)/],
    ['maxReceiveCount 1', { maxReceiveCount: 1 }, /maxReceiveCount must be between 2 and 1000 \(got 1\): with 1, a single lapsed heartbeat/],
    ['maxReceiveCount 0', { maxReceiveCount: 0 }, /maxReceiveCount must be an integer between 2 and 1000 \(got 0\)/],
    ['maxReceiveCount fractional', { maxReceiveCount: 2.5 }, /maxReceiveCount must be an integer between 2 and 1000 \(got 2.5\)/],
    ['retention of 14 days', { retentionPeriod: Duration.days(14) }, /retentionPeriod must be between 1 minute and 13 days \(got 14 days\)/],
  ])('fails if %s', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
