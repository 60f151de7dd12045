/** Status Lambda (GET /jobs/{id}, GET /jobs/{id}/result, DELETE /jobs/{id}): clients once per container. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ApiConfig, EnvNames } from '../../lib/contracts';
import { requireEnv, requireJsonEnv } from '../shared/env';
import { JobClient } from '../shared/job-client';
import { createStatusHandler } from './handler';

const config = requireJsonEnv<ApiConfig>(EnvNames.API_CONFIG);
const logger = new Logger({ serviceName: 'ai-burst-status' });

// Status never submits: no budgets, no wake-up (the SQS client is never called).
const client = JobClient.fromConfig(
  { ...config, budgets: undefined, workloads: Object.fromEntries(Object.entries(config.workloads).map(([w, c]) => [w, { queues: c.queues }])) },
  {
    sqs: new SQSClient({}),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({})),
    s3: new S3Client({}),
  },
  { tableName: requireEnv(EnvNames.JOB_TABLE), bucket: requireEnv(EnvNames.RESULT_BUCKET) },
  { log: logger },
);

export const handler = createStatusHandler({ client, log: logger });
