import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { JobQueue, JobStore } from '../../lib';
import { FleetScaling } from '../../lib/compute/fleet-scaling';
import { GpuFleet } from '../../lib/compute/gpu-fleet';
import { ModelServerKind } from '../../lib/contracts';
import { ModelServer, shellQuote } from '../../lib/compute/model-server';
import { InstancePaths, renderUserData } from '../../lib/compute/user-data';
import { hourlyPrice } from '../../lib/cost/pricing';
import { flatten, WORKER_FIXTURE } from './support';

const CONFIG = { v: 1, region: 'eu-west-1', workload: 'agents', hourlyPriceUsd: {} };

function script(extra: Partial<Parameters<typeof renderUserData>[0]> = {}): string {
  return [
    '#!/bin/bash',
    ...renderUserData({
      workerConfigJson: JSON.stringify(CONFIG),
      workerS3Url: 's3://assets/abc.js',
      region: 'eu-west-1',
      modelServer: ModelServer.vllm().bind(),
      ...extra,
    }),
  ].join('\n');
}

describe('renderUserData', () => {
  test('is valid bash (bash -n) with every optional step on', () => {
    const text = script({ pricesByRegionJson: '{"eu-west-1":{"g6.xlarge":0.45}}', cloudWatchAgentConfigJson: '{"agent":{}}' });
    expect(() => execFileSync('bash', ['-n'], { input: text })).not.toThrow();
  });

  test('steps run in order: Node.js, worker, config, model server, worker unit, start', () => {
    const text = script();
    const order = [
      'dnf install -y nodejs22',
      'aws s3 cp s3://assets/abc.js',
      'cat > /etc/ai-burst/worker.json',
      `cat > ${InstancePaths.MODEL_SERVER_SCRIPT}`,
      `cat > /etc/systemd/system/${InstancePaths.WORKER_UNIT}`,
      'systemctl enable --now',
    ];
    const positions = order.map((s) => text.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  test('the config is readable by the worker user only (0640 root:ai-burst)', () => {
    expect(script()).toContain('chmod 0640 /etc/ai-burst/worker.json\nchown root:ai-burst /etc/ai-burst/worker.json');
  });

  test("the boot-time price step fills hourlyPriceUsd for the instance's region, falling back to us-east-1", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ud-'));
    const lines = renderUserData({
      workerConfigJson: '{}',
      workerS3Url: 's3://a/b',
      region: 'r',
      modelServer: ModelServer.vllm().bind(),
      pricesByRegionJson: '{}',
    });
    const merge = lines.find((l) => l.startsWith('/usr/bin/node-22 -e '))!;
    expect(merge).toBeDefined();
    const program = merge.slice('/usr/bin/node-22 -e '.length).split(`' ${'/etc/ai-burst/worker.json'}`)[0].slice(1);
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
    expect(ModelServer.vllm({ model: 'meta-llama/Llama-3.1-8B-Instruct', port: 8001 }).bind().worker).toEqual({
      kind: 'openai',
      baseUrl: 'http://127.0.0.1:8001',
      healthPath: '/health',
      defaultModel: 'meta-llama/Llama-3.1-8B-Instruct',
      stream: true,
    });
  });

  test('commands(): your lines, as given', () => {
    const server = ModelServer.commands({ kind: ModelServerKind.OPENAI, commands: ['exec /opt/llama/server --port 8000'] }).bind();
    expect(server.startScript).toEqual(['exec /opt/llama/server --port 8000']);
    expect(server.worker.healthPath).toBe('/health');
  });

  test('arguments are shell-quoted', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    const line = ModelServer.vllm({ model: "x'; rm -rf /" }).bind().startScript[1];
    expect(() => execFileSync('bash', ['-n'], { input: line })).not.toThrow();
    expect(line).toContain(`'x'\\''; rm -rf /'`);
  });

  test.each([
    [
      'an empty command list',
      () => ModelServer.commands({ kind: ModelServerKind.OPENAI, commands: [] }).bind(),
      /commands must list at least one line/,
    ],
    ['a health path without /', () => ModelServer.vllm({ healthPath: 'health' }).bind(), /healthPath "health" must be a URL path starting with \//],
    // Each of these used to boot an instance whose model server unit failed and restarted forever.
    [
      'a container without an image',
      () => ModelServer.container({ kind: ModelServerKind.OPENAI, image: '' }).bind(),
      /ModelServer.container: image must name a container image, e.g. vllm\/vllm-openai:v0.11.0 \(got ""\)/,
    ],
    [
      'a blank container image',
      () => ModelServer.container({ kind: ModelServerKind.OPENAI, image: '  ' }).bind(),
      /image must name a container image/,
    ],
    ['a vLLM server with an empty image', () => ModelServer.vllm({ image: '' }).bind(), /ModelServer.vllm: image must name a container image/],
    [
      'container port 0',
      () => ModelServer.container({ kind: ModelServerKind.OPENAI, image: 'x:1', containerPort: 0 }).bind(),
      /ModelServer.container: containerPort must be an integer between 1 and 65535 \(got 0\)/,
    ],
    [
      'an unknown container kind',
      () => ModelServer.container({ kind: 'grpc' as ModelServerKind, image: 'x:1' }).bind(),
      /ModelServer.container: kind must be ModelServerKind.OPENAI or ModelServerKind.INVOCATIONS \(got "grpc"\)/,
    ],
    [
      'an unknown commands kind',
      () => ModelServer.commands({ kind: 'OpenAI' as ModelServerKind, commands: ['exec x'] }).bind(),
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
    expect(rendered).toContain(`cat > ${InstancePaths.PRICES_BY_REGION}`);
    expect(rendered).toContain('"hourlyPriceUsd":{}');
    const g5 = hourlyPrice('g5.xlarge', 'eu-central-1', 'spot');
    expect(g5).toBeDefined();
    const table = JSON.parse(rendered.split(`cat > ${InstancePaths.PRICES_BY_REGION} <<'AI_BURST_EOF'\n`)[1].split('\nAI_BURST_EOF')[0]);
    expect(table['eu-central-1']['g5.xlarge']).toBe(g5);
    expect(Object.keys(table['us-east-1']).sort()).toEqual(['g5.2xlarge', 'g5.xlarge', 'g6.2xlarge', 'g6.xlarge']);
    // And the config's region is the deploy-time region.
    expect(rendered).toContain('"region":"<AWS::Region>"');
  });
});
