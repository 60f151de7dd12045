/**
 * A JobApi run-time environment on the local servers: a job table (dynalite), the priority queues of two
 * workloads (local-aws-sqs), the data bucket (s3rver), and JobClients / handlers wired like the Lambdas.
 * Lambda and CloudWatch calls go through aws-sdk-client-mock (no local server answers them).
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { API_CONFIG_VERSION, ApiConfig, ApiWorkloadConfig } from '../../lib/contracts';
import { JobClient, JobClientProps } from '../../runtime/client/job-client';
import { createStatusHandler } from '../../lambda/status/handler';
import { createSubmitHandler } from '../../lambda/submit/handler';
import { createJobTable, documentClient } from '../support/job-table';
import { LocalServer, startDynamo, startS3, startSqs, uniqueName } from '../support/local-aws';

export const BUCKET = 'job-data';
export const WAKE_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:batch-capacity';

export interface LocalAws {
  sqs: LocalServer<SQSClient>;
  ddb: LocalServer<DynamoDBClient>;
  s3: LocalServer<S3Client>;
  close(): Promise<void>;
}

export async function startLocalAws(): Promise<LocalAws> {
  const [sqs, ddb, s3] = await Promise.all([startSqs(), startDynamo(), startS3([BUCKET])]);
  return {
    sqs,
    ddb,
    s3,
    close: async () => {
      await Promise.all([sqs.close(), ddb.close(), s3.close()]);
    },
  };
}

async function createQueue(sqs: SQSClient): Promise<string> {
  return (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('q'), Attributes: { VisibilityTimeout: '30' } }))).QueueUrl!;
}

/** A fresh table and fresh queues: `agents` (high, normal) and `batch` (normal, with a wake target). */
export async function freshConfig(aws: LocalAws, over: Partial<ApiConfig> = {}): Promise<{ config: ApiConfig; tableName: string }> {
  const tableName = await createJobTable(aws.ddb.client);
  const agents: ApiWorkloadConfig = {
    queues: [
      { priority: 'high', url: await createQueue(aws.sqs.client) },
      { priority: 'normal', url: await createQueue(aws.sqs.client) },
    ],
  };
  const batch: ApiWorkloadConfig = { queues: [{ priority: 'normal', url: await createQueue(aws.sqs.client) }], wakeFunction: WAKE_ARN };
  const config: ApiConfig = {
    v: API_CONFIG_VERSION,
    workloads: { agents, batch },
    inlinePayloadMaxBytes: 4096,
    uploadUrlSeconds: 300,
    resultUrlSeconds: 60,
    wakeDebounceSeconds: 30,
    retentionSeconds: 86400,
    ...over,
  };
  return { config, tableName };
}

export interface Harness {
  readonly client: JobClient;
  readonly submit: ReturnType<typeof createSubmitHandler>;
  readonly status: ReturnType<typeof createStatusHandler>;
  readonly config: ApiConfig;
  readonly tableName: string;
}

export function harness(
  aws: LocalAws,
  config: ApiConfig,
  tableName: string,
  clients: { lambda?: LambdaClient; cloudWatch?: CloudWatchClient } = {},
  extra: Partial<JobClientProps> = {},
): Harness {
  const client = JobClient.fromConfig(
    config,
    {
      sqs: aws.sqs.client,
      dynamo: documentClient(aws.ddb.client),
      s3: aws.s3.client,
      lambda: clients.lambda ?? new LambdaClient({ region: 'us-east-1' }),
      cloudWatch: clients.cloudWatch ?? new CloudWatchClient({ region: 'us-east-1' }),
    },
    { tableName, bucket: BUCKET },
    extra,
  );
  return { client, submit: createSubmitHandler({ client }), status: createStatusHandler({ client }), config, tableName };
}

let requests = 0;
/** An API Gateway (REST, proxy) event as the JobApi's methods deliver it. */
export function apiEvent(init: {
  method: string;
  resource: string;
  path: string;
  body?: string | null;
  headers?: Record<string, string>;
  pathParameters?: Record<string, string>;
  isBase64Encoded?: boolean;
}): APIGatewayProxyEvent {
  requests += 1;
  return {
    httpMethod: init.method,
    resource: init.resource,
    path: init.path,
    body: init.body ?? null,
    headers: init.headers ?? {},
    multiValueHeaders: {},
    pathParameters: init.pathParameters ?? null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    isBase64Encoded: init.isBase64Encoded ?? false,
    requestContext: {
      requestId: `req-${requests}`,
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      path: `/v1${init.path}`,
      stage: 'v1',
      httpMethod: init.method,
      resourcePath: init.resource,
    } as APIGatewayProxyEvent['requestContext'],
  } as APIGatewayProxyEvent;
}

export function postJob(body: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }): APIGatewayProxyEvent {
  return apiEvent({ method: 'POST', resource: '/jobs', path: '/jobs', body: typeof body === 'string' ? body : JSON.stringify(body), headers });
}

export function jobEvent(method: 'GET' | 'DELETE', id: string, result = false): APIGatewayProxyEvent {
  return apiEvent({
    method,
    resource: result ? '/jobs/{id}/result' : '/jobs/{id}',
    path: `/jobs/${encodeURIComponent(id)}${result ? '/result' : ''}`,
    pathParameters: { id },
  });
}

/** Messages on a queue, visible or in flight (local-aws-sqs counts in-flight in ApproximateNumberOfMessages). */
export async function queueDepth(sqs: SQSClient, url: string): Promise<number> {
  const r = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed'] }),
  );
  return Number(r.Attributes!.ApproximateNumberOfMessages) + Number(r.Attributes!.ApproximateNumberOfMessagesDelayed ?? 0);
}

export async function totalDepth(aws: LocalAws, config: ApiConfig): Promise<number> {
  const urls = Object.values(config.workloads).flatMap((w) => w.queues.map((q) => q.url));
  return (await Promise.all(urls.map((u) => queueDepth(aws.sqs.client, u)))).reduce((a, b) => a + b, 0);
}

export async function receiveBodies(sqs: SQSClient, url: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 }));
    if (!r.Messages?.length) return bodies;
    bodies.push(...r.Messages.map((m) => m.Body!));
  }
}

export async function tableItems(aws: LocalAws, tableName: string): Promise<Record<string, unknown>[]> {
  const r = await documentClient(aws.ddb.client).send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return (r.Items ?? []) as Record<string, unknown>[];
}

export async function objectCount(aws: LocalAws): Promise<number> {
  const r = await aws.s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return r.KeyCount ?? 0;
}

export function parse(body: string): any {
  return JSON.parse(body);
}
