/** The y axes the dashboard's graphs share, so the same unit reads the same everywhere (not exported from the package). */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

const axis = (label: string | undefined, max?: number): cloudwatch.YAxisProps => ({
  ...(label !== undefined ? { label } : {}),
  min: 0,
  ...(max !== undefined ? { max } : {}),
  showUnits: false,
});

export const Axes = {
  USD: axis('USD'),
  USD_PER_HOUR: axis('USD/h'),
  USD_PER_JOB: axis('USD/job'),
  TOKENS_PER_MINUTE: axis('tokens/min'),
  MILLISECONDS: axis('ms'),
  SECONDS: axis('s'),
  JOBS: axis('jobs'),
  JOBS_PER_MINUTE: axis('jobs/min'),
  JOBS_PER_INSTANCE: axis('jobs/instance'),
  INSTANCES: axis('instances'),
  GPU_HOURS: axis('GPU-h'),
  PERCENT: axis('%', 100),
  RATIO: axis(undefined, 1),
} as const;

/** Full dashboard width (CloudWatch's grid is 24 columns). */
export const FULL_WIDTH = 24;
