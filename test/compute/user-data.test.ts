import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { JobQueue, JobStore, ModelServerImage, ModelWeights } from '../../lib';
import { FleetScaling } from '../../lib/compute/fleet-scaling';
import { GpuFleet } from '../../lib/compute/gpu-fleet';
import { BOOT_STAGES_PATH, BootFailureReasons, METRIC_NAMESPACE, ModelServerKind } from '../../lib/contracts';
import { MODEL_WEIGHTS_DIR, ModelServer, ModelServerConfig, shellQuote } from '../../lib/compute/model-server';
import { InstancePaths, renderUserData, UserDataOptions } from '../../lib/compute/user-data';
import { hourlyPrice } from '../../lib/cost/pricing';
import { resolveUserData } from './boot-sandbox';
import { flatten, WORKER_FIXTURE } from './support';

const CONFIG = { v: 1, region: 'eu-west-1', workload: 'agents', hourlyPriceUsd: {} };

/** A server bound in a stack of its own, as a fleet binds it (the role receives the grants). */
function bound(server: ModelServer): ModelServerConfig {
  const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
  const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
  return server.bind(stack, role);
}

/** A string with tokens (pseudo parameters) as the instance would see it. */
function str(s: string | undefined): string | undefined {
  return s === undefined ? undefined : resolveUserData(new Stack(new App(), 'R').resolve(s));
}

function weightsServer(): ModelServerConfig {
  const stack = new Stack(new App(), 'W', { env: { account: '123456789012', region: 'eu-west-1' } });
  const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
  const bucket = s3.Bucket.fromBucketName(stack, 'Weights', 'my-weights');
  return ModelServer.vllm({ weights: ModelWeights.fromBucket(bucket, 'models/qwen') }).bind(stack, role);
}

function script(extra: Partial<UserDataOptions> = {}): string {
  const text = [
    '#!/bin/bash',
    ...renderUserData({
      workerConfigJson: JSON.stringify(CONFIG),
      workerS3Url: 's3://assets/abc.js',
      region: 'eu-west-1',
      modelServer: bound(ModelServer.vllm()),
      workload: 'agents',
      bootLogGroupName: '/aws/ai-burst/agents/boot',
      ...extra,
    }),
  ].join('\n');
  return resolveUserData(new Stack(new App(), 'R').resolve(text));
}

describe('renderUserData', () => {
  test('is valid bash (bash -n) with every optional step on', () => {
    const text = script({
      pricesByRegionJson: '{"eu-west-1":{"g6.xlarge":0.45}}',
      cloudWatchAgentConfigJson: '{"agent":{}}',
      gpuCheck: true,
      modelServer: weightsServer(),
    });
    expect(() => execFileSync('bash', ['-n'], { input: text })).not.toThrow();
  });

  test('steps run in order: stage, GPU, user, Node.js, worker, config, Docker, login, pull, weights, units, start', () => {
    const text = script({ gpuCheck: true, modelServer: weightsServer() });
    const order = [
      'set -euo pipefail',
      "trap 'ai_burst_rc=$?; ai_burst_report",
      'ai_burst_stage user-data-start',
      'nvidia-smi -L',
      'useradd --system',
      'dnf install -y nodejs22',
      "aws s3 cp 's3://assets/abc.js'",
      'cat > "$R"/etc/ai-burst/worker.json',
      'dnf install -y docker',
      'nvidia-ctk runtime configure --runtime=docker',
      'ai_burst_stage docker-ready',
      'aws ecr get-login-password',
      'ai_burst_retry 3 ai_burst_pull_image',
      'ai_burst_stage image-ready',
      'Amazon EC2 NVMe Instance Storage',
      'ai_burst_retry 3 ai_burst_copy_weights',
      'ai_burst_stage weights-ready',
      `cat > "$R"${InstancePaths.MODEL_SERVER_SCRIPT}`,
      `cat > "$R"/etc/systemd/system/${InstancePaths.WORKER_UNIT}`,
      'systemctl enable --now ai-burst-model-server.service ai-burst-worker.service',
    ];
    const positions = order.map((s) => text.indexOf(s));
    expect(order.filter((_, i) => positions[i] < 0)).toEqual([]);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  test('the config is readable by the worker user only (0640 root:ai-burst)', () => {
    expect(script()).toContain('chmod 0640 "$R"/etc/ai-burst/worker.json\nchown root:ai-burst "$R"/etc/ai-burst/worker.json');
  });

  test('a failed boot reports by the contract: BootFailures in the library namespace with Workload only, the log group, Unhealthy', () => {
    const text = script();
    expect(text).toContain(
      `cloudwatch put-metric-data --namespace ${METRIC_NAMESPACE} --metric-name BootFailures --dimensions 'Workload=agents' --value 1`,
    );
    expect(text).toContain("logs put-log-events --log-group-name '/aws/ai-burst/agents/boot'");
    expect(text).toContain('autoscaling set-instance-health --instance-id "$iid" --health-status Unhealthy --no-should-respect-grace-period');
    expect(text).toContain(`AI_BURST_REASON=${BootFailureReasons.BOOT_SCRIPT_FAILED}`);
    expect(text).toContain(`"$R${BOOT_STAGES_PATH}"`);
  });

  test('the GPU check only when asked, reported as gpu-unavailable', () => {
    expect(script()).not.toContain('nvidia-smi');
    expect(script({ gpuCheck: true })).toContain(`AI_BURST_REASON=${BootFailureReasons.GPU_UNAVAILABLE}\ntimeout 120 nvidia-smi -L\n`);
  });

  test('a commands() server: no Docker, no pull, a unit that does not want docker.service', () => {
    const text = script({ modelServer: bound(ModelServer.commands({ kind: ModelServerKind.OPENAI, commands: ['exec /opt/llama/server'] })) });
    expect(text).not.toMatch(/docker|ai_burst_stage (docker|image)-ready/);
    expect(text).toContain('Wants=network-online.target\nAfter=network-online.target\n[Service]');
  });

  test('an image server: the unit requires Docker and runs the pulled image without pulling again', () => {
    const text = script();
    expect(text).toContain('Requires=docker.service');
    expect(text).toContain('exec docker run --rm --pull never --name ai-burst-model-server');
  });

  test("the boot-time price step fills hourlyPriceUsd for the instance's region, falling back to us-east-1", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ud-'));
    const lines = renderUserData({
      workerConfigJson: '{}',
      workerS3Url: 's3://a/b',
      region: 'r',
      modelServer: bound(ModelServer.vllm()),
      workload: 'agents',
      bootLogGroupName: 'g',
      pricesByRegionJson: '{}',
    });
    const merge = lines.find((l) => l.startsWith('node-22 -e '))!;
    expect(merge).toBeDefined();
    const program = merge.slice('node-22 -e '.length).split(`' "$R"/etc/ai-burst/worker.json`)[0].slice(1);
    const prices = path.join(dir, 'prices.json');
    fs.writeFileSync(prices, JSON.stringify({ 'eu-west-1': { 'g6.xlarge': 0.45 }, 'us-east-1': { 'g6.xlarge': 0.4 } }));
    for (const [region, expected] of [
      ['eu-west-1', 0.45],
      ['sa-east-1', 0.4],
    ] as const) {
      const config = path.join(dir, `${region}.json`);
      fs.writeFileSync(config, JSON.stringify({ ...CONFIG, region }));
      execFileSync(process.execPath, ['-e', program, config, prices]);
      expect(JSON.parse(fs.readFileSync(config, 'utf8')).hourlyPriceUsd).toEqual({ 'g6.xlarge': expected });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('ModelServer', () => {
  test('vllm(): OpenAI kind, /health, streaming, the model as default', () => {
    expect(bound(ModelServer.vllm({ model: 'meta-llama/Llama-3.1-8B-Instruct', port: 8001 })).worker).toEqual({
      kind: 'openai',
      baseUrl: 'http://127.0.0.1:8001',
      healthPath: '/health',
      defaultModel: 'meta-llama/Llama-3.1-8B-Instruct',
      stream: true,
    });
  });

  test("vllm(): the default image is the AWS Deep Learning Containers vLLM 0.11.0 for EC2 in the stack's region, with an ECR login", () => {
    const server = bound(ModelServer.vllm());
    expect({ imageUri: str(server.image?.imageUri), ecrRegistry: str(server.image?.ecrRegistry), ecrRegion: server.image?.ecrRegion }).toEqual({
      imageUri: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/vllm:0.11.0-gpu-py312-cu128-ubuntu22.04-ec2',
      ecrRegistry: '763104351884.dkr.ecr.eu-west-1.amazonaws.com',
      ecrRegion: 'eu-west-1',
    });
    expect(str(server.startScript[1])).toContain(
      "'763104351884.dkr.ecr.eu-west-1.amazonaws.com/vllm:0.11.0-gpu-py312-cu128-ubuntu22.04-ec2' '--model' 'Qwen/Qwen2.5-7B-Instruct'",
    );
  });

  test('vllm() with weights: loads from the local copy and serves it under the model name', () => {
    const server = weightsServer();
    expect(server.weights).toEqual({ s3Url: 's3://my-weights/models/qwen/', region: 'eu-west-1' });
    expect(server.startScript[1]).toContain(`-v ${MODEL_WEIGHTS_DIR}:${MODEL_WEIGHTS_DIR}:ro`);
    expect(server.startScript[1]).toContain(`'--model' '${MODEL_WEIGHTS_DIR}' '--served-model-name' 'Qwen/Qwen2.5-7B-Instruct' '--max-model-len'`);
    expect(server.worker.defaultModel).toBe('Qwen/Qwen2.5-7B-Instruct');
  });

  test('container() with weights: mounted read-only for your args', () => {
    const stack = new Stack(new App(), 'C', { env: { account: '123456789012', region: 'eu-west-1' } });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    const server = ModelServer.container({
      kind: ModelServerKind.OPENAI,
      image: ModelServerImage.fromRegistry('123456789012.dkr.ecr.eu-west-1.amazonaws.com/tgi:3.0'),
      weights: ModelWeights.fromBucket(s3.Bucket.fromBucketName(stack, 'B', 'weights-w'), 'm'),
      args: ['--model-id', MODEL_WEIGHTS_DIR],
    }).bind(stack, role);
    expect(server.startScript[1]).toContain(
      `-v ${MODEL_WEIGHTS_DIR}:${MODEL_WEIGHTS_DIR}:ro '123456789012.dkr.ecr.eu-west-1.amazonaws.com/tgi:3.0' '--model-id'`,
    );
  });

  test('commands(): your lines, as given, no image', () => {
    const server = bound(ModelServer.commands({ kind: ModelServerKind.OPENAI, commands: ['exec /opt/llama/server --port 8000'] }));
    expect(server.startScript).toEqual(['exec /opt/llama/server --port 8000']);
    expect(server.worker.healthPath).toBe('/health');
    expect(server.image).toBeUndefined();
  });

  test('arguments are shell-quoted', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    const line = bound(ModelServer.vllm({ model: "x'; rm -rf /" })).startScript[1];
    expect(() => execFileSync('bash', ['-n'], { input: line })).not.toThrow();
    expect(line).toContain(`'x'\\''; rm -rf /'`);
  });

  const image = (uri: string) => ModelServerImage.fromRegistry(uri);
  test.each([
    [
      'an empty command list',
      () => bound(ModelServer.commands({ kind: ModelServerKind.OPENAI, commands: [] })),
      /commands must list at least one line/,
    ],
    ['a health path without /', () => bound(ModelServer.vllm({ healthPath: 'health' })), /healthPath "health" must be a URL path starting with \//],
    // Each of these used to boot an instance whose model server unit failed and restarted forever.
    [
      'a container without an image',
      () => bound(ModelServer.container({ kind: ModelServerKind.OPENAI, image: image('') })),
      /ModelServer.container: image must name a container image, e.g. 763104351884\.dkr\.ecr\.us-east-1\.amazonaws\.com\/vllm:.* \(got ""\)/,
    ],
    [
      'a container image given as a string (JavaScript callers)',
      () => bound(ModelServer.container({ kind: ModelServerKind.OPENAI, image: 'vllm/vllm-openai:v0.11.0' as unknown as ModelServerImage })),
      /ModelServer.container: image must name a container image: a ModelServerImage such as ModelServerImage.fromEcrRepository\(repository, 'v1'\) \(got "vllm\/vllm-openai:v0.11.0"\)/,
    ],
    [
      'a blank container image',
      () => bound(ModelServer.container({ kind: ModelServerKind.OPENAI, image: image('  ') })),
      /image must name a container image/,
    ],
    ['a vLLM server with an empty image', () => bound(ModelServer.vllm({ image: image('') })), /ModelServer.vllm: image must name a container image/],
    [
      'container port 0',
      () => bound(ModelServer.container({ kind: ModelServerKind.OPENAI, image: image('x:1'), containerPort: 0 })),
      /ModelServer.container: containerPort must be an integer between 1 and 65535 \(got 0\)/,
    ],
    [
      'an unknown container kind',
      () => bound(ModelServer.container({ kind: 'grpc' as ModelServerKind, image: image('x:1') })),
      /ModelServer.container: kind must be ModelServerKind.OPENAI or ModelServerKind.INVOCATIONS \(got "grpc"\)/,
    ],
    [
      'an unknown commands kind',
      () => bound(ModelServer.commands({ kind: 'OpenAI' as ModelServerKind, commands: ['exec x'] })),
      /ModelServer.commands: kind must be ModelServerKind.OPENAI or ModelServerKind.INVOCATIONS \(got "OpenAI"\)/,
    ],
  ] as const)('fails if %s', (_, make, message) => {
    expect(make).toThrow(message);
  });
});

describe('GpuFleet in an environment-agnostic stack', () => {
  const stack = new Stack(new App(), 'Agnostic');
  const jobQueue = new JobQueue(stack, 'Jobs', { workload: 'agents' });
  const fleet = new GpuFleet(stack, 'Fleet', {
    vpc: new ec2.Vpc(stack, 'Vpc'),
    jobQueue,
    jobStore: new JobStore(stack, 'Store'),
    workerEntry: WORKER_FIXTURE,
    scaling: FleetScaling.none(),
  });
  // The user data as CloudFormation resolves it; no full synth needed.
  const rendered = flatten(stack.resolve(fleet.launchTemplate.userData!.render()));

  test('the region is unknown at synth, so prices of every snapshot region ship and are picked at boot', () => {
    expect(rendered).toContain(`cat > "$R"${InstancePaths.PRICES_BY_REGION}`);
    expect(rendered).toContain('"hourlyPriceUsd":{}');
    const g5 = hourlyPrice('g5.xlarge', 'eu-central-1', 'spot');
    expect(g5).toBeDefined();
    const table = JSON.parse(rendered.split(`cat > "$R"${InstancePaths.PRICES_BY_REGION} <<'AI_BURST_EOF'\n`)[1].split('\nAI_BURST_EOF')[0]);
    expect(table['eu-central-1']['g5.xlarge']).toBe(g5);
    expect(Object.keys(table['us-east-1']).sort()).toEqual(['g5.2xlarge', 'g5.xlarge', 'g6.2xlarge', 'g6.xlarge']);
    // And the config's region is the deploy-time region.
    expect(rendered).toContain('"region":"<AWS::Region>"');
  });

  test('the default image, login and pull permissions follow the deploy-time region and URL suffix', () => {
    expect(rendered).toContain(
      "docker login --username AWS --password-stdin '763104351884.dkr.ecr.<AWS::Region>.<AWS::URLSuffix>' && docker pull " +
        "'763104351884.dkr.ecr.<AWS::Region>.<AWS::URLSuffix>/vllm:0.11.0-gpu-py312-cu128-ubuntu22.04-ec2'",
    );
    expect(rendered).toContain("aws ecr get-login-password --region '<AWS::Region>'");
    const policy = Object.values(stack.resolve((fleet.role.node.tryFindChild('DefaultPolicy') as iam.Policy).document.toJSON()).Statement);
    const pull = (policy as any[]).find((s) => [s.Action].flat().includes('ecr:BatchGetImage'));
    expect(flatten(pull.Resource)).toBe('arn:<AWS::Partition>:ecr:<AWS::Region>:763104351884:repository/vllm');
  });
});
