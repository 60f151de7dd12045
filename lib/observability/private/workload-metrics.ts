/** The metric factory of one observed workload: every metric its alarms and dashboard section read. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Dimensions, MetricName, MetricNames } from '../../contracts';
import { AgentDimensions, CW_AGENT_NAMESPACE } from '../cloudwatch-agent-config';
import { WorkloadMetricOptions } from '../metric-options';
import { failureRatio, libraryMetric, searchExpression } from './metrics';

const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

/** Library metrics published on the home side (API, RetryHandler): read in the stack's region whatever metricsRegion says. */
const HOME_SIDE_METRICS: ReadonlySet<MetricName> = new Set([MetricNames.JOBS_SUBMITTED, MetricNames.JOBS_RETRIED, MetricNames.JOBS_PARKED]);

/** A metric-math id from free text (ids match `^[a-z][A-Za-z0-9_]*$`). */
export function mathId(...parts: string[]): string {
  return parts.join('_').replace(/[^A-Za-z0-9_]/g, '_');
}

/**
 * Metrics of one workload. Fleet-side metrics (worker, CapacityManager, group, GPU agent, SpendUsd) are read
 * in `fleetRegion` when the workload's GPU layer runs in another region than the dashboard (dashboards only:
 * an alarm reads its own region); math expressions over them are evaluated there too.
 */
export class WorkloadMetrics {
  constructor(
    readonly namespace: string,
    readonly workload: string,
    readonly autoScalingGroupName: string,
    readonly fleetRegion?: string,
  ) {}

  /** A library metric of this workload (dimension `Workload`, plus `extraDimensions`), Sum per minute by default. */
  public metric(metricName: MetricName, props: WorkloadMetricOptions = {}): cloudwatch.Metric {
    const region = HOME_SIDE_METRICS.has(metricName) ? undefined : this.fleetRegion;
    return libraryMetric(this.namespace, metricName, this.workload, { ...(region !== undefined ? { region } : {}), ...props });
  }

  /** The math-expression options that evaluate fleet-side metrics in the fleet's region. */
  public evaluatedIn(): { searchRegion?: string } {
    return this.fleetRegion !== undefined ? { searchRegion: this.fleetRegion } : {};
  }

  /** USD per 1M tokens (in + out), per `period`: spend ÷ tokens × 10⁶. */
  public costPerMillionTokens(period = Duration.minutes(15)): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: '1000000 * spend / (tin + tout)',
      usingMetrics: {
        spend: this.metric(MetricNames.SPEND_USD, { period }),
        tin: this.metric(MetricNames.TOKENS_IN, { period }),
        tout: this.metric(MetricNames.TOKENS_OUT, { period }),
      },
      period,
      label: 'USD per 1M tokens',
      ...this.evaluatedIn(),
    });
  }

  /** Failed ÷ finished jobs (0 to 1), per `period`; 0 when nothing finished. */
  public failureRatio(period = FIVE_MINUTES): cloudwatch.MathExpression {
    return failureRatio(this.namespace, this.workload, period, this.fleetRegion);
  }

  /** Spend rate in USD per hour, from SpendUsd summed over `period`; one price source or all. */
  public spendRatePerHour(period = FIVE_MINUTES, priceSource?: string): cloudwatch.MathExpression {
    // Ids are unique per workload and source, so several rates can share one graph.
    const id = mathId('spend', this.workload, priceSource ?? 'all');
    const extraDimensions = priceSource ? { [Dimensions.PRICE_SOURCE]: priceSource } : undefined;
    return new cloudwatch.MathExpression({
      expression: `FILL(${id}, 0) * ${3600 / period.toSeconds()}`,
      usingMetrics: { [id]: this.metric(MetricNames.SPEND_USD, { period, ...(extraDimensions ? { extraDimensions } : {}) }) },
      period,
      label: priceSource ? `USD/h priced from ${priceSource}` : 'USD/h',
      ...this.evaluatedIn(),
    });
  }

  /** Spend ÷ successful jobs per hour, of the workload or of one agent. */
  public costPerSuccessfulJob(label: string, agent?: { name: string; index: number }): cloudwatch.MathExpression {
    const period = Duration.hours(1);
    const extraDimensions = agent ? { [Dimensions.AGENT]: agent.name } : undefined;
    const [spend, ok] = agent ? [`s${agent.index}`, `j${agent.index}`] : ['spend', 'ok'];
    return new cloudwatch.MathExpression({
      expression: `${spend} / ${ok}`,
      usingMetrics: {
        [spend]: this.metric(MetricNames.SPEND_USD, { period, ...(extraDimensions ? { extraDimensions } : {}) }),
        [ok]: this.metric(MetricNames.JOBS_SUCCEEDED, { period, ...(extraDimensions ? { extraDimensions } : {}) }),
      },
      period,
      label,
      ...this.evaluatedIn(),
    });
  }

  /** SEARCH over this workload's metric `metricName` with the dimension set `schema` (plus `Workload`). */
  public search(metricName: MetricName, by: string, statistic: string, periodSeconds?: number): string {
    return searchExpression(
      this.namespace,
      metricName,
      [by, Dimensions.WORKLOAD],
      { [Dimensions.WORKLOAD]: this.workload },
      statistic,
      periodSeconds,
    );
  }

  /** A SEARCH (or any math without inputs) as a line, evaluated in the fleet's region. */
  public expression(expression: string, label: string, period: Duration): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({ expression, label, period, ...this.evaluatedIn() });
  }

  /** The Auto Scaling group's metric (group metrics collection on), Maximum per minute. */
  public group(metricName: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/AutoScaling',
      metricName,
      dimensionsMap: { AutoScalingGroupName: this.autoScalingGroupName },
      statistic: 'Maximum',
      period: MINUTE,
      label,
      ...(this.fleetRegion !== undefined ? { region: this.fleetRegion } : {}),
    });
  }

  /** A GPU metric of the CloudWatch agent, rolled up per workload, Average per minute. */
  public gpu(metricName: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: CW_AGENT_NAMESPACE,
      metricName,
      dimensionsMap: { [Dimensions.WORKLOAD]: this.workload },
      statistic: 'Average',
      period: MINUTE,
      label,
      ...(this.fleetRegion !== undefined ? { region: this.fleetRegion } : {}),
    });
  }

  /** GPU metric per instance of the group (the agent's `AutoScalingGroupName`+`InstanceId` roll-up). */
  public searchGpuPerInstance(metricName: string): string {
    return (
      `SEARCH('{${CW_AGENT_NAMESPACE},${AgentDimensions.AUTO_SCALING_GROUP_NAME},${AgentDimensions.INSTANCE_ID}} ` +
      `MetricName="${metricName}" ${AgentDimensions.AUTO_SCALING_GROUP_NAME}="${this.autoScalingGroupName}"', 'Average', 60)`
    );
  }
}
