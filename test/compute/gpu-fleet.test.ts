import { Duration, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { JobQueue, JobStore, METRIC_NAMESPACE } from '../../lib';
import { WORKER_CONFIG_PATH, ModelServerKind } from '../../lib/contracts';
import { DLAMI_SSM_PARAMETER, GpuFleet, GpuFleetProps, TERMINATION_HOOK_NAME } from '../../lib/compute/gpu-fleet';
import { FleetScaling } from '../../lib/compute/fleet-scaling';
import { ModelServer } from '../../lib/compute/model-server';
import { ModelServerImage } from '../../lib/compute/model-server-image';
import { BUSY_HISTORY_TAG } from '../../lib/compute/scaling-policy';
import { policyStatements } from '../support/nag';
import { expectNagClean, testStack } from '../support/stacks';
import { flatten, WORKER_FIXTURE } from './support';

function base(stack: Stack) {
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  vpc.addFlowLog('FlowLog');
  const jobQueue = new JobQueue(stack, 'Jobs', { workload: 'agents' });
  const jobStore = new JobStore(stack, 'Store');
  return { vpc, jobQueue, jobStore };
}

/** Construct only (no synth): for `fails if …` tests. */
function construct(props: Partial<GpuFleetProps>) {
  const { stack } = testStack();
  return new GpuFleet(stack, 'Fleet', { ...base(stack), workerEntry: WORKER_FIXTURE, ...props });
}

describe('GpuFleet defaults', () => {
  const { stack } = testStack();
  const deps = base(stack);
  const fleet = new GpuFleet(stack, 'Fleet', { ...deps, workerEntry: WORKER_FIXTURE, costCenter: 'research' });
  const template = Template.fromStack(stack);
  const [, asg] = Object.entries(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0];
  const [, lt] = Object.entries(template.findResources('AWS::EC2::LaunchTemplate'))[0];
  const ltData = lt.Properties.LaunchTemplateData;
  const userData = flatten(ltData.UserData);
  const instanceRoleId = stack.getLogicalId(fleet.role.node.defaultChild as iam.CfnRole);
  const instanceStatements = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(instanceRoleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);

  test('spot only: on-demand base 0 and 0 % above base, price-capacity-optimized', () => {
    expect(asg.Properties.MixedInstancesPolicy.InstancesDistribution).toEqual({
      OnDemandBaseCapacity: 0,
      OnDemandPercentageAboveBaseCapacity: 0,
      SpotAllocationStrategy: 'price-capacity-optimized',
    });
  });

  test('at least 3 one-GPU instance types, min 0, max 4, capacity rebalance, group metrics', () => {
    const types = asg.Properties.MixedInstancesPolicy.LaunchTemplate.Overrides.map((o: any) => o.InstanceType);
    expect(types.length).toBeGreaterThanOrEqual(3);
    expect(types).toEqual(['g6.xlarge', 'g5.xlarge', 'g6.2xlarge', 'g5.2xlarge']);
    expect(asg.Properties.MinSize).toBe('0');
    expect(asg.Properties.MaxSize).toBe('4');
    expect(asg.Properties.DesiredCapacity).toBeUndefined();
    expect(asg.Properties.CapacityRebalance).toBe(true);
    expect(asg.Properties.MetricsCollection).toEqual([{ Granularity: '1Minute' }]);
  });

  test('every private subnet of the VPC, and no public one', () => {
    const privateIds = deps.vpc.privateSubnets.map((s) => stack.resolve(s.subnetId));
    expect(asg.Properties.VPCZoneIdentifier).toEqual(privateIds);
    expect(privateIds).toHaveLength(2);
  });

  test('launch template: IMDSv2 required (1 hop), instance tags in IMDS, no public IP, no key pair, detailed monitoring', () => {
    expect(ltData.MetadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1, InstanceMetadataTags: 'enabled' });
    expect(ltData.NetworkInterfaces).toEqual([expect.objectContaining({ AssociatePublicIpAddress: false, DeviceIndex: 0 })]);
    expect(ltData.KeyName).toBeUndefined();
    expect(ltData.Monitoring).toEqual({ Enabled: true });
    expect(ltData.InstanceMarketOptions).toBeUndefined();
  });

  test('encrypted gp3 root volume of 150 GiB', () => {
    expect(ltData.BlockDeviceMappings).toEqual([
      {
        DeviceName: '/dev/xvda',
        Ebs: { DeleteOnTermination: true, Encrypted: true, VolumeSize: 150, VolumeType: 'gp3' },
      },
    ]);
  });

  test('the AMI comes from the Deep Learning Base OSS Nvidia Driver GPU AMI (AL2023) SSM parameter', () => {
    const params = template.toJSON().Parameters;
    const amiParam = Object.entries(params).find(([, p]: [string, any]) => p.Default === DLAMI_SSM_PARAMETER);
    expect(amiParam).toBeDefined();
    expect((amiParam![1] as any).Type).toBe('AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
    expect(ltData.ImageId).toEqual({ Ref: amiParam![0] });
    expect(DLAMI_SSM_PARAMETER).toBe('/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id');
  });

  test('terminate lifecycle hook with a known name and heartbeat', () => {
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleHookName: TERMINATION_HOOK_NAME,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      HeartbeatTimeout: 180,
      DefaultResult: 'CONTINUE',
    });
    expect(fleet.terminationHookHeartbeat.toSeconds()).toBe(180);
  });

  test('notifications of every scaling event go to a KMS-encrypted, TLS-only topic', () => {
    const topics = template.findResources('AWS::SNS::Topic');
    const [topicId, topic] = Object.entries(topics)[0];
    expect(topic.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/NotificationKey/), 'Arn'] });
    expect(asg.Properties.NotificationConfigurations).toEqual([
      {
        TopicARN: { Ref: topicId },
        NotificationTypes: expect.arrayContaining([
          'autoscaling:EC2_INSTANCE_LAUNCH',
          'autoscaling:EC2_INSTANCE_TERMINATE',
          'autoscaling:EC2_INSTANCE_LAUNCH_ERROR',
          'autoscaling:EC2_INSTANCE_TERMINATE_ERROR',
        ]),
      },
    ]);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AutoScalingNotifications',
            Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
            Condition: { StringEquals: Match.objectLike({ 'aws:PrincipalArn': Match.anyValue() }) },
          }),
        ]),
      },
    });
  });

  test('the security group allows no inbound traffic', () => {
    const sgs = Object.values(template.findResources('AWS::EC2::SecurityGroup')).filter((g) =>
      String(g.Properties.GroupDescription).includes('GPU workers'),
    );
    expect(sgs).toHaveLength(1);
    expect(sgs[0].Properties.SecurityGroupIngress).toBeUndefined();
  });

  test('least privilege: no wildcard actions anywhere in the stack', () => {
    for (const s of policyStatements(template)) {
      for (const a of [s.Action].flat()) expect(a).not.toMatch(/\*/);
    }
  });

  test("the instance role: only this workload's queues, records and result prefix, its namespace, its own group", () => {
    const find = (action: string) => instanceStatements.filter((s) => [s.Action].flat().includes(action));
    expect(find('sqs:ReceiveMessage')[0].Resource).toHaveLength(2);
    expect(find('dynamodb:PutItem')[0].Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['agents.*'] } });
    expect(flatten(find('s3:PutObject')[0].Resource)).toMatch(/\/results\/agents\/\*$/);
    // A run that lost its job deletes its own result object: delete only under the workload's results prefix.
    const del = find('s3:DeleteObject');
    expect(del).toHaveLength(1);
    expect(flatten(del[0].Resource)).toMatch(/\/results\/agents\/\*$/);
    expect(find('cloudwatch:PutMetricData')[0]).toMatchObject({
      Resource: '*',
      Condition: { StringEquals: { 'cloudwatch:namespace': [METRIC_NAMESPACE, 'CWAgent'] } },
    });
    const protection = find('autoscaling:SetInstanceProtection');
    expect(protection).toHaveLength(1);
    expect(flatten(protection[0].Resource)).toMatch(
      /^arn:<AWS::Partition>:autoscaling:us-east-1:123456789012:autoScalingGroup:\*:autoScalingGroupName\/<AWS::StackName>-agents-[0-9a-f]{8}$/,
    );
    // The name in the ARN is the group's own name.
    expect(flatten(asg.Properties.AutoScalingGroupName)).toBe(flatten(protection[0].Resource).split('autoScalingGroupName/')[1]);
    // The worker asset: one exact object.
    const get = find('s3:GetObject').map((s) => flatten(s.Resource));
    expect(get.some((r) => /^arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-123456789012-us-east-1\/[0-9a-f]{64}\.js$/.test(r))).toBe(true);
    const resources = instanceStatements.flatMap((s) => [s.Resource].flat()).filter((r) => r === '*');
    const starActions = instanceStatements.filter((s) => s.Resource === '*').flatMap((s) => [s.Action].flat());
    expect(resources.length).toBeGreaterThan(0);
    // The docker login of the default ECR image: GetAuthorizationToken supports only "*", alone in its statement.
    expect(starActions.sort()).toEqual(['cloudwatch:PutMetricData', 'ec2:DescribeTags', 'ecr:GetAuthorizationToken']);
    expect(instanceStatements.filter((s) => s.Resource === '*' && [s.Action].flat().includes('ecr:GetAuthorizationToken'))).toEqual([
      { Sid: 'AiBurstEcrLogin', Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
    ]);
  });

  test('the default image: pull permissions on the AWS Deep Learning Containers vllm repository only', () => {
    const pulls = instanceStatements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('ecr:') && a !== 'ecr:GetAuthorizationToken'));
    expect(pulls).toHaveLength(1);
    expect(pulls[0].Action).toEqual(['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability']);
    expect(flatten(pulls[0].Resource)).toBe('arn:<AWS::Partition>:ecr:us-east-1:763104351884:repository/vllm');
    expect(userData).toContain(
      "aws ecr get-login-password --region 'us-east-1' | docker login --username AWS --password-stdin '763104351884.dkr.ecr.us-east-1.<AWS::URLSuffix>'",
    );
    // Nothing from Docker Hub, so no rate-limit warning.
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('Docker Hub'))).toEqual([]);
  });

  test("a failed boot may mark only its own group's instances unhealthy and write only to the fleet's boot log group", () => {
    const health = instanceStatements.filter((s) => [s.Action].flat().includes('autoscaling:SetInstanceHealth'));
    expect(health).toHaveLength(1);
    expect(health[0].Action).toEqual(['autoscaling:SetInstanceProtection', 'autoscaling:SetInstanceHealth']);
    expect(flatten(health[0].Resource)).toMatch(/:autoScalingGroup:\*:autoScalingGroupName\/<AWS::StackName>-agents-[0-9a-f]{8}$/);
    const logGroupId = stack.getLogicalId(fleet.bootLogGroup.node.defaultChild as any);
    const writes = instanceStatements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('logs:')));
    expect(writes).toEqual([
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] } },
    ]);
    const [, group] = Object.entries(template.findResources('AWS::Logs::LogGroup')).find(([id]) => id === logGroupId)!;
    expect(flatten(group.Properties.LogGroupName)).toMatch(/^\/aws\/ai-burst\/<AWS::StackName>-agents-[0-9a-f]{8}\/boot$/);
    expect(flatten(group.Properties.LogGroupName)).toBe(`/aws/ai-burst/${flatten(asg.Properties.AutoScalingGroupName)}/boot`);
    expect(group.Properties.RetentionInDays).toBe(30);
    expect(group.DeletionPolicy).toBe('Delete');
    expect(userData).toContain(`logs put-log-events --log-group-name '<${logGroupId}>'`);
  });

  test('the GPU check runs first (every default type is an NVIDIA GPU)', () => {
    expect(userData.indexOf('timeout 120 nvidia-smi -L')).toBeGreaterThan(userData.indexOf('ai_burst_stage user-data-start'));
    expect(userData.indexOf('timeout 120 nvidia-smi -L')).toBeLessThan(userData.indexOf('dnf install -y nodejs22'));
  });

  test('instances are tagged with the workload (propagated at launch) and cost center', () => {
    expect(asg.Properties.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'ai-burst:workload', Value: 'agents', PropagateAtLaunch: true },
        { Key: 'ai-burst:cost-center', Value: 'research', PropagateAtLaunch: true },
      ]),
    );
  });

  test('user data installs Node.js from dnf, the worker asset, the CloudWatch agent, writes the config, enables the units', () => {
    expect(userData).toMatch(/^#!\/bin\/bash\n/);
    expect(userData).toContain('dnf install -y nodejs22 amazon-cloudwatch-agent');
    expect(userData).toMatch(
      /aws s3 cp 's3:\/\/cdk-[a-z0-9]+-assets-123456789012-us-east-1\/[0-9a-f]{64}\.js' "\$R"\/opt\/ai-burst\/worker\/index\.js --region '<AWS::Region>'/,
    );
    expect(userData).toContain(`cat > "$R"${WORKER_CONFIG_PATH} <<'AI_BURST_EOF'`);
    expect(userData).toContain('ExecStart=/usr/bin/node-22 /opt/ai-burst/worker/index.js');
    expect(userData).toContain('User=ai-burst');
    expect(userData).toContain('systemctl enable --now ai-burst-model-server.service ai-burst-worker.service');
    expect(userData).toContain(
      'amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:"$R"/opt/aws/amazon-cloudwatch-agent/etc/ai-burst.json',
    );
    expect(userData).toContain('"nvidia_gpu"');
    // The default model server: vLLM's OpenAI server via Docker, bound to localhost, from the image the boot script pulled.
    expect(userData).toContain('exec docker run --rm --pull never --name ai-burst-model-server --gpus all --ipc=host -p 127.0.0.1:8000:8000');
    expect(userData).toContain(
      "'763104351884.dkr.ecr.us-east-1.<AWS::URLSuffix>/vllm:0.11.0-gpu-py312-cu128-ubuntu22.04-ec2' '--model' 'Qwen/Qwen2.5-7B-Instruct'",
    );
    expect(userData).toContain("docker pull '763104351884.dkr.ecr.us-east-1.<AWS::URLSuffix>/vllm:0.11.0-gpu-py312-cu128-ubuntu22.04-ec2'");
  });

  test('the worker config fills every field of WorkerConfig', () => {
    const json = userData.split(`cat > "$R"${WORKER_CONFIG_PATH} <<'AI_BURST_EOF'\n`)[1].split('\nAI_BURST_EOF')[0];
    const config = JSON.parse(json);
    expect(Object.keys(config).sort()).toEqual(
      [
        'autoScalingGroupName',
        'bootTimeoutSeconds',
        'concurrency',
        'hourlyPriceUsd',
        'inlineResultMaxBytes',
        'jobTable',
        'jobTimeoutSeconds',
        'maxAttempts',
        'metricNamespace',
        'modelServer',
        'parkingQueueUrl',
        'payloadBucket',
        'queues',
        'region',
        'resultBucket',
        'v',
        'visibilityTimeoutSeconds',
        'workload',
      ].sort(),
    );
    expect(config).toMatchObject({
      v: 1,
      region: '<AWS::Region>',
      workload: 'agents',
      queues: [
        { priority: 'high', url: expect.stringMatching(/^<JobsQueuehigh/) },
        { priority: 'normal', url: expect.stringMatching(/^<JobsQueuenormal/) },
      ],
      concurrency: 1,
      maxAttempts: 3,
      // 3 × the CapacityManager's default expected boot (180 s) is below the 10-minute floor.
      bootTimeoutSeconds: 600,
      jobTimeoutSeconds: 3600,
      visibilityTimeoutSeconds: 900,
      metricNamespace: METRIC_NAMESPACE,
      modelServer: {
        kind: 'openai',
        baseUrl: 'http://127.0.0.1:8000',
        healthPath: '/health',
        defaultModel: 'Qwen/Qwen2.5-7B-Instruct',
        stream: true,
      },
    });
    expect(config.autoScalingGroupName).toBe(flatten(asg.Properties.AutoScalingGroupName));
    // Concrete region: spot prices of every fleet type from the snapshot, written directly.
    expect(Object.keys(config.hourlyPriceUsd).sort()).toEqual(['g5.2xlarge', 'g5.xlarge', 'g6.2xlarge', 'g6.xlarge']);
    expect(config.hourlyPriceUsd['g5.xlarge']).toBe(0.503);
    expect(userData).not.toContain('prices-by-region.json');
  });

  test('the CapacityManager is the default scaler: a schedule every minute and a function scoped to this group', () => {
    expect(fleet.capacityManager).toBeDefined();
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: Match.objectLike({ AI_BURST_ASG_NAME: { Ref: stack.getLogicalId(fleet.autoScalingGroup.node.defaultChild as any) } }),
      },
    });
    const managerStatements = policyStatements(template).filter(
      (s) => JSON.stringify(s.Action).includes('SetDesiredCapacity') || JSON.stringify(s.Action).includes('CreateOrUpdateTags'),
    );
    expect(managerStatements).toHaveLength(2);
    for (const s of managerStatements) expect(flatten(s.Resource)).toMatch(/:autoScalingGroup:\*:autoScalingGroupName\/<FleetASG[0-9A-F]+>$/);
    expect(managerStatements.find((s) => s.Action === 'autoscaling:CreateOrUpdateTags')!.Condition).toEqual({
      'ForAllValues:StringEquals': { 'aws:TagKeys': [BUSY_HISTORY_TAG] },
    });
  });

  test('zero unacknowledged cdk-nag findings, each acknowledgement proven', () => {
    expectNagClean(stack);
  });
});

describe('GpuFleet options (one stack, two fleets)', () => {
  const { stack } = testStack();
  const deps = base(stack);
  const fleet = new GpuFleet(stack, 'Custom', {
    ...deps,
    workerEntry: WORKER_FIXTURE,
    instanceTypes: ['g6e.xlarge', 'g6e.2xlarge', 'g6.12xlarge'],
    instanceWeights: { 'g6.12xlarge': 4 },
    minCapacity: 1,
    maxCapacity: 8,
    rootVolumeSize: Size.gibibytes(300),
    workerConcurrency: 4,
    gpuMetrics: false,
    scaling: FleetScaling.none(),
    modelServer: ModelServer.container({
      kind: ModelServerKind.INVOCATIONS,
      image: ModelServerImage.fromRegistry('example/server:1'),
      containerPort: 8080,
      port: 9000,
      defaultModel: 'm',
    }),
  });
  const single = new GpuFleet(stack, 'Single', {
    ...deps,
    jobQueue: new JobQueue(stack, 'BatchJobs', { workload: 'batch' }),
    workerEntry: WORKER_FIXTURE,
    instanceTypes: ['g6.xlarge'],
    scaling: FleetScaling.none(),
  });
  const drainer = new iam.Role(stack, 'Drainer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  single.grantCompleteLifecycleAction(drainer);
  const t = Template.fromStack(stack);
  const groupOf = (f: GpuFleet) =>
    t.findResources('AWS::AutoScaling::AutoScalingGroup')[stack.getLogicalId(f.autoScalingGroup.node.defaultChild as any)];
  const userDataOf = (f: GpuFleet) =>
    flatten(
      t.findResources('AWS::EC2::LaunchTemplate')[stack.getLogicalId(f.launchTemplate.node.defaultChild as any)].Properties.LaunchTemplateData
        .UserData,
    );

  test('custom types with weights, capacity and volume size', () => {
    const g = groupOf(fleet).Properties;
    expect(g.MinSize).toBe('1');
    expect(g.MaxSize).toBe('8');
    // Auto Scaling wants a weight on every override once one has one: the unnamed types weigh 1.
    expect(g.MixedInstancesPolicy.LaunchTemplate.Overrides).toEqual([
      { InstanceType: 'g6e.xlarge', WeightedCapacity: '1' },
      { InstanceType: 'g6e.2xlarge', WeightedCapacity: '1' },
      { InstanceType: 'g6.12xlarge', WeightedCapacity: '4' },
    ]);
    const lt = t.findResources('AWS::EC2::LaunchTemplate')[stack.getLogicalId(fleet.launchTemplate.node.defaultChild as any)];
    expect(lt.Properties.LaunchTemplateData.BlockDeviceMappings[0].Ebs.VolumeSize).toBe(300);
  });

  test('a container model server speaking /invocations, concurrency 4, no CloudWatch agent', () => {
    const ud = userDataOf(fleet);
    expect(ud).toContain('dnf install -y nodejs22\n');
    expect(ud).not.toContain('amazon-cloudwatch-agent');
    expect(ud).toContain("-p 127.0.0.1:9000:8080 'example/server:1'");
    expect(ud).toContain("ai_burst_pull_image() { docker pull 'example/server:1'; }");
    expect(ud).not.toContain('docker login');
    expect(ud).toContain('"modelServer":{"kind":"invocations","baseUrl":"http://127.0.0.1:9000","healthPath":"/ping","defaultModel":"m"}');
    expect(ud).toContain('"concurrency":4');
  });

  test("a weighted fleet writes every type's weight into the worker config (slots = concurrency × weight); an unweighted one writes none", () => {
    expect(fleet.instanceWeights).toEqual({ 'g6e.xlarge': 1, 'g6e.2xlarge': 1, 'g6.12xlarge': 4 });
    expect(userDataOf(fleet)).toContain('"concurrency":4,"instanceWeights":{"g6e.xlarge":1,"g6e.2xlarge":1,"g6.12xlarge":4}');
    expect(single.instanceWeights).toBeUndefined();
    expect(userDataOf(single)).not.toContain('instanceWeights');
  });

  test('FleetScaling.none() creates no scaler', () => {
    expect(fleet.capacityManager).toBeUndefined();
    expect(fleet.scalingPolicy).toBeUndefined();
    expect(t.findResources('AWS::Lambda::Function')).toEqual({});
    expect(t.findResources('AWS::AutoScaling::ScalingPolicy')).toEqual({});
  });

  test('without the agent, PutMetricData is confined to the library namespace alone and DescribeTags is not granted', () => {
    const customRole = stack.getLogicalId(fleet.role.node.defaultChild as any);
    const statements = Object.values(t.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(customRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements.find((s: any) => s.Action === 'cloudwatch:PutMetricData').Condition).toEqual({
      StringEquals: { 'cloudwatch:namespace': [METRIC_NAMESPACE] },
    });
    expect(statements.some((s: any) => s.Action === 'ec2:DescribeTags')).toBe(false);
  });

  test('an anonymous Docker Hub image is allowed with a warning naming the pull limit and the pull-through cache', () => {
    Annotations.fromStack(stack).hasWarning(
      '/Test/Custom',
      Match.stringLikeRegexp('example/server:1 is pulled anonymously from Docker Hub, which allows 10 pulls per hour per IP.*pull-through cache'),
    );
    expect(Annotations.fromStack(stack).findWarning('/Test/Single', Match.stringLikeRegexp('Docker Hub'))).toEqual([]);
  });

  test('fewer than 3 instance types is allowed with a warning', () => {
    Annotations.fromStack(stack).hasWarning('/Test/Single', Match.stringLikeRegexp('only 1 instance type'));
  });

  test('grantCompleteLifecycleAction: complete or extend the hook on this group only', () => {
    const s = policyStatements(t).find((x) => JSON.stringify(x.Action).includes('CompleteLifecycleAction'))!;
    expect(s.Action).toEqual(['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat']);
    expect(flatten(s.Resource)).toMatch(/:autoScalingGroup:\*:autoScalingGroupName\/<AWS::StackName>-batch-[0-9a-f]{8}$/);
  });

  test('zero unacknowledged cdk-nag findings, each acknowledgement proven', () => {
    expectNagClean(stack);
  });
});

describe('GpuFleet validation', () => {
  test.each([
    ['max < 1', { maxCapacity: 0 }, /maxCapacity must be an integer between 1 and 1000 \(got 0\)/],
    ['min > max', { minCapacity: 5, maxCapacity: 2 }, /minCapacity \(5\) must not exceed maxCapacity \(2\)/],
    ['empty instance types', { instanceTypes: [] }, /instanceTypes must list at least one instance type \(got none\)/],
    [
      'non-GPU types with requireGpu',
      { instanceTypes: ['g6.xlarge', 'm7i.xlarge'] },
      /instanceTypes has "m7i.xlarge", which is not an NVIDIA GPU type/,
    ],
    ['a malformed type', { instanceTypes: ['g6'] }, /instanceTypes has "g6", which is not an instance type name/],
    ['a duplicate type', { instanceTypes: ['g6.xlarge', 'g6.xlarge'] }, /instanceTypes lists "g6.xlarge" twice/],
    ['a weight for an unlisted type', { instanceWeights: { 'p5.48xlarge': 8 } }, /instanceWeights names "p5.48xlarge"/],
    [
      'more than 256 slots on one instance',
      { instanceTypes: ['g6.xlarge', 'g6.12xlarge'], instanceWeights: { 'g6.12xlarge': 8 }, workerConcurrency: 64 },
      /workerConcurrency \(64\) × instanceWeights\[g6\.12xlarge\] \(8\) gives 512 job slots on one g6\.12xlarge; at most 256/,
    ],
    [
      'an unknown GPU family',
      { instanceTypes: ['g6.xlarge', 'g9.xlarge'] },
      /instanceTypes has "g9\.xlarge", whose family g9 is unknown \(known GPU families: g3, .*\); check the name, or set requireGpu: false/,
    ],
    [
      'an AMD type with the default AMI',
      { instanceTypes: ['g6.xlarge', 'g4ad.xlarge'] },
      /instanceTypes has "g4ad\.xlarge", whose GPU is AMD; the default AMI has the NVIDIA driver only: use NVIDIA types \(e\.g\. g6\.xlarge\)/,
    ],
    [
      'an arm64 type with the default AMI',
      { instanceTypes: ['g5g.xlarge', 'g5g.2xlarge'] },
      /instanceTypes has "g5g\.xlarge", an arm64 type; the default AMI is x86_64: use x86_64 types \(e\.g\. g6\.xlarge\) or give an arm64/,
    ],
    [
      'an arm64 type with the default AMI even when requireGpu is off',
      { instanceTypes: ['p6e-gb200.36xlarge'], requireGpu: false },
      /an arm64 type; the default AMI is x86_64/,
    ],
    [
      'two architectures under one machineImage',
      { instanceTypes: ['g5.xlarge', 'g5g.xlarge'], machineImage: new ec2.GenericLinuxImage({ 'us-east-1': 'ami-12345678' }) },
      /instanceTypes mixes x86_64 \(g5\.xlarge\) and arm64 \(g5g\.xlarge\) types; a launch template has one AMI of one architecture/,
    ],
    ['SLO ≤ 0', { scaling: FleetScaling.capacityManager({ queueWaitSlo: Duration.seconds(0) }) }, /queueWaitSlo must be longer than 0 seconds/],
    [
      'a root volume below the AMI snapshot',
      { rootVolumeSize: Size.gibibytes(50) },
      /rootVolumeSize must be a whole number of GiB between 75 and 16384 \(got 50 GiB\)/,
    ],
    ['concurrency 0', { workerConcurrency: 0 }, /workerConcurrency must be an integer between 1 and 64/],
    ['a heartbeat under 30 s', { terminationHookHeartbeat: Duration.seconds(10) }, /terminationHookHeartbeat must be between/],
    ['an expected job duration over 12 h', { expectedJobDuration: Duration.hours(13) }, /expectedJobDuration must be between/],
    ['a privileged model server port', { modelServer: ModelServer.vllm({ port: 80 }) }, /port must be an integer between 1024 and 65535 \(got 80\)/],
    [
      'a boot timeout under a minute',
      { bootTimeout: Duration.seconds(30) },
      /GpuFleet: bootTimeout must be between 1 minute and 30 minutes \(got 30 seconds\)/,
    ],
    [
      'a boot timeout over 30 minutes',
      { bootTimeout: Duration.minutes(31) },
      /GpuFleet: bootTimeout must be between 1 minute and 30 minutes \(got 31 minutes\)/,
    ],
    [
      'a boot timeout of 90.5 s',
      { bootTimeout: Duration.millis(90500) },
      /GpuFleet: bootTimeout must be a whole number of seconds \(got 90500 milliseconds\)/,
    ],
    [
      'an evaluation interval over a minute',
      { scaling: FleetScaling.capacityManager({ evaluationInterval: Duration.minutes(2) }) },
      /evaluationInterval must be between/,
    ],
  ] as Array<[string, Partial<GpuFleetProps>, RegExp]>)('fails if %s', (_, props, message) => {
    expect(() => construct(props)).toThrow(message);
  });

  test.each<[string, Partial<GpuFleetProps>, number]>([
    ['the default CapacityManager (180 s expected: the 600 s floor)', {}, 600],
    ['an expected boot of 8 minutes (3 × 480 s)', { scaling: FleetScaling.capacityManager({ expectedBootTime: Duration.minutes(8) }) }, 1440],
    [
      'an expected boot of 15 minutes (capped at 30 minutes)',
      { scaling: FleetScaling.capacityManager({ expectedBootTime: Duration.minutes(15) }) },
      1800,
    ],
    ['target tracking (no expected boot: 3 × 180 s, floored)', { scaling: FleetScaling.targetTracking() }, 600],
    ['an explicit bootTimeout', { bootTimeout: Duration.minutes(12) }, 720],
  ])('the boot timeout with %s reaches the worker config', (_, props, seconds) => {
    const fleet = construct(props);
    expect(fleet.bootTimeout.toSeconds()).toBe(seconds);
    const userData = flatten(Template.fromStack(Stack.of(fleet)).findResources('AWS::EC2::LaunchTemplate'));
    expect(userData).toContain(`\\"bootTimeoutSeconds\\":${seconds}`);
  });

  test('a boot timeout below the expected boot time is allowed with a warning', () => {
    const fleet = construct({ bootTimeout: Duration.minutes(2), scaling: FleetScaling.capacityManager({ expectedBootTime: Duration.minutes(5) }) });
    Annotations.fromStack(Stack.of(fleet)).hasWarning(
      '/Test/Fleet',
      Match.stringLikeRegexp('bootTimeout \\(2 minutes\\) is shorter than the expected boot time \\(300 s\\)'),
    );
  });

  test('expectedJobDuration reaches the worker config (the notice rule reads it)', () => {
    const fleet = construct({ expectedJobDuration: Duration.seconds(45) });
    const userData = flatten(Template.fromStack(Stack.of(fleet)).findResources('AWS::EC2::LaunchTemplate'));
    expect(userData).toMatch(/\\"expectedJobSeconds\\":45,/);
  });

  test('AMD or arm64 GPU types are accepted with a machineImage (of one architecture); an unknown family when requireGpu is off', () => {
    const image = new ec2.GenericLinuxImage({ 'us-east-1': 'ami-12345678' });
    expect(() => construct({ instanceTypes: ['g4ad.xlarge', 'g4ad.2xlarge', 'g4ad.4xlarge'], machineImage: image })).not.toThrow();
    expect(() => construct({ instanceTypes: ['g5g.xlarge', 'g5g.2xlarge', 'g5g.4xlarge'], machineImage: image })).not.toThrow();
    expect(() => construct({ instanceTypes: ['g9.xlarge', 'g6.xlarge', 'g5.xlarge'], requireGpu: false })).not.toThrow();
  });

  test('non-GPU types are accepted when requireGpu is off', () => {
    expect(() => construct({ instanceTypes: ['m7i.xlarge', 'm6i.xlarge', 'm5.xlarge'], requireGpu: false })).not.toThrow();
  });

  test('fails if the worker entry is missing, naming the prop', () => {
    expect(() => construct({ workerEntry: '/nonexistent/index.ts' })).toThrow(
      /worker agent's entry \/nonexistent\/index\.ts does not exist; set workerEntry/,
    );
  });
});
