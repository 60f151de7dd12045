import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AiBurstPlatform, AiBurstPlatformProps, JobApiAuthorization } from '../../lib';
import { policyStatements } from '../support/nag';
import { expectNagClean } from '../support/stacks';
import { AiBurstExampleStack } from '../../bin/example-stack';

const ENV = { account: '123456789012', region: 'us-east-1' };

function vpcStack(app: App, id: string, env = ENV) {
  const stack = new Stack(app, id, { env });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  vpc.addFlowLog('FlowLog', { trafficType: ec2.FlowLogTrafficType.REJECT });
  return { stack, vpc };
}

/** The IAM statements attached to one role (by logical id prefix). */
function statementsOfRole(template: Template, roleIdPrefix: string) {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p: any) => p.Properties.Roles.some((r: any) => String(r.Ref).startsWith(roleIdPrefix)))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

/** Logical ids of a type whose construct path contains `pathPart` (logical ids are the path without separators). */
function logicalIdsOf(template: Template, type: string, pathPart: string): string[] {
  const part = pathPart.replace(/[^A-Za-z0-9]/g, '');
  return Object.keys(template.findResources(type)).filter((id) => id.includes(part));
}

describe('the two-workload example platform', () => {
  const app = new App();
  const stack = new AiBurstExampleStack(app, 'Example', { env: ENV });
  const template = Template.fromStack(stack);
  const platform = stack.platform;

  test('one API, one job table, one data bucket; two fleets, two queue sets', () => {
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 2);
    expect(Object.keys(platform.workloads).sort()).toEqual(['doc-analysis', 'realtime-agent']);
    expect(platform.workload('realtime-agent').jobQueue.priorities).toEqual(['high', 'normal']);
    expect(platform.workload('doc-analysis').jobQueue.priorities).toEqual(['normal', 'backfill']);
    // 2 work queues + DLQ + parking per workload, plus the drainers' event DLQs.
    expect(logicalIdsOf(template, 'AWS::SQS::Queue', '/realtime-agent-Queue/')).toHaveLength(4);
    expect(logicalIdsOf(template, 'AWS::SQS::Queue', '/doc-analysis-Queue/')).toHaveLength(4);
  });

  test('each fleet carries its own workload and cost-center tags, propagated to instances', () => {
    const groups = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'));
    const tagsOf = (g: any) => Object.fromEntries(g.Properties.Tags.map((t: any) => [t.Key, `${t.Value}|${t.PropagateAtLaunch}`]));
    expect(groups.map(tagsOf)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ 'ai-burst:workload': 'realtime-agent|true', 'ai-burst:cost-center': 'agents|true' }),
        expect.objectContaining({ 'ai-burst:workload': 'doc-analysis|true', 'ai-burst:cost-center': 'research|true' }),
      ]),
    );
  });

  test("isolation: a workload's instance role can consume only its own queues and write only its own records", () => {
    const own = logicalIdsOf(template, 'AWS::SQS::Queue', '/realtime-agent-Queue/');
    const other = logicalIdsOf(template, 'AWS::SQS::Queue', '/doc-analysis-Queue/');
    const [roleId] = logicalIdsOf(template, 'AWS::IAM::Role', '/realtime-agent-Fleet/InstanceRole');
    expect(roleId).toBeDefined();
    const statements = statementsOfRole(template, roleId);
    const sqsResources = JSON.stringify(
      statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('sqs:'))).map((s: any) => s.Resource),
    );
    expect(own.some((id) => sqsResources.includes(id))).toBe(true);
    for (const id of other) expect(sqsResources).not.toContain(id);
    const records = statements.find((s: any) => [s.Action].flat().includes('dynamodb:UpdateItem'));
    expect(records.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['realtime-agent.*'] } });
    const objects = JSON.stringify(
      statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('s3:'))).map((s: any) => s.Resource),
    );
    expect(objects).toContain('/results/realtime-agent/*');
    expect(objects).not.toContain('doc-analysis');
  });

  test('each workload has its own scheduler, drainer, retry handler and drill', () => {
    for (const name of ['realtime-agent', 'doc-analysis']) {
      const w = platform.workload(name);
      expect(w.fleet.capacityManager).toBeDefined();
      expect(w.drainer.workload).toBe(name);
      expect(w.retryHandler.workload).toBe(name);
      expect(w.drill).toBeDefined();
    }
    template.resourceCountIs('AWS::FIS::ExperimentTemplate', 2);
    expect(platform.workload('doc-analysis').retryHandler.maxAttempts).toBe(4);
  });

  test("the API wakes each workload's CapacityManager, and nothing else", () => {
    const submitRole = logicalIdsOf(template, 'AWS::IAM::Role', '/Api/SubmitRole');
    const invokes = statementsOfRole(template, submitRole[0]).filter((s: any) => [s.Action].flat().includes('lambda:InvokeFunction'));
    const targets = JSON.stringify(invokes.map((s: any) => s.Resource));
    for (const name of ['realtime-agent', 'doc-analysis']) {
      const [fn] = logicalIdsOf(template, 'AWS::Lambda::Function', `/${name}-Fleet/CapacityManager/`);
      expect(targets).toContain(fn);
    }
  });

  test('one dashboard with a section per workload', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
    expect(body).toContain('realtime-agent');
    expect(body).toContain('doc-analysis');
  });

  test('zero unacknowledged cdk-nag findings', () => expectNagClean(stack));
});

describe('every option on', () => {
  const app = new App();
  const { stack, vpc } = vpcStack(app, 'AllOptions');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const pool = new cognito.UserPool(stack, 'Users', {
    featurePlan: cognito.FeaturePlan.PLUS,
    mfa: cognito.Mfa.REQUIRED,
    mfaSecondFactor: { otp: true, sms: false },
    passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
  });
  new AiBurstPlatform(stack, 'Ai', {
    vpc,
    encryptionKey: key,
    costCenter: 'platform',
    apiAuthorization: JobApiAuthorization.cognito({ userPools: [pool] }),
    webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/ai/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d',
    agentDailyBudgetUsd: 50,
    dailyBudgetUsd: 500,
    interruptionDrill: true,
    jobRetention: Duration.days(7),
    workloads: [{ name: 'solo', maxInstances: 2, queueWaitSlo: Duration.minutes(2), dailyBudgetUsd: 100, agents: ['planner'] }],
  });
  const template = Template.fromStack(stack);

  test('queues, table and bucket use the customer key', () => {
    for (const q of Object.values(template.findResources('AWS::SQS::Queue'))) {
      if (String(q.Metadata?.['aws:cdk:path']).includes('-Queue/')) expect(q.Properties.KmsMasterKeyId).toBeDefined();
    }
    template.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true, SSEType: 'KMS' } });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } },
          }),
        ],
      },
    });
  });

  test('cognito authorizer and WAF association', () => {
    template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
  });

  test('zero unacknowledged cdk-nag findings with every option on', () => expectNagClean(stack));

  test('no IAM statement in the platform uses a wildcard action', () => {
    for (const s of policyStatements(template)) {
      for (const a of [s.Action].flat()) expect(a).not.toMatch(/\*/);
    }
  });
});

describe('placement in another stack', () => {
  test("a workload's GPU layer in a compute stack reads the queues of the platform stack", () => {
    const app = new App();
    const { stack: home, vpc } = vpcStack(app, 'Home');
    const { stack: gpu, vpc: gpuVpc } = vpcStack(app, 'Gpu');
    const platform = new AiBurstPlatform(home, 'Ai', {
      vpc,
      workloads: [{ name: 'batch', computeScope: gpu, vpc: gpuVpc }, { name: 'local' }],
    });
    const gpuTemplate = Template.fromStack(gpu);
    const homeTemplate = Template.fromStack(home);
    gpuTemplate.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    homeTemplate.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    expect(Stack.of(platform.workload('batch').fleet)).toBe(gpu);
    expect(Stack.of(platform.workload('batch').jobQueue)).toBe(home);
    expect(Stack.of(platform.workload('batch').retryHandler)).toBe(home);
    expect(Object.keys(homeTemplate.toJSON().Outputs ?? {}).length).toBeGreaterThan(0); // exports read by the GPU stack
    expectNagClean(gpu);
  });
});

describe('AiBurstPlatform fails on invalid props', () => {
  function build(props: Partial<AiBurstPlatformProps>) {
    const app = new App();
    const { stack, vpc } = vpcStack(app, 'S');
    const workloads = props.workloads ?? [{ name: 'w' }];
    return new AiBurstPlatform(stack, 'Ai', { vpc, ...props, workloads });
  }
  test.each<[string, Partial<AiBurstPlatformProps>, RegExp]>([
    ['no workloads', { workloads: [] }, /workloads must list 1 to 20 workloads \(got 0\)/],
    ['a duplicate workload', { workloads: [{ name: 'a' }, { name: 'a' }] }, /workloads lists "a" twice/],
    ['a bad workload name', { workloads: [{ name: 'A_B' }] }, /workloads\[0\].name "A_B" is invalid/],
  ])('fails if %s', (_n, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
  /** A platform in `homeEnv` with its one workload's GPU layer in a stack of `computeEnv` (undefined = env-agnostic). */
  function place(homeEnv: { account: string; region: string } | undefined, computeEnv: { account: string; region: string } | undefined) {
    const app = new App();
    const home = new Stack(app, 'Home', { env: homeEnv });
    const compute = new Stack(app, 'Gpu', { env: computeEnv });
    const vpc = ec2.Vpc.fromVpcAttributes(home, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['a'], privateSubnetIds: ['s-1'] });
    const gpuVpc = ec2.Vpc.fromVpcAttributes(compute, 'Vpc', { vpcId: 'vpc-2', availabilityZones: ['b'], privateSubnetIds: ['s-2'] });
    return new AiBurstPlatform(home, 'Ai', { vpc, workloads: [{ name: 'w', computeScope: compute, vpc: gpuVpc }] });
  }
  test('fails if the GPU layer is placed in another region from a stack without an explicit env', () => {
    expect(() => place(ENV, undefined)).toThrow(
      /workloads\["w"\].computeScope is stack "Gpu" \(region unresolved\) and the platform's stack "Home" is in region us-east-1; a GPU layer in another region needs an explicit env: \{ account, region \} on both stacks, and stack "Gpu" has account unresolved, region unresolved/,
    );
  });
  test("fails if the platform's stack has no explicit env and the GPU layer's has one", () => {
    expect(() => place(undefined, { account: ENV.account, region: 'us-west-2' })).toThrow(
      /computeScope is stack "Gpu" \(region us-west-2\).*needs an explicit env: \{ account, region \} on both stacks, and stack "Home" has account unresolved/,
    );
  });
  test('fails if the GPU layer is placed in another region with an unresolved account', () => {
    expect(() => place(ENV, { region: 'us-west-2' } as { account: string; region: string })).toThrow(
      /stack "Gpu" has account unresolved, region us-west-2/,
    );
  });
  test('fails if the GPU layer is placed in another account', () => {
    expect(() => place(ENV, { account: '210987654321', region: 'us-west-2' })).toThrow(
      /computeScope is stack "Gpu" in account 210987654321 but the platform's stack "Home" is in account 123456789012; a GPU layer must be in the platform's account/,
    );
  });
  test('fails if a customer-managed key is combined with a GPU layer in another region (its grant would be on every key)', () => {
    const app = new App();
    const home = new Stack(app, 'Home', { env: ENV });
    const compute = new Stack(app, 'Gpu', { env: { account: ENV.account, region: 'us-west-2' } });
    const vpc = ec2.Vpc.fromVpcAttributes(home, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['a'], privateSubnetIds: ['s-1'] });
    const gpuVpc = ec2.Vpc.fromVpcAttributes(compute, 'Vpc', { vpcId: 'vpc-2', availabilityZones: ['b'], privateSubnetIds: ['s-2'] });
    const encryptionKey = new kms.Key(home, 'Key', { enableKeyRotation: true });
    expect(() => new AiBurstPlatform(home, 'Ai', { vpc, encryptionKey, workloads: [{ name: 'w', computeScope: compute, vpc: gpuVpc }] })).toThrow(
      /encryptionKey cannot be combined with a GPU layer in another region yet \(workloads\["w"\].computeScope is in us-west-2, the platform in us-east-1\)/,
    );
  });
  test('another region with explicit envs on both stacks is accepted', () => {
    expect(() => place(ENV, { account: ENV.account, region: 'us-west-2' })).not.toThrow();
  });
  test('unknown workload lookups name the known ones', () => {
    expect(() => build({}).workload('nope')).toThrow(/unknown workload "nope"; this platform has w/);
  });
});
