/**
 * RetryHandler Lambda: the workload's dead-letter queue (SQS event source, ReportBatchItemFailures) →
 * handleDeadLetter (retry.ts) per message through Powertools' BatchProcessor, so one bad message never
 * holds back the rest of its batch. Config from the environment at cold start, clients created once.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { EnvNames, MetricNames } from '../../lib/contracts';
import { requireEnv, requireJsonEnv } from '../../runtime/env';
import { documentClient } from '../../runtime/jobs/document-client';
import { JobRecords } from '../../runtime/jobs/job-records';
import { BackoffPolicy } from '../../runtime/jobs/retry';
import { lambdaLogger, lambdaMetrics } from '../powertools';
import { DeadLetterDeps, DeadLetterOutcome, handleDeadLetter } from './retry';

const workload = requireEnv(EnvNames.WORKLOAD);
const logger = lambdaLogger('ai-burst-retry-handler', workload);
const metrics = lambdaMetrics('ai-burst-retry-handler', workload);

const deps: DeadLetterDeps = {
  sqs: new SQSClient({}),
  records: new JobRecords(documentClient(), requireEnv(EnvNames.JOB_TABLE)),
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
