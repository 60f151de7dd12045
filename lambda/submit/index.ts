/** Submit Lambda (POST /jobs): clients and configuration once per container, then the thin handler. */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Dimensions, EnvNames, MetricNames } from '../../lib/contracts';
import { loadApiConfig, lazyHandler } from '../../runtime/client/api-config';
import { requireEnv } from '../../runtime/env';
import { JobClient } from '../../runtime/client/job-client';
import { documentClient } from '../../runtime/jobs/document-client';
import { lambdaLogger, lambdaMetrics } from '../powertools';
import { createSubmitHandler } from './handler';

const logger = lambdaLogger('ai-burst-submit');
// One function submits for every workload: the Workload dimension is added per metric.
const metrics = lambdaMetrics('ai-burst-submit');

export const handler = lazyHandler(async () => {
  const config = await loadApiConfig(() => new SSMClient({}));
  const client = JobClient.fromConfig(
    config,
    {
      sqs: new SQSClient({}),
      dynamo: documentClient(),
      s3: new S3Client({}),
      cloudWatch: config.budgets ? new CloudWatchClient({}) : undefined,
      lambda: Object.values(config.workloads).some((w) => w.wakeFunction) ? new LambdaClient({}) : undefined,
    },
    { tableName: requireEnv(EnvNames.JOB_TABLE), bucket: requireEnv(EnvNames.PAYLOAD_BUCKET) },
    {
      log: logger,
      onSubmitted: (workload) => {
        metrics.addDimension(Dimensions.WORKLOAD, workload);
        metrics.addMetric(MetricNames.JOBS_SUBMITTED, MetricUnit.Count, 1);
        metrics.publishStoredMetrics();
      },
    },
  );
  return createSubmitHandler({ client, log: logger });
});
