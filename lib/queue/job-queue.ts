import { Duration, PhysicalName, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { DEFAULT_PRIORITIES, PRIORITY_NAME_PATTERN, SQS_MAX_VISIBILITY_SECONDS, WORKLOAD_NAME_PATTERN } from '../contracts';
import { combineGrants, grantKey, KeyUse } from '../common/grants';
import { acknowledgeNag } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { propError, validateDuration, validateInteger, validatePattern } from '../common/validate';

/** Options of the queue-depth metrics: the CDK `metricXxx(props?)` options plus one priority. */
export interface JobQueueMetricOptions extends cloudwatch.MetricOptions {
  /**
   * Read this priority's queue only.
   * @default - every priority's queue
   */
  readonly priority?: string;
}

/**
 * The queue set of one workload, as the other layers need it. Bring your own queues with
 * `JobQueue.fromJobQueueAttributes()`, or extend `JobQueueBase`, which implements the grants and metrics.
 */
export interface IJobQueue extends IConstruct {
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
  metricBacklog(props?: JobQueueMetricOptions): cloudwatch.IMetric;
  metricOldestJobAge(props?: JobQueueMetricOptions): cloudwatch.IMetric;
  metricDeadLetters(props?: cloudwatch.MetricOptions): cloudwatch.IMetric;
  metricParkedJobs(props?: cloudwatch.MetricOptions): cloudwatch.IMetric;
}

/** Queues created outside this library, for `JobQueue.fromJobQueueAttributes()`. */
export interface JobQueueAttributes {
  /** Workload name: lower-case letters, digits and dashes, up to 32 characters. */
  readonly workload: string;
  /** Priority names, highest first, one per queue of `queues` (1 to 5). */
  readonly priorities: string[];
  /** Work queues in priority order. Their redrive policy should send to `deadLetterQueue`. */
  readonly queues: sqs.IQueue[];
  /** Where SQS moves a job after `maxReceiveCount` receives; the RetryHandler consumes it. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Jobs whose retry budget is spent. */
  readonly parkingQueue: sqs.IQueue;
  /**
   * The customer-managed key of the queues, so grants include its use.
   * @default - the queues use SSE-SQS (no key grants)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Longest a single job may run (1 minute to 12 hours).
   * @default Duration.hours(1)
   */
  readonly jobTimeout?: Duration;
  /**
   * The work queues' visibility timeout (the lease of one receive; 1 minute to 12 hours).
   * @default - the job timeout, at most 15 minutes (what `JobQueue` configures)
   */
  readonly visibilityTimeout?: Duration;
  /**
   * The `maxReceiveCount` of the work queues' redrive policy (2 to 1000).
   * @default 5
   */
  readonly maxReceiveCount?: number;
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
 * The grants and metrics of a workload's queue set, for `JobQueue` and for queues brought by the user
 * (`JobQueue.fromJobQueueAttributes()` or a subclass): subclasses set the queues, this class implements
 * the rest of `IJobQueue`.
 */
export abstract class JobQueueBase extends Construct implements IJobQueue {
  public abstract readonly workload: string;
  public abstract readonly priorities: string[];
  public abstract readonly queues: sqs.IQueue[];
  public abstract readonly deadLetterQueue: sqs.IQueue;
  public abstract readonly parkingQueue: sqs.IQueue;
  public abstract readonly encryptionKey?: kms.IKey;
  public abstract readonly jobTimeout: Duration;
  public abstract readonly visibilityTimeout: Duration;
  public abstract readonly maxReceiveCount: number;

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

  /**
   * Jobs waiting or running (visible + in flight), Maximum per minute; one priority or all. The math ids
   * name the workload and priority, so backlogs of several queues and workloads can share one graph.
   */
  public metricBacklog(props: JobQueueMetricOptions = {}): cloudwatch.IMetric {
    const { priority, label, ...options } = props;
    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    for (const p of priority === undefined ? this.priorities : [priority]) {
      const q = this.queueFor(p);
      usingMetrics[this.mathId(p, 'waiting')] = q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', ...options });
      usingMetrics[this.mathId(p, 'running')] = q.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', ...options });
    }
    return new cloudwatch.MathExpression({
      expression: Object.keys(usingMetrics).join(' + '),
      usingMetrics,
      label: label ?? `${this.workload} backlog${priority ? ` (${priority})` : ''}`,
      period: options.period ?? Duration.minutes(1),
    });
  }

  /** Age of the oldest waiting job in seconds, Maximum; one priority or the oldest over all. */
  public metricOldestJobAge(props: JobQueueMetricOptions = {}): cloudwatch.IMetric {
    const { priority, label, ...options } = props;
    if (priority !== undefined) {
      return this.queueFor(priority).metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: Duration.minutes(1), label, ...options });
    }
    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    for (const p of this.priorities) {
      usingMetrics[this.mathId(p, 'age')] = this.queueFor(p).metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', ...options });
    }
    return new cloudwatch.MathExpression({
      expression: `MAX([${Object.keys(usingMetrics).join(', ')}])`,
      usingMetrics,
      label: label ?? `${this.workload} oldest job age`,
      period: options.period ?? Duration.minutes(1),
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

  /** A metric-math id unique to this workload and priority (ids must match `^[a-z][A-Za-z0-9_]*$`). */
  private mathId(priority: string, what: string): string {
    return `${this.workload}_${priority}_${what}`.replace(/[^A-Za-z0-9_]/g, '_');
  }
}

/**
 * One SQS queue per priority for a workload, with a shared dead-letter queue (consumed by the
 * RetryHandler) and a parking queue for jobs whose retry budget is spent. Encrypted and TLS-only.
 */
export class JobQueue extends JobQueueBase {
  /**
   * A workload's queue set made elsewhere (another stack, another tool), with this library's grants and
   * metrics. The queues keep their own settings: give the attributes that match them.
   */
  public static fromJobQueueAttributes(scope: Construct, id: string, attrs: JobQueueAttributes): IJobQueue {
    return new ImportedJobQueue(scope, id, attrs);
  }

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
    const lastStop =
      'This is the parking queue (the last stop for jobs whose retry budget is spent, itself the DLQ of the ' +
      'dead-letter queue); it has no DLQ of its own by design.';
    acknowledgeNag(this.parkingQueue, 'AwsSolutions-SQS3', lastStop);
    acknowledgeNag(this.parkingQueue, 'Serverless-SQSRedrivePolicy', lastStop);

    this.queues = this.priorities.map(
      (priority) =>
        new sqs.Queue(this, `Queue-${priority}`, {
          ...common,
          retentionPeriod: props.retentionPeriod ?? Duration.days(4),
          visibilityTimeout: this.visibilityTimeout,
          receiveMessageWaitTime: Duration.seconds(20),
          deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
        }),
    );

    applyCostTags(this, props.workload, props.costCenter);
  }
}

/** Queues created outside this library, with the grants and metrics of `JobQueueBase`. */
class ImportedJobQueue extends JobQueueBase {
  public readonly workload: string;
  public readonly priorities: string[];
  public readonly queues: sqs.IQueue[];
  public readonly deadLetterQueue: sqs.IQueue;
  public readonly parkingQueue: sqs.IQueue;
  public readonly encryptionKey?: kms.IKey;
  public readonly jobTimeout: Duration;
  public readonly visibilityTimeout: Duration;
  public readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, attrs: JobQueueAttributes) {
    super(scope, id);
    validateAttributes(attrs);
    this.workload = attrs.workload;
    this.priorities = [...attrs.priorities];
    this.queues = [...attrs.queues];
    this.deadLetterQueue = attrs.deadLetterQueue;
    this.parkingQueue = attrs.parkingQueue;
    this.encryptionKey = attrs.encryptionKey;
    this.jobTimeout = attrs.jobTimeout ?? Duration.hours(1);
    this.visibilityTimeout = attrs.visibilityTimeout ?? Duration.seconds(Math.min(this.jobTimeout.toSeconds(), MAX_LEASE.toSeconds()));
    this.maxReceiveCount = attrs.maxReceiveCount ?? 5;
  }
}

const SEND = ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];
const CONSUME = ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];

function validateProps(props: JobQueueProps): void {
  validatePattern(
    NAME,
    'workload',
    props.workload,
    WORKLOAD_NAME_PATTERN,
    'use lower-case letters, digits and dashes, starting with a letter, up to 32 characters',
  );
  if (props.priorities !== undefined) validatePriorities(props.priorities);
  validateDuration(NAME, 'jobTimeout', props.jobTimeout, Duration.minutes(1), Duration.seconds(SQS_MAX_VISIBILITY_SECONDS));
  if (props.maxReceiveCount === 1) {
    throw propError(
      NAME,
      'maxReceiveCount',
      'must be between 2 and 1000 (got 1): with 1, a single lapsed heartbeat or ' +
        'agent crash dead-letters a job that never failed; use 2 or more and let the RetryHandler budget attempts',
    );
  }
  validateInteger(NAME, 'maxReceiveCount', props.maxReceiveCount, 2, 1000);
  validateDuration(NAME, 'retentionPeriod', props.retentionPeriod, Duration.minutes(1), Duration.days(13));
}

function validateAttributes(attrs: JobQueueAttributes): void {
  validatePattern(
    NAME,
    'workload',
    attrs.workload,
    WORKLOAD_NAME_PATTERN,
    'use lower-case letters, digits and dashes, starting with a letter, up to 32 characters',
  );
  validatePriorities(attrs.priorities);
  if (attrs.queues.length !== attrs.priorities.length) {
    throw new Error(`${NAME}: queues must list one queue per priority (got ${attrs.queues.length} queues for ${attrs.priorities.length} priorities)`);
  }
  validateDuration(NAME, 'jobTimeout', attrs.jobTimeout, Duration.minutes(1), Duration.seconds(SQS_MAX_VISIBILITY_SECONDS));
  validateDuration(NAME, 'visibilityTimeout', attrs.visibilityTimeout, Duration.minutes(1), Duration.seconds(SQS_MAX_VISIBILITY_SECONDS));
  validateInteger(NAME, 'maxReceiveCount', attrs.maxReceiveCount, 2, 1000);
}

function validatePriorities(priorities: string[]): void {
  if (priorities.length < 1 || priorities.length > 5) {
    throw propError(NAME, 'priorities', `must list 1 to 5 names (got ${priorities.length})`);
  }
  for (const p of priorities) {
    validatePattern(NAME, 'priorities', p, PRIORITY_NAME_PATTERN, 'use lower-case letters, digits and dashes, up to 16 characters');
  }
  const dup = priorities.find((p, i) => priorities.indexOf(p) !== i);
  if (dup) throw propError(NAME, 'priorities', `lists ${JSON.stringify(dup)} twice`);
}
