/**
 * The boot script, run: bash executes the rendered user data in a scratch root with stub system commands
 * (test/compute/boot-sandbox.ts). No root, no network. GIVEN a sandbox, WHEN the script runs (with a step made to
 * fail), THEN the calls, the files and their modes, the stages and the failure report are what an instance gets.
 */
import * as fs from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { JobQueue, JobStore, ModelWeights } from '../../lib';
import { FleetScaling } from '../../lib/compute/fleet-scaling';
import { GpuFleet } from '../../lib/compute/gpu-fleet';
import { ModelServer } from '../../lib/compute/model-server';
import { InstancePaths, renderUserData } from '../../lib/compute/user-data';
import { BOOT_STAGES_PATH, BootFailureReasons, BootStages, WORKER_CONFIG_PATH } from '../../lib/contracts';
import { createSandbox, DISK_UUID, INSTANCE_ID, IMDS_REGION, resolveUserData, Sandbox } from './boot-sandbox';
import { WORKER_FIXTURE } from './support';

const WEIGHTS_DISK = '/dev/nvme0n1 Amazon Elastic Block Store\n/dev/nvme1n1 Amazon EC2 NVMe Instance Storage';
const LOG_GROUP = '/aws/ai-burst/agents-test/boot';
const REPORT_COMMANDS = /^(curl |sleep 0\.|aws --region )/;

/** vLLM with weights from S3, the CloudWatch agent, prices picked at boot, the GPU check: every step on. */
function fullScript(): string {
  const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
  const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
  const bucket = s3.Bucket.fromBucketName(stack, 'Weights', 'team-model-weights');
  const text = [
    '#!/bin/bash',
    ...renderUserData({
      workerConfigJson: JSON.stringify({ v: 1, region: 'eu-west-1', workload: 'agents', hourlyPriceUsd: {} }),
      workerS3Url: 's3://cdk-assets/worker.js',
      region: 'eu-west-1',
      modelServer: ModelServer.vllm({ weights: ModelWeights.fromBucket(bucket, 'models/qwen') }).bind(stack, role),
      workload: 'agents',
      bootLogGroupName: LOG_GROUP,
      gpuCheck: true,
      pricesByRegionJson: JSON.stringify({ 'eu-west-1': { 'g6.xlarge': 0.41 }, 'us-east-1': { 'g6.xlarge': 0.39 } }),
      cloudWatchAgentConfigJson: '{"metrics":{}}',
    }),
  ].join('\n');
  return resolveUserData(stack.resolve(text), 'eu-west-1');
}

const SCRIPT = fullScript();
const sandboxes: Sandbox[] = [];
function sandbox(options?: Parameters<typeof createSandbox>[0]): Sandbox {
  const s = createSandbox(options);
  sandboxes.push(s);
  return s;
}
afterAll(() => sandboxes.forEach((s) => s.cleanUp()));

/** Index of the first call starting with `prefix` (after `from`); -1 when none. */
function at(calls: string[], prefix: string, from = 0): number {
  const i = calls.slice(from).findIndex((c) => c.startsWith(prefix));
  return i < 0 ? -1 : i + from;
}

function stagesOf(s: Sandbox): Array<[string, number]> {
  return (s.read(BOOT_STAGES_PATH) ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [stage, epoch] = l.split(' ');
      return [stage, Number(epoch)];
    });
}

function failureMessage(s: Sandbox): string {
  const events = JSON.parse(s.read(InstancePaths.BOOT_FAILURE_EVENTS)!);
  expect(events).toHaveLength(1);
  expect(events[0].timestamp).toBeGreaterThan(Date.now() - 60_000);
  return events[0].message;
}

/** The report: one BootFailures datum, the log tail to the fleet's group, then Unhealthy, last. */
function expectReported(s: Sandbox, reason: string, logGroup = LOG_GROUP, workload = 'agents'): string {
  const calls = s.calls();
  const aws = `aws --region ${IMDS_REGION} --cli-connect-timeout 5 --cli-read-timeout 10`;
  expect(calls.filter((c) => c.includes('put-metric-data'))).toEqual([
    `${aws} cloudwatch put-metric-data --namespace AiBurst --metric-name BootFailures --dimensions Workload=${workload} --value 1 --unit Count`,
  ]);
  expect(calls).toContain(`${aws} logs create-log-stream --log-group-name ${logGroup} --log-stream-name ${INSTANCE_ID}`);
  expect(calls).toContain(
    `${aws} logs put-log-events --log-group-name ${logGroup} --log-stream-name ${INSTANCE_ID} --log-events file://${s.root}${InstancePaths.BOOT_FAILURE_EVENTS}`,
  );
  // Last: the group terminates the instance once it is Unhealthy.
  expect(calls[calls.length - 1]).toBe(
    `${aws} autoscaling set-instance-health --instance-id ${INSTANCE_ID} --health-status Unhealthy --no-should-respect-grace-period`,
  );
  expect(calls.filter((c) => c.includes('set-instance-health'))).toHaveLength(1);
  // The IMDSv2 token is fetched first and sent with each read.
  expect(calls.filter((c) => c.startsWith('curl '))).toEqual([
    'curl -fsS -m 2 -X PUT -H X-aws-ec2-metadata-token-ttl-seconds: 300 http://169.254.169.254/latest/api/token',
    'curl -fsS -m 2 -H X-aws-ec2-metadata-token: imds-token http://169.254.169.254/latest/meta-data/instance-id',
    'curl -fsS -m 2 -H X-aws-ec2-metadata-token: imds-token http://169.254.169.254/latest/meta-data/placement/region',
  ]);
  const message = failureMessage(s);
  expect(message).toContain(`boot failed: reason=${reason} exit=`);
  expect(message).toContain('--- last 50 lines of /var/log/ai-burst-boot.log ---\nai-burst boot: stage user-data-start\n');
  return message;
}

describe('a fresh boot', () => {
  const s = sandbox();
  const started = Math.floor(Date.now() / 1000);
  const result = s.run(SCRIPT, { env: { STUB_LSBLK: WEIGHTS_DISK } });
  const calls = s.calls();

  test('succeeds, quickly', () => {
    expect(result.output).toContain('ai-burst boot: done');
    expect(result.status).toBe(0);
    expect(result.ms).toBeLessThan(5000);
  });

  test('runs its steps in order: GPU, user, Node.js, worker, config, Docker, login, pull, weights, units', () => {
    const order = [
      'nvidia-smi -L',
      'id -u ai-burst',
      'useradd --system --no-create-home --shell /sbin/nologin ai-burst',
      'dnf install -y nodejs22 amazon-cloudwatch-agent',
      `aws s3 cp s3://cdk-assets/worker.js ${s.root}${InstancePaths.WORKER_BUNDLE} --region eu-west-1`,
      `chown root:ai-burst ${s.root}${WORKER_CONFIG_PATH}`,
      'amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:',
      'systemctl enable --now docker',
      'docker info --format',
      'docker info',
      'docker pull 763104351884.dkr.ecr.eu-west-1.amazonaws.com/vllm:0.11.0-gpu-py312-cu128-ubuntu22.04-ec2',
      'lsblk -dnpo NAME,MODEL',
      'mkfs.xfs -f /dev/nvme1n1',
      `mount -o noatime /dev/nvme1n1 ${s.root}/opt/ai-burst/weights`,
      `aws s3 sync s3://team-model-weights/models/qwen/ ${s.root}/opt/ai-burst/weights/ --region eu-west-1`,
      'systemctl daemon-reload',
      'systemctl enable --now ai-burst-model-server.service ai-burst-worker.service',
    ];
    const positions: number[] = [];
    for (const step of order) positions.push(at(calls, step, positions.length ? positions[positions.length - 1] + 1 : 0));
    expect(order.filter((_, i) => positions[i] < 0)).toEqual([]);
    // The login (both ends of the pipe) comes before the pull.
    const pull = at(calls, 'docker pull');
    expect(at(calls, 'aws ecr get-login-password --region eu-west-1')).toBeLessThan(pull);
    expect(at(calls, 'docker login --username AWS --password-stdin 763104351884.dkr.ecr.eu-west-1.amazonaws.com')).toBeLessThan(pull);
    expect(s.read('../state/docker-login-password')).toBe('ecr-password');
    // Docker was there and its NVIDIA runtime was not: configured, not installed.
    expect(calls).not.toContain('dnf install -y docker');
    expect(at(calls, 'nvidia-ctk runtime configure --runtime=docker')).toBeLessThan(at(calls, 'systemctl restart docker'));
    // Nothing was reported.
    expect(calls.filter((c) => REPORT_COMMANDS.test(c))).toEqual([]);
  });

  test('the worker config lands with its prices for the instance region, readable by root:ai-burst only', () => {
    expect(JSON.parse(s.read(WORKER_CONFIG_PATH)!)).toEqual({ v: 1, region: 'eu-west-1', workload: 'agents', hourlyPriceUsd: { 'g6.xlarge': 0.41 } });
    expect(s.mode(WORKER_CONFIG_PATH)).toBe('0640');
    expect(s.read(InstancePaths.WORKER_BUNDLE)).toBe('worker bundle from s3://cdk-assets/worker.js\n');
    expect(s.mode(InstancePaths.WORKER_BUNDLE)).toBe('0644');
  });

  test('the units and the model server script land with their content and modes', () => {
    const server = s.read(`/etc/systemd/system/${InstancePaths.MODEL_SERVER_UNIT}`)!;
    expect(server).toContain('Requires=docker.service');
    expect(server).toContain('RequiresMountsFor=/opt/ai-burst/weights');
    expect(server).toContain(`ExecStart=/bin/bash ${InstancePaths.MODEL_SERVER_SCRIPT}`);
    expect(s.mode(`/etc/systemd/system/${InstancePaths.MODEL_SERVER_UNIT}`)).toBe('0644');
    const worker = s.read(`/etc/systemd/system/${InstancePaths.WORKER_UNIT}`)!;
    expect(worker).toContain('User=ai-burst\nExecStart=/usr/bin/node-22 /opt/ai-burst/worker/index.js');
    expect(s.mode(`/etc/systemd/system/${InstancePaths.WORKER_UNIT}`)).toBe('0644');
    const start = s.read(InstancePaths.MODEL_SERVER_SCRIPT)!;
    expect(start).toMatch(/^#!\/bin\/bash\nset -euo pipefail\n/);
    expect(start).toContain(
      'exec docker run --rm --pull never --name ai-burst-model-server --gpus all --ipc=host -p 127.0.0.1:8000:8000 ' +
        '-v /opt/ai-burst/model-cache:/root/.cache/huggingface -v /opt/ai-burst/weights:/opt/ai-burst/weights:ro ' +
        "'763104351884.dkr.ecr.eu-west-1.amazonaws.com/vllm:0.11.0-gpu-py312-cu128-ubuntu22.04-ec2' '--model' '/opt/ai-burst/weights' " +
        "'--served-model-name' 'Qwen/Qwen2.5-7B-Instruct'",
    );
    expect(s.mode(InstancePaths.MODEL_SERVER_SCRIPT)).toBe('0755');
  });

  test('the stages file: user-data-start first, then docker-ready, image-ready, weights-ready, with epoch seconds', () => {
    const stages = stagesOf(s);
    expect(stages.map(([stage]) => stage)).toEqual([
      BootStages.USER_DATA_START,
      BootStages.DOCKER_READY,
      BootStages.IMAGE_READY,
      BootStages.WEIGHTS_READY,
    ]);
    const now = Math.floor(Date.now() / 1000);
    for (const [, epoch] of stages) expect(epoch >= started && epoch <= now).toBe(true);
    expect(s.mode(BOOT_STAGES_PATH)).toBe('0644');
    expect(s.mode('/var/lib/ai-burst')).toBe('0755');
  });

  test('the weights: copied with the parallel-transfer config onto the instance store, which fstab mounts after a reboot', () => {
    expect(calls[at(calls, 'aws s3 sync') + 1]).toBe(`  AWS_CONFIG_FILE=${s.root}${InstancePaths.S3_TRANSFER_CONFIG}`);
    expect(s.read(InstancePaths.S3_TRANSFER_CONFIG)).toContain('max_concurrent_requests = 64');
    expect(s.read('/opt/ai-burst/weights/config.json')).toContain('Qwen2ForCausalLM');
    expect(s.read('/etc/fstab')).toBe(`UUID=${DISK_UUID} /opt/ai-burst/weights xfs defaults,noatime,nofail 0 2\n`);
  });

  test('the boot log holds the run', () => {
    expect(s.read(InstancePaths.BOOT_LOG)).toContain('ai-burst boot: stage weights-ready\nai-burst boot: done\n');
  });
});

describe('a reboot: the script runs again on the same root', () => {
  const s = sandbox();
  const first = s.run(SCRIPT, { env: { STUB_LSBLK: WEIGHTS_DISK } });
  const firstCalls = s.calls().length;
  // A reboot unmounts the instance store (its filesystem stays) and someone edited the config.
  fs.rmSync(`${s.state}/mounts`);
  fs.writeFileSync(`${s.root}${WORKER_CONFIG_PATH}`, '{"edited":true}');
  const second = s.run(SCRIPT, { env: { STUB_LSBLK: WEIGHTS_DISK } });
  const again = s.calls().slice(firstCalls);

  test('is harmless: no error, no second user, no second filesystem, no second fstab line, no reinstall', () => {
    expect([first.status, second.status]).toEqual([0, 0]);
    expect(s.calls().filter((c) => c.startsWith('useradd'))).toHaveLength(1);
    expect(again).toContain('id -u ai-burst');
    expect(again.filter((c) => c.startsWith('mkfs.xfs'))).toEqual([]);
    expect(again).toContain(`mount -o noatime /dev/nvme1n1 ${s.root}/opt/ai-burst/weights`);
    expect(s.read('/etc/fstab')!.split('\n').filter(Boolean)).toHaveLength(1);
    expect(again.filter((c) => c.startsWith('dnf install -y docker') || c.startsWith('nvidia-ctk'))).toEqual([]);
    expect(again).toContain('systemctl enable --now ai-burst-model-server.service ai-burst-worker.service');
  });

  test('rewrites its files and appends its stages again', () => {
    expect(JSON.parse(s.read(WORKER_CONFIG_PATH)!).workload).toBe('agents');
    expect(stagesOf(s).map(([stage]) => stage)).toEqual([
      ...['user-data-start', 'docker-ready', 'image-ready', 'weights-ready'],
      ...['user-data-start', 'docker-ready', 'image-ready', 'weights-ready'],
    ]);
  });
});

test('Docker missing (the base OSS-driver AMI): installed, its NVIDIA runtime installed and configured, enabled, then used', () => {
  const s = sandbox({ withDocker: false, withNvidiaCtk: false });
  const result = s.run(SCRIPT);
  const calls = s.calls();
  expect(result.status).toBe(0);
  const order = [
    'dnf install -y docker',
    'systemctl enable --now docker',
    'dnf install -y nvidia-container-toolkit',
    'nvidia-ctk runtime configure --runtime=docker',
    'systemctl restart docker',
    'docker pull ',
  ].map((c) => at(calls, c));
  expect(order.every((p) => p >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  // No instance store on this type: the weights go to the root volume, nothing is formatted or mounted.
  expect(calls.filter((c) => /^(mkfs|mount )/.test(c))).toEqual([]);
  expect(s.read('/opt/ai-burst/weights/config.json')).toBeDefined();
});

describe('a failed step stops the boot and reports it', () => {
  test('the image pull fails 3 times (backing off 10 s, 20 s): nothing after it runs, the failure is reported, exit non-zero', () => {
    const s = sandbox();
    const result = s.run(SCRIPT, { fail: ['docker pull *'] });
    const calls = s.calls();
    expect(result.status).toBe(1);
    expect(calls.filter((c) => c.startsWith('docker pull '))).toHaveLength(3);
    expect(calls.filter((c) => /^sleep [0-9]+$/.test(c))).toEqual(['sleep 10', 'sleep 20']);
    expect(calls.filter((c) => /^(aws s3 sync|lsblk|systemctl daemon-reload|systemctl enable --now ai-burst)/.test(c))).toEqual([]);
    expect(s.read(`/etc/systemd/system/${InstancePaths.WORKER_UNIT}`)).toBeUndefined();
    expect(stagesOf(s).map(([stage]) => stage)).toEqual(['user-data-start', 'docker-ready']);
    const message = expectReported(s, BootFailureReasons.BOOT_SCRIPT_FAILED);
    expect(message).toContain('stub docker: failing on purpose');
    expect(message).toContain('ai-burst boot: ai_burst_pull_image failed 3 times');
  });

  test('the weights copy fails 3 times: no units, reported, exit non-zero', () => {
    const s = sandbox();
    const result = s.run(SCRIPT, { fail: ['aws s3 sync *'] });
    const calls = s.calls();
    expect(result.status).toBe(1);
    expect(calls.filter((c) => c.startsWith('aws s3 sync '))).toHaveLength(3);
    expect(calls.filter((c) => /^systemctl (daemon-reload|enable --now ai-burst)/.test(c))).toEqual([]);
    expect(stagesOf(s).map(([stage]) => stage)).toEqual(['user-data-start', 'docker-ready', 'image-ready']);
    expect(expectReported(s, BootFailureReasons.BOOT_SCRIPT_FAILED)).toContain('ai_burst_copy_weights failed 3 times');
  });

  test.each([
    ['nvidia-smi fails', (s: Sandbox) => s.run(SCRIPT, { fail: ['nvidia-smi *'] })],
    [
      'nvidia-smi is missing',
      (s: Sandbox) => {
        s.removeStub('nvidia-smi');
        return s.run(SCRIPT);
      },
    ],
  ])('no GPU (%s): reason gpu-unavailable, nothing after the check runs', (_, run) => {
    const s = sandbox();
    const result = run(s);
    expect(result.status).not.toBe(0);
    const calls = s.calls();
    const afterCheck = calls.slice(at(calls, 'nvidia-smi') + 1).filter((c) => !REPORT_COMMANDS.test(c));
    expect(afterCheck).toEqual([]);
    expect(calls.filter((c) => /^(id |useradd|dnf|docker)/.test(c))).toEqual([]);
    expect(stagesOf(s).map(([stage]) => stage)).toEqual(['user-data-start']);
    expectReported(s, BootFailureReasons.GPU_UNAVAILABLE);
  });

  test('a failing report cannot hide the failure or loop: metric, logs and IMDS down, the step still fails the boot', () => {
    const s = sandbox();
    const result = s.run(SCRIPT, { fail: ['docker pull *', 'aws * cloudwatch *', 'aws * logs *', 'curl *'] });
    expect(result.status).toBe(1);
    expect(s.read(InstancePaths.BOOT_LOG)).toContain('ai-burst boot: could not count the failure');
    expect(s.read(InstancePaths.BOOT_LOG)).toContain('ai-burst boot: could not send the log');
    const calls = s.calls();
    // Each report step tried once; without an instance id there is nothing to mark unhealthy.
    expect(calls.filter((c) => c.includes('put-metric-data'))).toHaveLength(1);
    expect(calls.filter((c) => c.includes('put-log-events'))).toHaveLength(1);
    expect(calls.filter((c) => c.includes('set-instance-health'))).toEqual([]);
    expect(calls.filter((c) => c.includes('create-log-stream --log-group-name') && c.includes('unknown-instance'))).toHaveLength(1);
    expect(s.read(InstancePaths.BOOT_LOG)).toContain('no instance id from IMDS; the instance is not reported unhealthy');
    // Still on disk for Session Manager.
    expect(failureMessage(s)).toContain('reason=boot-script-failed');
  });

  test('the metric and the log fail but IMDS answers: the instance is still marked unhealthy', () => {
    const s = sandbox();
    const result = s.run(SCRIPT, { fail: ['docker pull *', 'aws * cloudwatch *', 'aws * logs *'] });
    expect(result.status).toBe(1);
    expect(s.calls()[s.calls().length - 1]).toContain(`autoscaling set-instance-health --instance-id ${INSTANCE_ID} --health-status Unhealthy`);
  });

  test('what the ERR trap cannot see (an unset variable) is reported by the EXIT trap, once', () => {
    const s = sandbox();
    const broken = SCRIPT.replace('ai_burst_stage user-data-start\n', 'ai_burst_stage user-data-start\necho "$AI_BURST_NOT_SET"\n');
    const result = s.run(broken);
    expect(result.status).not.toBe(0);
    expect(s.calls().filter((c) => /^(id |dnf)/.test(c))).toEqual([]);
    expect(expectReported(s, BootFailureReasons.BOOT_SCRIPT_FAILED)).toContain('AI_BURST_NOT_SET: unbound variable');
  });
});

describe("a synthesized GpuFleet's launch template user data (the real one)", () => {
  const app = new App();
  const stack = new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'us-east-1' } });
  const fleet = new GpuFleet(stack, 'Fleet', {
    vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a'], privateSubnetIds: ['s-1'] }),
    jobQueue: new JobQueue(stack, 'Jobs', { workload: 'agents' }),
    jobStore: new JobStore(stack, 'Store'),
    workerEntry: WORKER_FIXTURE,
    scaling: FleetScaling.none(),
  });
  // The launch template resource's UserData property as the template holds it (resolved like synthesis does, without
  // the seconds a full synthesis with its validations costs).
  const data = stack.resolve((fleet.launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate).launchTemplateData);
  const script = resolveUserData(data.userData, 'us-east-1');
  const logGroup = resolveUserData(stack.resolve(fleet.bootLogGroup.logGroupName));

  test('boots: the config it writes is the fleet config, the image the default DLC of the region', () => {
    const s = sandbox();
    const result = s.run(script);
    expect(result.status).toBe(0);
    const config = JSON.parse(s.read(WORKER_CONFIG_PATH)!);
    expect(config).toMatchObject({ workload: 'agents', region: 'us-east-1', bootTimeoutSeconds: 600 });
    expect(s.calls()).toContain('docker pull 763104351884.dkr.ecr.us-east-1.amazonaws.com/vllm:0.11.0-gpu-py312-cu128-ubuntu22.04-ec2');
    expect(s.calls()).toContain('amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:' + `${s.root}${InstancePaths.CW_AGENT_CONFIG}`);
    expect(stagesOf(s).map(([stage]) => stage)).toEqual(['user-data-start', 'docker-ready', 'image-ready']);
  });

  test("a failed pull is reported to the fleet's own log group with its workload", () => {
    const s = sandbox();
    expect(s.run(script, { fail: ['docker pull *'] }).status).toBe(1);
    expectReported(s, BootFailureReasons.BOOT_SCRIPT_FAILED, logGroup, 'agents');
  });
});
