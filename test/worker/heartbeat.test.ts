import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Heartbeat } from '../../worker/heartbeat';
import { silentLogger } from '../../runtime/log';
import { LocalServer, startSqs, uniqueName } from '../support/local-aws';

let sqs: LocalServer<SQSClient>;
beforeAll(async () => {
  sqs = await startSqs();
});
afterAll(async () => {
  await sqs.close();
});

async function received() {
  const url = (await sqs.client.send(new CreateQueueCommand({ QueueName: uniqueName('hb'), Attributes: { VisibilityTimeout: '30' } }))).QueueUrl!;
  await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
  const r = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1 }));
  return { url, handle: r.Messages![0].ReceiptHandle! };
}

describe('Heartbeat', () => {
  test('a live lease is extended; a deleted message means the lease is lost', async () => {
    const { url, handle } = await received();
    const lost: string[] = [];
    const hb = new Heartbeat(sqs.client, url, handle, {
      visibilityTimeoutSeconds: 30,
      receivedAt: Date.now(),
      now: Date.now,
      logger: silentLogger,
      onLost: (r) => lost.push(r),
    });
    await hb.beat();
    expect(lost).toEqual([]);
    await sqs.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle }));
    await hb.beat();
    expect(lost).toEqual([expect.stringMatching(/ReceiptHandleIsInvalid/)]);
  });

  test('never extends past the 12 h cap counted from the receive', async () => {
    const calls: number[] = [];
    const fake = {
      send: async (c: { input: { VisibilityTimeout: number } }) => {
        calls.push(c.input.VisibilityTimeout);
        return {};
      },
    } as unknown as SQSClient;
    const receivedAt = 0;
    let now = 0;
    const hb = new Heartbeat(fake, 'q', 'h', { visibilityTimeoutSeconds: 900, receivedAt, now: () => now, logger: silentLogger, onLost: () => {} });
    await hb.beat();
    now = (12 * 3600 - 300) * 1000;
    await hb.beat();
    now = 12 * 3600 * 1000;
    await hb.beat();
    expect(calls).toEqual([900, 299]);
  });
});
