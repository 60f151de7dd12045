/** Submit Lambda (POST /jobs): clients and configuration once per container, then the thin handler. */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ApiConfig, Dimensions, EnvNames, METRIC_NAMESPACE, MetricNames } from '../../lib/contracts';
import { requireEnv, requireJsonEnv } from '../shared/env';
import { JobClient } from '../shared/job-client';
import { createSubmitHandler } from './handler';

const config = requireJsonEnv<ApiConfig>(EnvNames.API_CONFIG);
const logger = new Logger({ serviceName: 'ai-burst-submit' });
const metrics = new Metrics({ namespace: process.env[EnvNames.METRIC_NAMESPACE] ?? METRIC_NAMESPACE });
// JobsSubmitted is published with exactly {Workload} (METRIC_DIMENSION_SETS): no Powertools `service` dimension.
metrics.clearDefaultDimensions();

const client = JobClient.fromConfig(
  config,
  {
    sqs: new SQSClient({}),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
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

export const handler = createSubmitHandler({ client, log: logger });
