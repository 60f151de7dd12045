import { simulateTwoAgents } from '../../tools/cost/simulator/fair-share';
import { Message, SqsModel } from '../../tools/cost/simulator/sqs';

describe('SQS fair queues in the simulator', () => {
  test('GIVEN a fair queue THEN groups are served round-robin, FIFO within a group', () => {
    const sqs = new SqsModel(['normal'], 5, () => undefined, { groupOf: (m: Message) => (m.job < 3 ? 'a' : 'b') });
    for (const job of [0, 1, 2, 3, 4]) sqs.send('normal', job, 0);
    const order = Array.from({ length: 5 }, () => sqs.receive(1)!.job);
    expect(order).toEqual([0, 3, 1, 4, 2]);
  });

  test('GIVEN a 10,000-job batch and a small agent on one queue WHEN the queue is fair THEN the small agent waits seconds, not hours', () => {
    const unfair = simulateTwoAgents({ fair: false });
    const fair = simulateTwoAgents({ fair: true });
    // 10,000 jobs x 20 s over 8 workers is ~7 h of backlog ahead of the small agent's jobs without fairness.
    expect(unfair.smallP95WaitSeconds).toBeGreaterThan(3600);
    expect(fair.smallP95WaitSeconds).toBeLessThanOrEqual(20);
    // Fairness reorders the work; the batch finishes at the same time.
    expect(fair.makespanSeconds).toBe(unfair.makespanSeconds);
  });
});
