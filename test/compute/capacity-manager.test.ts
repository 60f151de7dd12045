import { CapacityManager, JobQueue } from '../../lib';
import { testStack } from '../support/stacks';

describe('CapacityManager props', () => {
  function build(workload: string, queueWorkload: string) {
    const { stack } = testStack();
    const jobQueue = new JobQueue(stack, 'Jobs', { workload: queueWorkload });
    return () => new CapacityManager(stack, 'Manager', { workload, jobQueue, autoScalingGroupName: 'gpu' });
  }

  test("fails if workload differs from the queue's (metrics, tags and wake-ups would name the wrong workload)", () => {
    expect(build('agents', 'batch')).toThrow(
      /CapacityManager: workload "agents" differs from jobQueue.workload "batch"; give the workload of the queues it scales/,
    );
  });

  test("accepts the queue's own workload", () => {
    expect(build('batch', 'batch')).not.toThrow();
  });
});
