/** The dashboard's platform section: spend by workload, top agents and every alarm (not exported from the package). */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Dimensions, MetricNames } from '../../contracts';
import { Axes, FULL_WIDTH } from './dashboard-axes';
import { searchExpression } from './metrics';
import { WorkloadMetrics } from './workload-metrics';

export interface PlatformSectionProps {
  readonly namespace: string;
  readonly workloads: readonly WorkloadMetrics[];
  readonly alarms: readonly cloudwatch.IAlarm[];
  readonly dailyBudgetUsd?: number;
  readonly hasCostReporter: boolean;
}

export class PlatformSection {
  constructor(private readonly props: PlatformSectionProps) {}

  /** The section's rows, top to bottom. */
  public rows(): cloudwatch.IWidget[][] {
    return [[this.header()], [this.spendByWorkload(), this.topAgentsBySpend(), this.alarmStatus()]];
  }

  private header(): cloudwatch.IWidget {
    const names = this.props.workloads.map((w) => `\`${w.workload}\``).join(', ');
    return new cloudwatch.TextWidget({
      markdown:
        `# AI burst platform\nSpend, top agents and alarms for ${names}. ` +
        'A section per workload follows. Spend comes from the CostReporter (live spot price × running instances, ' +
        `every minute)${this.props.hasCostReporter ? '' : ' — none is attached to this dashboard'}.`,
      width: FULL_WIDTH,
      height: 2,
    });
  }

  private spendByWorkload(): cloudwatch.IWidget {
    const budget = this.props.dailyBudgetUsd;
    return new cloudwatch.GraphWidget({
      title: 'Platform · spend by workload (USD/h)',
      left: this.props.workloads.map((w) => w.spendRatePerHour(Duration.minutes(5)).with({ label: w.workload })),
      stacked: true,
      width: 8,
      leftYAxis: Axes.USD_PER_HOUR,
      ...(budget !== undefined ? { leftAnnotations: [{ value: budget / 24, label: 'daily budget ÷ 24' }] } : {}),
    });
  }

  private topAgentsBySpend(): cloudwatch.IWidget {
    // One SEARCH per region spend is published in: this stack's, and each other metricsRegion.
    const regions = [undefined, ...new Set(this.props.workloads.map((w) => w.fleetRegion).filter((r) => r !== undefined))];
    const search = searchExpression(this.props.namespace, MetricNames.SPEND_USD, [Dimensions.AGENT, Dimensions.WORKLOAD], {}, 'Sum');
    return new cloudwatch.GraphWidget({
      title: 'Platform · top agents by spend (USD, time range)',
      left: regions.map(
        (region) =>
          new cloudwatch.MathExpression({
            expression: `SORT(${search}, SUM, DESC, 10)`,
            label: region === undefined ? 'USD' : `USD (${region})`,
            period: Duration.hours(1),
            ...(region !== undefined ? { searchRegion: region } : {}),
          }),
      ),
      view: cloudwatch.GraphWidgetView.BAR,
      setPeriodToTimeRange: true,
      width: 8,
    });
  }

  private alarmStatus(): cloudwatch.IWidget {
    return new cloudwatch.AlarmStatusWidget({
      title: 'Platform · alarms',
      alarms: [...this.props.alarms],
      width: 8,
      height: 6,
      sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
    });
  }
}
