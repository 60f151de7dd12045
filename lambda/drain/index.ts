/**
 * InterruptionDrainer Lambda: EventBridge → handleDrainEvent (drain.ts). Thin on purpose: config from the
 * environment at cold start, SDK clients created once, metrics flushed per invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { Dimensions, EnvNames, MetricNames } from '../../lib/contracts';
import { requireEnv } from '../shared/env';
import { JobRecords } from '../shared/job-records';
import { createDrainClients } from './clients';
import { DrainDeps, DrainSummary, handleDrainEvent } from './drain';

const workload = requireEnv(EnvNames.WORKLOAD);
const logger = new Logger({ serviceName: 'ai-burst-drainer' });
logger.appendKeys({ workload });
const metrics = new Metrics({ namespace: requireEnv(EnvNames.METRIC_NAMESPACE), serviceName: 'ai-burst-drainer' });
// The contract's dimension sets are exact (METRIC_DIMENSION_SETS: Workload only): drop Powertools' `service`.
metrics.clearDefaultDimensions();
metrics.setDefaultDimensions({ [Dimensions.WORKLOAD]: workload });

// Records and queues in the data region (AI_BURST_DATA_REGION when the fleet is placed in another region),
// Auto Scaling and EC2 here. The SQS client coalesces the requeues' SendMessage/DeleteMessage calls into
// batches: ~1,200 requests for 1,000 jobs, not 3,000.
const clients = createDrainClients();
const deps: DrainDeps = {
  sqs: clients.sqs,
  records: new JobRecords(
    DynamoDBDocumentClient.from(clients.dynamo, { marshallOptions: { removeUndefinedValues: true } }),
    requireEnv(EnvNames.JOB_TABLE),
  ),
  autoScaling: clients.autoScaling,
  ec2: clients.ec2,
  workload,
  groupName: requireEnv(EnvNames.ASG_NAME),
  hookName: requireEnv(EnvNames.LIFECYCLE_HOOK_NAME),
  drainTimeoutSeconds: Number(requireEnv(EnvNames.DRAIN_TIMEOUT_SECONDS)),
  heartbeatTimeoutSeconds: Number(requireEnv(EnvNames.LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS)),
  log: logger,
};

export async function handler(event: unknown, context?: Context): Promise<DrainSummary> {
  const summary = await handleDrainEvent(deps, event, context ? () => context.getRemainingTimeInMillis() : undefined);
  if (summary.outcome === 'drained') {
    // Only the jobs this drainer won: the worker counts the ones it requeued itself, so the sum is exact.
    metrics.addMetric(MetricNames.JOBS_INTERRUPTED, MetricUnit.Count, summary.requeued);
    metrics.addMetric(MetricNames.JOBS_REQUEUED, MetricUnit.Count, summary.requeued);
    metrics.publishStoredMetrics();
  }
  return summary;
}
