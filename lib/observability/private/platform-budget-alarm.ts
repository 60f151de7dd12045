/** The platform-wide budget alarm (not exported from the package). */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { MetricNames } from '../../contracts';
import { WorkloadMetrics } from './workload-metrics';

/** Spend of `workloads` (all read in the alarm's region), projected over 24 h from the last 30 minutes, above `budget`. */
export function createPlatformBudgetAlarm(scope: Construct, workloads: readonly WorkloadMetrics[], budget: number): cloudwatch.Alarm {
  const usingMetrics: Record<string, cloudwatch.IMetric> = {};
  workloads.forEach((w, i) => {
    usingMetrics[`s${i}`] = w.metric(MetricNames.SPEND_USD, { period: Duration.minutes(15) });
  });
  const sum = Object.keys(usingMetrics)
    .map((k) => `FILL(${k}, 0)`)
    .join(' + ');
  return new cloudwatch.Alarm(scope, 'SpendOverBudgetAlarm', {
    metric: new cloudwatch.MathExpression({
      expression: `(${sum}) * 96`,
      usingMetrics,
      period: Duration.minutes(15),
      label: 'platform spend projected over 24 h (USD)',
    }),
    threshold: budget,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 2,
    datapointsToAlarm: 2,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription:
      `[ai-burst] The platform's spend over the last 30 minutes, projected over 24 hours, exceeds the ` +
      `daily budget of ${budget} USD. The dashboard's "spend by workload" shows which workload; its section's "top ` +
      'agents by spend" shows who. Lower fleet maximums, pause the heaviest agents, or raise the budget.',
  });
}
