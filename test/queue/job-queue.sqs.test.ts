/**
 * The queue settings the construct synthesizes, applied to a real SQS implementation (local-aws-sqs):
 * a message is sent, received up to maxReceiveCount times without being deleted, then dead-lettered.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { JobQueue } from '../../lib';
import { LocalServer, startSqs, uniqueName } from '../support/local-aws';
import { testStack } from '../support/stacks';

let sqs: LocalServer<SQSClient>;
beforeAll(async () => {
  sqs = await startSqs();
});
afterAll(async () => {
  await sqs.close();
});

/** The synthesized work-queue and DLQ properties, as CreateQueue attributes. */
function synthesizedSettings() {
  const { stack } = testStack();
  new JobQueue(stack, 'Jobs', { workload: 'agents', maxReceiveCount: 3 });
  const queues = Template.fromStack(stack).findResources('AWS::SQS::Queue');
  const [workId, work] = Object.entries(queues).find(([id]) => id.includes('Queuehigh'))!;
  const dlq = Object.entries(queues).find(([id]) => id.includes('DeadLetterQueue'))![1];
  expect(workId).toBeDefined();
  return {
    work: {
      VisibilityTimeout: String(work.Properties.VisibilityTimeout),
      MessageRetentionPeriod: String(work.Properties.MessageRetentionPeriod),
      ReceiveMessageWaitTimeSeconds: String(work.Properties.ReceiveMessageWaitTimeSeconds),
      SqsManagedSseEnabled: String(work.Properties.SqsManagedSseEnabled),
    },
    maxReceiveCount: work.Properties.RedrivePolicy.maxReceiveCount as number,
    dlq: { MessageRetentionPeriod: String(dlq.Properties.MessageRetentionPeriod) },
  };
}

test('a job that is never deleted is dead-lettered after maxReceiveCount receives', async () => {
  const settings = synthesizedSettings();
  expect(settings.maxReceiveCount).toBe(3);
  const c = sqs.client;
  const dlq = await c.send(new CreateQueueCommand({ QueueName: uniqueName('dlq'), Attributes: settings.dlq }));
  const dlqArn = (await c.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn;
  const work = await c.send(
    new CreateQueueCommand({
      QueueName: uniqueName('work'),
      Attributes: { ...settings.work, RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: settings.maxReceiveCount }) },
    }),
  );
  await c.send(new SendMessageCommand({ QueueUrl: work.QueueUrl, MessageBody: '{"job":1}' }));

  // Each receive with a zero lease makes the message visible again at once, like a crashed consumer.
  for (let i = 1; i <= settings.maxReceiveCount; i++) {
    const r = await c.send(new ReceiveMessageCommand({ QueueUrl: work.QueueUrl, VisibilityTimeout: 0, AttributeNames: ['All'] }));
    expect(r.Messages).toHaveLength(1);
    expect(r.Messages![0].Attributes!.ApproximateReceiveCount).toBe(String(i));
  }
  const after = await c.send(new ReceiveMessageCommand({ QueueUrl: work.QueueUrl, WaitTimeSeconds: 0 }));
  expect(after.Messages ?? []).toHaveLength(0);

  const dead = await c.send(new ReceiveMessageCommand({ QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 1 }));
  expect(dead.Messages?.map((m) => m.Body)).toEqual(['{"job":1}']);
});
