import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Dimensions, METRIC_NAMESPACE, MetricName } from '../contracts';

/**
 * One of the library's own metrics for a workload: namespace and `Workload` dimension from the contract,
 * Sum per minute unless `props` says otherwise. The constructs' `metricXxx()` methods all go through it.
 */
export function workloadMetric(workload: string, metricName: MetricName, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensionsMap: { [Dimensions.WORKLOAD]: workload },
    statistic: 'Sum',
    period: Duration.minutes(1),
    ...props,
  });
}
