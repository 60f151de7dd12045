/**
 * Fair share inside a workload: every job message carries MessageGroupId = its agent, which makes the standard
 * queue an SQS fair queue. local-aws-sqs accepts MessageGroupId on a standard queue and returns it as a
 * message attribute (it does not reorder deliveries by group: the serving order is modelled in the simulator).
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { jobMessageGroupId } from '../../lib/contracts';
import { freshConfig, harness, LocalAws, parse, postJob, startLocalAws } from './api-env';

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => {
  await aws.close();
});

test('GIVEN two agents WHEN each submits a job THEN each message on the standard queue has MessageGroupId = its agent', async () => {
  const { config, tableName } = await freshConfig(aws);
  const h = harness(aws, config, tableName);
  for (const agent of ['batch-agent', 'chat-agent']) {
    const r = await h.submit(postJob({ workload: 'agents', agent, priority: 'normal', payload: { agent } }));
    expect(r.statusCode).toBe(202);
    expect(parse(r.body).jobId).toBeDefined();
  }
  const url = config.workloads.agents.queues.find((q) => q.priority === 'normal')!.url;
  // local-aws-sqs reads `AttributeNames` (not MessageSystemAttributeNames).
  const out = await aws.sqs.client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, AttributeNames: ['All'] }));
  const groups = (out.Messages ?? []).map((m) => [JSON.parse(m.Body!).agent, m.Attributes?.MessageGroupId]);
  expect(groups.sort()).toEqual([
    ['batch-agent', 'batch-agent'],
    ['chat-agent', 'chat-agent'],
  ]);
  expect(jobMessageGroupId({ agent: 'a.b_c-1' })).toBe('a.b_c-1');
});
