import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { workloadMetric } from '../common/metrics';
import { Construct } from 'constructs';
import { EnvNames, METRIC_NAMESPACE, MetricNames, WORKLOAD_NAME_PATTERN } from '../contracts';
import { HANDLER, handlerCode } from '../common/handler';
import { acknowledgeNag } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { PropError, propError, validateDuration, validateInteger, validatePattern, validateRange } from '../common/validate';
import { queueUrlFrom, remoteRegionOf } from '../common/cross-region';
import { IJobQueue } from '../queue/job-queue';
import { BUSY_HISTORY_TAG, DEFAULT_EXPECTED_BOOT_SECONDS, ResolvedScalingPolicy, resolveScalingPolicy, ScalingPolicy } from './scaling-policy';

/** The scaling policy in construct terms (Durations); see `decideCapacity` for how each is used. */
export interface ScalingPolicyOptions {
  /**
   * Jobs (running + waiting) one instance should carry. Give this or `queueWaitSlo`.
   * @default - derived from `queueWaitSlo` ÷ `expectedJobDuration`; the jobs an instance runs at once without an SLO
   */
  readonly targetBacklogPerInstance?: number;
  /**
   * Longest a job should wait in the queue before it starts, once instances are up (> 0). The target
   * backlog per instance becomes `jobsPerInstance × (1 + floor(queueWaitSlo ÷ expectedJobDuration))`.
   * @default - no SLO
   */
  readonly queueWaitSlo?: Duration;
  /**
   * Typical run time of one job, used with `queueWaitSlo`.
   * @default Duration.seconds(60)
   */
  readonly expectedJobDuration?: Duration;
  /**
   * Expected launch-to-first-job time of an instance (boot, model server start, weights download): the
   * prior. Once the fleet's workers have reported 5 boots in the last 24 hours (`ColdStartSeconds`, stage
   * `model-healthy`), the CapacityManager uses the p90 of those instead (bounded to 30 s – 2 h) and logs
   * which one it used.
   * @default Duration.seconds(180)
   */
  readonly expectedBootTime?: Duration;
  /**
   * How long capacity must stay unneeded before it is released. The default, the boot time (learned
   * once the fleet has booted 5 times in a day, `expectedBootTime` until then), is the ski-rental
   * break-even: idling that long costs at most what a relaunch would. A fixed window pins it: the boot
   * time is then not read.
   * @default - the learned boot time, `expectedBootTime` until it is learned
   */
  readonly idleWindow?: Duration;
}

export interface CapacityManagerProps extends ScalingPolicyOptions {
  /** Workload name (the `Workload` metric dimension and cost tag). */
  readonly workload: string;
  /** The workload's queues; their live attributes drive the decision. */
  readonly jobQueue: IJobQueue;
  /** Name of the Auto Scaling group whose desired capacity this manages. */
  readonly autoScalingGroupName: string;
  /**
   * Jobs one instance runs at once (the worker's concurrency).
   * @default 1
   */
  readonly jobsPerInstance?: number;
  /**
   * How often an invocation re-evaluates while it runs (5 s to 60 s). The schedule starts one
   * invocation a minute; each evaluates at this interval until shortly before the next one starts.
   * @default Duration.seconds(10)
   */
  readonly evaluationInterval?: Duration;
  /**
   * Value of the `ai-burst:cost-center` tag.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
}

/** The event the API tier sends to wake the manager (one evaluation, at once). */
export const WAKE_EVENT = { wake: true } as const;

const NAME = 'CapacityManager';
/** Each scheduled invocation evaluates for this long, so it ends before the next minute's starts. */
const LOOP_BUDGET = Duration.seconds(50);

/**
 * The job scheduler of one GPU fleet: reads the live queue attributes and the group's state, calls the
 * pure `decideCapacity`, and sets the group's desired capacity.
 *
 * - An EventBridge schedule starts the function every minute; inside, it re-evaluates every
 *   `evaluationInterval` for about 50 seconds, so reaction time is seconds, not minutes.
 * - `grantWake()` lets the API tier invoke it asynchronously (`InvocationType: 'Event'`, payload
 *   `{"wake":true}`, e.g. when a job arrives and the fleet is at 0): a wake runs one evaluation at once.
 *   Concurrent wakes are harmless by design, so no reserved concurrency is needed (which new accounts
 *   with a concurrency limit of 10 could not grant): every evaluation reads the live state and sets the
 *   same desired capacity for the same inputs, and the idle-tracking tag only ever errs toward holding
 *   capacity longer. Debouncing wakes is the caller's job.
 * - Publishes `BacklogPerInstance` and `DesiredCapacity` (namespace `AiBurst`, dimension `Workload`) as
 *   CloudWatch embedded metrics and logs each decision with its reason.
 * - Learns the boot time: unless `idleWindow` is set, it reads the p90 and count of the fleet's
 *   `ColdStartSeconds{Workload, Stage=model-healthy}` over the last 24 hours (GetMetricData, at most every
 *   5 minutes per container) and, from 5 boots on, uses that p90 instead of `expectedBootTime`; a failed
 *   read falls back to the last reading or the prior with a warning, never a failed evaluation.
 */
export class CapacityManager extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly schedule: events.Rule;
  public readonly workload: string;
  /** The policy as the function receives it (defaults applied; `expectedBootSeconds` is the prior). */
  public readonly policy: ResolvedScalingPolicy;
  /** The idle window is the boot time, learned from the fleet's boots (no explicit `idleWindow`). */
  public readonly learnsBootTime: boolean;
  public readonly evaluationInterval: Duration;
  /** Fires when evaluations fail in 3 of 5 minutes (no actions: add yours, or let AiObservability). */
  public readonly errorsAlarm: cloudwatch.Alarm;
  /** Region of the queues when it differs from the function's (a GPU layer placed in another region). */
  public readonly dataRegion?: string;

  constructor(scope: Construct, id: string, props: CapacityManagerProps) {
    super(scope, id);
    validatePattern(
      NAME,
      'workload',
      props.workload,
      WORKLOAD_NAME_PATTERN,
      'use lower-case letters, digits and dashes, starting with a letter, up to 32 characters',
    );
    if (props.workload !== props.jobQueue.workload) {
      // Its metrics, tags and the wake-ups the API sends name `workload`; the queues it reads are another's.
      throw new PropError(
        NAME,
        (name) =>
          `${name('workload')} ${JSON.stringify(props.workload)} differs from ${name('jobQueue')}.workload ` +
          `${JSON.stringify(props.jobQueue.workload)}; give the workload of the queues it scales`,
      );
    }
    this.workload = props.workload;
    this.policy = resolveScalingPolicy(toScalingPolicy(NAME, props, props.jobsPerInstance ?? 1));
    // The boot time is used only by the default idle window (scaling-policy.ts): with a fixed one, nothing to learn.
    this.learnsBootTime = props.idleWindow === undefined;
    this.evaluationInterval = props.evaluationInterval ?? Duration.seconds(10);
    this.dataRegion = remoteRegionOf(this, props.jobQueue.queues[0]);
    validateDuration(NAME, 'evaluationInterval', this.evaluationInterval, Duration.seconds(5), Duration.seconds(60));

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH });
    // An explicit role instead of AWSLambdaBasicExecutionRole: log writes to this function's group only.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `cdk-ai-burst capacity manager of workload ${props.workload}`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      code: handlerCode('capacity-manager'),
      handler: HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: LOOP_BUDGET.plus(Duration.seconds(20)),
      logGroup,
      role,
      tracing: lambda.Tracing.ACTIVE,
      description: `cdk-ai-burst: capacity manager of workload ${props.workload}`,
      environment: {
        [EnvNames.WORKLOAD]: props.workload,
        [EnvNames.ASG_NAME]: props.autoScalingGroupName,
        [EnvNames.QUEUE_URLS]: queueUrlsJson(this, props.jobQueue),
        [EnvNames.SCALING_POLICY]: JSON.stringify({
          ...this.policy,
          evaluationIntervalSeconds: this.evaluationInterval.toSeconds(),
          loopSeconds: LOOP_BUDGET.toSeconds(),
          idleWindowFollowsBoot: this.learnsBootTime,
        }),
        [EnvNames.METRIC_NAMESPACE]: METRIC_NAMESPACE,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        // Queues in another region (a GPU layer placed away from its platform): the SQS client signs for it.
        ...(this.dataRegion ? { [EnvNames.DATA_REGION]: this.dataRegion } : {}),
      },
    });
    // A failed async run is not retried: the next scheduled run (≤ 1 min) re-reads the live state anyway.
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    const noDlq =
      'The capacity manager is idempotent and re-reads live state: a failed or dropped invocation (scheduled or wake) is ' +
      'superseded by the next scheduled one within a minute, so a DLQ would hold nothing worth replaying; errorsAlarm watches failures.';
    acknowledgeNag(this.function, 'Serverless-LambdaDLQ', noDlq);
    acknowledgeNag(this.function, 'Serverless-LambdaAsyncFailureDestination', noDlq);

    props.jobQueue.queues.forEach((q) =>
      iam.Grant.addToPrincipal({ grantee: role, actions: ['sqs:GetQueueAttributes'], resourceArns: [q.queueArn] }),
    );
    // DescribeAutoScalingGroups supports no resource-level permissions.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['autoscaling:DescribeAutoScalingGroups'], resources: ['*'] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:SetDesiredCapacity'],
        resources: [autoScalingGroupArn(this, props.autoScalingGroupName)],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:CreateOrUpdateTags'],
        resources: [autoScalingGroupArn(this, props.autoScalingGroupName)],
        conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [BUSY_HISTORY_TAG] } },
      }),
    );
    acknowledgeGroupArnWildcard(
      role,
      autoScalingGroupArn(this, props.autoScalingGroupName),
      'SetDesiredCapacity and CreateOrUpdateTags (the busy-history tag key only)',
    );
    if (this.learnsBootTime) {
      // The fleet's boot times (ColdStartSeconds). GetMetricData supports no resource-level permissions and no namespace condition.
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadFleetBootTimes', actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
    }
    acknowledgeNag(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'autoscaling:DescribeAutoScalingGroups' +
        (this.learnsBootTime ? ", cloudwatch:GetMetricData (the fleet's ColdStartSeconds, for the learned boot time)" : '') +
        ' and X-Ray trace writes support no resource-level permissions; they are read-only or write-only telemetry. No wildcard actions.',
    );

    this.schedule = new events.Rule(this, 'Schedule', {
      schedule: events.Schedule.rate(Duration.minutes(1)),
      description: `cdk-ai-burst: evaluate the ${props.workload} fleet's capacity every minute`,
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });
    acknowledgeNag(this.schedule, 'Serverless-EventBusDLQ', noDlq);

    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      metric: this.metricErrors(),
      threshold: 1,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No invocations means no errors; the schedule guarantees invocations, so missing data is not a failure.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `cdk-ai-burst: the ${props.workload} capacity manager failed in 3 of the last 5 minutes, so the fleet is not ` +
        "being scaled. Check the function's log for the error (throttled or denied Auto Scaling calls, a missing group).",
    });

    applyCostTags(this, props.workload, props.costCenter);
  }

  /**
   * Let `grantee` wake the manager: `lambda:InvokeFunction` on this function only. Invoke it with
   * `InvocationType: 'Event'` and payload {@link WAKE_EVENT} (`{"wake":true}`); the function name is
   * `this.function.functionName` (put it in `AI_BURST_WAKE_FUNCTIONS`).
   */
  public grantWake(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['lambda:InvokeFunction'], resourceArns: [this.function.functionArn] });
  }

  /** Desired capacity as decided, Maximum per minute (emitted by the function). */
  public metricDesiredCapacity(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return workloadMetric(this.workload, MetricNames.DESIRED_CAPACITY, { statistic: 'Maximum', ...props });
  }

  /** Backlog ÷ instances (the backlog itself at 0 instances), Average per minute. */
  public metricBacklogPerInstance(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return workloadMetric(this.workload, MetricNames.BACKLOG_PER_INSTANCE, { statistic: 'Average', ...props });
  }

  /** Failed evaluations (function errors), Sum per minute. */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors({ period: Duration.minutes(1), ...props });
  }
}

/** The construct-level options as the pure policy's input, validated (messages name the prop). */
export function toScalingPolicy(construct: string, o: ScalingPolicyOptions, jobsPerInstance: number): ScalingPolicy {
  validateInteger(construct, 'jobsPerInstance', jobsPerInstance, 1, 64);
  validateRange(construct, 'targetBacklogPerInstance', o.targetBacklogPerInstance, 0.01, 100000);
  if (o.targetBacklogPerInstance !== undefined && o.targetBacklogPerInstance <= 0) {
    throw propError(construct, 'targetBacklogPerInstance', `must be > 0 (got ${o.targetBacklogPerInstance})`);
  }
  positiveDuration(construct, 'queueWaitSlo', o.queueWaitSlo);
  positiveDuration(construct, 'expectedJobDuration', o.expectedJobDuration);
  validateDuration(construct, 'expectedBootTime', o.expectedBootTime, Duration.seconds(1), Duration.hours(2));
  validateDuration(construct, 'idleWindow', o.idleWindow, Duration.seconds(0), Duration.hours(24));
  return {
    targetBacklogPerInstance: o.targetBacklogPerInstance,
    queueWaitSloSeconds: o.queueWaitSlo?.toSeconds(),
    expectedJobSeconds: o.expectedJobDuration?.toSeconds(),
    jobsPerInstance,
    expectedBootSeconds: o.expectedBootTime?.toSeconds() ?? DEFAULT_EXPECTED_BOOT_SECONDS,
    idleWindowSeconds: o.idleWindow?.toSeconds(),
  };
}

function positiveDuration(construct: string, prop: string, d: Duration | undefined): void {
  if (d === undefined || d.isUnresolved()) return;
  if (d.toMilliseconds() <= 0) {
    throw propError(construct, prop, `must be longer than 0 seconds (got ${d.toHumanString()}); give the time in Duration.seconds(…)`);
  }
  validateDuration(construct, prop, d, Duration.seconds(1), Duration.days(1));
}

/**
 * ARN of a group by name. The ARN's group id (a UUID) is assigned at creation and CloudFormation does
 * not return it, so it is the one wildcard; the name pins the group.
 */
export function autoScalingGroupArn(scope: Construct, autoScalingGroupName: string): string {
  return Stack.of(scope).formatArn({
    service: 'autoscaling',
    resource: 'autoScalingGroup',
    resourceName: `*:autoScalingGroupName/${autoScalingGroupName}`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * How cdk-nag spells a (possibly token) value in a finding id: references as `<LogicalId>`, attributes as
 * `<LogicalId.Attr>`, pseudo parameters as `<AWS::Name>`, joins concatenated.
 */
export function nagSpelling(scope: Construct, value: string): string {
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    const o = v as Record<string, unknown>;
    if (o && typeof o.Ref === 'string') return `<${o.Ref}>`;
    if (o && Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if (o && Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
    throw new Error(`nagSpelling: cannot spell ${JSON.stringify(v)}`);
  };
  return render(Stack.of(scope).resolve(value));
}

/** Acknowledge the IAM5 finding of a group-ARN statement (the group id is the one wildcard). */
export function acknowledgeGroupArnWildcard(role: Construct, groupArn: string, actions: string): void {
  acknowledgeNag(
    role,
    `AwsSolutions-IAM5[Resource::${nagSpelling(role, groupArn)}]`,
    `The group id (a UUID) in the ARN is assigned at creation and not returned by CloudFormation; the ARN is pinned to the group's name, for ${actions} only.`,
  );
}

function queueUrlsJson(scope: Construct, jobQueue: IJobQueue): string {
  return Stack.of(scope).toJsonString(
    Object.fromEntries(jobQueue.priorities.map((p, i) => [p, queueUrlFrom(scope, jobQueue.queues[i] as sqs.IQueue)])),
  );
}
