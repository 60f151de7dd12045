import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { JobApi } from './api/job-api';
import { JobApiAuthorization } from './api/job-api-authorization';
import { FleetScaling } from './compute/fleet-scaling';
import { GpuFleet } from './compute/gpu-fleet';
import { ModelServer } from './compute/model-server';
import { WORKLOAD_NAME_PATTERN } from './contracts';
import { InterruptionDrill } from './drill/interruption-drill';
import { AiObservability } from './observability/ai-observability';
import { CostReporter } from './observability/cost-reporter';
import { FleetAlarms } from './observability/fleet-alarms';
import { InterruptionDrainer } from './orchestration/interruption-drainer';
import { RetryHandler } from './orchestration/retry-handler';
import { JobQueue } from './queue/job-queue';
import { JobStore } from './store/job-store';
import { applyCostTags } from './common/tags';
import { renamedUnder, validatePattern, withinProps } from './common/validate';

/** One workload of a platform: its own queues, GPU fleet, scheduler, drainer, retry handler and cost tag. */
export interface AiBurstWorkloadOptions {
  /** Lower-case letters, digits and dashes, ≤ 32 characters; the `ai-burst:workload` tag and `Workload` dimension. */
  readonly name: string;
  /** @default - the platform's `costCenter` */
  readonly costCenter?: string;
  /** Priorities, highest first. @default ['high', 'normal'] */
  readonly priorities?: string[];
  /** GPU instance types of the spot fleet. @default - GpuFleet's defaults (g6.xlarge, g5.xlarge, g6.2xlarge, g5.2xlarge) */
  readonly instanceTypes?: string[];
  /** Most instances the fleet may run. @default 4 */
  readonly maxInstances?: number;
  /**
   * Longest a job should wait once instances are up; drives the scaling target. The oldest-job alarm
   * fires at this plus `expectedBootTime` (a cold start is expected, not under-provisioning).
   * @default Duration.minutes(15)
   */
  readonly queueWaitSlo?: Duration;
  /** Typical run time of one job. @default Duration.seconds(60) */
  readonly expectedJobDuration?: Duration;
  /** Expected launch-to-first-job time; also the default idle window. @default Duration.seconds(180) */
  readonly expectedBootTime?: Duration;
  /**
   * How long an instance's model server may take to become healthy after launch before the instance is replaced
   * as a boot failure (1 minute – 30 minutes). @default - 3 × `expectedBootTime`, within 10 to 30 minutes
   */
  readonly bootTimeout?: Duration;
  /** Longest a job may run (1 minute – 12 hours). @default Duration.hours(1) */
  readonly jobTimeout?: Duration;
  /** The model server each instance runs. @default ModelServer.vllm() */
  readonly modelServer?: ModelServer;
  /** Jobs one instance runs at once. @default 1 */
  readonly workerConcurrency?: number;
  /** Attempts before a failing job is parked; the worker and the RetryHandler share it. @default 3 */
  readonly maxAttempts?: number;
  /** Daily spend that raises the workload's budget alarm, USD. @default - no workload budget alarm */
  readonly dailyBudgetUsd?: number;
  /** Agents whose cost per successful job gets its own dashboard line. @default - none */
  readonly agents?: string[];
  /**
   * Where the GPU layer (fleet, CapacityManager, InterruptionDrainer, drill) lives: another stack of the
   * same account, e.g. one that owns GPU quota, in the platform's region or another one (a cheaper or
   * roomier spot region). The queues, retry handler, API and job store stay in the platform's stack,
   * which never depends on the compute stack: a placed workload is not woken on submit (its
   * CapacityManager still evaluates about every 10 s) and its dashboard section reads the fleet by name.
   * In another region both stacks need an explicit `env` (account and region): the queues, table and
   * bucket get CDK-generated names so the compute stack holds their names, ARNs and URLs as literals
   * (CloudFormation cannot reference across regions), and the worker, CapacityManager and drainer call
   * SQS, DynamoDB and S3 in the platform's region — every receive, record write and result upload crosses
   * regions. The dashboard reads such a workload's fleet-side metrics in its region; its fleet-side alarms
   * (`FleetAlarms`, with their own topic) and a CostReporter for it are created in the compute stack, outside
   * the platform's `dailyBudgetUsd`. Not yet with `encryptionKey` (a cross-region key grant would cover every
   * key). See the README's "Placement" section.
   * @default - the platform's scope
   */
  readonly computeScope?: Construct;
  /** VPC for the fleet when `computeScope` is another stack. @default - the platform's `vpc` */
  readonly vpc?: ec2.IVpc;
}

export interface AiBurstPlatformProps {
  /** VPC whose private subnets (with egress) the GPU fleets use. */
  readonly vpc: ec2.IVpc;
  /** One or more workloads (at most 20: the job API carries every workload's queue URLs in its Lambda environment). */
  readonly workloads: AiBurstWorkloadOptions[];
  /** Customer-managed KMS key for queues, table and bucket. @default - AWS-managed encryption (SSE-SQS, the `aws/dynamodb` key, SSE-S3) */
  readonly encryptionKey?: kms.IKey;
  /** Value of the `ai-burst:cost-center` tag. @default - no cost-center tag */
  readonly costCenter?: string;
  /** API authorization. @default JobApiAuthorization.iam() */
  readonly apiAuthorization?: JobApiAuthorization;
  /** WAF web ACL for the API stage. @default - none */
  readonly webAclArn?: string;
  /** Let API Gateway's account-level CloudWatch role be created here (once per account and region). @default false */
  readonly apiCloudWatchRole?: boolean;
  /** Daily spend limit per agent for submissions (429 above it). @default - no per-agent limit */
  readonly agentDailyBudgetUsd?: number;
  /**
   * Platform-wide daily budget alarm, USD. Covers the workloads whose GPU layer runs in the platform's region
   * (an alarm reads one region); give a workload in another region its own `dailyBudgetUsd`.
   * @default - none
   */
  readonly dailyBudgetUsd?: number;
  /** Where alarms notify. @default - a topic is created (encrypted, TLS-only) */
  readonly alarmTopic?: sns.ITopic;
  /** Event bus for JobFailed events. @default - the account's default bus */
  readonly eventBus?: events.IEventBus;
  /** Add an AWS FIS spot-interruption drill per workload. @default false */
  readonly interruptionDrill?: boolean;
  /** How long job records and objects are kept. @default Duration.days(30) */
  readonly jobRetention?: Duration;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** Everything one workload owns, reachable as properties. */
export interface AiBurstWorkload {
  readonly name: string;
  readonly jobQueue: JobQueue;
  readonly fleet: GpuFleet;
  readonly drainer: InterruptionDrainer;
  readonly retryHandler: RetryHandler;
  readonly drill?: InterruptionDrill;
  /**
   * The fleet-side alarms (fleet idle, failure ratio, budget, spend data missing, CapacityManager errors)
   * and their own topic, in the compute stack, when the GPU layer runs in another region.
   * @default - none: the platform's AiObservability holds them
   */
  readonly fleetAlarms?: FleetAlarms;
  /**
   * The CostReporter pricing this workload in the compute stack, when the GPU layer runs in another region.
   * @default - none: the platform's CostReporter covers it
   */
  readonly costReporter?: CostReporter;
}

const NAME = 'AiBurstPlatform';
const MAX_WORKLOADS = 20;

/**
 * The workload option each nested construct's prop comes from (keyed `Construct.prop` where the same prop
 * name means something else elsewhere), so a nested error names `workloads["<name>"].<option>`.
 */
const WORKLOAD_OPTION_OF: Readonly<Record<string, string>> = {
  'JobQueue.workload': 'name',
  priorities: 'priorities',
  jobTimeout: 'jobTimeout',
  costCenter: 'costCenter',
  'GpuFleet.maxCapacity': 'maxInstances',
  instanceTypes: 'instanceTypes',
  modelServer: 'modelServer',
  workerConcurrency: 'workerConcurrency',
  'CapacityManager.jobsPerInstance': 'workerConcurrency',
  maxAttempts: 'maxAttempts',
  queueWaitSlo: 'queueWaitSlo',
  expectedJobDuration: 'expectedJobDuration',
  expectedBootTime: 'expectedBootTime',
  bootTimeout: 'bootTimeout',
  vpc: 'vpc',
  dailyBudgetUsd: 'dailyBudgetUsd',
};
/** The platform prop each prop of the platform-wide constructs comes from. */
const PLATFORM_PROP_OF: Readonly<Record<string, string>> = {
  'JobStore.retention': 'jobRetention',
  'JobStore.removalPolicy': 'removalPolicy',
  encryptionKey: 'encryptionKey',
  'JobApi.defaultDailyBudgetUsd': 'agentDailyBudgetUsd',
  'JobApi.authorization': 'apiAuthorization',
  'JobApi.webAclArn': 'webAclArn',
  'JobApi.cloudWatchRole': 'apiCloudWatchRole',
  costCenter: 'costCenter',
  eventBus: 'eventBus',
  'AiObservability.dailyBudgetUsd': 'dailyBudgetUsd',
  'AiObservability.alarmTopic': 'alarmTopic',
};

/** Build a workload's constructs; their prop errors name `workloads["<name>"].<option>`. */
function inWorkload<T>(w: AiBurstWorkloadOptions, build: () => T): T {
  return withinProps(NAME, renamedUnder(`workloads[${JSON.stringify(w.name)}]`, WORKLOAD_OPTION_OF), build);
}

/** Build a platform-wide construct; its prop errors name the platform prop. */
function inPlatform<T>(build: () => T): T {
  return withinProps(NAME, renamedUnder('', PLATFORM_PROP_OF), build);
}

/**
 * AiObservability names a workload's props `workloads["<name>"].<prop>` already (the platform's names); its
 * oldest-job SLO is the platform's queueWaitSlo + expectedBootTime.
 */
function observabilityPath(construct: string, prop: string): string {
  if (prop.startsWith('workloads[')) return prop.replace(/\.oldestJobAgeSlo$/, '.queueWaitSlo + expectedBootTime');
  return renamedUnder('', PLATFORM_PROP_OF)(construct, prop);
}

/**
 * Every layer for one or more workloads in one statement: one job API, job table and bucket; per
 * workload its own queues, spot GPU fleet scaled 0→N→0 by its CapacityManager, interruption drainer,
 * retry handler, dashboard section, alarms and cost tags — separate capacity, scaling and cost centers,
 * so one agent's long analysis cannot starve another's real-time requests.
 */
export class AiBurstPlatform extends Construct {
  public readonly jobStore: JobStore;
  public readonly api: JobApi;
  /**
   * Prices the instances of the workloads whose GPU layer runs in the platform's region.
   * @default - none when every GPU layer runs in another region (each has its own, `workload(name).costReporter`)
   */
  public readonly costReporter?: CostReporter;
  public readonly observability: AiObservability;
  public readonly workloads: Record<string, AiBurstWorkload>;

  constructor(scope: Construct, id: string, props: AiBurstPlatformProps) {
    super(scope, id);
    validateProps(Stack.of(this), props);

    this.jobStore = inPlatform(
      () =>
        new JobStore(this, 'JobStore', {
          encryptionKey: props.encryptionKey,
          retention: props.jobRetention,
          removalPolicy: props.removalPolicy,
          costCenter: props.costCenter,
        }),
    );

    const built: Record<string, Omit<AiBurstWorkload, 'drill'>> = {};
    for (const w of props.workloads)
      inWorkload(w, () => {
        const costCenter = w.costCenter ?? props.costCenter;
        const maxAttempts = w.maxAttempts ?? 3;
        const jobQueue = new JobQueue(this, `${w.name}-Queue`, {
          workload: w.name,
          priorities: w.priorities,
          jobTimeout: w.jobTimeout,
          encryptionKey: props.encryptionKey,
          costCenter,
        });
        const computeScope = w.computeScope ?? this;
        if (isAway(this, w)) {
          // Literal names carry no CloudFormation reference, so say the order: the data first.
          Stack.of(computeScope).addStackDependency(Stack.of(this), `the ${w.name} GPU layer uses this stack's queues, table and bucket`);
        }
        const computeId = computeScope === this ? w.name : `${Stack.of(this).stackName}-${w.name}`;
        const fleet = new GpuFleet(computeScope, `${computeId}-Fleet`, {
          vpc: w.vpc ?? props.vpc,
          jobQueue,
          jobStore: this.jobStore,
          instanceTypes: w.instanceTypes,
          maxCapacity: w.maxInstances,
          modelServer: w.modelServer,
          workerConcurrency: w.workerConcurrency,
          maxAttempts,
          expectedJobDuration: w.expectedJobDuration,
          bootTimeout: w.bootTimeout,
          scaling: FleetScaling.capacityManager({
            queueWaitSlo: w.queueWaitSlo ?? Duration.minutes(15),
            expectedJobDuration: w.expectedJobDuration,
            expectedBootTime: w.expectedBootTime,
          }),
          costCenter,
        });
        const drainer = new InterruptionDrainer(computeScope, `${computeId}-Drainer`, {
          autoScalingGroup: fleet.autoScalingGroup,
          lifecycleHookName: fleet.terminationHookName,
          lifecycleHookHeartbeat: fleet.terminationHookHeartbeat,
          jobQueue,
          jobStore: this.jobStore,
          costCenter,
        });
        const retryHandler = new RetryHandler(this, `${w.name}-Retry`, {
          jobQueue,
          jobStore: this.jobStore,
          eventBus: props.eventBus,
          maxAttempts,
          costCenter,
        });
        built[w.name] = { name: w.name, jobQueue, fleet, drainer, retryHandler };
      });

    this.api = inPlatform(
      () =>
        new JobApi(this, 'Api', {
          store: this.jobStore,
          workloads: props.workloads.map((w) => ({
            queue: built[w.name].jobQueue,
            // A fleet placed in another stack depends on this one; a wake reference back would be a cycle.
            // Its CapacityManager still evaluates every ~10 s of each scheduled minute.
            wakeFunction: isPlaced(this, w) ? undefined : built[w.name].fleet.capacityManager?.function,
          })),
          authorization: props.apiAuthorization,
          webAclArn: props.webAclArn,
          cloudWatchRole: props.apiCloudWatchRole,
          defaultDailyBudgetUsd: props.agentDailyBudgetUsd,
          costCenter: props.costCenter,
        }),
    );

    // A CostReporter prices the instances of its own region: the home one covers the home-region GPU layers,
    // a GPU layer in another region gets its own there, with its fleet-side alarms (an alarm reads one region).
    const homeWorkloads = props.workloads.filter((w) => !isAway(this, w)).map((w) => w.name);
    this.costReporter =
      homeWorkloads.length > 0 ? new CostReporter(this, 'CostReporter', { workloads: homeWorkloads, costCenter: props.costCenter }) : undefined;
    const away: Record<string, Pick<AiBurstWorkload, 'fleetAlarms' | 'costReporter'>> = {};
    for (const w of props.workloads.filter((x) => isAway(this, x)))
      inWorkload(w, () => {
        const computeScope = w.computeScope!;
        const computeId = `${Stack.of(this).stackName}-${w.name}`;
        const costCenter = w.costCenter ?? props.costCenter;
        const fleet = built[w.name].fleet;
        const costReporter = new CostReporter(computeScope, `${computeId}-CostReporter`, { workloads: [w.name], costCenter });
        const fleetAlarms = new FleetAlarms(computeScope, `${computeId}-Alarms`, {
          workload: w.name,
          autoScalingGroupName: fleet.autoScalingGroup.autoScalingGroupName,
          capacityManagerFunction: fleet.capacityManager?.function,
          dailyBudgetUsd: w.dailyBudgetUsd,
          costReporter,
          // Alarm actions must be in the alarm's region: the platform's topic cannot serve.
          createAlarmTopic: true,
          costCenter,
        });
        away[w.name] = { fleetAlarms, costReporter };
      });

    this.observability = withinProps(
      NAME,
      observabilityPath,
      () =>
        new AiObservability(this, 'Observability', {
          workloads: props.workloads.map((w) => ({
            queue: built[w.name].jobQueue,
            // By name for a placed fleet, so this stack does not depend on the compute stack.
            ...(isPlaced(this, w)
              ? { autoScalingGroupName: built[w.name].fleet.autoScalingGroupPhysicalName }
              : { autoScalingGroup: built[w.name].fleet.autoScalingGroup, capacityManagerFunction: built[w.name].fleet.capacityManager?.function }),
            ...(isAway(this, w) ? { metricsRegion: Stack.of(w.computeScope!).region } : {}),
            oldestJobAgeSlo: oldestJobAlarmAfter(w),
            dailyBudgetUsd: w.dailyBudgetUsd,
            agents: w.agents,
            costCenter: w.costCenter ?? props.costCenter,
          })),
          costReporter: this.costReporter,
          dailyBudgetUsd: props.dailyBudgetUsd,
          alarmTopic: props.alarmTopic,
          createAlarmTopic: props.alarmTopic === undefined,
          costCenter: props.costCenter,
        }),
    );

    const workloads: Record<string, AiBurstWorkload> = {};
    for (const w of props.workloads) {
      const drillScope = w.computeScope ?? this;
      const drillId = `${w.computeScope ? `${Stack.of(this).stackName}-` : ''}${w.name}-Drill`;
      const drill = props.interruptionDrill
        ? inWorkload(
            w,
            () =>
              new InterruptionDrill(drillScope, drillId, {
                workload: w.name,
                stopCondition: isAway(this, w)
                  ? drainerFailureAlarm(drillScope, `${drillId}Stop`, built[w.name].drainer)
                  : this.observability.workloadAlarms[w.name].oldestJobAge,
                costCenter: w.costCenter ?? props.costCenter,
              }),
          )
        : undefined;
      workloads[w.name] = { ...built[w.name], drill, ...away[w.name] };
    }
    this.workloads = workloads;

    applyCostTags(this, undefined, props.costCenter);
  }

  /** One workload's parts; throws naming the known workloads for an unknown name. */
  public workload(name: string): AiBurstWorkload {
    const w = this.workloads[name];
    if (!w) throw new Error(`${NAME}: unknown workload ${JSON.stringify(name)}; this platform has ${Object.keys(this.workloads).join(', ')}`);
    return w;
  }
}

/** True when a workload's GPU layer lives in another stack than the platform. */
function isPlaced(platform: Construct, w: AiBurstWorkloadOptions): boolean {
  return w.computeScope !== undefined && Stack.of(w.computeScope) !== Stack.of(platform);
}

/** True when a workload's GPU layer lives in another region than the platform (validated: both explicit). */
function isAway(platform: Construct, w: AiBurstWorkloadOptions): boolean {
  return isPlaced(platform, w) && Stack.of(w.computeScope!).region !== Stack.of(platform).region;
}

/**
 * The drill's stop condition for a fleet in another region. FIS reads an alarm of its own region and an
 * alarm cannot watch another region's metrics, so the platform's oldest-job alarm cannot serve: stop when
 * an interruption event could not be handled (the drainer's dead-letter queue is not empty).
 */
function drainerFailureAlarm(scope: Construct, id: string, drainer: InterruptionDrainer): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    metric: drainer.metricFailedEvents(),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    // No data = the queue metric is not published yet = nothing failed.
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription:
      `cdk-ai-burst: an interruption event of the ${drainer.workload} fleet could not be handled (it is on the ` +
      "drainer's dead-letter queue); stops the interruption drill. Read the drainer's log, then redrive or delete the event.",
  });
}

/**
 * The oldest-job alarm fires after the queue-wait SLO plus one cold start: a job that arrives at an empty
 * fleet waits for boot by design, which is not under-provisioning.
 */
function oldestJobAlarmAfter(w: AiBurstWorkloadOptions): Duration {
  const seconds = (w.queueWaitSlo ?? Duration.minutes(15)).toSeconds() + (w.expectedBootTime ?? Duration.seconds(180)).toSeconds();
  return Duration.seconds(Math.max(60, seconds));
}

function validateProps(home: Stack, props: AiBurstPlatformProps): void {
  if (props.workloads.length < 1 || props.workloads.length > MAX_WORKLOADS) {
    throw new Error(`${NAME}: workloads must list 1 to ${MAX_WORKLOADS} workloads (got ${props.workloads.length})`);
  }
  const seen = new Set<string>();
  for (const [i, w] of props.workloads.entries()) {
    validatePattern(
      NAME,
      `workloads[${i}].name`,
      w.name,
      WORKLOAD_NAME_PATTERN,
      'use lower-case letters, digits and dashes, starting with a letter, up to 32 characters',
    );
    if (seen.has(w.name)) throw new Error(`${NAME}: workloads lists ${JSON.stringify(w.name)} twice`);
    seen.add(w.name);
    if (w.computeScope) {
      const away = Stack.of(w.computeScope);
      if (away !== home) validatePlacement(home, away, `workloads[${JSON.stringify(w.name)}].computeScope`);
      if (props.encryptionKey && away.region !== home.region) {
        // key.grant() to a principal of another region grants kms:GenerateDataKey/Decrypt on "*".
        throw new Error(
          `${NAME}: encryptionKey cannot be combined with a GPU layer in another region yet ` +
            `(workloads[${JSON.stringify(w.name)}].computeScope is in ${away.region}, the platform in ${home.region}): aws-cdk-lib grants a key ` +
            'to a role of another region on every key ("Resource": "*"), which breaks least privilege. Leave encryptionKey unset ' +
            "(AWS-managed encryption) or keep the GPU layer in the platform's region",
        );
      }
      if (away !== home && !w.vpc) {
        throw new Error(`${NAME}: workloads[${JSON.stringify(w.name)}].vpc is required when computeScope is another stack (a VPC of that stack)`);
      }
    }
  }
}

/**
 * Another stack of the same account; in another region only with explicit environments on both stacks
 * (generated physical names need the region and account, and a region CDK cannot see cannot be compared).
 */
function validatePlacement(home: Stack, away: Stack, at: string): void {
  const show = (v: string) => (Token.isUnresolved(v) ? 'unresolved' : v);
  const explicit = (s: Stack) => !Token.isUnresolved(s.region) && !Token.isUnresolved(s.account);
  const accountsKnown = !Token.isUnresolved(home.account) && !Token.isUnresolved(away.account);
  if (accountsKnown && home.account !== away.account) {
    throw new Error(
      `${NAME}: ${at} is stack "${away.stackName}" in account ${away.account} but the platform's stack "${home.stackName}" is in ` +
        `account ${home.account}; a GPU layer must be in the platform's account (it is granted the queues, table and bucket by IAM policy)`,
    );
  }
  if (home.region === away.region) return;
  for (const s of [home, away]) {
    if (!explicit(s)) {
      throw new Error(
        `${NAME}: ${at} is stack "${away.stackName}" (region ${show(away.region)}) and the platform's stack "${home.stackName}" ` +
          `is in region ${show(home.region)}; a GPU layer in another region needs an explicit env: { account, region } on both stacks, ` +
          `and stack "${s.stackName}" has account ${show(s.account)}, region ${show(s.region)}`,
      );
    }
  }
}
