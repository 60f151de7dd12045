import { Duration, IResource, PhysicalName, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_PRIORITIES, PRIORITY_NAME_PATTERN, SQS_MAX_VISIBILITY_SECONDS, WORKLOAD_NAME_PATTERN } from '../contracts';
import { combineGrants, grantKey, KeyUse } from '../common/grants';
import { acknowledgeNag } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { propError, validateDuration, validateInteger, validatePattern } from '../common/validate';

/** The queue set of one workload, as the other layers need it (bring your own by implementing this). */
export interface IJobQueue {
  readonly workload: string;
  /** Priorities, highest first. */
  readonly priorities: string[];
  /** Work queues in priority order (same order as `priorities`). */
  readonly queues: sqs.IQueue[];
  readonly deadLetterQueue: sqs.IQueue;
  /** Jobs whose retry budget is spent, kept for inspection and redrive. */
  readonly parkingQueue: sqs.IQueue;
  readonly encryptionKey?: kms.IKey;
  /** How long a job may run; the worker stops it after this. */
  readonly jobTimeout: Duration;
  /** The lease a receive gives a worker; the worker's heartbeat extends it every third of this. */
  readonly visibilityTimeout: Duration;
  readonly maxReceiveCount: number;
  queueFor(priority: string): sqs.IQueue;
  grantSubmit(grantee: iam.IGrantable): iam.Grant;
  grantConsume(grantee: iam.IGrantable): iam.Grant;
  grantRedrive(grantee: iam.IGrantable): iam.Grant;
  metricBacklog(priority?: string, props?: cloudwatch.MetricOptions): cloudwatch.IMetric;
  metricOldestJobAge(priority?: string, props?: cloudwatch.MetricOptions): cloudwatch.IMetric;
  metricDeadLetters(props?: cloudwatch.MetricOptions): cloudwatch.IMetric;
  metricParkedJobs(props?: cloudwatch.MetricOptions): cloudwatch.IMetric;
}

export interface JobQueueProps {
  /** Workload name: lower-case letters, digits and dashes, up to 32 characters. Tags and metrics carry it. */
  readonly workload: string;
  /**
   * Priority names, highest first. Workers poll them in this order (with a starvation guard).
   * @default ['high', 'normal']
   */
  readonly priorities?: string[];
  /**
   * Longest a single job may run before the worker stops it as timed out (1 minute to 12 hours,
   * the SQS visibility cap).
   * @default Duration.hours(1)
   */
  readonly jobTimeout?: Duration;
  /**
   * Receives before SQS moves a job to the dead-letter queue, where the RetryHandler applies backoff.
   * Interruptions never count: they re-publish a copy. 2 to 1000.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Customer-managed KMS key for every queue.
   * @default - SQS-managed server-side encryption (SSE-SQS)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long an unconsumed job stays on a work queue (1 minute to 13 days; the dead-letter and parking
   * queues keep messages 14 days, so always longer).
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;
  /**
   * Value of the `ai-burst:cost-center` tag.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
}

const NAME = 'JobQueue';
/** Longest lease a receive takes; a dead worker's job is visible again after at most this. */
const MAX_LEASE = Duration.minutes(15);
const DLQ_RETENTION = Duration.days(14);
/** Receives of one DLQ message by the RetryHandler before SQS parks it itself (handler keeps failing). */
const DLQ_MAX_RECEIVE_COUNT = 10;

/**
 * One SQS queue per priority for a workload, with a shared dead-letter queue (consumed by the
 * RetryHandler) and a parking queue for jobs whose retry budget is spent. Encrypted and TLS-only.
 */
export class JobQueue extends Construct implements IJobQueue {
  public readonly workload: string;
  public readonly priorities: string[];
  public readonly queues: sqs.IQueue[];
  public readonly deadLetterQueue: sqs.IQueue;
  public readonly parkingQueue: sqs.IQueue;
  public readonly encryptionKey?: kms.IKey;
  public readonly jobTimeout: Duration;
  public readonly visibilityTimeout: Duration;
  public readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: JobQueueProps) {
    super(scope, id);
    validateProps(props);
    this.workload = props.workload;
    this.priorities = [...(props.priorities ?? DEFAULT_PRIORITIES)];
    this.jobTimeout = props.jobTimeout ?? Duration.hours(1);
    this.visibilityTimeout = Duration.seconds(Math.min(this.jobTimeout.toSeconds(), MAX_LEASE.toSeconds()));
    this.maxReceiveCount = props.maxReceiveCount ?? 5;
    this.encryptionKey = props.encryptionKey;

    const encryption = this.encryptionKey
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: this.encryptionKey }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED };
    // Named by CDK only when a stack of another region uses them (a GPU layer placed away from its
    // platform): the name, ARN and URL are then literals there, since CloudFormation cannot reference
    // across regions. In one region CloudFormation names them, as before.
    const common = { ...encryption, enforceSSL: true, queueName: PhysicalName.GENERATE_IF_NEEDED };

    // The parking queue is also the DLQ of the DLQ: if the RetryHandler itself keeps failing on a
    // message, SQS parks it rather than let it expire, so nothing is lost.
    this.parkingQueue = new sqs.Queue(this, 'ParkingQueue', { ...common, retentionPeriod: DLQ_RETENTION });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...common,
      retentionPeriod: DLQ_RETENTION,
      // ≥ 6 × the RetryHandler's timeout, as AWS advises for Lambda event sources.
      visibilityTimeout: Duration.minutes(5),
      deadLetterQueue: { queue: this.parkingQueue, maxReceiveCount: DLQ_MAX_RECEIVE_COUNT },
    });
    const lastStop = 'This is the parking queue (the last stop for jobs whose retry budget is spent, itself the DLQ of the ' +
      'dead-letter queue); it has no DLQ of its own by design.';
    acknowledgeNag(this.parkingQueue, 'AwsSolutions-SQS3', lastStop);
    acknowledgeNag(this.parkingQueue, 'Serverless-SQSRedrivePolicy', lastStop);

    this.queues = this.priorities.map((priority) => new sqs.Queue(this, `Queue-${priority}`, {
      ...common,
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      visibilityTimeout: this.visibilityTimeout,
      receiveMessageWaitTime: Duration.seconds(20),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    }));

    applyCostTags(this, props.workload, props.costCenter);
  }

  public queueFor(priority: string): sqs.IQueue {
    const index = this.priorities.indexOf(priority);
    if (index < 0) throw new Error(`${NAME}: unknown priority ${JSON.stringify(priority)}; this workload has ${this.priorities.join(', ')}`);
    return this.queues[index];
  }

  /** JSON of priority → queue URL in precedence order, for a handler's environment. */
  public queueUrlsJson(): string {
    return Stack.of(this).toJsonString(Object.fromEntries(this.priorities.map((p, i) => [p, this.queues[i].queueUrl])));
  }

  /** Send jobs to every priority queue (the API, JobClient, requeue paths). */
  public grantSubmit(grantee: iam.IGrantable): iam.Grant {
    return this.grantQueues(grantee, this.queues, SEND, 'encrypt');
  }

  /**
   * Consume jobs: receive, heartbeat and delete on every priority queue, plus what consuming implies
   * in this design: re-publishing an interrupted job's copy to its queue and parking a malformed one.
   */
  public grantConsume(grantee: iam.IGrantable): iam.Grant {
    return combineGrants([
      this.grantQueues(grantee, this.queues, [...CONSUME, 'sqs:SendMessage'], 'encrypt'),
      this.grantQueues(grantee, [this.parkingQueue], SEND, 'encrypt'),
    ]);
  }

  /**
   * Move parked and dead-lettered jobs back after a fix: StartMessageMoveTask on the parking queue and
   * DLQ, reading them, and sending to the work queues.
   */
  public grantRedrive(grantee: iam.IGrantable): iam.Grant {
    const sources = [this.parkingQueue, this.deadLetterQueue];
    return combineGrants([
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks', 'sqs:CancelMessageMoveTask'],
        resourceArns: sources.map((q) => q.queueArn),
      }),
      this.grantQueues(grantee, sources, CONSUME, 'decrypt'),
      this.grantQueues(grantee, this.queues, SEND, 'encrypt'),
    ]);
  }

  private grantQueues(grantee: iam.IGrantable, queues: readonly sqs.IQueue[], actions: string[], use: KeyUse): iam.Grant {
    return combineGrants([
      iam.Grant.addToPrincipal({ grantee, actions, resourceArns: queues.map((q) => q.queueArn) }),
      grantKey(this.encryptionKey, grantee, use),
    ]);
  }

  /** Jobs waiting or running (visible + in flight), Maximum per minute; one priority or all. */
  public metricBacklog(priority?: string, props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    const queues = priority === undefined ? this.queues : [this.queueFor(priority)];
    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    queues.forEach((q, i) => {
      usingMetrics[`v${i}`] = q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', ...props });
      usingMetrics[`f${i}`] = q.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', ...props });
    });
    return new cloudwatch.MathExpression({
      expression: Object.keys(usingMetrics).join(' + '),
      usingMetrics,
      label: `${this.workload} backlog${priority ? ` (${priority})` : ''}`,
      period: props?.period ?? Duration.minutes(1),
    });
  }

  /** Age of the oldest waiting job in seconds, Maximum; one priority or the oldest over all. */
  public metricOldestJobAge(priority?: string, props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    if (priority !== undefined) {
      return this.queueFor(priority).metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
    }
    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    this.queues.forEach((q, i) => {
      usingMetrics[`a${i}`] = q.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', ...props });
    });
    return new cloudwatch.MathExpression({
      expression: `MAX([${Object.keys(usingMetrics).join(', ')}])`,
      usingMetrics,
      label: `${this.workload} oldest job age`,
      period: props?.period ?? Duration.minutes(1),
    });
  }

  /** Jobs waiting on the dead-letter queue for the RetryHandler, Maximum per minute. */
  public metricDeadLetters(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /** Jobs parked after their retry budget was spent, Maximum per minute. */
  public metricParkedJobs(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.parkingQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }
}

/**
 * The region of `resource` when both it and `scope` have a known region and they differ (a GPU layer
 * placed in another region than its platform's queues and job store); `undefined` otherwise.
 */
export function remoteRegionOf(scope: Construct, resource: IResource): string | undefined {
  const here = Stack.of(scope).region;
  const there = resource.env.region;
  if (Token.isUnresolved(here) || Token.isUnresolved(there) || here === there) return undefined;
  return there;
}

/**
 * A queue's URL as `scope` can use it: the queue's own reference in its region; from another region,
 * where CloudFormation cannot reference it, the URL built from its literal region, account and name
 * (`https://sqs.<region>.<url suffix>/<account>/<name>`, the form SQS returns).
 */
export function queueUrlFrom(scope: Construct, queue: sqs.IQueue): string {
  const region = remoteRegionOf(scope, queue);
  if (region === undefined) return queue.queueUrl;
  if (Token.isUnresolved(queue.env.account)) {
    throw new Error(`${NAME}: queue ${queue.node.path} is used from region ${Stack.of(scope).region} but its account is not known at synth; ` +
      'give its stack an explicit env: { account, region }');
  }
  return `https://sqs.${region}.${Stack.of(scope).urlSuffix}/${queue.env.account}/${queue.queueName}`;
}

const SEND = ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];
const CONSUME = ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];

function validateProps(props: JobQueueProps): void {
  validatePattern(NAME, 'workload', props.workload, WORKLOAD_NAME_PATTERN,
    'use lower-case letters, digits and dashes, starting with a letter, up to 32 characters');
  if (props.priorities !== undefined) {
    if (props.priorities.length < 1 || props.priorities.length > 5) {
      throw propError(NAME, 'priorities', `must list 1 to 5 names (got ${props.priorities.length})`);
    }
    for (const p of props.priorities) {
      validatePattern(NAME, 'priorities', p, PRIORITY_NAME_PATTERN, 'use lower-case letters, digits and dashes, up to 16 characters');
    }
    const dup = props.priorities.find((p, i) => props.priorities!.indexOf(p) !== i);
    if (dup) throw propError(NAME, 'priorities', `lists ${JSON.stringify(dup)} twice`);
  }
  validateDuration(NAME, 'jobTimeout', props.jobTimeout, Duration.minutes(1), Duration.seconds(SQS_MAX_VISIBILITY_SECONDS));
  if (props.maxReceiveCount === 1) {
    throw propError(NAME, 'maxReceiveCount', 'must be between 2 and 1000 (got 1): with 1, a single lapsed heartbeat or ' +
      'agent crash dead-letters a job that never failed; use 2 or more and let the RetryHandler budget attempts');
  }
  validateInteger(NAME, 'maxReceiveCount', props.maxReceiveCount, 2, 1000);
  validateDuration(NAME, 'retentionPeriod', props.retentionPeriod, Duration.minutes(1), Duration.days(13));
}
