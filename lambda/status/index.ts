/** Status Lambda (GET /jobs/{id}, GET /jobs/{id}/result, DELETE /jobs/{id}): clients once per container. */
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ApiConfig, EnvNames } from '../../lib/contracts';
import { requireEnv, requireJsonEnv } from '../../runtime/env';
import { JobClient } from '../../runtime/client/job-client';
import { documentClient } from '../../runtime/jobs/document-client';
import { lambdaLogger } from '../powertools';
import { createStatusHandler } from './handler';

const config = requireJsonEnv<ApiConfig>(EnvNames.API_CONFIG);
const logger = lambdaLogger('ai-burst-status');

// Status never submits: no budgets, no wake-up (the SQS client is never called).
const client = JobClient.fromConfig(
  { ...config, budgets: undefined, workloads: Object.fromEntries(Object.entries(config.workloads).map(([w, c]) => [w, { queues: c.queues }])) },
  {
    sqs: new SQSClient({}),
    dynamo: documentClient(),
    s3: new S3Client({}),
  },
  { tableName: requireEnv(EnvNames.JOB_TABLE), bucket: requireEnv(EnvNames.RESULT_BUCKET) },
  { log: logger },
);

export const handler = createStatusHandler({ client, log: logger });
