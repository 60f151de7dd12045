/**
 * The one Powertools set-up of the Lambdas. Metrics carry exactly the contract's dimension set
 * (METRIC_DIMENSION_SETS: Workload only), so Powertools' default `service` dimension is dropped; a handler that
 * publishes for several workloads (submit) passes no workload and adds the dimension per metric.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Dimensions, EnvNames, METRIC_NAMESPACE } from '../lib/contracts';

/** A Logger named after the function, with the workload on every line when there is one. */
export function lambdaLogger(serviceName: string, workload?: string): Logger {
  const logger = new Logger({ serviceName });
  if (workload !== undefined) logger.appendKeys({ workload });
  return logger;
}

/** Metrics in the platform's namespace (the constructs set it in the environment; the contract's is the default). */
export function lambdaMetrics(serviceName: string, workload?: string, env: NodeJS.ProcessEnv = process.env): Metrics {
  const metrics = new Metrics({ namespace: env[EnvNames.METRIC_NAMESPACE] || METRIC_NAMESPACE, serviceName });
  metrics.clearDefaultDimensions();
  if (workload !== undefined) metrics.setDefaultDimensions({ [Dimensions.WORKLOAD]: workload });
  return metrics;
}
