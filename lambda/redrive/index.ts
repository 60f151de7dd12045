/**
 * Redrive Lambda: invoke it (after fixing what made jobs fail) to send the workload's parked jobs back to
 * their priority queues with a fresh retry budget. Event (all optional):
 * `{ "jobIds": ["<workload>.<uuid>", …], "maxJobs": 1000 }`. Returns the RedriveReport; when `more` is
 * true, invoke again for the rest.
 *
 *   aws lambda invoke --function-name <RetryHandler.redriveFunction name> --payload '{}' \
 *     --cli-binary-format raw-in-base64-out /dev/stdout
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { EnvNames } from '../../lib/contracts';
import { requireEnv, requireJsonEnv } from '../../runtime/env';
import { documentClient } from '../../runtime/jobs/document-client';
import { JobRecords } from '../../runtime/jobs/job-records';
import { lambdaLogger } from '../powertools';
import { RedriveDeps, RedriveReport, redriveParked } from './redrive';

const workload = requireEnv(EnvNames.WORKLOAD);
const logger = lambdaLogger('ai-burst-redrive', workload);

const deps: RedriveDeps = {
  sqs: new SQSClient({}),
  records: new JobRecords(documentClient(), requireEnv(EnvNames.JOB_TABLE)),
  workload,
  queueUrls: requireJsonEnv<Record<string, string>>(EnvNames.QUEUE_URLS),
  parkingQueueUrl: requireEnv(EnvNames.PARKING_QUEUE_URL),
  log: logger,
};

export interface RedriveRequest {
  readonly jobIds?: string[];
  readonly maxJobs?: number;
}

/** Time kept back from the Lambda's remaining time to release kept messages and return the report. */
const SAFETY_MS = 15_000;

export async function handler(event: RedriveRequest | null | undefined, context?: Context): Promise<RedriveReport> {
  const request = event ?? {};
  if (request.jobIds !== undefined && (!Array.isArray(request.jobIds) || request.jobIds.some((j) => typeof j !== 'string'))) {
    throw new Error('jobIds must be an array of job ids');
  }
  if (request.maxJobs !== undefined && (!Number.isInteger(request.maxJobs) || request.maxJobs < 1)) {
    throw new Error('maxJobs must be a positive integer');
  }
  const timeBudgetMs = context ? Math.max(1000, context.getRemainingTimeInMillis() - SAFETY_MS) : undefined;
  return redriveParked(deps, { jobIds: request.jobIds, maxJobs: request.maxJobs, timeBudgetMs });
}
