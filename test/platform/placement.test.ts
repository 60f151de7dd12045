/**
 * A workload's GPU layer in another region than its platform: the home stack (us-east-1) keeps the queues,
 * job table, bucket, API, retry handler and dashboards; the compute stack (us-west-2) runs the fleet, its
 * CapacityManager, drainer and drill, and reaches the home data by literal names, ARNs and URLs.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AiBurstPlatform } from '../../lib';
import { EnvNames, WorkerConfig } from '../../lib/contracts';
import { policyStatements } from '../support/nag';
import { expectNagClean } from '../support/stacks';

const ACCOUNT = '123456789012';
const HOME = 'us-east-1';
const AWAY = 'us-west-2';

function vpcStack(app: App, id: string, region: string) {
  const stack = new Stack(app, id, { env: { account: ACCOUNT, region } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  vpc.addFlowLog('FlowLog', { trafficType: ec2.FlowLogTrafficType.REJECT });
  return { stack, vpc };
}

/** Physical name the home template gives a resource of `type` whose logical id contains `part`. */
function physicalName(template: Template, type: string, part: string, prop: string): string {
  const found = Object.entries(template.findResources(type)).filter(([id]) => id.includes(part));
  expect(found).toHaveLength(1);
  const name = found[0][1].Properties[prop];
  expect(typeof name).toBe('string');
  return name as string;
}

/** A template value as text: strings as they are, a Join's parts concatenated, other intrinsics as `{{'Ref':…}}`. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as Record<string, unknown>)['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(render).join(join[0]);
  return `{${JSON.stringify(value).replace(/"/g, "'")}}`;
}

/** The worker config GpuFleet writes into the user data, with CloudFormation tokens rendered as text. */
function workerConfigOf(template: Template): Record<string, unknown> {
  const [lt] = Object.values(template.findResources('AWS::EC2::LaunchTemplate'));
  const text = render(lt.Properties.LaunchTemplateData.UserData['Fn::Base64']);
  const json = text.match(/worker\.json <<'AI_BURST_EOF'\n([^\n]+)\nAI_BURST_EOF/)![1];
  return JSON.parse(json);
}

function functionEnv(template: Template, part: string): Record<string, unknown> {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) => id.includes(part));
  expect(found).toHaveLength(1);
  return found[0][1].Properties.Environment.Variables;
}

function rolePolicyStatements(template: Template, rolePart: string) {
  const roles = Object.keys(template.findResources('AWS::IAM::Role')).filter((id) => id.includes(rolePart));
  expect(roles).toHaveLength(1);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roles[0]))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

const queueUrl = (name: string) => `https://sqs.${HOME}.{{'Ref':'AWS::URLSuffix'}}/${ACCOUNT}/${name}`;

describe('a GPU layer in another region', () => {
  const app = new App();
  const home = vpcStack(app, 'Home', HOME);
  const gpu = vpcStack(app, 'Gpu', AWAY);
  const platform = new AiBurstPlatform(home.stack, 'Ai', {
    vpc: home.vpc,
    interruptionDrill: true,
    dailyBudgetUsd: 100,
    workloads: [{ name: 'batch', computeScope: gpu.stack, vpc: gpu.vpc, dailyBudgetUsd: 20 }, { name: 'local' }],
  });
  const homeTemplate = Template.fromStack(home.stack);
  const gpuTemplate = Template.fromStack(gpu.stack);
  const names = {
    high: physicalName(homeTemplate, 'AWS::SQS::Queue', 'AibatchQueueQueuehigh', 'QueueName'),
    normal: physicalName(homeTemplate, 'AWS::SQS::Queue', 'AibatchQueueQueuenormal', 'QueueName'),
    parking: physicalName(homeTemplate, 'AWS::SQS::Queue', 'AibatchQueueParkingQueue', 'QueueName'),
    table: physicalName(homeTemplate, 'AWS::DynamoDB::Table', 'AiJobStoreTable', 'TableName'),
    bucket: physicalName(homeTemplate, 'AWS::S3::Bucket', 'AiJobStoreBucket', 'BucketName'),
  };

  test('the home stack keeps data, API and retry handler; the compute stack the fleet, scheduler, drainer and drill', () => {
    const batch = platform.workload('batch');
    expect(Stack.of(batch.jobQueue)).toBe(home.stack);
    expect(Stack.of(batch.retryHandler)).toBe(home.stack);
    expect(Stack.of(platform.api)).toBe(home.stack);
    for (const part of [batch.fleet, batch.fleet.capacityManager!, batch.drainer, batch.drill!]) expect(Stack.of(part)).toBe(gpu.stack);
    gpuTemplate.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    homeTemplate.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1); // the same-region workload
    gpuTemplate.resourceCountIs('AWS::FIS::ExperimentTemplate', 1);
    gpuTemplate.resourceCountIs('AWS::SQS::Queue', 1); // the drainer's event DLQ only
    gpuTemplate.resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  test('nothing crosses as a CloudFormation reference (no imports, no SSM-backed custom resources); the compute stack deploys after the home stack, never the reverse', () => {
    expect(JSON.stringify(gpuTemplate.toJSON())).not.toMatch(/Fn::ImportValue|ExportsReader|Custom::CrossRegion/);
    expect(JSON.stringify(homeTemplate.toJSON())).not.toMatch(/Fn::ImportValue|ExportsWriter|Custom::CrossRegion/);
    expect(home.stack.dependencies).not.toContain(gpu.stack);
    expect(gpu.stack.dependencies).toContain(home.stack); // deploy order, stated explicitly
    expect(
      app
        .synth()
        .getStackByName('Gpu')
        .dependencies.map((d) => d.id),
    ).toContain('Home');
  });

  test("only the data the other region reads gets a generated physical name; the same-region workload's queues do not", () => {
    for (const name of Object.values(names)) expect(name).toMatch(/^home[a-z0-9]+$/);
    for (const [id, q] of Object.entries(homeTemplate.findResources('AWS::SQS::Queue'))) {
      if (id.includes('Ailocal')) expect(q.Properties.QueueName).toBeUndefined();
    }
  });

  test('the worker config reads the home queues, table and bucket, with dataRegion = the home region', () => {
    const config = workerConfigOf(gpuTemplate) as unknown as WorkerConfig;
    expect(config.region).toBe("{{'Ref':'AWS::Region'}}"); // the instance's own region
    expect(config.dataRegion).toBe(HOME);
    expect(config.queues).toEqual([
      { priority: 'high', url: queueUrl(names.high) },
      { priority: 'normal', url: queueUrl(names.normal) },
    ]);
    expect(config.parkingQueueUrl).toBe(queueUrl(names.parking));
    expect(config.jobTable).toBe(names.table);
    expect(config.resultBucket).toBe(names.bucket);
    expect(config.payloadBucket).toBe(names.bucket);
    expect(platform.workload('batch').fleet.dataRegion).toBe(HOME);
  });

  test('the CapacityManager reads the home queues in the home region', () => {
    const env = functionEnv(gpuTemplate, 'CapacityManagerFunction');
    expect(env[EnvNames.DATA_REGION]).toBe(HOME);
    expect(JSON.parse(render(env[EnvNames.QUEUE_URLS]))).toEqual({ high: queueUrl(names.high), normal: queueUrl(names.normal) });
    expect(platform.workload('batch').fleet.capacityManager!.dataRegion).toBe(HOME);
  });

  test("the drainer writes the home table in the home region; spot events stay in the fleet's region", () => {
    const env = functionEnv(gpuTemplate, 'DrainerFunction');
    expect(env[EnvNames.DATA_REGION]).toBe(HOME);
    expect(env[EnvNames.JOB_TABLE]).toBe(names.table);
    expect(platform.workload('batch').drainer.dataRegion).toBe(HOME);
    gpuTemplate.resourcePropertiesCountIs(
      'AWS::Events::Rule',
      { EventPattern: { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] } },
      1,
    );
  });

  test('the same-region workload and home functions get no data region', () => {
    for (const fn of Object.values(homeTemplate.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Environment?.Variables?.[EnvNames.DATA_REGION]).toBeUndefined();
    }
    expect(platform.workload('local').fleet.dataRegion).toBeUndefined();
    expect(JSON.stringify(homeTemplate.findResources('AWS::EC2::LaunchTemplate'))).not.toContain('dataRegion');
  });

  test('IAM in the compute stack names the home resources by literal ARN (home region), explicit actions only', () => {
    const arn = (service: string, resource: string) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:${HOME}:${ACCOUNT}:${resource}`]],
    });
    const instance = rolePolicyStatements(gpuTemplate, 'FleetInstanceRole');
    const consume = instance.find((s: any) => [s.Action].flat().includes('sqs:ReceiveMessage'));
    expect(consume.Resource).toEqual([arn('sqs', names.high), arn('sqs', names.normal)]);
    const records = instance.find((s: any) => [s.Action].flat().includes('dynamodb:UpdateItem'));
    expect(records.Resource).toEqual(arn('dynamodb', `table/${names.table}`));
    expect(records.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['batch.*'] } });
    const results = instance.find((s: any) => [s.Action].flat().includes('s3:PutObject'));
    expect(JSON.stringify(results.Resource)).toContain(`:s3:::${names.bucket}/results/batch/*`);

    const drainer = rolePolicyStatements(gpuTemplate, 'DrainerFunctionRole');
    const query = drainer.find((s: any) => [s.Action].flat().includes('dynamodb:Query'));
    expect(JSON.stringify(query.Resource)).toContain(`:dynamodb:${HOME}:${ACCOUNT}:table/${names.table}/index/byInstance`);
    const manager = rolePolicyStatements(gpuTemplate, 'CapacityManagerRole');
    const attrs = manager.filter((s: any) => [s.Action].flat().includes('sqs:GetQueueAttributes')).flatMap((s: any) => [s.Resource].flat());
    expect(attrs).toEqual(expect.arrayContaining([arn('sqs', names.high), arn('sqs', names.normal)]));

    for (const s of policyStatements(gpuTemplate)) for (const a of [s.Action].flat()) expect(a).not.toMatch(/\*/);
  });

  test("isolation: the placed fleet cannot consume the other workload's queues or write its records", () => {
    const instance = rolePolicyStatements(gpuTemplate, 'FleetInstanceRole');
    const text = JSON.stringify(instance);
    expect(text).not.toMatch(/local/);
    const sqsResources = instance
      .filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('sqs:')))
      .flatMap((s: any) => [s.Resource].flat());
    expect(sqsResources).toHaveLength(3); // high, normal (consume) + parking (send)
  });

  test("the home dashboard reads the placed fleet by its literal name (the compute stack's, not the home stack's)", () => {
    const body = JSON.stringify(Object.values(homeTemplate.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
    expect(body).toMatch(/Gpu-batch-[0-9a-f]{8}/);
    expect(body).not.toMatch(/Home-batch-|AWS::StackName/);
  });

  test("the drill stops on an alarm of its own region (the drainer's dead letters), not the home oldest-job alarm", () => {
    const [alarmId] = Object.keys(gpuTemplate.findResources('AWS::CloudWatch::Alarm', { Properties: { Threshold: 1, EvaluationPeriods: 1 } })).filter(
      (id) => id.includes('DrillStop'),
    );
    expect(alarmId).toBeDefined();
    gpuTemplate.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: { 'Fn::GetAtt': [alarmId, 'Arn'] } }],
    });
    gpuTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      TreatMissingData: 'notBreaching',
    });
  });

  describe('observability across regions', () => {
    const body = JSON.parse(render(Object.values(homeTemplate.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody));
    type Row = unknown[];
    const widgets: { title: string; rows: Row[] }[] = body.widgets
      .filter((w: any) => Array.isArray(w.properties.metrics))
      .map((w: any) => ({ title: w.properties.title, rows: w.properties.metrics }));
    const options = (row: Row) => (typeof row[row.length - 1] === 'object' ? (row[row.length - 1] as Record<string, unknown>) : {});
    const homeSide = new Set(['JobsSubmitted', 'JobsRetried', 'JobsParked']);
    const metricRows = (prefix: string) =>
      widgets.filter((w) => w.title.startsWith(prefix)).flatMap((w) => w.rows.filter((r) => typeof r[0] === 'string'));
    const alarmIds = (template: Template) => Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    const alarmTopicId = () => {
      const ids = Object.keys(gpuTemplate.findResources('AWS::SNS::Topic')).filter((id) => id.startsWith('HomebatchAlarmsAlarmTopic'));
      expect(ids).toHaveLength(1);
      return ids[0];
    };

    test("the home dashboard reads the placed workload's fleet-side metrics in the compute region, its queue metrics at home", () => {
      const rows = metricRows('batch · ');
      const fleetSide = rows.filter(
        (r) => ['AWS/AutoScaling', 'CWAgent'].includes(r[0] as string) || (r[0] === 'AiBurst' && !homeSide.has(r[1] as string)),
      );
      expect(fleetSide.map((r) => r[1])).toEqual(
        expect.arrayContaining(['GroupInServiceInstances', 'DesiredCapacity', 'JobsSucceeded', 'SpendUsd', 'nvidia_smi_utilization_gpu']),
      );
      for (const r of fleetSide) expect(options(r).region).toBe(AWAY);
      const home = rows.filter((r) => r[0] === 'AWS/SQS' || homeSide.has(r[1] as string));
      expect(home.map((r) => r[1])).toEqual(expect.arrayContaining(['ApproximateAgeOfOldestMessage', 'JobsSubmitted', 'JobsRetried', 'JobsParked']));
      for (const r of home) expect(options(r).region).toBeUndefined();
      // Expressions and SEARCH are evaluated there too: tokens per model, GPU per instance, the failure ratio.
      const expressions = widgets.filter((w) => w.title.startsWith('batch · ')).flatMap((w) => w.rows.filter((r) => typeof r[0] === 'object'));
      const search = expressions.filter((r) => /SEARCH\(/.test(String(options(r).expression)));
      expect(search.length).toBeGreaterThanOrEqual(9);
      for (const r of search) expect(options(r).region).toBe(AWAY);
      expect(expressions.find((r) => options(r).label === 'failure ratio')![0]).toMatchObject({ region: AWAY });
      expect(expressions.filter((r) => /_waiting|_running/.test(String(options(r).expression))).every((r) => options(r).region === undefined)).toBe(
        true,
      );
    });

    test("the same-region workload's widgets carry no region; the platform's spend reads each region", () => {
      for (const r of metricRows('local · ')) expect(options(r).region).toBeUndefined();
      const spend = widgets.find((w) => w.title.startsWith('Platform · spend by workload'))!;
      const spendRows = spend.rows.filter((r) => r[1] === 'SpendUsd');
      expect(spendRows.map((r) => [r[3], options(r).region])).toEqual([
        ['batch', AWAY],
        ['local', undefined],
      ]);
      const top = widgets.find((w) => w.title.startsWith('Platform · top agents by spend'))!;
      expect(top.rows.map((r) => options(r).region)).toEqual([undefined, AWAY]);
    });

    test("the compute stack has the placed workload's fleet-side alarms, missing data treated as before, notifying its own topic", () => {
      const gpuAlarms = alarmIds(gpuTemplate);
      const expected: Record<string, string> = {
        FleetIdleAlarm: 'notBreaching',
        FailureRatioAlarm: 'notBreaching',
        SpendOverBudgetAlarm: 'notBreaching',
        SpendDataMissingAlarm: 'breaching',
        CapacityManagerErrorsAlarm: 'notBreaching',
      };
      const topicId = alarmTopicId();
      for (const [name, missing] of Object.entries(expected)) {
        const ids = gpuAlarms.filter((id) => id.startsWith('HomebatchAlarms') && id.includes(name));
        expect(ids).toHaveLength(1);
        const alarm = gpuTemplate.findResources('AWS::CloudWatch::Alarm')[ids[0]].Properties;
        expect(alarm.TreatMissingData).toBe(missing);
        expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
        expect(alarm.OKActions).toEqual([{ Ref: topicId }]);
        expect(alarm.AlarmDescription).toMatch(/^\[ai-burst:batch\]/);
      }
      // Fleet idle reads the CapacityManager's backlog (an alarm cannot read the home queues' metrics).
      const idle = gpuTemplate.findResources('AWS::CloudWatch::Alarm')[gpuAlarms.find((id) => id.includes('FleetIdleAlarm'))!].Properties;
      expect(JSON.stringify(idle.Metrics)).toContain('BacklogPerInstance');
      expect(JSON.stringify(idle.Metrics)).not.toContain('AWS/SQS');
      // The compute-region CostReporter's errors alarm notifies the same topic.
      const errors = gpuAlarms.find((id) => id.includes('CostReporterErrorsAlarm'))!;
      expect(gpuTemplate.findResources('AWS::CloudWatch::Alarm')[errors].Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    });

    test("the compute stack's alarm topic is encrypted and TLS-only, open to this account's alarms only", () => {
      const topicId = alarmTopicId();
      expect(gpuTemplate.findResources('AWS::SNS::Topic')[topicId].Properties.KmsMasterKeyId).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^HomebatchAlarmsAlarmTopicKey/), 'Arn'],
      });
      gpuTemplate.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: topicId }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({
              Sid: 'AllowCloudWatchAlarmsToPublish',
              Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': ACCOUNT } }),
            }),
          ]),
        },
      });
      gpuTemplate.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    });

    test('the compute stack has a CostReporter for the placed workload only; the home one keeps the home workload', () => {
      const gpuReporter = functionEnv(gpuTemplate, 'CostReporter');
      expect(JSON.parse(gpuReporter[EnvNames.WORKLOADS] as string)).toEqual(['batch']);
      const homeReporter = functionEnv(homeTemplate, 'CostReporter');
      expect(JSON.parse(homeReporter[EnvNames.WORKLOADS] as string)).toEqual(['local']);
      gpuTemplate.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
      const batch = platform.workload('batch');
      expect(Stack.of(batch.costReporter!)).toBe(gpu.stack);
      expect(Stack.of(batch.fleetAlarms!)).toBe(gpu.stack);
      expect(batch.fleetAlarms!.spendDataMissing).toBeDefined();
      expect(platform.workload('local').fleetAlarms).toBeUndefined();
      expect(platform.workload('local').costReporter).toBeUndefined();
      expect(Stack.of(platform.costReporter!)).toBe(home.stack);
    });

    test("the home stack keeps only the placed workload's queue alarms; the platform budget sums the home workload", () => {
      const homeBatch = alarmIds(homeTemplate).filter((id) => id.includes('Workloadbatch'));
      expect(homeBatch.map((id) => id.replace(/^AiObservabilityWorkloadbatch|[0-9A-F]{8}$/g, '')).sort()).toEqual([
        'DeadLettersAlarm',
        'OldestJobAgeAlarm',
        'ParkedJobsAlarm',
      ]);
      expect(alarmIds(homeTemplate).filter((id) => id.includes('Workloadlocal')).length).toBe(10 - 1); // no workload budget on local (boot failures and model-server-lost included)
      const budget =
        homeTemplate.findResources('AWS::CloudWatch::Alarm')[
          alarmIds(homeTemplate).find((id) => id === id.replace(/Workload/, '') && id.includes('ObservabilitySpendOverBudget'))!
        ].Properties;
      const spendIds = budget.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric.Dimensions[0].Value);
      expect(spendIds).toEqual(['local']);
      const batchAlarms = platform.observability.workloadAlarms.batch;
      expect(batchAlarms.fleetIdle).toBeUndefined();
      expect(batchAlarms.failureRatio).toBeUndefined();
      expect(batchAlarms.oldestJobAge).toBeDefined();
    });
  });

  test('zero unacknowledged cdk-nag findings on the home stack', () => expectNagClean(home.stack));
  test('zero unacknowledged cdk-nag findings on the compute stack', () => expectNagClean(gpu.stack));
});
