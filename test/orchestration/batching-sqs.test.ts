/**
 * BatchingSQSClient against local-aws-sqs: concurrent single SendMessage/DeleteMessage calls become
 * batch calls per queue, each caller gets its own outcome, and errors keep the single call's class.
 */
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { BatchingSQSClient } from '../../lambda/drain/batching-sqs';
import { deleteQuietly } from '../../runtime/jobs/requeue';
import { clientConfig, LocalServer, startSqs } from '../support/local-aws';
import { createQueue, drainQueue } from './helpers';

let sqs: LocalServer<SQSClient>;
let client: BatchingSQSClient;
const calls: string[] = [];

beforeAll(async () => {
  sqs = await startSqs();
  client = new BatchingSQSClient(clientConfig(sqs.endpoint));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(context.commandName!);
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
});
afterAll(async () => {
  client.destroy();
  await sqs.close();
});
beforeEach(() => {
  calls.length = 0;
});

const count = (name: string) => calls.filter((c) => c === name).length;

test('GIVEN 25 sends to one queue and 5 to another at once THEN 4 batch calls deliver each message once, each caller gets its MessageId', async () => {
  const [a, b] = await Promise.all([createQueue(sqs.client), createQueue(sqs.client)]);
  const bodies = Array.from({ length: 30 }, (_, i) => `m-${i}`);
  const results = await Promise.all(bodies.map((body, i) => client.send(new SendMessageCommand({ QueueUrl: i < 25 ? a : b, MessageBody: body }))));
  expect(results.every((r) => typeof r.MessageId === 'string')).toBe(true);
  expect(count('SendMessageBatchCommand')).toBe(4);
  expect(count('SendMessageCommand')).toBe(0);
  expect((await drainQueue(sqs.client, a)).map((m) => m.Body).sort()).toEqual(bodies.slice(0, 25).sort());
  expect((await drainQueue(sqs.client, b)).map((m) => m.Body).sort()).toEqual(bodies.slice(25).sort());
});

test('GIVEN a batch of deletes with one stale receipt handle THEN only that caller fails, with ReceiptHandleIsInvalid (deleteQuietly swallows it)', async () => {
  const q = await createQueue(sqs.client);
  await Promise.all([1, 2, 3].map((i) => sqs.client.send(new SendMessageCommand({ QueueUrl: q, MessageBody: `d-${i}` }))));
  const received = (await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }))).Messages!;
  expect(received).toHaveLength(3);
  const outcomes = await Promise.allSettled([
    ...received.map((m) => client.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: m.ReceiptHandle! }))),
    client.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: 'not-a-receipt-handle' })),
  ]);
  expect(outcomes.slice(0, 3).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  expect(outcomes[3].status).toBe('rejected');
  expect((outcomes[3] as PromiseRejectedResult).reason).toBeInstanceOf(ReceiptHandleIsInvalid);
  expect(count('DeleteMessageBatchCommand')).toBe(1);
  await expect(deleteQuietly(client, q, 'not-a-receipt-handle')).resolves.toBeUndefined();
  const attrs = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['ApproximateNumberOfMessages'] }));
  expect(attrs.Attributes!.ApproximateNumberOfMessages).toBe('0');
});

test("GIVEN bodies whose sum exceeds a batch's payload limit THEN they are split over several batches and all arrive", async () => {
  const q = await createQueue(sqs.client);
  const big = (c: string) => c.repeat(100 * 1024);
  await Promise.all(['a', 'b', 'c', 'd'].map((c) => client.send(new SendMessageCommand({ QueueUrl: q, MessageBody: big(c) }))));
  expect(count('SendMessageBatchCommand')).toBeGreaterThanOrEqual(2);
  expect((await drainQueue(sqs.client, q)).map((m) => m.Body!.slice(0, 1)).sort()).toEqual(['a', 'b', 'c', 'd']);
});

test('GIVEN a queue that does not exist THEN every caller of that batch is rejected', async () => {
  const missing = `${sqs.endpoint}/000000000000/no-such-queue`;
  const outcomes = await Promise.allSettled([1, 2].map((i) => client.send(new SendMessageCommand({ QueueUrl: missing, MessageBody: String(i) }))));
  expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/does not exist/);
});

test('other commands, and sends with extra options, pass straight through', async () => {
  const q = await createQueue(sqs.client);
  await client.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'solo' }), { requestTimeout: 5000 } as never);
  const attrs = await client.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['All'] }));
  expect(attrs.Attributes!.ApproximateNumberOfMessages).toBe('1');
  expect(calls).toEqual(['SendMessageCommand', 'GetQueueAttributesCommand']);
});
