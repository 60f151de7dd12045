/** Status Lambda (GET /jobs/{id}, GET /jobs/{id}/result, DELETE /jobs/{id}): clients once per container. */
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { EnvNames } from '../../lib/contracts';
import { loadApiConfig, lazyHandler } from '../../runtime/client/api-config';
import { requireEnv } from '../../runtime/env';
import { JobClient } from '../../runtime/client/job-client';
import { documentClient } from '../../runtime/jobs/document-client';
import { lambdaLogger } from '../powertools';
import { createStatusHandler } from './handler';

const logger = lambdaLogger('ai-burst-status');

export const handler = lazyHandler(async () => {
  const config = await loadApiConfig(() => new SSMClient({}));
  // Status never submits: no budgets, no wake-up (the SQS client is never called).
  const client = JobClient.fromConfig(
    { ...config, budgets: undefined, workloads: Object.fromEntries(Object.entries(config.workloads).map(([w, c]) => [w, { queues: c.queues }])) },
    { sqs: new SQSClient({}), dynamo: documentClient(), s3: new S3Client({}) },
    { tableName: requireEnv(EnvNames.JOB_TABLE), bucket: requireEnv(EnvNames.RESULT_BUCKET) },
    { log: logger },
  );
  return createStatusHandler({ client, log: logger });
});
