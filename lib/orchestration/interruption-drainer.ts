import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { workloadMetric } from '../common/metrics';
import { Construct } from 'constructs';
import { EnvNames, METRIC_NAMESPACE, MetricNames, Tags } from '../contracts';
import { combineGrants, grantKey } from '../common/grants';
import { acknowledgeNag, nagArn } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { PropError, propError, validateDuration } from '../common/validate';
import { acknowledgeGroupArnWildcard, autoScalingGroupArn } from '../compute/capacity-manager';
import { remoteRegionOf } from '../common/cross-region';
import { IJobQueue } from '../queue/job-queue';
import { IJobStore } from '../store/job-store';
import { createHandlerFunction } from './handler-function';

export interface InterruptionDrainerProps {
  /**
   * The fleet's group (`GpuFleet.autoScalingGroup`). Its name filters the lifecycle events and scopes the
   * drainer's permissions; its instances carry the `aws:autoscaling:groupName` tag that EC2 adds.
   */
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  /** The group's terminate lifecycle hook (`GpuFleet.terminationHookName`). */
  readonly lifecycleHookName: string;
  /**
   * The hook's heartbeat timeout (`GpuFleet.terminationHookHeartbeat`); while the drainer waits it
   * records a heartbeat every half of it. 30 seconds to 2 hours.
   * @default Duration.minutes(3) - GpuFleet's default
   */
  readonly lifecycleHookHeartbeat?: Duration;
  /** The workload's queues: interrupted jobs go back to these. */
  readonly jobQueue: IJobQueue;
  /** The job records: the drainer finds an instance's jobs through the `byInstance` index. */
  readonly jobStore: IJobStore;
  /**
   * Longest the drainer keeps requeueing an instance's jobs (retrying failed requeues, catching jobs
   * started meanwhile) before it completes the lifecycle action anyway. 10 seconds to 14 minutes; the
   * function's timeout is this plus 30 seconds.
   * @default Duration.minutes(2) - the notice a spot interruption gives
   */
  readonly drainTimeout?: Duration;
  /**
   * Value of the `ai-burst:cost-center` tag.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
}

const NAME = 'InterruptionDrainer';
/**
 * Lambda memory. CPU scales with it and 1,769 MB is one full vCPU: 1,000 requeues in flight at once are
 * ~3,000 signed SDK requests, CPU-bound on the client side well before the network is.
 */
const MEMORY_MB = 1769;

/**
 * Hands an instance's jobs back the moment the instance is going away, without spending their retry
 * budget, and keeps the fleet from taking new work on an instance that is about to be reclaimed.
 *
 * Three EventBridge rules invoke one function (1,769 MB = one vCPU, Node 24):
 * - "EC2 Spot Instance Interruption Warning" → the instance's RUNNING jobs of this workload are requeued
 *   at once, all in parallel, with `interruptions + 1` (the same `requeueInterrupted` the worker calls on
 *   its own IMDS notice; of the two, exactly one wins per job; the SQS calls go out as batches);
 * - "EC2 Instance-terminate Lifecycle Action" of this group and hook (filtered in the pattern) → the same,
 *   then the lifecycle action is completed (CONTINUE) once nothing is left in flight, heartbeating while
 *   it waits, bounded by `drainTimeout`;
 * - "EC2 Instance Rebalance Recommendation" → the instance is tagged `ai-burst:draining=true`; its worker
 *   stops taking jobs, nothing is requeued.
 *
 * The spot and rebalance events carry no group, and no Describe API takes resource-level permissions, so
 * the drainer never asks: it touches only job records of its own workload, and may tag only instances
 * whose `aws:autoscaling:groupName` tag is this group (an IAM condition). Events of other fleets, unknown
 * shapes and unparseable bodies are logged and dropped. Delivery failures are retried a bounded number
 * of times, then kept on `deadLetterQueue`.
 */
export class InterruptionDrainer extends Construct {
  public readonly function: lambda.IFunction;
  public readonly role: iam.IRole;
  public readonly logGroup: logs.ILogGroup;
  /** Events that could not be delivered to or handled by the function (kept 14 days). */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly spotInterruptionRule: events.Rule;
  public readonly rebalanceRule: events.Rule;
  public readonly terminateLifecycleRule: events.Rule;
  public readonly workload: string;
  public readonly drainTimeout: Duration;
  /**
   * Region of the job records and queues when it differs from the drainer's (a GPU layer placed in
   * another region). Spot and lifecycle events are regional, so the drainer stays with the fleet.
   */
  public readonly dataRegion?: string;

  constructor(scope: Construct, id: string, props: InterruptionDrainerProps) {
    super(scope, id);
    validateDuration(NAME, 'drainTimeout', props.drainTimeout, Duration.seconds(10), Duration.minutes(14));
    validateDuration(NAME, 'lifecycleHookHeartbeat', props.lifecycleHookHeartbeat, Duration.seconds(30), Duration.hours(2));
    if (!props.lifecycleHookName) throw propError(NAME, 'lifecycleHookName', "must name the group's terminate lifecycle hook (got an empty string)");
    this.workload = props.jobQueue.workload;
    this.drainTimeout = props.drainTimeout ?? Duration.minutes(2);
    const heartbeat = lifecycleHeartbeat(props);
    const groupName = props.autoScalingGroup.autoScalingGroupName;
    this.dataRegion = remoteRegionOf(this, props.jobStore.table);
    const queueRegion = remoteRegionOf(this, props.jobQueue.queues[0]);
    if (queueRegion !== this.dataRegion) {
      throw new PropError(
        NAME,
        (name) =>
          `${name('jobQueue')} and ${name('jobStore')} must be in one region (got jobQueue in ` +
          `${queueRegion ?? Stack.of(this).region}, jobStore in ${this.dataRegion ?? Stack.of(this).region})`,
      );
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeNag(
      this.deadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      "This queue is itself a dead-letter queue (of the drainer's EventBridge targets and its asynchronous invocations): the last stop.",
    );

    const fn = createHandlerFunction(this, 'Function', {
      handler: 'drain',
      description: `cdk-ai-burst: requeues the ${this.workload} jobs of interrupted or terminating instances`,
      memorySize: MEMORY_MB,
      timeout: this.drainTimeout.plus(Duration.seconds(30)),
      deadLetterQueue: this.deadLetterQueue,
      environment: {
        [EnvNames.WORKLOAD]: this.workload,
        [EnvNames.JOB_TABLE]: props.jobStore.table.tableName,
        [EnvNames.ASG_NAME]: groupName,
        [EnvNames.LIFECYCLE_HOOK_NAME]: props.lifecycleHookName,
        [EnvNames.DRAIN_TIMEOUT_SECONDS]: String(this.drainTimeout.toSeconds()),
        [EnvNames.LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS]: String(heartbeat.toSeconds()),
        [EnvNames.METRIC_NAMESPACE]: METRIC_NAMESPACE,
        // Records and queues in another region (a GPU layer placed away from its platform): their clients sign for it.
        ...(this.dataRegion ? { [EnvNames.DATA_REGION]: this.dataRegion } : {}),
      },
    });
    this.function = fn.function;
    this.role = fn.role;
    this.logGroup = fn.logGroup;

    // Records: find what an instance holds, move this workload's records (ids `<workload>.*` only).
    props.jobStore.grantQueryByInstance(fn.role);
    props.jobStore.grantReadWriteRecords(fn.role, this.workload);
    // Queues: publish the copy and delete the original on this workload's work queues, nothing else.
    combineGrants([
      iam.Grant.addToPrincipal({
        grantee: fn.role,
        actions: ['sqs:SendMessage', 'sqs:DeleteMessage'],
        resourceArns: props.jobQueue.queues.map((q) => q.queueArn),
      }),
      grantKey(props.jobQueue.encryptionKey, fn.role, 'encrypt'),
    ]);
    // Lifecycle: complete or extend this group's hook only.
    const groupArn = autoScalingGroupArn(this, groupName);
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
        resources: [groupArn],
      }),
    );
    acknowledgeGroupArnWildcard(fn.role, groupArn, 'CompleteLifecycleAction and RecordLifecycleActionHeartbeat');
    // Rebalance: the draining tag, only on instances of this group, and no other tag key.
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateTags'],
        resources: [Stack.of(this).formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
        conditions: {
          StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': groupName },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.DRAINING] },
        },
      }),
    );
    acknowledgeNag(
      fn.role,
      `AwsSolutions-IAM5[Resource::${nagArn(Stack.of(this), 'ec2', 'instance/*')}]`,
      'Instance ids are assigned at launch; ec2:CreateTags is confined to instances whose aws:autoscaling:groupName tag is this ' +
        `group, and to the ${Tags.DRAINING} tag key.`,
    );

    const target = new targets.LambdaFunction(fn.function, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 3,
      maxEventAge: Duration.hours(1),
    });
    this.spotInterruptionRule = new events.Rule(this, 'SpotInterruptionRule', {
      description: `cdk-ai-burst: requeue the ${this.workload} jobs of an instance spot is reclaiming`,
      eventPattern: { source: ['aws.ec2'], detailType: ['EC2 Spot Instance Interruption Warning'] },
      targets: [target],
    });
    this.rebalanceRule = new events.Rule(this, 'RebalanceRule', {
      description: `cdk-ai-burst: mark a ${this.workload} instance draining on a rebalance recommendation`,
      eventPattern: { source: ['aws.ec2'], detailType: ['EC2 Instance Rebalance Recommendation'] },
      targets: [target],
    });
    this.terminateLifecycleRule = new events.Rule(this, 'TerminateLifecycleRule', {
      description: `cdk-ai-burst: drain a ${this.workload} instance before its group terminates it`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [groupName], LifecycleHookName: [props.lifecycleHookName] },
      },
      targets: [target],
    });

    applyCostTags(this, this.workload, props.costCenter);
  }

  /** Jobs this drainer requeued off interrupted or terminating instances, Sum per minute. */
  public metricJobsRequeued(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return workloadMetric(this.workload, MetricNames.JOBS_REQUEUED, props);
  }

  /** Jobs whose run an interruption cut short (worker and drainer), Sum per minute. */
  public metricJobsInterrupted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return workloadMetric(this.workload, MetricNames.JOBS_INTERRUPTED, props);
  }

  /** Events kept on the dead-letter queue (delivery or handling kept failing), Maximum per minute. */
  public metricFailedEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /** Function errors (an event the drainer will retry), Sum per minute. */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors({ period: Duration.minutes(1), ...props });
  }
}

/**
 * The heartbeat the drainer records against: the prop, checked against the group's hook when the hook is
 * in this app (a drainer that waits longer than the hook's timeout between heartbeats lets the hook expire
 * and the instance terminate mid-drain); else the hook's own timeout; else GpuFleet's default.
 */
function lifecycleHeartbeat(props: InterruptionDrainerProps): Duration {
  const hook = props.autoScalingGroup.node
    .findAll()
    .find((c): c is autoscaling.CfnLifecycleHook => c instanceof autoscaling.CfnLifecycleHook && c.lifecycleHookName === props.lifecycleHookName);
  const hookSeconds = hook?.heartbeatTimeout;
  if (hookSeconds === undefined || Token.isUnresolved(hookSeconds)) return props.lifecycleHookHeartbeat ?? Duration.minutes(3);
  const given = props.lifecycleHookHeartbeat;
  if (given === undefined) return Duration.seconds(hookSeconds);
  if (!given.isUnresolved() && given.toSeconds() > hookSeconds) {
    throw new PropError(
      NAME,
      (name) =>
        `${name('lifecycleHookHeartbeat')} (${given.toHumanString()}) must not exceed the heartbeat timeout of ` +
        `the group's lifecycle hook ${JSON.stringify(props.lifecycleHookName)} (${Duration.seconds(hookSeconds).toHumanString()}): the hook would ` +
        "time out between two heartbeats and the instance terminate mid-drain; give the hook's timeout (GpuFleet.terminationHookHeartbeat)",
    );
  }
  return given;
}
