import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { JobQueue, JobStore, ModelServerImage, ModelWeights } from '../../lib';
import { FleetScaling } from '../../lib/compute/fleet-scaling';
import { GpuFleet, GpuFleetProps } from '../../lib/compute/gpu-fleet';
import { ModelServer } from '../../lib/compute/model-server';
import { isDockerHub } from '../../lib/compute/model-server-image';
import { ModelServerKind } from '../../lib/contracts';
import { expectNagClean, testStack } from '../support/stacks';
import { flatten, WORKER_FIXTURE } from './support';

/** One fleet per image kind in one stack (one synth for the file); each fleet's role statements and user data. */
const { stack } = testStack();
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
vpc.addFlowLog('FlowLog');
const jobStore = new JobStore(stack, 'Store');
const weightsKey = kms.Key.fromKeyArn(stack, 'WeightsKey', 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555');
const weightsBucket = s3.Bucket.fromBucketAttributes(stack, 'WeightsBucket', { bucketName: 'team-model-weights', encryptionKey: weightsKey });
const repository = ecr.Repository.fromRepositoryName(stack, 'Repo', 'team/vllm');

function fleet(id: string, modelServer: ModelServer, extra: Partial<GpuFleetProps> = {}): GpuFleet {
  return new GpuFleet(stack, id, {
    vpc,
    jobQueue: new JobQueue(stack, `${id}Jobs`, { workload: id.toLowerCase() }),
    jobStore,
    workerEntry: WORKER_FIXTURE,
    scaling: FleetScaling.none(),
    gpuMetrics: false,
    modelServer,
    ...extra,
  });
}

const own = fleet(
  'Own',
  ModelServer.vllm({
    image: ModelServerImage.fromEcrRepository(repository, 'v0.11.0'),
    weights: ModelWeights.fromBucket(weightsBucket, '/models/qwen/'),
  }),
);
const uri = fleet(
  'Uri',
  ModelServer.container({
    kind: ModelServerKind.INVOCATIONS,
    image: ModelServerImage.fromRegistry('210987654321.dkr.ecr.eu-central-1.amazonaws.com/models/server:2.1'),
  }),
);
const cached = fleet(
  'Cached',
  ModelServer.vllm({
    image: ModelServerImage.fromPullThroughCache({ ecrRepositoryPrefix: 'docker-hub', upstreamRepository: 'vllm/vllm-openai', tag: 'v0.11.0' }),
  }),
);
const publicEcr = fleet('Public', ModelServer.vllm({ image: ModelServerImage.fromRegistry('public.ecr.aws/example/vllm:0.11.0') }));
const template = Template.fromStack(stack);

function statementsOf(f: GpuFleet): any[] {
  const roleId = stack.getLogicalId(f.role.node.defaultChild as iam.CfnRole);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}
function userDataOf(f: GpuFleet): string {
  return flatten(
    template.findResources('AWS::EC2::LaunchTemplate')[stack.getLogicalId(f.launchTemplate.node.defaultChild as any)].Properties.LaunchTemplateData
      .UserData,
  );
}
function ecrStatements(f: GpuFleet): Array<{ actions: string[]; resources: string[] }> {
  return statementsOf(f)
    .filter((s) => [s.Action].flat().some((a: string) => a.startsWith('ecr:')))
    .map((s) => ({ actions: [s.Action].flat(), resources: [s.Resource].flat().map(flatten) }));
}
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
const LOGIN = { actions: ['ecr:GetAuthorizationToken'], resources: ['*'] };

describe('ModelServerImage', () => {
  test('fromEcrRepository: login to its registry, pull exactly that repository', () => {
    expect(ecrStatements(own)).toEqual([
      { actions: PULL, resources: ['arn:<AWS::Partition>:ecr:us-east-1:123456789012:repository/team/vllm'] },
      LOGIN,
    ]);
    const ud = userDataOf(own);
    expect(ud).toContain(
      "aws ecr get-login-password --region 'us-east-1' | docker login --username AWS --password-stdin '123456789012.dkr.ecr.us-east-1.<AWS::URLSuffix>'",
    );
    expect(ud).toContain("docker pull '123456789012.dkr.ecr.us-east-1.<AWS::URLSuffix>/team/vllm:v0.11.0'");
  });

  test('fromRegistry with an ECR URI: login to that registry and region, pull exactly that repository', () => {
    expect(ecrStatements(uri)).toEqual([
      { actions: PULL, resources: ['arn:<AWS::Partition>:ecr:eu-central-1:210987654321:repository/models/server'] },
      LOGIN,
    ]);
    expect(userDataOf(uri)).toContain(
      "aws ecr get-login-password --region 'eu-central-1' | docker login --username AWS --password-stdin '210987654321.dkr.ecr.eu-central-1.amazonaws.com' && " +
        "docker pull '210987654321.dkr.ecr.eu-central-1.amazonaws.com/models/server:2.1'",
    );
  });

  test('fromPullThroughCache: the cached repository in this account and region, which the first pull imports into and creates', () => {
    expect(ecrStatements(cached)).toEqual([
      {
        actions: [...PULL, 'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'],
        resources: ['arn:<AWS::Partition>:ecr:us-east-1:123456789012:repository/docker-hub/vllm/vllm-openai'],
      },
      LOGIN,
    ]);
    expect(userDataOf(cached)).toContain("docker pull '123456789012.dkr.ecr.us-east-1.<AWS::URLSuffix>/docker-hub/vllm/vllm-openai:v0.11.0'");
  });

  test('a public registry that is not Docker Hub: no login, no ECR permission, no warning', () => {
    expect(ecrStatements(publicEcr)).toEqual([]);
    const ud = userDataOf(publicEcr);
    expect(ud).toContain("ai_burst_pull_image() { docker pull 'public.ecr.aws/example/vllm:0.11.0'; }");
    expect(ud).not.toContain('docker login');
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('Docker Hub'))).toEqual([]);
  });

  test('the login statement stays alone even when the app minimizes policies (a Sid is never merged)', () => {
    const app = new App({ context: { '@aws-cdk/aws-iam:minimizePolicies': true } });
    const s = new Stack(app, 'Min', { env: { account: '123456789012', region: 'us-east-1' } });
    const role = new iam.Role(s, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeTags'], resources: ['*'] }));
    ModelServer.vllm().bind(s, role);
    const statements = Object.values(Template.fromStack(s).findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements.filter((x: any) => x.Resource === '*')).toEqual([
      { Action: 'ec2:DescribeTags', Effect: 'Allow', Resource: '*' },
      { Sid: 'AiBurstEcrLogin', Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
    ]);
  });

  test.each([
    ['vllm/vllm-openai:v0.11.0', true],
    ['ubuntu', true],
    ['docker.io/vllm/vllm-openai:v0.11.0', true],
    ['index.docker.io/library/ubuntu:24.04', true],
    ['public.ecr.aws/example/vllm:1', false],
    ['ghcr.io/org/image:1', false],
    ['localhost/image:1', false],
    ['registry.internal:5000/image:1', false],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1', false],
  ])('isDockerHub(%s) is %s', (image, expected) => {
    expect(isDockerHub(image)).toBe(expected);
  });

  test('an opt-in region fails at synth when the default image is used, naming its registry', () => {
    const s = new Stack(new App(), 'Capetown', { env: { account: '123456789012', region: 'af-south-1' } });
    const role = new iam.Role(s, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    expect(() => ModelServer.vllm().bind(s, role)).toThrow(
      /ModelServer.vllm: image is an AWS Deep Learning Containers image \(the default of ModelServer.vllm\(\)\), and account 763104351884 does not serve af-south-1 \(its registry there is account 626614931356\)/,
    );
  });

  test.each<[string, () => ModelServer, RegExp]>([
    [
      'a bad tag',
      () => ModelServer.vllm({ image: ModelServerImage.fromEcrRepository(repository, 'v 1') }),
      /ModelServer.vllm: image.tag must be an image tag .* \(got "v 1"\)/,
    ],
    [
      'an upper-case cache prefix',
      () =>
        ModelServer.vllm({
          image: ModelServerImage.fromPullThroughCache({ ecrRepositoryPrefix: 'DockerHub', upstreamRepository: 'vllm/vllm-openai', tag: 'v1' }),
        }),
      /ModelServer.vllm: image.ecrRepositoryPrefix must be an ECR repository path .* \(got "DockerHub"\)/,
    ],
    [
      'weights for the whole bucket',
      () => ModelServer.vllm({ weights: ModelWeights.fromBucket(weightsBucket, '/') }),
      /ModelServer.vllm: weights.prefix must be a key prefix .* \(got "\/"\)/,
    ],
    [
      'a wildcard weights prefix',
      () => ModelServer.vllm({ weights: ModelWeights.fromBucket(weightsBucket, 'models/*') }),
      /weights.prefix must be a key prefix/,
    ],
  ])('fails if %s', (_, make, message) => {
    const s = new Stack(new App(), 'V', { env: { account: '123456789012', region: 'us-east-1' } });
    const role = new iam.Role(s, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    expect(() => make().bind(s, role)).toThrow(message);
  });

  test('a fleet names an image error by its modelServer prop', () => {
    const s = new Stack(new App(), 'P', { env: { account: '123456789012', region: 'us-east-1' } });
    expect(
      () =>
        new GpuFleet(s, 'F', {
          vpc: ec2.Vpc.fromVpcAttributes(s, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a'], privateSubnetIds: ['s-1'] }),
          jobQueue: new JobQueue(s, 'Q', { workload: 'w' }),
          jobStore: new JobStore(s, 'St'),
          workerEntry: WORKER_FIXTURE,
          scaling: FleetScaling.none(),
          modelServer: ModelServer.vllm({ image: ModelServerImage.fromRegistry('') }),
        }),
    ).toThrow(/^GpuFleet: modelServer.image must name a container image/);
  });
});

describe('ModelWeights.fromBucket', () => {
  test('read only the prefix: GetObject on its objects, ListBucket confined to it, Decrypt with the bucket key', () => {
    const statements = statementsOf(own).map((s) => ({ ...s, Resource: [s.Resource].flat().map(flatten) }));
    const reads = statements.filter((s) => JSON.stringify(s.Resource).includes('team-model-weights'));
    expect(reads).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: ['arn:<AWS::Partition>:s3:::team-model-weights/models/qwen/*'] },
      {
        Action: 's3:ListBucket',
        Effect: 'Allow',
        Resource: ['arn:<AWS::Partition>:s3:::team-model-weights'],
        Condition: { StringLike: { 's3:prefix': ['models/qwen/*'] } },
      },
    ]);
    expect(statements.find((s) => [s.Action].flat().includes('kms:Decrypt'))).toMatchObject({
      Action: 'kms:Decrypt',
      Resource: ['arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555'],
    });
  });

  test('the boot script copies the prefix with parallel transfers and vLLM serves the local copy under the model name', () => {
    const ud = userDataOf(own);
    expect(ud).toContain(
      `AWS_CONFIG_FILE="$R"/etc/ai-burst/s3-transfer.config aws s3 sync 's3://team-model-weights/models/qwen/' "$R"/opt/ai-burst/weights/ --region 'us-east-1'`,
    );
    expect(ud).toContain('max_concurrent_requests = 64');
    expect(ud).toContain("'--model' '/opt/ai-burst/weights' '--served-model-name' 'Qwen/Qwen2.5-7B-Instruct'");
    expect(ud).toContain('RequiresMountsFor=/opt/ai-burst/weights');
  });

  test('no weights: no copy, no weights stage', () => {
    expect(userDataOf(uri)).not.toMatch(/s3 sync|weights-ready/);
  });
});

test('zero unacknowledged cdk-nag findings, each acknowledgement proven (ECR login, weights prefix)', () => {
  expectNagClean(stack);
});
