/**
 * The suite's SQS: ChangeMessageVisibility no longer adds to ApproximateReceiveCount (local-aws-sqs 2.0.2 does,
 * real SQS does not); receives still count, and a heartbeated message is not dead-lettered for its heartbeats.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { ChaosSqs, startChaosSqs } from './support/sqs-server';
import { startSqs } from '../test/support/local-aws';

let sqs: ChaosSqs;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function queue(client: ChaosSqs['client'], attributes: Record<string, string> = {}): Promise<string> {
  const QueueName = `q-${Math.random().toString(36).slice(2)}`;
  return (await client.send(new CreateQueueCommand({ QueueName, Attributes: { VisibilityTimeout: '1', ...attributes } }))).QueueUrl!;
}

function heartbeat(client: ChaosSqs['client'], url: string, handle: string) {
  return client.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: handle, VisibilityTimeout: 1 }));
}

async function receive(client: ChaosSqs['client'], url: string) {
  const r = await client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 2, AttributeNames: ['All'] }));
  return r.Messages?.[0];
}

// Runs first: the correction patches the package's Queue class for the whole process.
test('GIVEN the unpatched server THEN heartbeats inflate the receive count (the quirk this suite corrects)', async () => {
  const plain = await startSqs();
  try {
    const url = await queue(plain.client);
    await plain.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    const m = (await receive(plain.client, url))!;
    for (let i = 0; i < 3; i++) await heartbeat(plain.client, url, m.ReceiptHandle!);
    await sleep(1100);
    expect((await receive(plain.client, url))!.Attributes!.ApproximateReceiveCount).toBe('5');
  } finally {
    await plain.close();
  }
});

describe('corrected', () => {
  beforeAll(async () => {
    sqs = await startChaosSqs();
  });
  afterAll(async () => {
    await sqs.close();
  });

  test('GIVEN a message heartbeated 3 times WHEN it is redelivered THEN its receive count is 2', async () => {
    const url = await queue(sqs.client);
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    const m = (await receive(sqs.client, url))!;
    expect(m.Attributes!.ApproximateReceiveCount).toBe('1');
    for (let i = 0; i < 2; i++) await heartbeat(sqs.client, url, m.ReceiptHandle!);
    const Entries = [{ Id: 'a', ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 1 }];
    await sqs.client.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries }));
    await sleep(1100);
    expect((await receive(sqs.client, url))!.Attributes!.ApproximateReceiveCount).toBe('2');
  });

  test('GIVEN maxReceiveCount 2 WHEN a message is received once and heartbeated THEN it is not dead-lettered; a second receive is', async () => {
    const dlq = await queue(sqs.client);
    const arn = (await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const url = await queue(sqs.client, { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 2 }) });
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    const m = (await receive(sqs.client, url))!;
    for (let i = 0; i < 3; i++) await heartbeat(sqs.client, url, m.ReceiptHandle!);
    await sleep(1100);
    const again = await receive(sqs.client, url);
    expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');
    await sleep(1100);
    expect(await receive(sqs.client, url)).toBeUndefined();
    expect((await receive(sqs.client, dlq))?.Body).toBe('x');
  });

  test('queue URLs name the port the server listens on', async () => {
    const url = await queue(sqs.client);
    expect(url.startsWith(sqs.endpoint)).toBe(true);
  });
});
