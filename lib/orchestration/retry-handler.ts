import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import { workloadMetric } from '../common/metrics';
import { Construct } from 'constructs';
import { EnvNames, EVENT_SOURCE, METRIC_NAMESPACE, MetricNames } from '../contracts';
import { combineGrants, grantKey } from '../common/grants';
import { acknowledgeNag } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { PropError, validateDuration, validateInteger } from '../common/validate';
import { IJobQueue } from '../queue/job-queue';
import { IJobStore } from '../store/job-store';
import { createHandlerFunction } from './handler-function';

export interface RetryHandlerProps {
  /** The workload's queues: the handler consumes its dead-letter queue, re-publishes to its work queues, parks on its parking queue. */
  readonly jobQueue: IJobQueue;
  /** The job records (read, retried, failed, reset by the redrive). */
  readonly jobStore: IJobStore;
  /**
   * Where `JobFailed` events go (source `cdk-ai-burst`, detail type `JobFailed`).
   * @default - the account's default event bus
   */
  readonly eventBus?: events.IEventBus;
  /**
   * Attempts of a failing job before it is parked (1 to 100); use the fleet's `maxAttempts`.
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Delay scale of the first retry: retry n waits a uniformly random time up to
   * min(backoffMax, backoffBase × 2^(n-1)) (exponential backoff, full jitter). 1 second to 15 minutes.
   * @default Duration.seconds(10)
   */
  readonly backoffBase?: Duration;
  /**
   * Cap of any one retry delay; longer than SQS's 15-minute delay is served by re-delaying. Up to 12 hours.
   * @default Duration.hours(1)
   */
  readonly backoffMax?: Duration;
  /**
   * Dead-lettered jobs per invocation (1 to 10).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * Value of the `ai-burst:cost-center` tag.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
}

const NAME = 'RetryHandler';
/** ≤ 50 s: the JobQueue DLQ's visibility timeout (5 min) must be ≥ 6 × this, as AWS advises for SQS sources. */
const TIMEOUT = Duration.seconds(30);
const REDRIVE_TIMEOUT = Duration.minutes(5);

/**
 * Applies the retry policy to jobs SQS dead-lettered (the worker crashed, lost its lease or kept failing
 * on them), and redrives parked jobs after a fix.
 *
 * - `function` consumes the workload's dead-letter queue (batches of up to 10, ReportBatchItemFailures,
 *   Powertools batch processing): a job with budget left goes back to its priority queue after an
 *   exponential backoff with full jitter (`attempt + 1`); a spent budget or a permanent error (record or
 *   payload missing, another workload's job) marks the record FAILED, parks the message and puts a
 *   `JobFailed` event on the bus; a body that is not a job message is parked at once. One failing message
 *   never holds back the rest of its batch; one that keeps failing lands on the parking queue by the
 *   dead-letter queue's own redrive policy.
 * - `redriveFunction` sends parked jobs back after a fix: per parked message the record is reset
 *   (FAILED → QUEUED, fresh budget) and a copy goes to the job's own priority queue. Invoke it with
 *   `grantRedrive()`; payload `{}` or `{ "jobIds": [...], "maxJobs": n }`.
 */
export class RetryHandler extends Construct {
  public readonly function: lambda.IFunction;
  public readonly role: iam.IRole;
  public readonly logGroup: logs.ILogGroup;
  public readonly redriveFunction: lambda.IFunction;
  public readonly eventBus: events.IEventBus;
  public readonly workload: string;
  public readonly maxAttempts: number;

  constructor(scope: Construct, id: string, props: RetryHandlerProps) {
    super(scope, id);
    validateInteger(NAME, 'maxAttempts', props.maxAttempts, 1, 100);
    validateInteger(NAME, 'batchSize', props.batchSize, 1, 10);
    validateDuration(NAME, 'backoffBase', props.backoffBase, Duration.seconds(1), Duration.minutes(15));
    validateDuration(NAME, 'backoffMax', props.backoffMax, Duration.seconds(1), Duration.hours(12));
    const backoffBase = props.backoffBase ?? Duration.seconds(10);
    const backoffMax = props.backoffMax ?? Duration.hours(1);
    if (!backoffBase.isUnresolved() && !backoffMax.isUnresolved() && backoffMax.toSeconds() < backoffBase.toSeconds()) {
      throw new PropError(
        NAME,
        (name) =>
          `${name('backoffMax')} (${backoffMax.toHumanString()}) must be at least ${name('backoffBase')} ` + `(${backoffBase.toHumanString()})`,
      );
    }
    const jobQueue = props.jobQueue;
    this.workload = jobQueue.workload;
    this.maxAttempts = props.maxAttempts ?? 3;
    this.eventBus = props.eventBus ?? events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    const queueUrls = Stack.of(this).toJsonString(Object.fromEntries(jobQueue.priorities.map((p, i) => [p, jobQueue.queues[i].queueUrl])));

    const fn = createHandlerFunction(this, 'Function', {
      handler: 'retry',
      description: `cdk-ai-burst: retries or parks the ${this.workload} jobs SQS dead-lettered`,
      memorySize: 512,
      timeout: TIMEOUT,
      environment: {
        [EnvNames.WORKLOAD]: this.workload,
        [EnvNames.JOB_TABLE]: props.jobStore.table.tableName,
        [EnvNames.QUEUE_URLS]: queueUrls,
        [EnvNames.PARKING_QUEUE_URL]: jobQueue.parkingQueue.queueUrl,
        [EnvNames.EVENT_BUS]: this.eventBus.eventBusName,
        [EnvNames.MAX_ATTEMPTS]: String(this.maxAttempts),
        [EnvNames.BACKOFF_POLICY]: Stack.of(this).toJsonString({ baseSeconds: backoffBase.toSeconds(), maxSeconds: backoffMax.toSeconds() }),
        [EnvNames.METRIC_NAMESPACE]: METRIC_NAMESPACE,
      },
    });
    this.function = fn.function;
    this.role = fn.role;
    this.logGroup = fn.logGroup;
    acknowledgeNag(
      fn.function,
      'Serverless-LambdaDLQ',
      'Only the SQS event source invokes this function, synchronously: a failed message returns to the dead-letter queue it ' +
        "came from, and after that queue's maxReceiveCount SQS moves it to the parking queue. A Lambda DLQ would never receive anything.",
    );

    fn.function.addEventSource(
      new sources.SqsEventSource(jobQueue.deadLetterQueue, {
        batchSize: props.batchSize ?? 10,
        reportBatchItemFailures: true,
      }),
    );
    acknowledgeNag(
      fn.function,
      'Serverless-LambdaEventSourceMappingDestination',
      'SQS event sources take no on-failure destination; the source queue (the dead-letter queue) has its own redrive policy to the parking queue.',
    );

    // Re-publish retries to the work queues, park on the parking queue; nothing else.
    combineGrants([
      iam.Grant.addToPrincipal({
        grantee: fn.role,
        actions: ['sqs:SendMessage'],
        resourceArns: [...jobQueue.queues.map((q) => q.queueArn), jobQueue.parkingQueue.queueArn],
      }),
      grantKey(jobQueue.encryptionKey, fn.role, 'encrypt'),
    ]);
    props.jobStore.grantReadWriteRecords(fn.role, this.workload);
    // JobFailed events on this bus, with this library's source only.
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['events:PutEvents'],
        resources: [this.eventBus.eventBusArn],
        conditions: { StringEquals: { 'events:source': EVENT_SOURCE } },
      }),
    );

    const redrive = createHandlerFunction(this, 'RedriveFunction', {
      handler: 'redrive',
      description: `cdk-ai-burst: redrives the parked ${this.workload} jobs (invoke after a fix)`,
      memorySize: 512,
      timeout: REDRIVE_TIMEOUT,
      environment: {
        [EnvNames.WORKLOAD]: this.workload,
        [EnvNames.JOB_TABLE]: props.jobStore.table.tableName,
        [EnvNames.QUEUE_URLS]: queueUrls,
        [EnvNames.PARKING_QUEUE_URL]: jobQueue.parkingQueue.queueUrl,
      },
    });
    this.redriveFunction = redrive.function;
    jobQueue.grantRedrive(redrive.role);
    props.jobStore.grantReadWriteRecords(redrive.role, this.workload);
    acknowledgeNag(
      redrive.function,
      'Serverless-LambdaDLQ',
      'An operator invokes the redrive synchronously (grantRedrive) and reads its report; nothing invokes it asynchronously.',
    );

    applyCostTags(this, this.workload, props.costCenter);
  }

  /**
   * Let `grantee` run the redrive: `lambda:InvokeFunction` on `redriveFunction` only. The function
   * itself holds `JobQueue.grantRedrive` and the workload's record grant.
   */
  public grantRedrive(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['lambda:InvokeFunction'], resourceArns: [this.redriveFunction.functionArn] });
  }

  /** Dead-lettered jobs sent back with backoff, Sum per minute. */
  public metricJobsRetried(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return workloadMetric(this.workload, MetricNames.JOBS_RETRIED, props);
  }

  /** Jobs parked (budget spent, permanent error, poison body), Sum per minute. */
  public metricJobsParked(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return workloadMetric(this.workload, MetricNames.JOBS_PARKED, props);
  }

  /** Handler errors (whole-invocation failures), Sum per minute. */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors({ period: Duration.minutes(1), ...props });
  }
}
