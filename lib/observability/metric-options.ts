import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** Options of a library metric: the CDK metric options plus dimensions beyond `Workload`. */
export interface WorkloadMetricOptions extends cloudwatch.MetricOptions {
  /**
   * Dimensions added to `Workload` (for example `Agent`, `Model`, `PriceSource`).
   * @default - `Workload` only
   */
  readonly extraDimensions?: Record<string, string>;
}
