/**
 * In-process AWS-compatible servers for handler and worker tests: local-aws-sqs (SQS), dynalite
 * (DynamoDB), s3rver (S3). Each binds 127.0.0.1 on port 0; start once per test file in beforeAll and
 * close in afterAll so jest exits cleanly.
 */
import { AddressInfo } from 'node:net';
import { Server } from 'node:http';
import * as os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { createSqsServer } from 'local-aws-sqs';

export const TEST_REGION = 'us-east-1';
export const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface LocalServer<C> {
  readonly endpoint: string;
  /** A real SDK v3 client pointed at the server. */
  readonly client: C;
  close(): Promise<void>;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.closeAllConnections?.();
    server.close((err) => (err ? reject(err) : resolve()));
  });
}

export function clientConfig(endpoint: string) {
  return { endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS, maxAttempts: 2 };
}

export async function startSqs(): Promise<LocalServer<SQSClient>> {
  const server = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false } as never);
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new SQSClient(clientConfig(endpoint));
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      await closeServer(server);
    },
  };
}

export async function startDynamo(): Promise<LocalServer<DynamoDBClient>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (o: object) => Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient(clientConfig(endpoint));
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      await closeServer(server);
    },
  };
}

export async function startS3(buckets: string[] = []): Promise<LocalServer<S3Client>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver');
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 's3rver-'));
  const instance = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    resetOnClose: true,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = (await instance.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver knows one key pair only (S3RVER/S3RVER) and refuses any other access key id.
  const client = new S3Client({ ...clientConfig(endpoint), credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, forcePathStyle: true });
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      await instance.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** A queue/table/bucket name unique within this process (local-aws-sqs PurgeQueue waits 60 s: use fresh queues). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}
