import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CapacityManager, JobQueue } from '../../lib';
import { EnvNames } from '../../lib/contracts';
import { NAG_PROOFS, policyStatements } from '../support/nag';
import { expectNagClean, testStack } from '../support/stacks';

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

describe('CapacityManager: the learned boot time', () => {
  function synth(idleWindow?: Duration) {
    const { stack } = testStack();
    const jobQueue = new JobQueue(stack, 'Jobs', { workload: 'agents' });
    const manager = new CapacityManager(stack, 'Manager', { workload: 'agents', jobQueue, autoScalingGroupName: 'gpu', idleWindow });
    const template = Template.fromStack(stack);
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f) => f.Properties.Environment?.Variables?.[EnvNames.SCALING_POLICY],
    );
    const policy = JSON.parse(fn!.Properties.Environment.Variables[EnvNames.SCALING_POLICY]);
    const reads = policyStatements(template).filter((s) => [s.Action].flat().includes('cloudwatch:GetMetricData'));
    return { stack, template, manager, policy, reads };
  }

  test('GIVEN the default idle window THEN the function learns: cloudwatch:GetMetricData on "*" (no resource-level permissions), acknowledged and proven', () => {
    const { stack, template, manager, policy, reads } = synth();
    expect(manager.learnsBootTime).toBe(true);
    expect(policy).toMatchObject({ expectedBootSeconds: 180, idleWindowSeconds: 180, idleWindowFollowsBoot: true });
    expect(reads).toEqual([{ Sid: 'ReadFleetBootTimes', Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' }]);
    // The IAM5[Resource::*] proof accepts GetMetricData on "*" as a read-only action without resource-level permissions...
    expect(() => NAG_PROOFS['AwsSolutions-IAM5'].prove(template, 'Resource::*')).not.toThrow();
    // ...and would reject a write on "*" next to it (the proof can fail).
    const stripped = JSON.parse(JSON.stringify(template.toJSON()));
    for (const r of Object.values<any>(stripped.Resources)) {
      for (const s of r.Type === 'AWS::IAM::Policy' ? r.Properties.PolicyDocument.Statement : []) {
        if (s.Action === 'cloudwatch:GetMetricData') s.Action = 'cloudwatch:PutMetricAlarm';
      }
    }
    expect(() => NAG_PROOFS['AwsSolutions-IAM5'].prove(Template.fromJSON(stripped), 'Resource::*')).toThrow(
      /unconditioned action cloudwatch:PutMetricAlarm on \*/,
    );
    expectNagClean(stack);
  });

  test('GIVEN an explicit idle window THEN nothing uses the boot time: no CloudWatch read is granted', () => {
    const { stack, manager, policy, reads } = synth(Duration.minutes(10));
    expect(manager.learnsBootTime).toBe(false);
    expect(policy).toMatchObject({ expectedBootSeconds: 180, idleWindowSeconds: 600, idleWindowFollowsBoot: false });
    expect(reads).toEqual([]);
    expectNagClean(stack);
  });
});
