import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { WorkerConfig } from '../lib/contracts';
import { maxSlots } from './cost';

/**
 * Options of the agent's SDK clients. A job holds up to about three requests at once (heartbeat, record
 * write, message call), and a spot notice requeues every in-flight job at the same moment; the SDK's
 * default of 50 sockets per client would queue those on a high-concurrency instance.
 */
export function clientOptions(concurrency: number) {
  const maxSockets = Math.max(50, 3 * concurrency);
  return {
    requestHandler: {
      httpsAgent: { keepAlive: true, maxSockets },
      httpAgent: { keepAlive: true, maxSockets },
    },
  };
}

/** The agent's SDK clients (instance role credentials). */
export interface WorkerClients {
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBClient;
  readonly s3: S3Client;
  readonly cloudwatch: CloudWatchClient;
  readonly autoscaling: AutoScalingClient;
}

/**
 * Queues, job table and data bucket are signed for the data region (`dataRegion`, the platform's region
 * when the fleet is placed in another one; SigV4 scopes a signature to one region, so a client of the
 * instance's region cannot call a queue of another). Auto Scaling and CloudWatch metrics stay in the
 * instance's own region (`region`), with the group and the dashboards' GPU metrics.
 */
export function createWorkerClients(config: Pick<WorkerConfig, 'region' | 'dataRegion' | 'concurrency' | 'instanceWeights'>): WorkerClients {
  const local = { region: config.region };
  const data = { region: config.dataRegion ?? config.region };
  const pooled = { ...data, ...clientOptions(maxSlots(config)) };
  return {
    sqs: new SQSClient(pooled),
    dynamo: new DynamoDBClient(pooled),
    s3: new S3Client(data),
    cloudwatch: new CloudWatchClient(local),
    autoscaling: new AutoScalingClient(local),
  };
}
