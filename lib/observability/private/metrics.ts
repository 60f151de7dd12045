/** Metric builders shared by the observability constructs (not exported from the package). */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Dimensions, MetricName, MetricNames } from '../../contracts';
import { WorkloadMetricOptions } from '../metric-options';

/** A library metric of one workload (dimension set `Workload`, plus `extraDimensions`), Sum per minute by default. */
export function libraryMetric(namespace: string, metricName: MetricName, workload: string, props: WorkloadMetricOptions = {}): cloudwatch.Metric {
  const { extraDimensions, ...options } = props;
  return new cloudwatch.Metric({
    namespace,
    metricName,
    dimensionsMap: { [Dimensions.WORKLOAD]: workload, ...extraDimensions },
    statistic: 'Sum',
    period: Duration.minutes(1),
    ...options,
  });
}

/**
 * Failed ÷ finished jobs of one workload (0 to 1), per `period`; 0 when nothing finished. With `region`, the
 * inputs are read there and the expression is evaluated there (dashboards only: an alarm reads its own region).
 */
export function failureRatio(namespace: string, workload: string, period: Duration, region?: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'IF((FILL(ok, 0) + FILL(ko, 0)) > 0, FILL(ko, 0) / (FILL(ok, 0) + FILL(ko, 0)), 0)',
    usingMetrics: {
      ok: libraryMetric(namespace, MetricNames.JOBS_SUCCEEDED, workload, { period, region }),
      ko: libraryMetric(namespace, MetricNames.JOBS_FAILED, workload, { period, region }),
    },
    period,
    label: 'failure ratio',
    ...(region !== undefined ? { searchRegion: region } : {}),
  });
}

/** A SEARCH expression over the library's namespace: `metricName` with `schema`'s dimensions, filtered by `filters`. */
export function searchExpression(
  namespace: string,
  metricName: string,
  schema: readonly string[],
  filters: Record<string, string>,
  statistic: string,
  periodSeconds?: number,
): string {
  const terms = [`MetricName="${metricName}"`, ...Object.entries(filters).map(([k, v]) => `${k}="${v}"`)].join(' ');
  const ns = /^[A-Za-z0-9]+$/.test(namespace) ? namespace : `"${namespace}"`;
  return `SEARCH('{${[ns, ...schema].join(',')}} ${terms}', '${statistic}'${periodSeconds ? `, ${periodSeconds}` : ''})`;
}
