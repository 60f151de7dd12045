import { App, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AiBurstPlatform, AiBurstPlatformProps, AiBurstWorkloadOptions, JobQueue, ModelServer, ModelServerImage } from '../../lib';
import { validateDuration } from '../../lib/common/validate';
import { ModelServerKind } from '../../lib/contracts';

/**
 * A bad prop of AiBurstPlatform is often checked by a construct the platform builds from it (GpuFleet,
 * CapacityManager, JobQueue, JobApi, …). The error must still name the prop as the user wrote it.
 */
describe('AiBurstPlatform errors name the prop by its path inside AiBurstPlatform', () => {
  /** The second workload carries the bad prop, so a path that names the wrong workload (or none) fails. */
  function build(platform: Partial<AiBurstPlatformProps>, docs: Partial<AiBurstWorkloadOptions> = {}) {
    // No bundling: these tests look at prop errors only.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'us-east-1' } });
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a'], privateSubnetIds: ['s-1'] });
    return () => new AiBurstPlatform(stack, 'Ai', { vpc, ...platform, workloads: [{ name: 'realtime-agent' }, { name: 'doc-analysis', ...docs }] });
  }
  const W = 'workloads["doc-analysis"]';
  const agents = Array.from({ length: 3 }, (_, i) => `agent-${i}`);

  test.each<[string, Partial<AiBurstWorkloadOptions>, string]>([
    ['maxInstances 0 (GpuFleet maxCapacity)', { maxInstances: 0 }, `${W}.maxInstances must be an integer between 1 and 1000 (got 0)`],
    ['maxInstances 2.5', { maxInstances: 2.5 }, `${W}.maxInstances must be an integer`],
    ['no instance types', { instanceTypes: [] }, `${W}.instanceTypes must list at least one instance type (got none)`],
    [
      'a CPU instance type',
      { instanceTypes: ['m5.large', 'g5.xlarge', 'g6.xlarge'] },
      `${W}.instanceTypes has "m5.large", which is not an NVIDIA GPU type`,
    ],
    ['a duplicate instance type', { instanceTypes: ['g5.xlarge', 'g5.xlarge', 'g6.xlarge'] }, `${W}.instanceTypes lists "g5.xlarge" twice`],
    ['no priorities (JobQueue)', { priorities: [] }, `${W}.priorities must list 1 to 5 names (got 0)`],
    ['six priorities', { priorities: ['a', 'b', 'c', 'd', 'e', 'f'] }, `${W}.priorities must list 1 to 5 names (got 6)`],
    ['a bad priority name', { priorities: ['High'] }, `${W}.priorities "High" is invalid`],
    ['a duplicate priority', { priorities: ['a', 'a'] }, `${W}.priorities lists "a" twice`],
    ['a zero queueWaitSlo (CapacityManager)', { queueWaitSlo: Duration.seconds(0) }, `${W}.queueWaitSlo must be longer than 0 seconds`],
    ['a two-day queueWaitSlo', { queueWaitSlo: Duration.days(2) }, `${W}.queueWaitSlo must be between 1 second and 1 day`],
    [
      'a sub-second expectedJobDuration',
      { expectedJobDuration: Duration.millis(1500) },
      `${W}.expectedJobDuration must be a whole number of seconds`,
    ],
    ['a three-hour expectedBootTime', { expectedBootTime: Duration.hours(3) }, `${W}.expectedBootTime must be between 1 second and 2 hours`],
    ['a 30 s jobTimeout (JobQueue)', { jobTimeout: Duration.seconds(30) }, `${W}.jobTimeout must be between 1 minute and 12 hours (got 30 seconds)`],
    ['a jobTimeout of 90.5 s', { jobTimeout: Duration.millis(90500) }, `${W}.jobTimeout must be a whole number of seconds (got 90500 milliseconds)`],
    ['workerConcurrency 0', { workerConcurrency: 0 }, `${W}.workerConcurrency must be an integer between 1 and 64 (got 0)`],
    ['maxAttempts 0', { maxAttempts: 0 }, `${W}.maxAttempts must be an integer between 1 and 100 (got 0)`],
    ['a zero dailyBudgetUsd (AiObservability)', { dailyBudgetUsd: 0 }, `${W}.dailyBudgetUsd must be between 0.01 and 10000000 USD (got 0 USD)`],
    ['a bad agent name', { agents: [...agents, 'bad agent'] }, `${W}.agents "bad agent" is invalid`],
    [
      'a privileged model server port (ModelServer)',
      { modelServer: ModelServer.vllm({ port: 80 }) },
      `${W}.modelServer.port must be an integer between 1024 and 65535 (got 80)`,
    ],
    [
      'a model server health path without /',
      { modelServer: ModelServer.vllm({ healthPath: 'health' }) },
      `${W}.modelServer.healthPath "health" must be a URL path`,
    ],
    [
      'a container without an image',
      { modelServer: ModelServer.container({ kind: ModelServerKind.OPENAI, image: ModelServerImage.fromRegistry('') }) },
      `${W}.modelServer.image must name a container image`,
    ],
    [
      'a 31-minute bootTimeout (GpuFleet)',
      { bootTimeout: Duration.minutes(31) },
      `${W}.bootTimeout must be between 1 minute and 30 minutes (got 31 minutes)`,
    ],
    ['a bad workload name', { name: 'Doc_Analysis' }, 'workloads[1].name "Doc_Analysis" is invalid'],
  ])('workload prop: %s', (_n, docs, expected) => {
    expect(build({}, docs)).toThrow(`AiBurstPlatform: ${expected}`);
  });

  test.each<[string, Partial<AiBurstPlatformProps>, string]>([
    [
      'agentDailyBudgetUsd 0 (JobApi defaultDailyBudgetUsd)',
      { agentDailyBudgetUsd: 0 },
      'agentDailyBudgetUsd must be between 0.01 and 1000000 USD (got 0 USD)',
    ],
    [
      'a global-scope web ACL (JobApi)',
      { webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/y' },
      'webAclArn "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/y" is invalid',
    ],
    [
      'a one-hour jobRetention (JobStore retention)',
      { jobRetention: Duration.hours(1) },
      'jobRetention must be between 1 day and 3650 days (got 1 hour)',
    ],
    ['a zero platform dailyBudgetUsd (AiObservability)', { dailyBudgetUsd: 0 }, 'dailyBudgetUsd must be between 0.01 and 10000000 USD (got 0 USD)'],
  ])('platform prop: %s', (_n, platform, expected) => {
    expect(build(platform)).toThrow(`AiBurstPlatform: ${expected}`);
  });

  test("a nested construct's own prop name never leaks when the platform has another name for it", () => {
    expect(build({}, { maxInstances: 0 })).not.toThrow(/maxCapacity|GpuFleet/);
    expect(build({ agentDailyBudgetUsd: 0 })).not.toThrow(/defaultDailyBudgetUsd|JobApi/);
  });
});

describe('the constructs used on their own still name their own props', () => {
  test('JobQueue: jobTimeout of 90.5 s names the prop and asks for whole seconds', () => {
    const stack = new Stack(new App(), 'Q');
    expect(() => new JobQueue(stack, 'Q', { workload: 'w', jobTimeout: Duration.millis(90500) })).toThrow(
      /^JobQueue: jobTimeout must be a whole number of seconds \(got 90500 milliseconds\); use e.g. Duration.seconds\(91\)$/,
    );
  });

  test('validateDuration accepts whole seconds written in other units', () => {
    expect(() => validateDuration('X', 'd', Duration.millis(90000), Duration.minutes(1), Duration.hours(1))).not.toThrow();
    expect(() => validateDuration('X', 'd', Duration.minutes(1.5), Duration.minutes(1), Duration.hours(1))).not.toThrow();
  });
});
