/**
 * A workload's GPU layer in another region than its platform: the home stack (us-east-1) keeps the queues,
 * job table, bucket, API, retry handler and dashboards; the compute stack (us-west-2) runs the fleet, its
 * CapacityManager, drainer and drill, and reaches the home data by literal names, ARNs and URLs.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
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
  return `{${JSON.stringify(value).replace(/"/g, '\'')}}`;
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
    workloads: [{ name: 'batch', computeScope: gpu.stack, vpc: gpu.vpc }, { name: 'local' }],
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
    expect(app.synth().getStackByName('Gpu').dependencies.map((d) => d.id)).toContain('Home');
  });

  test('only the data the other region reads gets a generated physical name; the same-region workload\'s queues do not', () => {
    for (const name of Object.values(names)) expect(name).toMatch(/^home[a-z0-9]+$/);
    for (const [id, q] of Object.entries(homeTemplate.findResources('AWS::SQS::Queue'))) {
      if (id.includes('Ailocal')) expect(q.Properties.QueueName).toBeUndefined();
    }
  });

  test('the worker config reads the home queues, table and bucket, with dataRegion = the home region', () => {
    const config = workerConfigOf(gpuTemplate) as unknown as WorkerConfig;
    expect(config.region).toBe('{{\'Ref\':\'AWS::Region\'}}'); // the instance's own region
    expect(config.dataRegion).toBe(HOME);
    expect(config.queues).toEqual([{ priority: 'high', url: queueUrl(names.high) }, { priority: 'normal', url: queueUrl(names.normal) }]);
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

  test('the drainer writes the home table in the home region; spot events stay in the fleet\'s region', () => {
    const env = functionEnv(gpuTemplate, 'DrainerFunction');
    expect(env[EnvNames.DATA_REGION]).toBe(HOME);
    expect(env[EnvNames.JOB_TABLE]).toBe(names.table);
    expect(platform.workload('batch').drainer.dataRegion).toBe(HOME);
    gpuTemplate.resourcePropertiesCountIs('AWS::Events::Rule', { EventPattern: { 'source': ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] } }, 1);
  });

  test('the same-region workload and home functions get no data region', () => {
    for (const fn of Object.values(homeTemplate.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Environment?.Variables?.[EnvNames.DATA_REGION]).toBeUndefined();
    }
    expect(platform.workload('local').fleet.dataRegion).toBeUndefined();
    expect(JSON.stringify(homeTemplate.findResources('AWS::EC2::LaunchTemplate'))).not.toContain('dataRegion');
  });

  test('IAM in the compute stack names the home resources by literal ARN (home region), explicit actions only', () => {
    const arn = (service: string, resource: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:${HOME}:${ACCOUNT}:${resource}`]] });
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

  test('isolation: the placed fleet cannot consume the other workload\'s queues or write its records', () => {
    const instance = rolePolicyStatements(gpuTemplate, 'FleetInstanceRole');
    const text = JSON.stringify(instance);
    expect(text).not.toMatch(/local/);
    const sqsResources = instance.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('sqs:'))).flatMap((s: any) => [s.Resource].flat());
    expect(sqsResources).toHaveLength(3); // high, normal (consume) + parking (send)
  });

  test('the home dashboard reads the placed fleet by its literal name (the compute stack\'s, not the home stack\'s)', () => {
    const body = JSON.stringify(Object.values(homeTemplate.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
    expect(body).toMatch(/Gpu-batch-[0-9a-f]{8}/);
    expect(body).not.toMatch(/Home-batch-|AWS::StackName/);
  });

  test('the drill stops on an alarm of its own region (the drainer\'s dead letters), not the home oldest-job alarm', () => {
    const [alarmId] = Object.keys(gpuTemplate.findResources('AWS::CloudWatch::Alarm', { Properties: { Threshold: 1, EvaluationPeriods: 1 } }))
      .filter((id) => id.includes('DrillStop'));
    expect(alarmId).toBeDefined();
    gpuTemplate.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: { 'Fn::GetAtt': [alarmId, 'Arn'] } }],
    });
    gpuTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', TreatMissingData: 'notBreaching',
    });
  });

  test('zero unacknowledged cdk-nag findings on the home stack', () => expectNagClean(home.stack));
  test('zero unacknowledged cdk-nag findings on the compute stack', () => expectNagClean(gpu.stack));
});
