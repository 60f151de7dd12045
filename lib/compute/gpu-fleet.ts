import { Annotations, Aws, Duration, Fn, RemovalPolicy, Size, Stack, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  BOOT_TIMEOUT_FACTOR,
  MAX_BOOT_TIMEOUT_SECONDS,
  METRIC_NAMESPACE,
  MIN_DEFAULT_BOOT_TIMEOUT_SECONDS,
  WORKER_CONFIG_VERSION,
  WorkerConfig,
} from '../contracts';
import { acknowledgeNag } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { PropError, propError, validateDuration, validateInteger, withinProps } from '../common/validate';
import { hourlyPrice, knownRegions } from '../cost/pricing';
import { cloudWatchAgentConfigJson, CW_AGENT_NAMESPACE } from '../observability/cloudwatch-agent-config';
import { queueUrlFrom, remoteRegionOf } from '../common/cross-region';
import { IJobQueue } from '../queue/job-queue';
import { IJobStore } from '../store/job-store';
import { acknowledgeGroupArnWildcard, autoScalingGroupArn, CapacityManager } from './capacity-manager';
import { FleetScaling, IScalableGpuFleet } from './fleet-scaling';
import { familyOf, gpuFamilyOf, isUnknownGpuFamily, knownGpuFamilies } from './gpu-families';
import { ModelServer, ModelServerConfig } from './model-server';
import { DEFAULT_EXPECTED_BOOT_SECONDS } from './scaling-policy';
import { renderUserData } from './user-data';
import { defaultWorkerEntry, workerAsset } from './worker-bundle';

/** SSM parameter of the latest Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023, x86_64). */
export const DLAMI_SSM_PARAMETER = '/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id';
/** Its root snapshot is 75 GiB; the root volume cannot be smaller. */
const DLAMI_MIN_ROOT_GIB = 75;
/**
 * One-GPU types with 24 GB of GPU memory (L4, A10G), Ampere or newer so vLLM's current engine runs on all
 * of them; several sizes of each widen the spot pools price-capacity-optimized can choose from.
 * (g4dn's T4 is cheaper but is not supported by vLLM's V1 engine.)
 */
export const DEFAULT_GPU_INSTANCE_TYPES: readonly string[] = ['g6.xlarge', 'g5.xlarge', 'g6.2xlarge', 'g5.2xlarge'];
/** Name of the terminate lifecycle hook (names are unique per group, so a constant is safe). */
export const TERMINATION_HOOK_NAME = 'ai-burst-drain';
const MIN_RECOMMENDED_TYPES = 3;
const NAME = 'GpuFleet';
const INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
/** Most job slots one instance may run (workerConcurrency × its weight); the worker config's bound. */
export const MAX_SLOTS_PER_INSTANCE = 256;

export interface GpuFleetProps {
  /** The VPC; instances go to its private subnets and get no public IP. */
  readonly vpc: ec2.IVpc;
  /**
   * Where instances launch: every subnet matching this selection (several AZs widen the spot pools).
   * @default - every private subnet with egress ({ subnetType: PRIVATE_WITH_EGRESS })
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The workload's queues; the fleet consumes them and the workload name comes from here. */
  readonly jobQueue: IJobQueue;
  /** Job records and data; the fleet writes only this workload's records and results. */
  readonly jobStore: IJobStore;
  /**
   * Instance types of the mixed-instances policy, most preferred first. At least 3 are recommended so
   * price-capacity-optimized has several spot pools to choose from.
   * @default DEFAULT_GPU_INSTANCE_TYPES (g6.xlarge, g5.xlarge, g6.2xlarge, g5.2xlarge)
   */
  readonly instanceTypes?: string[];
  /**
   * Weighted capacity per instance type (1 to 999), e.g. GPUs per instance. With weights, min, max and the
   * desired capacity count weight units, not instances: the CapacityManager decides in units (backlog per
   * unit, busy and pending units), target tracking divides by the in-service capacity units, and an
   * instance runs `workerConcurrency × its weight` jobs at once. A listed type left out of the map weighs 1
   * (Auto Scaling wants a weight on every type once one has one).
   * @default - no weights: every type counts as one instance
   */
  readonly instanceWeights?: Record<string, number>;
  /**
   * Refuse instance types outside the known GPU families (G and P); a G/P-shaped family this library does
   * not know yet (e.g. a new `g9`) is refused as unknown. Whatever this says, with the default AMI (NVIDIA
   * driver, x86_64) AMD types (g4ad) and arm64 types (g5g, p6e-gb200) are refused: give a `machineImage` for them.
   * @default true
   */
  readonly requireGpu?: boolean;
  /**
   * Fewest instances (0 lets the fleet, and its bill, go to zero); weight units with `instanceWeights`.
   * @default 0
   */
  readonly minCapacity?: number;
  /**
   * Most instances (1 to 1000): the cap on spend and on spot requests; weight units with `instanceWeights`.
   * @default 4
   */
  readonly maxCapacity?: number;
  /**
   * The AMI. It must have the NVIDIA driver, the AWS CLI and dnf access to the Amazon Linux 2023 repositories; for
   * container model servers the boot script installs Docker (`dnf install docker`) and configures the NVIDIA
   * container runtime (`nvidia-ctk`, installed with dnf when missing) if the AMI lacks them.
   * @default - the latest Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023), from the SSM parameter DLAMI_SSM_PARAMETER
   */
  readonly machineImage?: ec2.IMachineImage;
  /**
   * Root volume size (encrypted gp3): holds the container image and the model weights.
   * @default Size.gibibytes(150)
   */
  readonly rootVolumeSize?: Size;
  /**
   * The model server each instance runs on 127.0.0.1.
   * @default ModelServer.vllm() — vLLM's OpenAI-compatible server serving Qwen/Qwen2.5-7B-Instruct
   */
  readonly modelServer?: ModelServer;
  /**
   * Jobs one instance runs at once (1 to 64); also the scaling policy's jobs per instance. With
   * `instanceWeights` it counts per weight unit: an instance of weight w runs `workerConcurrency × w` jobs.
   * @default 1
   */
  readonly workerConcurrency?: number;
  /**
   * Attempts of a failing job before it is parked (the retry budget the worker reports against).
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Results up to this many bytes are stored inline in the job record; larger ones go to S3 (1 KiB to 300 KiB,
   * DynamoDB items are limited to 400 KB).
   * @default 32768
   */
  readonly inlineResultMaxBytes?: number;
  /**
   * How the desired capacity is driven.
   * @default FleetScaling.capacityManager()
   */
  readonly scaling?: FleetScaling;
  /**
   * How long a job is expected to run (1 s to 12 h). At a spot notice the worker and the drainer let a job
   * expected to end before the reclaim (less 20 s) finish, and requeue the rest at once.
   * @default - unknown: every running job is requeued at a spot notice
   */
  readonly expectedJobDuration?: Duration;
  /**
   * How long after its launch an instance's model server may take to become healthy (1 minute to 30 minutes,
   * whole seconds); the worker then reports the instance unhealthy (the group replaces it) and counts a BootFailure.
   * @default - 3 × the expected boot time (the scaling's `expectedBootTime`, else 180 s), within 10 to 30 minutes
   */
  readonly bootTimeout?: Duration;
  /**
   * Topic for the group's launch/terminate notifications.
   * @default - a topic is created, encrypted with a customer-managed key (rotation on), TLS-only
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * How long an instance waits in Terminating:Wait for the drainer to hand its jobs back (30 s to 2 h).
   * The drainer completes the hook as soon as it is done; a spot reclaim does not wait for it.
   * @default Duration.minutes(3)
   */
  readonly terminationHookHeartbeat?: Duration;
  /**
   * Install the CloudWatch agent and publish GPU utilization and memory (namespace CWAgent).
   * @default true
   */
  readonly gpuMetrics?: boolean;
  /**
   * The worker agent to run: one JavaScript file with all its dependencies bundled in, uploaded as is (no
   * bundling at synth).
   * @default - the worker this package ships, prebuilt (assets/worker/index.js)
   */
  readonly workerEntry?: string;
  /**
   * Value of the `ai-burst:cost-center` tag.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
}

/**
 * Spot-only GPU capacity for one workload: an Auto Scaling group (min 0) over several one-GPU instance
 * types with price-capacity-optimized allocation and capacity rebalancing, in private subnets with no
 * public IPs; instances boot the GPU AMI with IMDSv2, an encrypted gp3 root volume and no SSH key (use
 * Session Manager), and run the model server and the worker agent as systemd units.
 *
 * Busy workers protect themselves from scale-in (`SetInstanceProtection` on their own group only), so
 * lowering the desired capacity only removes idle instances; a terminate lifecycle hook gives the
 * drainer time to hand back the jobs of an instance that goes anyway.
 */
export class GpuFleet extends Construct implements IScalableGpuFleet {
  public readonly workload: string;
  public readonly jobQueue: IJobQueue;
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** The group's name (a CloudFormation reference). */
  public readonly autoScalingGroupName: string;
  /**
   * The same name as a plain string, known at synth: for another stack that must not depend on this one
   * (a platform stack watching a fleet placed in a compute stack).
   */
  public readonly autoScalingGroupPhysicalName: string;
  /**
   * ARN pattern of the group (`…:autoScalingGroup:*:autoScalingGroupName/<name>`), for IAM statements. It
   * is built from the name expression, not a reference to the group, so the instance role can use it
   * without a dependency cycle (group → launch template → role policy).
   */
  public readonly autoScalingGroupArn: string;
  public readonly launchTemplate: ec2.LaunchTemplate;
  public readonly role: iam.Role;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly notificationTopic: sns.ITopic;
  public readonly terminationHook: autoscaling.LifecycleHook;
  public readonly terminationHookName = TERMINATION_HOOK_NAME;
  public readonly terminationHookHeartbeat: Duration;
  public readonly instanceTypes: string[];
  /** Jobs one instance runs at once; per weight unit when `instanceWeights` is set. */
  public readonly jobsPerInstance: number;
  /** Weight of every instance type (capacity counts these units), when weights are set. */
  public readonly instanceWeights?: Record<string, number>;
  public readonly modelServer: ModelServerConfig;
  /**
   * Where a failed boot writes its reason and the last lines of its log (`/aws/ai-burst/<group name>/boot`, one
   * stream per instance id, one month).
   */
  public readonly bootLogGroup: logs.LogGroup;
  /** The model server must be healthy this long after launch (the worker enforces it). */
  public readonly bootTimeout: Duration;
  /** The bundled worker agent the instances download at boot. */
  public readonly workerAsset: s3assets.Asset;
  /** The CapacityManager, when `scaling` is `FleetScaling.capacityManager()` (the default). */
  public readonly capacityManager?: CapacityManager;
  /** The native target-tracking policy, when `scaling` is `FleetScaling.targetTracking()`. */
  public readonly scalingPolicy?: autoscaling.CfnScalingPolicy;
  public readonly costCenter?: string;
  /**
   * Region of the queues and job store when it differs from the fleet's (a GPU layer placed in another
   * region): the worker's SQS, DynamoDB and S3 clients sign for it.
   */
  public readonly dataRegion?: string;

  constructor(scope: Construct, id: string, props: GpuFleetProps) {
    super(scope, id);
    this.workload = props.jobQueue.workload;
    this.jobQueue = props.jobQueue;
    this.costCenter = props.costCenter;
    this.instanceTypes = [...(props.instanceTypes ?? DEFAULT_GPU_INSTANCE_TYPES)];
    this.jobsPerInstance = props.workerConcurrency ?? 1;
    this.terminationHookHeartbeat = props.terminationHookHeartbeat ?? Duration.minutes(3);
    const minCapacity = props.minCapacity ?? 0;
    const maxCapacity = props.maxCapacity ?? 4;
    const rootVolumeSize = props.rootVolumeSize ?? Size.gibibytes(150);
    validateProps(this, props, this.instanceTypes, minCapacity, maxCapacity, rootVolumeSize);
    validateDuration(NAME, 'bootTimeout', props.bootTimeout, Duration.minutes(1), Duration.seconds(MAX_BOOT_TIMEOUT_SECONDS));
    this.instanceWeights = weightsOf(this.instanceTypes, props.instanceWeights);

    const stack = Stack.of(this);
    // An explicit name, so the instances' user data can carry it without a reference cycle
    // (launch template → group). The construct address makes it unique within the stack.
    const groupName = Fn.join('-', [Aws.STACK_NAME, this.workload, this.node.addr.substring(0, 8)]);
    this.autoScalingGroupArn = autoScalingGroupArn(this, groupName);

    this.role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `cdk-ai-burst GPU worker of workload ${this.workload}`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    acknowledgeNag(
      this.role,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      'Session Manager replaces SSH (no key pair, no inbound rule); AmazonSSMManagedInstanceCore is the AWS-maintained minimum the SSM agent needs.',
    );
    // The server's options are checked here; their errors name them under this fleet's `modelServer` prop. Binding
    // grants the role the image pull and the weights read.
    this.modelServer = withinProps(
      NAME,
      (_c, p) => `modelServer.${p}`,
      () => (props.modelServer ?? ModelServer.vllm()).bind(this, this.role),
    );
    this.bootLogGroup = new logs.LogGroup(this, 'BootLogs', {
      logGroupName: `/aws/ai-burst/${groupName}/boot`,
      retention: logs.RetentionDays.ONE_MONTH,
      // A named group left behind would block the next deployment of the same stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      allowAllOutbound: true,
      description: `cdk-ai-burst GPU workers of ${this.workload}: no inbound; outbound HTTPS to AWS APIs, model and package registries`,
    });

    this.workerAsset = workerAsset(this, 'WorkerCode', props.workerEntry ?? defaultWorkerEntry());
    const gpuMetrics = props.gpuMetrics ?? true;
    const userData = ec2.UserData.forLinux();
    const regionKnown = !Token.isUnresolved(stack.region);
    this.dataRegion = dataRegionOf(this, props);
    const config: Omit<WorkerConfig, 'bootTimeoutSeconds'> = {
      v: WORKER_CONFIG_VERSION,
      region: Aws.REGION,
      ...(this.dataRegion ? { dataRegion: this.dataRegion } : {}),
      workload: this.workload,
      queues: props.jobQueue.priorities.map((priority, i) => ({ priority, url: queueUrlFrom(this, props.jobQueue.queues[i]) })),
      parkingQueueUrl: queueUrlFrom(this, props.jobQueue.parkingQueue),
      jobTable: props.jobStore.table.tableName,
      payloadBucket: props.jobStore.bucket.bucketName,
      resultBucket: props.jobStore.bucket.bucketName,
      inlineResultMaxBytes: props.inlineResultMaxBytes ?? 32768,
      autoScalingGroupName: groupName,
      metricNamespace: METRIC_NAMESPACE,
      modelServer: this.modelServer.worker,
      concurrency: this.jobsPerInstance,
      // Only with weights, so an unweighted fleet's config (and template) stays as it was.
      ...(this.instanceWeights ? { instanceWeights: this.instanceWeights } : {}),
      jobTimeoutSeconds: props.jobQueue.jobTimeout.toSeconds(),
      visibilityTimeoutSeconds: props.jobQueue.visibilityTimeout.toSeconds(),
      maxAttempts: props.maxAttempts ?? 3,
      ...(props.expectedJobDuration ? { expectedJobSeconds: props.expectedJobDuration.toSeconds() } : {}),
      hourlyPriceUsd: regionKnown ? spotPrices(this.instanceTypes, stack.region) : {},
    };

    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: props.machineImage ?? ec2.MachineImage.fromSsmParameter(DLAMI_SSM_PARAMETER, { os: ec2.OperatingSystemType.LINUX }),
      userData,
      role: this.role,
      securityGroup: this.securityGroup,
      requireImdsv2: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      // 1 hop: containers on the Docker bridge (the model server) cannot reach IMDS and the instance role.
      httpPutResponseHopLimit: 1,
      // The worker reads its instance's tags (e.g. ai-burst:draining) through IMDS.
      instanceMetadataTags: true,
      detailedMonitoring: true,
      associatePublicIpAddress: false,
      ebsOptimized: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(rootVolumeSize.toGibibytes(), {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });

    this.notificationTopic = props.notificationTopic ?? this.createNotificationTopic();

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Resource', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      autoScalingGroupName: groupName,
      minCapacity,
      maxCapacity,
      mixedInstancesPolicy: {
        launchTemplate: this.launchTemplate,
        instancesDistribution: {
          onDemandBaseCapacity: 0,
          onDemandPercentageAboveBaseCapacity: 0,
          spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
        },
        launchTemplateOverrides: this.instanceTypes.map((t) => ({
          instanceType: new ec2.InstanceType(t),
          ...(this.instanceWeights ? { weightedCapacity: this.instanceWeights[t] } : {}),
        })),
      },
      capacityRebalance: true,
      groupMetrics: [autoscaling.GroupMetrics.all()],
      notifications: [{ topic: this.notificationTopic, scalingEvents: autoscaling.ScalingEvents.ALL }],
    });
    this.autoScalingGroupName = this.autoScalingGroup.autoScalingGroupName;
    // The stack's literal name (what AWS::StackName resolves to once deployed): a pseudo parameter would
    // resolve to the name of whichever stack reads this.
    this.autoScalingGroupPhysicalName = Fn.join('-', [stack.stackName, this.workload, this.node.addr.substring(0, 8)]);
    acknowledgeNag(
      this.autoScalingGroup,
      'AwsSolutions-EC26',
      'The rule cannot read launch templates of mixed-instances groups (it errors on the intrinsic); the only volume is the ' +
        "launch template's root volume, declared encrypted gp3.",
    );

    this.terminationHook = this.autoScalingGroup.addLifecycleHook('TerminationHook', {
      lifecycleHookName: TERMINATION_HOOK_NAME,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: this.terminationHookHeartbeat,
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });

    this.grantInstanceRole(props, gpuMetrics);

    const binding = (props.scaling ?? FleetScaling.capacityManager()).bind(this, this);
    this.capacityManager = binding.capacityManager;
    this.scalingPolicy = binding.scalingPolicy;

    // The boot timeout follows the scaling's expected boot time, so the user data is rendered once scaling is bound
    // (the launch template renders it lazily).
    this.bootTimeout = props.bootTimeout ?? defaultBootTimeout(this.capacityManager?.policy.expectedBootSeconds);
    const expectedBoot = this.capacityManager?.policy.expectedBootSeconds ?? DEFAULT_EXPECTED_BOOT_SECONDS;
    if (props.bootTimeout && !props.bootTimeout.isUnresolved() && !Token.isUnresolved(expectedBoot) && props.bootTimeout.toSeconds() < expectedBoot) {
      Annotations.of(this).addWarningV2(
        'cdk-ai-burst:bootTimeoutBelowExpectedBoot',
        `${NAME}: bootTimeout (${props.bootTimeout.toHumanString()}) is shorter than the expected boot time (${expectedBoot} s): ` +
          'instances that boot as expected will be replaced as boot failures',
      );
    }
    userData.addCommands(
      ...renderUserData({
        workerConfigJson: stack.toJsonString({ ...config, bootTimeoutSeconds: this.bootTimeout.toSeconds() } satisfies WorkerConfig),
        workerS3Url: this.workerAsset.s3ObjectUrl,
        region: Aws.REGION,
        modelServer: this.modelServer,
        workload: this.workload,
        bootLogGroupName: this.bootLogGroup.logGroupName,
        // nvidia-smi only where every type has an NVIDIA GPU (requireGpu: false may list CPU or AMD types).
        gpuCheck: this.instanceTypes.every((t) => gpuFamilyOf(t)?.vendor === 'nvidia'),
        pricesByRegionJson: regionKnown
          ? undefined
          : JSON.stringify(Object.fromEntries(knownRegions().map((r) => [r, spotPrices(this.instanceTypes, r)]))),
        cloudWatchAgentConfigJson: gpuMetrics ? cloudWatchAgentConfigJson({ workload: this.workload }) : undefined,
      }),
    );

    applyCostTags(this, this.workload, props.costCenter);
  }

  /** Let `grantee` set scale-in protection on this group's instances (what the worker does for itself). */
  public grantSetInstanceProtection(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnGroup(grantee, ['autoscaling:SetInstanceProtection']);
  }

  /** Let `grantee` mark this group's instances unhealthy, so the group replaces them (a failed boot, a lost model server). */
  public grantSetInstanceHealth(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnGroup(grantee, ['autoscaling:SetInstanceHealth']);
  }

  /** Let `grantee` (the drainer) complete or extend this group's terminate lifecycle hook. */
  public grantCompleteLifecycleAction(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnGroup(grantee, ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat']);
  }

  /** Explicit actions on this group's ARN; its one wildcard (the group id) is acknowledged on the grantee. */
  private grantOnGroup(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    const grant = iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.autoScalingGroupArn] });
    const principal = grantee.grantPrincipal as unknown as Construct;
    if (principal?.node) acknowledgeGroupArnWildcard(principal, this.autoScalingGroupArn, actions.join(', '));
    return grant;
  }

  /** Instances in service (AWS/AutoScaling, group metrics are on), Average per minute. */
  public metricInServiceInstances(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.groupMetric('GroupInServiceInstances', props);
  }

  /** Instances launching, Average per minute. */
  public metricPendingInstances(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.groupMetric('GroupPendingInstances', props);
  }

  /** The group's desired capacity, Average per minute. */
  public metricDesiredCapacity(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.groupMetric('GroupDesiredCapacity', props);
  }

  private groupMetric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/AutoScaling',
      metricName,
      dimensionsMap: { AutoScalingGroupName: this.autoScalingGroupName },
      statistic: 'Average',
      period: Duration.minutes(1),
      ...props,
    });
  }

  private createNotificationTopic(): sns.Topic {
    const key = new kms.Key(this, 'NotificationKey', {
      enableKeyRotation: true,
      description: `cdk-ai-burst: encrypts the ${this.workload} fleet's Auto Scaling notifications`,
    });
    // EC2 Auto Scaling publishes with its service-linked role. A condition on the principal ARN (rather
    // than naming the role as principal) keeps key creation working in accounts where the role does not
    // exist yet: it is created with the first Auto Scaling group.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AutoScalingNotifications',
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
            'kms:CallerAccount': Aws.ACCOUNT_ID,
            'kms:ViaService': `sns.${Aws.REGION}.amazonaws.com`,
          },
        },
      }),
    );
    return new sns.Topic(this, 'Notifications', {
      masterKey: key,
      enforceSSL: true,
      displayName: `cdk-ai-burst ${this.workload} fleet`,
    });
  }

  private grantInstanceRole(props: GpuFleetProps, gpuMetrics: boolean): void {
    const role = this.role;
    props.jobQueue.grantConsume(role);
    props.jobStore.grantReadWriteRecords(role, this.workload);
    props.jobStore.grantReadPayloads(role, this.workload);
    props.jobStore.grantWriteResults(role, this.workload);
    // One statement (one acknowledged group-ARN finding): the worker protects itself and, like a failed boot, reports
    // its own instance unhealthy.
    this.grantOnGroup(role, ['autoscaling:SetInstanceProtection', 'autoscaling:SetInstanceHealth']);
    this.bootLogGroup.grantWrite(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.workerAsset.bucket.arnForObjects(this.workerAsset.s3ObjectKey)],
      }),
    );
    // PutMetricData supports no resource-level permissions; the namespace condition confines it.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': gpuMetrics ? [METRIC_NAMESPACE, CW_AGENT_NAMESPACE] : [METRIC_NAMESPACE] } },
      }),
    );
    acknowledgeNag(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'cloudwatch:PutMetricData supports no resource-level permissions and is confined by a cloudwatch:namespace condition; ' +
        'ec2:DescribeTags (CloudWatch agent) is read-only and supports none either; ecr:GetAuthorizationToken (the docker login ' +
        'of an ECR image) supports only "*" and grants no image: pulls are allowed on the one image repository alone.',
    );
    if (gpuMetrics) {
      // The CloudWatch agent resolves ${aws:AutoScalingGroupName} with DescribeTags (read-only, no resource-level permissions).
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeTags'], resources: ['*'] }));
    }
  }
}

/** 3 × the expected boot time, within MIN_DEFAULT_BOOT_TIMEOUT_SECONDS and MAX_BOOT_TIMEOUT_SECONDS. */
export function defaultBootTimeout(expectedBootSeconds: number | undefined): Duration {
  const expected = expectedBootSeconds === undefined || Token.isUnresolved(expectedBootSeconds) ? DEFAULT_EXPECTED_BOOT_SECONDS : expectedBootSeconds;
  const seconds = Math.min(MAX_BOOT_TIMEOUT_SECONDS, Math.max(MIN_DEFAULT_BOOT_TIMEOUT_SECONDS, Math.ceil(BOOT_TIMEOUT_FACTOR * expected)));
  return Duration.seconds(seconds);
}

/**
 * The data region when the queues and job store live in another region than the fleet; the three must
 * share one region (the worker has one data region).
 */
function dataRegionOf(fleet: Construct, props: GpuFleetProps): string | undefined {
  const regions = [
    ['jobQueue', remoteRegionOf(fleet, props.jobQueue.queues[0])],
    ['jobStore.table', remoteRegionOf(fleet, props.jobStore.table)],
    ['jobStore.bucket', remoteRegionOf(fleet, props.jobStore.bucket)],
  ] as const;
  const away = regions.filter(([, r]) => r !== undefined);
  if (away.length > 0 && (away.length < regions.length || away.some(([, r]) => r !== away[0][1]))) {
    throw new Error(
      `${NAME}: jobQueue, jobStore.table and jobStore.bucket must be in one region (got ` +
        `${regions.map(([n, r]) => `${n} in ${r ?? Stack.of(fleet).region}`).join(', ')})`,
    );
  }
  return away[0]?.[1];
}

function spotPrices(types: readonly string[], region: string): Record<string, number> {
  const prices: Record<string, number> = {};
  for (const t of types) {
    const p = hourlyPrice(t, region, 'spot') ?? hourlyPrice(t, 'us-east-1', 'spot');
    if (p !== undefined) prices[t] = p;
  }
  return prices;
}

function validateProps(scope: Construct, props: GpuFleetProps, types: readonly string[], min: number, max: number, root: Size): void {
  validateInteger(NAME, 'maxCapacity', max, 1, 1000);
  validateInteger(NAME, 'minCapacity', min, 0, 1000);
  if (!Token.isUnresolved(min) && !Token.isUnresolved(max) && min > max) {
    throw new PropError(NAME, (name) => `${name('minCapacity')} (${min}) must not exceed ${name('maxCapacity')} (${max})`);
  }
  if (types.length === 0) {
    throw propError(NAME, 'instanceTypes', `must list at least one instance type (got none); e.g. ${DEFAULT_GPU_INSTANCE_TYPES.join(', ')}`);
  }
  for (const t of types) {
    if (!INSTANCE_TYPE_PATTERN.test(t)) {
      throw propError(NAME, 'instanceTypes', `has ${JSON.stringify(t)}, which is not an instance type name like g6.xlarge`);
    }
  }
  validateGpuTypes(types, props.requireGpu ?? true, props.machineImage !== undefined);
  const dup = types.find((t, i) => types.indexOf(t) !== i);
  if (dup) throw propError(NAME, 'instanceTypes', `lists ${JSON.stringify(dup)} twice`);
  if (types.length < MIN_RECOMMENDED_TYPES) {
    Annotations.of(scope).addWarningV2(
      'cdk-ai-burst:fewInstanceTypes',
      `${NAME}: only ${types.length} instance type(s); list at least ${MIN_RECOMMENDED_TYPES} so spot has several pools to choose from`,
    );
  }
  for (const [t, w] of Object.entries(props.instanceWeights ?? {})) {
    if (!types.includes(t)) {
      throw new PropError(NAME, (name) => `${name('instanceWeights')} names ${JSON.stringify(t)}, which is not in ${name('instanceTypes')}`);
    }
    validateInteger(NAME, `instanceWeights[${t}]`, w, 1, 999);
  }
  validateInteger(NAME, 'workerConcurrency', props.workerConcurrency, 1, 64);
  const concurrency = props.workerConcurrency ?? 1;
  for (const [t, w] of Object.entries(props.instanceWeights ?? {})) {
    if (Token.isUnresolved(w) || Token.isUnresolved(concurrency) || w * concurrency <= MAX_SLOTS_PER_INSTANCE) continue;
    throw new PropError(
      NAME,
      (name) =>
        `${name('workerConcurrency')} (${concurrency}) × ${name(`instanceWeights[${t}]`)} (${w}) gives ` +
        `${w * concurrency} job slots on one ${t}; at most ${MAX_SLOTS_PER_INSTANCE}: lower the weight or the concurrency`,
    );
  }
  validateInteger(NAME, 'maxAttempts', props.maxAttempts, 1, 100);
  validateInteger(NAME, 'inlineResultMaxBytes', props.inlineResultMaxBytes, 1024, 300 * 1024);
  validateDuration(NAME, 'terminationHookHeartbeat', props.terminationHookHeartbeat, Duration.seconds(30), Duration.hours(2));
  validateDuration(NAME, 'expectedJobDuration', props.expectedJobDuration, Duration.seconds(1), Duration.hours(12));
  if (!root.isUnresolved()) {
    const gib = root.toGibibytes();
    const floor = props.machineImage ? 8 : DLAMI_MIN_ROOT_GIB;
    if (!Number.isInteger(gib) || gib < floor || gib > 16384) {
      throw propError(
        NAME,
        'rootVolumeSize',
        `must be a whole number of GiB between ${floor} and 16384 (got ${gib} GiB)` +
          (props.machineImage ? '' : `; the default GPU AMI's root snapshot is ${DLAMI_MIN_ROOT_GIB} GiB`),
      );
    }
  }
}

/**
 * Every type's weight when any is given (a listed type left out weighs 1: Auto Scaling requires a weight
 * on every override once one has one); undefined for an unweighted fleet.
 */
function weightsOf(types: readonly string[], weights: Record<string, number> | undefined): Record<string, number> | undefined {
  if (!weights || Object.keys(weights).length === 0) return undefined;
  return Object.fromEntries(types.map((t) => [t, weights[t] ?? 1]));
}

/**
 * Instance types against the GPU family table: unknown G/P families and non-GPU types (unless requireGpu
 * is off); with the default AMI (NVIDIA driver, x86_64) no AMD or arm64 type; never two architectures
 * (one launch template, one AMI).
 */
function validateGpuTypes(types: readonly string[], requireGpu: boolean, customImage: boolean): void {
  for (const t of types) {
    const family = gpuFamilyOf(t);
    if (requireGpu && isUnknownGpuFamily(t)) {
      throw new PropError(
        NAME,
        (name) =>
          `${name('instanceTypes')} has ${JSON.stringify(t)}, whose family ${familyOf(t)} is unknown ` +
          `(known GPU families: ${knownGpuFamilies().join(', ')}); check the name, ` +
          `or set ${name('requireGpu')}: false for a family newer than this library`,
      );
    }
    if (requireGpu && !family) {
      throw new PropError(
        NAME,
        (name) =>
          `${name('instanceTypes')} has ${JSON.stringify(t)}, which is not an NVIDIA GPU type (G or P family); ` +
          `use GPU types or set ${name('requireGpu')}: false`,
      );
    }
    if (customImage || !family) continue;
    if (family.vendor !== 'nvidia') {
      throw new PropError(
        NAME,
        (name) =>
          `${name('instanceTypes')} has ${JSON.stringify(t)}, whose GPU is ${family.vendor.toUpperCase()}; ` +
          `the default AMI has the NVIDIA driver only: use NVIDIA types (e.g. ${DEFAULT_GPU_INSTANCE_TYPES[0]}) ` +
          `or give a ${name('machineImage')} with that vendor's driver`,
      );
    }
    if (family.architecture !== 'x86_64') {
      throw new PropError(
        NAME,
        (name) =>
          `${name('instanceTypes')} has ${JSON.stringify(t)}, an ${family.architecture} type; ` +
          `the default AMI is x86_64: use x86_64 types (e.g. ${DEFAULT_GPU_INSTANCE_TYPES[0]}) ` +
          `or give an ${family.architecture} ${name('machineImage')} with the NVIDIA driver`,
      );
    }
  }
  const byArch = new Map<string, string>();
  for (const t of types) {
    const arch = gpuFamilyOf(t)?.architecture;
    if (arch && !byArch.has(arch)) byArch.set(arch, t);
  }
  if (byArch.size > 1) {
    const [[a1, t1], [a2, t2]] = [...byArch.entries()];
    throw propError(
      NAME,
      'instanceTypes',
      `mixes ${a1} (${t1}) and ${a2} (${t2}) types; a launch template has one AMI of one ` +
        'architecture: list types of one architecture (or make two fleets)',
    );
  }
}
