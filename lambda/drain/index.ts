/**
 * InterruptionDrainer Lambda: EventBridge → handleDrainEvent (drain.ts). Thin on purpose: config from the
 * environment at cold start, SDK clients created once, metrics flushed per invocation.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { EnvNames, MetricNames } from '../../lib/contracts';
import { requireEnv } from '../../runtime/env';
import { documentClient } from '../../runtime/jobs/document-client';
import { JobRecords } from '../../runtime/jobs/job-records';
import { lambdaLogger, lambdaMetrics } from '../powertools';
import { createDrainClients } from './clients';
import { DrainDeps, DrainSummary, handleDrainEvent } from './drain';

const workload = requireEnv(EnvNames.WORKLOAD);
const logger = lambdaLogger('ai-burst-drainer', workload);
const metrics = lambdaMetrics('ai-burst-drainer', workload);

// Records and queues in the data region (AI_BURST_DATA_REGION when the fleet is placed in another region),
// Auto Scaling and EC2 here. The SQS client coalesces the requeues' SendMessage/DeleteMessage calls into
// batches: ~1,200 requests for 1,000 jobs, not 3,000.
const clients = createDrainClients();
const deps: DrainDeps = {
  sqs: clients.sqs,
  records: new JobRecords(documentClient(clients.dynamo), requireEnv(EnvNames.JOB_TABLE)),
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
