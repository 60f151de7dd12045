/**
 * RetryHandler Lambda: the workload's dead-letter queue (SQS event source, ReportBatchItemFailures) →
 * handleDeadLetter (retry.ts) per message through Powertools' BatchProcessor, so one bad message never
 * holds back the rest of its batch. Config from the environment at cold start, clients created once.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { Dimensions, EnvNames, MetricNames } from '../../lib/contracts';
import { requireEnv, requireJsonEnv } from '../shared/env';
import { JobRecords } from '../shared/job-records';
import { BackoffPolicy } from '../shared/retry';
import { DeadLetterDeps, DeadLetterOutcome, handleDeadLetter } from './retry';

const workload = requireEnv(EnvNames.WORKLOAD);
const logger = new Logger({ serviceName: 'ai-burst-retry-handler' });
logger.appendKeys({ workload });
const metrics = new Metrics({ namespace: requireEnv(EnvNames.METRIC_NAMESPACE), serviceName: 'ai-burst-retry-handler' });
// The contract's dimension sets are exact (METRIC_DIMENSION_SETS: Workload only): drop Powertools' `service`.
metrics.clearDefaultDimensions();
metrics.setDefaultDimensions({ [Dimensions.WORKLOAD]: workload });

const deps: DeadLetterDeps = {
  sqs: new SQSClient({}),
  records: new JobRecords(
    DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
    requireEnv(EnvNames.JOB_TABLE),
  ),
  events: new EventBridgeClient({}),
  eventBusName: requireEnv(EnvNames.EVENT_BUS),
  queueUrls: requireJsonEnv<Record<string, string>>(EnvNames.QUEUE_URLS),
  parkingQueueUrl: requireEnv(EnvNames.PARKING_QUEUE_URL),
  maxAttempts: Number(requireEnv(EnvNames.MAX_ATTEMPTS)),
  backoff: requireJsonEnv<BackoffPolicy>(EnvNames.BACKOFF_POLICY),
  workload,
  log: logger,
};
const processor = new BatchProcessor(EventType.SQS);

export async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  const outcomes: DeadLetterOutcome[] = [];
  const response = await processPartialResponse(
    event,
    async (record: SQSRecord) => {
      try {
        outcomes.push(await handleDeadLetter(deps, record));
      } catch (e) {
        logger.error('dead letter failed; SQS makes it visible again', { messageId: record.messageId, error: e as Error });
        throw e;
      }
    },
    processor,
    { context, throwOnFullBatchFailure: false },
  );
  const retried = outcomes.filter((o) => o.action === 'retried').length;
  const parked = outcomes.filter((o) => o.action === 'parked').length;
  if (retried > 0) metrics.addMetric(MetricNames.JOBS_RETRIED, MetricUnit.Count, retried);
  if (parked > 0) metrics.addMetric(MetricNames.JOBS_PARKED, MetricUnit.Count, parked);
  if (retried + parked > 0) metrics.publishStoredMetrics();
  return response;
}
