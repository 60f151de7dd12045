import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, MetricNames, WORKLOAD_NAME_PATTERN } from '../contracts';
import { applyCostTags } from '../common/tags';
import { validateDuration, validatePattern, validateRange } from '../common/validate';
import { IJobQueue } from '../queue/job-queue';
import { CostReporter } from './cost-reporter';
import { createAlarmTopic } from './private/alarm-topic';
import { failureRatio, libraryMetric } from './private/metrics';
import { validateNamespace } from './private/validate';

export interface FleetAlarmsProps {
  /** The workload: the metrics' `Workload` dimension, the alarm descriptions' tag and the cost tag. */
  readonly workload: string;
  /** Name of the workload's Auto Scaling group, in this stack's region (group metrics collection on). */
  readonly autoScalingGroupName: string;
  /**
   * The workload's queues, when they are in this stack's region: the fleet-idle alarm counts their
   * in-flight messages. An alarm reads only its own region's metrics, so for queues of another region
   * leave it unset.
   * @default - the fleet-idle alarm reads the CapacityManager's BacklogPerInstance (jobs waiting, in flight
   * or due soon, per instance), published in the fleet's region
   */
  readonly jobQueue?: IJobQueue;
  /**
   * The CapacityManager's function: alarms when its runs fail.
   * @default - no CapacityManager errors alarm
   */
  readonly capacityManagerFunction?: lambda.IFunction;
  /**
   * Instances in service with no job in flight for this long is a cost leak (5 minutes to 1 day).
   * @default Duration.minutes(30)
   */
  readonly idleFleetAlarmAfter?: Duration;
  /**
   * Share of finished jobs that failed, over 5-minute windows, above which the failure alarm fires (0.01 to 1).
   * @default 0.1
   */
  readonly failureRatioThreshold?: number;
  /**
   * Daily budget of this workload in USD (0.01 to 10,000,000): the alarm fires when the last 30 minutes'
   * spend rate, projected over 24 hours, exceeds it. Reads the SpendUsd of this region.
   * @default - no workload budget alarm
   */
  readonly dailyBudgetUsd?: number;
  /**
   * The CostReporter pricing this workload's instances in this region: adds the spend-data-missing alarm;
   * with an alarm topic, its errors alarm is routed there too.
   * @default - no spend-data-missing alarm
   */
  readonly costReporter?: CostReporter;
  /**
   * Namespace the library's metrics are published to.
   * @default - the cost reporter's, else METRIC_NAMESPACE ('AiBurst')
   */
  readonly metricNamespace?: string;
  /**
   * Topic the alarms notify (on ALARM and back to OK); it must be in this stack's region.
   * @default - none, unless `createAlarmTopic`
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Create an encrypted, TLS-only topic for the alarms (exposed as `alarmTopic`; subscribe to it).
   * @default false
   */
  readonly createAlarmTopic?: boolean;
  /**
   * Key for the created topic; CloudWatch is granted use of it.
   * @default - a new customer-managed key with rotation
   */
  readonly alarmTopicKey?: kms.IKey;
  /**
   * Value of the `ai-burst:cost-center` tag.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
}

const NAME = 'FleetAlarms';
const MINUTE = Duration.minutes(1);

/**
 * The alarms of one workload that read metrics published on the fleet's side — worker and CapacityManager
 * metrics, the group's metrics, the CostReporter's SpendUsd — so they must live in the fleet's region:
 * fleet idle, failure ratio, boot failures, model server lost, spend over budget, spend data missing, CapacityManager errors. AiObservability
 * uses it for a workload whose metrics are in its own region; AiBurstPlatform puts one in the compute stack
 * of a workload placed in another region. Every alarm treats missing data on purpose and its description
 * says what it means and what to do.
 */
export class FleetAlarms extends Construct {
  public readonly fleetIdle: cloudwatch.Alarm;
  public readonly failureRatio: cloudwatch.Alarm;
  public readonly spendOverBudget?: cloudwatch.Alarm;
  public readonly spendDataMissing?: cloudwatch.Alarm;
  public readonly capacityManagerErrors?: cloudwatch.Alarm;
  /** Instances that gave up at boot (reported themselves unhealthy) again and again: a systematic cold-start failure. */
  public readonly bootFailures: cloudwatch.Alarm;
  /** Model servers that died after they were healthy, again and again. */
  public readonly modelServerLost: cloudwatch.Alarm;
  /** Every alarm this construct created, plus the cost reporter's errors alarm when it routes it to its topic. */
  public readonly alarms: cloudwatch.Alarm[];
  public readonly alarmTopic?: sns.ITopic;
  public readonly workload: string;
  public readonly metricNamespace: string;

  constructor(scope: Construct, id: string, props: FleetAlarmsProps) {
    super(scope, id);
    validateProps(this, props);
    this.workload = props.workload;
    this.metricNamespace = props.metricNamespace ?? props.costReporter?.metricNamespace ?? METRIC_NAMESPACE;
    const tag = `[ai-burst:${props.workload}]`;
    const metric = (name: (typeof MetricNames)[keyof typeof MetricNames], options: cloudwatch.MetricOptions = {}) =>
      libraryMetric(this.metricNamespace, name, props.workload, options);

    const inService = new cloudwatch.Metric({
      namespace: 'AWS/AutoScaling',
      metricName: 'GroupInServiceInstances',
      dimensionsMap: { AutoScalingGroupName: props.autoScalingGroupName },
      statistic: 'Maximum',
      period: MINUTE,
    });
    const idleMinutes = Math.round((props.idleFleetAlarmAfter ?? Duration.minutes(30)).toMinutes({ integral: false }));
    const idleDescription =
      `${tag} GPU instances have been in service with no job in flight for ${idleMinutes} minutes: you ` +
      'pay for idle GPUs. If the queues are empty, scale-in is not happening: check the CapacityManager (errors ' +
      "alarm, logs: its idle window and minimum capacity) or the group's minimum size. If jobs are waiting, the " +
      'workers are not pulling: check the worker and model-server logs on an instance.';
    let idle: cloudwatch.MathExpression;
    if (props.jobQueue) {
      const inFlight: Record<string, cloudwatch.IMetric> = { inservice: inService };
      props.jobQueue.queues.forEach((q, i) => {
        inFlight[`f${i}`] = q.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', period: MINUTE });
      });
      const flightSum = props.jobQueue.queues.map((_, i) => `FILL(f${i}, 0)`).join(' + ');
      idle = new cloudwatch.MathExpression({
        expression: `IF(FILL(inservice, 0) > 0 AND (${flightSum}) == 0, 1, 0)`,
        usingMetrics: inFlight,
        period: MINUTE,
        label: 'in service with no job in flight',
      });
    } else {
      // The queues are in another region: the CapacityManager's view of them (waiting + in flight + due soon).
      idle = new cloudwatch.MathExpression({
        expression: 'IF(FILL(inservice, 0) > 0 AND FILL(backlog, 0) == 0, 1, 0)',
        usingMetrics: { inservice: inService, backlog: metric(MetricNames.BACKLOG_PER_INSTANCE, { statistic: 'Maximum', period: MINUTE }) },
        period: MINUTE,
        label: 'in service with no job waiting or in flight',
      });
    }
    this.fleetIdle = new cloudwatch.Alarm(this, 'FleetIdleAlarm', {
      metric: idle,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: idleMinutes,
      datapointsToAlarm: idleMinutes,
      // Missing queue, backlog or group data is filled with 0 in the expression; a fully missing minute means neither exists.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: props.jobQueue
        ? idleDescription
        : idleDescription.replace('no job in flight', 'no job waiting or in flight') +
          " (Read from the CapacityManager's BacklogPerInstance: the queues are in another region.)",
    });

    const threshold = props.failureRatioThreshold ?? 0.1;
    this.failureRatio = new cloudwatch.Alarm(this, 'FailureRatioAlarm', {
      metric: failureRatio(this.metricNamespace, props.workload, Duration.minutes(5)),
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      // No job finished in a window = nothing failed.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `${tag} More than ${Math.round(threshold * 100)} % of finished ` +
        "jobs failed in 2 of the last 3 five-minute windows. Look at the jobs widget and the job records' error " +
        'field: one agent failing (bad prompts, oversized input) or all failing (model server down, out of GPU ' +
        'memory, wrong model name). Failures are retried with backoff and then parked.',
    });

    if (props.dailyBudgetUsd !== undefined) {
      this.spendOverBudget = new cloudwatch.Alarm(this, 'SpendOverBudgetAlarm', {
        metric: new cloudwatch.MathExpression({
          expression: 'FILL(s, 0) * 96',
          usingMetrics: { s: metric(MetricNames.SPEND_USD, { period: Duration.minutes(15) }) },
          period: Duration.minutes(15),
          label: 'spend projected over 24 h (USD)',
        }),
        threshold: props.dailyBudgetUsd,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        // Silence is the spend-data-missing alarm's to report, not a budget breach.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription:
          `${tag} Spend over the last 30 minutes, projected over 24 hours, exceeds the daily budget ` +
          `of ${props.dailyBudgetUsd} USD. See "top agents by spend" for who is spending and the fleet widget for how ` +
          "many instances run; lower the fleet's maximum capacity, pause the heaviest agent, or raise the budget.",
      });
    }

    if (props.costReporter) {
      this.spendDataMissing = new cloudwatch.Alarm(this, 'SpendDataMissingAlarm', {
        metric: metric(MetricNames.SPEND_USD, { statistic: 'SampleCount' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        // The CostReporter publishes 0 when nothing runs, so no data at all means it is not running.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        alarmDescription:
          `${tag} No SpendUsd for 5 minutes: the CostReporter is not running or no longer covers this ` +
          "workload, so spend and the budget alarms are blind. Check the CostReporter's errors alarm, its schedule " +
          'rule (enabled?) and its AI_BURST_WORKLOADS variable.',
      });
    }

    if (props.capacityManagerFunction) {
      this.capacityManagerErrors = new cloudwatch.Alarm(this, 'CapacityManagerErrorsAlarm', {
        metric: props.capacityManagerFunction.metricErrors({ period: MINUTE, statistic: 'Sum' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        // Lambda reports Errors only for invocations; no invocation is not an error.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription:
          `${tag} The CapacityManager failed in 3 of the last 5 minutes, so the fleet is not being ` +
          'scaled: jobs may wait (scale-out) or instances idle (scale-in). Open its logs: they name the failing call ' +
          '(GetQueueAttributes, DescribeAutoScalingGroups, SetDesiredCapacity); an AccessDenied means a missing grant ' +
          "(fix the role), a throttle clears itself. Until it recovers, set the group's desired capacity by hand if jobs wait.",
      });
    }

    // One failed boot heals itself (the group replaces the instance); three in half an hour is a cause to fix.
    this.bootFailures = new cloudwatch.Alarm(this, 'BootFailuresAlarm', {
      metric: metric(MetricNames.BOOT_FAILURES, { period: Duration.minutes(30) }),
      threshold: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // Published only when a boot fails.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `${tag} 3 or more GPU instances gave up at boot in 30 minutes and asked to be replaced, so capacity churns ` +
        'while jobs wait. The boot log group (one stream per instance) has the reason and the last boot log lines: ' +
        'an image pull (repository, tag, permissions), a weights copy (bucket, prefix), no GPU (instance type, AMI), or a ' +
        'model that never became healthy within the boot timeout (too big for the GPU, wrong model name, slow first boot: ' +
        'raise bootTimeout).',
    });
    this.modelServerLost = new cloudwatch.Alarm(this, 'ModelServerLostAlarm', {
      metric: metric(MetricNames.MODEL_SERVER_LOST, { period: Duration.minutes(30) }),
      threshold: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `${tag} Model servers stopped answering after they were healthy on 2 or more instances in 30 minutes; their ` +
        'jobs went back to the queue (no attempt spent) and the instances were replaced. Look at `journalctl -u ' +
        'ai-burst-model-server` output in the worker logs: out of GPU memory on long inputs, GPU errors (XID), or a crash ' +
        'on one kind of request.',
    });

    this.alarmTopic = props.alarmTopic ?? (props.createAlarmTopic ? createAlarmTopic(this, props.alarmTopicKey, props.costCenter) : undefined);
    const all = [
      this.fleetIdle,
      this.failureRatio,
      this.bootFailures,
      this.modelServerLost,
      this.spendOverBudget,
      this.spendDataMissing,
      this.capacityManagerErrors,
    ].filter((a): a is cloudwatch.Alarm => a !== undefined);
    if (this.alarmTopic) {
      if (props.costReporter) all.push(props.costReporter.errorsAlarm);
      const action = new cwActions.SnsAction(this.alarmTopic);
      for (const alarm of all) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
    this.alarms = all;
    applyCostTags(this, props.workload, props.costCenter);
  }
}

function validateProps(self: Construct, props: FleetAlarmsProps): void {
  validatePattern(
    NAME,
    'workload',
    props.workload,
    WORKLOAD_NAME_PATTERN,
    'use lower-case letters, digits and dashes, starting with a letter, up to 32 characters',
  );
  validateDuration(NAME, 'idleFleetAlarmAfter', props.idleFleetAlarmAfter, Duration.minutes(5), Duration.days(1));
  validateRange(NAME, 'failureRatioThreshold', props.failureRatioThreshold, 0.01, 1);
  validateRange(NAME, 'dailyBudgetUsd', props.dailyBudgetUsd, 0.01, 10_000_000, ' USD');
  validateNamespace(NAME, props.metricNamespace);
  if (props.alarmTopic && props.createAlarmTopic) throw new Error(`${NAME}: give alarmTopic or createAlarmTopic, not both`);
  if (props.alarmTopicKey && !props.createAlarmTopic) throw new Error(`${NAME}: alarmTopicKey is only used with createAlarmTopic: true`);
  if (props.jobQueue && props.jobQueue.workload !== props.workload) {
    throw new Error(`${NAME}: jobQueue is workload ${JSON.stringify(props.jobQueue.workload)}, not ${JSON.stringify(props.workload)}`);
  }
  const here = Stack.of(self).region;
  const known = (r: string) => !Token.isUnresolved(r);
  if (props.jobQueue) {
    const there = Stack.of(props.jobQueue.queues[0]).region;
    if (known(here) && known(there) && here !== there) {
      throw new Error(
        `${NAME}: jobQueue is in region ${there} but the alarms are in ${here}; an alarm reads only its own region's ` +
          "metrics: leave jobQueue unset (the fleet-idle alarm then reads the CapacityManager's backlog)",
      );
    }
  }
  if (props.costReporter && !props.costReporter.workloads.includes(props.workload)) {
    throw new Error(`${NAME}: the cost reporter does not cover ${JSON.stringify(props.workload)}; add it to its workloads`);
  }
  if (props.costReporter && props.metricNamespace !== undefined && props.metricNamespace !== props.costReporter.metricNamespace) {
    throw new Error(
      `${NAME}: metricNamespace ${JSON.stringify(props.metricNamespace)} differs from the cost reporter's ` +
        `${JSON.stringify(props.costReporter.metricNamespace)}`,
    );
  }
}
