import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { Dimensions, EnvNames, METRIC_NAMESPACE, MetricNames, PriceSource, SHARED_WORKLOAD_TAG_VALUE, WORKLOAD_NAME_PATTERN } from '../contracts';
import { HANDLER, handlerCode } from '../common/handler';
import { acknowledgeNag } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { validatePattern } from '../common/validate';
import { validateNamespace } from './private/validate';

export interface CostReporterProps {
  /**
   * Workloads whose instances the reporter prices (instances tagged `ai-burst:workload` with one of these).
   * Each gets a SpendUsd value every minute, 0 when nothing runs. 1 to 100 names.
   */
  readonly workloads: string[];
  /**
   * Namespace SpendUsd is published to; the function may publish nowhere else.
   * @default METRIC_NAMESPACE ('AiBurst')
   */
  readonly metricNamespace?: string;
  /**
   * How long the function's logs (one line per run, with the price source) are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Value of the `ai-burst:cost-center` tag.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
}

const NAME = 'CostReporter';

/** Options of {@link CostReporter.metricSpendUsd}. */
export interface SpendMetricOptions extends cloudwatch.MetricOptions {
  /**
   * One agent's share.
   * @default - every agent
   */
  readonly agent?: string;
  /**
   * Only the part priced from this source (`PriceSources`).
   * @default - every source
   */
  readonly priceSource?: PriceSource;
}

/**
 * Live spend: every minute a Lambda prices the fleets' running instances (DescribeInstances by the workload
 * tag × DescribeSpotPriceHistory per type and AZ, falling back to the dated price snapshot) and publishes
 * `SpendUsd` per workload, per agent (by GPU-seconds share) and per price source. Ships its own alarm on
 * failed runs (`errorsAlarm`); AiObservability routes it to the alarm topic.
 */
export class CostReporter extends Construct {
  public readonly function: lambda.IFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly schedule: events.Rule;
  /** Runs failed in 3 of the last 5 minutes. */
  public readonly errorsAlarm: cloudwatch.Alarm;
  public readonly workloads: string[];
  public readonly metricNamespace: string;

  constructor(scope: Construct, id: string, props: CostReporterProps) {
    super(scope, id);
    validateProps(props);
    this.workloads = [...props.workloads];
    this.metricNamespace = props.metricNamespace ?? METRIC_NAMESPACE;

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'ai-burst CostReporter: read fleet instances and spot prices, publish SpendUsd',
    });
    this.logGroup.grantWrite(this.role);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadFleetsAndSpotPrices',
        actions: ['ec2:DescribeInstances', 'ec2:DescribeSpotPriceHistory'],
        resources: ['*'],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadGpuSecondsByAgent',
        actions: ['cloudwatch:ListMetrics', 'cloudwatch:GetMetricData'],
        resources: ['*'],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PublishSpendInLibraryNamespaceOnly',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': this.metricNamespace } },
      }),
    );
    acknowledgeNag(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      'ec2:DescribeInstances, ec2:DescribeSpotPriceHistory, cloudwatch:ListMetrics and cloudwatch:GetMetricData support ' +
        'no resource-level permissions, so they can only be granted on "*"; cloudwatch:PutMetricData is confined to the ' +
        'library namespace by the cloudwatch:namespace condition. No wildcard actions.',
    );

    const fn = new NodejsFunction(this, 'Resource', {
      code: handlerCode('cost-reporter'),
      handler: HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      // Under the schedule's minute, so runs never overlap.
      timeout: Duration.seconds(50),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      // A run that fails after a partial publish must not publish again: duplicates would add up in Sum.
      retryAttempts: 0,
      environment: {
        [EnvNames.METRIC_NAMESPACE]: this.metricNamespace,
        [EnvNames.WORKLOADS]: JSON.stringify(this.workloads),
      },
      description: 'ai-burst: publishes SpendUsd per workload and agent every minute',
    });
    this.function = fn;

    this.schedule = new events.Rule(this, 'EveryMinute', {
      schedule: events.Schedule.rate(Duration.minutes(1)),
      description: 'ai-burst CostReporter tick',
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.minutes(5) })],
    });

    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      metric: fn.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      // No invocation → no Errors datapoint; silence is caught by AiObservability's spend-data-missing alarm.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'ai-burst CostReporter runs failed in 3 of the last 5 minutes, so SpendUsd is missing or ' +
        'under-reported and the budget alarm is blind. Open the function\'s logs (JSON lines "spend reported"): an ' +
        'AccessDenied names the missing permission; a throttle on DescribeInstances clears itself. Spend of failed ' +
        'minutes is not back-filled.',
    });

    const acks =
      'Scheduled every minute by EventBridge with no payload worth keeping: a failed tick is replaced by the ' +
      "next one a minute later, and failures are alarmed by the construct's own Errors alarm. Retrying or " +
      'dead-lettering a tick would risk publishing the same minute twice.';
    acknowledgeNag(fn, 'Serverless-LambdaDLQ', acks);
    acknowledgeNag(fn, 'Serverless-LambdaAsyncFailureDestination', acks);
    acknowledgeNag(this.schedule, 'Serverless-EventBusDLQ', acks);

    applyCostTags(this, this.workloads.length === 1 ? this.workloads[0] : SHARED_WORKLOAD_TAG_VALUE, props.costCenter);
  }

  /**
   * SpendUsd of one workload, USD per period (Sum): the total, or one agent's share, or the part priced
   * from one source (`PriceSources`).
   */
  public metricSpendUsd(workload: string, options: SpendMetricOptions = {}): cloudwatch.Metric {
    const { agent, priceSource, ...metricOptions } = options;
    return new cloudwatch.Metric({
      namespace: this.metricNamespace,
      metricName: MetricNames.SPEND_USD,
      dimensionsMap: {
        [Dimensions.WORKLOAD]: workload,
        ...(agent !== undefined ? { [Dimensions.AGENT]: agent } : {}),
        ...(priceSource !== undefined ? { [Dimensions.PRICE_SOURCE]: priceSource } : {}),
      },
      statistic: 'Sum',
      period: Duration.minutes(5),
      ...metricOptions,
    });
  }

  /** Failed runs of the reporter, Sum per minute. */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors({ period: Duration.minutes(1), statistic: 'Sum', ...props });
  }
}

function validateProps(props: CostReporterProps): void {
  if (!Array.isArray(props.workloads) || props.workloads.length < 1 || props.workloads.length > 100) {
    throw new Error(`${NAME}: workloads must list 1 to 100 names (got ${props.workloads?.length ?? 0})`);
  }
  for (const w of props.workloads) {
    validatePattern(
      NAME,
      'workloads',
      w,
      WORKLOAD_NAME_PATTERN,
      'use lower-case letters, digits and dashes, starting with a letter, up to 32 characters',
    );
  }
  const dup = props.workloads.find((w, i) => props.workloads.indexOf(w) !== i);
  if (dup) throw new Error(`${NAME}: workloads lists ${JSON.stringify(dup)} twice`);
  validateNamespace(NAME, props.metricNamespace);
}
