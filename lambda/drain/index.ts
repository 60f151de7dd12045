/**
 * InterruptionDrainer Lambda: EventBridge → handleDrainEvent (drain.ts). Thin on purpose: config from the
 * environment at cold start, SDK clients created once, metrics flushed per invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { Dimensions, EnvNames, MetricNames } from '../../lib/contracts';
import { requireEnv } from '../shared/env';
import { JobRecords } from '../shared/job-records';
import { BatchingSQSClient } from './batching-sqs';
import { DrainDeps, DrainSummary, handleDrainEvent } from './drain';

const workload = requireEnv(EnvNames.WORKLOAD);
const logger = new Logger({ serviceName: 'ai-burst-drainer' });
logger.appendKeys({ workload });
const metrics = new Metrics({ namespace: requireEnv(EnvNames.METRIC_NAMESPACE), serviceName: 'ai-burst-drainer' });
// The contract's dimension sets are exact (METRIC_DIMENSION_SETS: Workload only): drop Powertools' `service`.
metrics.clearDefaultDimensions();
metrics.setDefaultDimensions({ [Dimensions.WORKLOAD]: workload });

// SDK default sockets (50 per client, keep-alive): more sockets did not drain faster in bench/drain.bench.ts
// (the client's CPU is the limit) and would cost a TLS handshake each against AWS. The SQS client coalesces
// the requeues' SendMessage/DeleteMessage calls into batches: ~1,200 requests for 1,000 jobs, not 3,000.
const deps: DrainDeps = {
  sqs: new BatchingSQSClient({}),
  records: new JobRecords(DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }), requireEnv(EnvNames.JOB_TABLE)),
  autoScaling: new AutoScalingClient({}),
  ec2: new EC2Client({}),
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
