import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, MetricName, SHARED_WORKLOAD_TAG_VALUE } from '../contracts';
import { applyCostTags } from '../common/tags';
import { AiObservabilityProps, ObservedWorkload, WorkloadAlarms } from './ai-observability-props';
import { FleetAlarms } from './fleet-alarms';
import { WorkloadMetricOptions } from './metric-options';
import { createAlarmTopic } from './private/alarm-topic';
import { createPlatformBudgetAlarm } from './private/platform-budget-alarm';
import { PlatformSection } from './private/platform-section';
import { createQueueAlarms } from './private/queue-alarms';
import { validateAiObservabilityProps } from './private/validate-ai-observability';
import { WorkloadMetrics } from './private/workload-metrics';
import { WorkloadSection } from './private/workload-section';

/** One observed workload with its defaults applied. */
interface Resolved {
  readonly props: ObservedWorkload;
  readonly metrics: WorkloadMetrics;
  readonly slo: Duration;
  readonly idleAfter: Duration;
}

/**
 * One CloudWatch dashboard for the platform, a section per workload, and the alarms that say when to act,
 * built as metrics → alarms → widgets from the contract's metric names and the constructs' `metricXxx()`:
 * a metric factory per workload, alarm factories (this construct's queue alarms, `FleetAlarms` for the
 * fleet side) and dashboard sections. Every alarm treats missing data on purpose and its description says
 * what it means and what to do.
 */
export class AiObservability extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  /** Every alarm this construct created, plus the cost reporter's errors alarm when one is given. */
  public readonly alarms: cloudwatch.IAlarm[];
  /** Alarms by workload name. */
  public readonly workloadAlarms: Record<string, WorkloadAlarms>;
  /** Platform spend projected over a day above `dailyBudgetUsd`. */
  public readonly spendOverBudgetAlarm?: cloudwatch.Alarm;
  public readonly alarmTopic?: sns.ITopic;
  public readonly metricNamespace: string;
  private readonly metricsByWorkload: Record<string, WorkloadMetrics> = {};

  constructor(scope: Construct, id: string, props: AiObservabilityProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    validateAiObservabilityProps(props, region);
    this.metricNamespace = props.metricNamespace ?? props.costReporter?.metricNamespace ?? METRIC_NAMESPACE;
    const workloads: Resolved[] = props.workloads.map((w) => {
      const fleetRegion = w.metricsRegion !== undefined && w.metricsRegion !== region ? w.metricsRegion : undefined;
      const asgName = w.autoScalingGroupName ?? w.autoScalingGroup!.autoScalingGroupName;
      const metrics = new WorkloadMetrics(this.metricNamespace, w.queue.workload, asgName, fleetRegion);
      this.metricsByWorkload[w.queue.workload] = metrics;
      return { props: w, metrics, slo: w.oldestJobAgeSlo ?? Duration.minutes(15), idleAfter: w.idleFleetAlarmAfter ?? Duration.minutes(30) };
    });

    this.alarmTopic = props.alarmTopic ?? (props.createAlarmTopic ? createAlarmTopic(this, props.alarmTopicKey, props.costCenter) : undefined);

    // metrics → alarms
    const all: cloudwatch.IAlarm[] = [];
    this.workloadAlarms = {};
    for (const w of workloads) {
      const alarms = this.workloadAlarmsFor(w, props);
      this.workloadAlarms[w.metrics.workload] = alarms;
      all.push(...alarmsOf(alarms));
    }
    const home = workloads.filter((w) => w.metrics.fleetRegion === undefined).map((w) => w.metrics);
    if (props.dailyBudgetUsd !== undefined) {
      this.spendOverBudgetAlarm = createPlatformBudgetAlarm(this, home, props.dailyBudgetUsd);
      all.push(this.spendOverBudgetAlarm);
    }
    if (props.costReporter) all.push(props.costReporter.errorsAlarm);
    if (this.alarmTopic) {
      const action = new cwActions.SnsAction(this.alarmTopic);
      for (const alarm of all) {
        (alarm as cloudwatch.Alarm).addAlarmAction(action);
        (alarm as cloudwatch.Alarm).addOkAction(action);
      }
    }
    this.alarms = all;

    // → widgets
    this.dashboard = new cloudwatch.Dashboard(this, 'Resource', {
      dashboardName: props.dashboardName,
      defaultInterval: props.defaultInterval ?? Duration.hours(3),
      periodOverride: cloudwatch.PeriodOverride.AUTO,
    });
    const platform = new PlatformSection({
      namespace: this.metricNamespace,
      workloads: workloads.map((w) => w.metrics),
      alarms: this.alarms,
      dailyBudgetUsd: props.dailyBudgetUsd,
      hasCostReporter: props.costReporter !== undefined,
    });
    for (const row of platform.rows()) this.dashboard.addWidgets(...row);
    for (const w of workloads) {
      const section = new WorkloadSection({
        metrics: w.metrics,
        queue: w.props.queue,
        oldestJobAgeSlo: w.slo,
        idleFleetAlarmAfter: w.idleAfter,
        failureRatioThreshold: w.props.failureRatioThreshold ?? 0.1,
        dailyBudgetUsd: w.props.dailyBudgetUsd,
        agents: w.props.agents ?? [],
        alarms: alarmsOf(this.workloadAlarms[w.metrics.workload]),
      });
      for (const row of section.rows()) this.dashboard.addWidgets(...row);
    }

    // The dashboard and the platform alarm serve every workload; each workload's alarms carry its own name.
    applyCostTags(this.dashboard, SHARED_WORKLOAD_TAG_VALUE, props.costCenter);
    if (this.spendOverBudgetAlarm) applyCostTags(this.spendOverBudgetAlarm, SHARED_WORKLOAD_TAG_VALUE, props.costCenter);
  }

  /**
   * A library metric of one workload (dimension set `Workload`, plus `extraDimensions`). Read in the workload's
   * `metricsRegion` when the fleet side publishes it (dashboards only: an alarm reads its own region).
   */
  public metric(metricName: MetricName, workload: string, props: WorkloadMetricOptions = {}): cloudwatch.Metric {
    return this.metricsOf(workload).metric(metricName, props);
  }

  /** USD per 1M tokens (in + out) of one workload, per `period`: spend ÷ tokens × 10⁶. */
  public metricCostPerMillionTokens(workload: string, period = Duration.minutes(15)): cloudwatch.MathExpression {
    return this.metricsOf(workload).costPerMillionTokens(period);
  }

  /** Failed ÷ finished jobs of one workload (0 to 1), per `period`; 0 when nothing finished. */
  public metricFailureRatio(workload: string, period = Duration.minutes(5)): cloudwatch.MathExpression {
    return this.metricsOf(workload).failureRatio(period);
  }

  /** Spend rate of one workload in USD per hour, from SpendUsd summed over `period`. */
  public metricSpendRatePerHour(workload: string, period = Duration.minutes(5), priceSource?: string): cloudwatch.MathExpression {
    return this.metricsOf(workload).spendRatePerHour(period, priceSource);
  }

  /** The metric factory of an observed workload; a workload not observed gets metrics of this stack's region. */
  private metricsOf(workload: string): WorkloadMetrics {
    return this.metricsByWorkload[workload] ?? new WorkloadMetrics(this.metricNamespace, workload, '');
  }

  /**
   * The workload's alarms in its scope `Workload-<name>`: the fleet side from a `FleetAlarms` of that id (one
   * definition, the construct paths they always had), the queue side beside them. A workload read in another
   * region has no fleet alarms here (they belong in that region, on a `FleetAlarms` there).
   */
  private workloadAlarmsFor(w: Resolved, props: AiObservabilityProps): WorkloadAlarms {
    const name = w.metrics.workload;
    const scopeId = `Workload-${name}`;
    const costCenter = w.props.costCenter ?? props.costCenter;
    const fleet =
      w.metrics.fleetRegion === undefined
        ? new FleetAlarms(this, scopeId, {
            workload: name,
            autoScalingGroupName: w.metrics.autoScalingGroupName,
            jobQueue: w.props.queue,
            capacityManagerFunction: w.props.capacityManagerFunction,
            idleFleetAlarmAfter: w.idleAfter,
            failureRatioThreshold: w.props.failureRatioThreshold,
            dailyBudgetUsd: w.props.dailyBudgetUsd,
            costReporter: props.costReporter,
            metricNamespace: this.metricNamespace,
            costCenter,
          })
        : undefined;
    const scope = fleet ?? new Construct(this, scopeId);
    const queue = createQueueAlarms(scope, { queue: w.props.queue, oldestJobAgeSlo: w.slo });
    applyCostTags(scope, name, costCenter);
    return {
      oldestJobAge: queue.oldestJobAge,
      fleetIdle: fleet?.fleetIdle,
      deadLetters: queue.deadLetters,
      parkedJobs: queue.parkedJobs,
      failureRatio: fleet?.failureRatio,
      bootFailures: fleet?.bootFailures,
      modelServerLost: fleet?.modelServerLost,
      spendOverBudget: fleet?.spendOverBudget,
      spendDataMissing: fleet?.spendDataMissing,
      capacityManagerErrors: fleet?.capacityManagerErrors,
    };
  }
}

/** A workload's alarms in a fixed order (the order of `WorkloadAlarms`' fields). */
function alarmsOf(alarms: WorkloadAlarms): cloudwatch.Alarm[] {
  return Object.values(alarms).filter((a): a is cloudwatch.Alarm => a !== undefined);
}
