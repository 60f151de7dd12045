/**
 * "Import the constructs into other CDK apps" from the package, not from source: `npm pack` the library
 * (its prepack builds dist/), install the tarball into a fresh app in a temp folder with its own
 * package.json, synthesize with the app's own aws-cdk-lib, and assert on the template and assets.
 * Lambda and worker code ship prebuilt (assets/<name>/index.js, bundled when the package was built), so
 * the app has no esbuild, no Docker and no lock file.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-burst-consumer-'));
const appDir = path.join(work, 'app');
let template: { Resources: Record<string, { Type: string; Properties?: any }> };
let manifestAssets: string[];

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_yes: 'true' } });
}

beforeAll(() => {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], repo)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const tarball = path.join(work, packed[0].filename);
  const files = packed[0].files.map((f) => f.path);
  // The package ships compiled code only, and every Lambda and the worker prebuilt.
  expect(files).toEqual(expect.arrayContaining(['dist/lib/index.js', '.jsii', 'assets/worker/index.js', 'assets/drain/index.js']));
  // No run-time dependency: the bundles carry what the Lambdas and the worker need.
  expect(JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).dependencies ?? {}).toEqual({});
  expect(files.filter((f) => f.startsWith('test/') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);

  fs.mkdirSync(appDir);
  fs.copyFileSync(path.join(__dirname, 'app', 'app.js'), path.join(appDir, 'app.js'));
  const own = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
  fs.writeFileSync(
    path.join(appDir, 'package.json'),
    JSON.stringify(
      {
        name: 'consumer-app',
        private: true,
        dependencies: {
          'cdk-ai-burst': `file:${tarball}`,
          'aws-cdk-lib': own.devDependencies['aws-cdk-lib'],
          constructs: own.devDependencies.constructs,
        },
      },
      null,
      2,
    ),
  );
  run('npm', ['install', '--prefer-offline', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error'], appDir);
  expect(fs.existsSync(path.join(appDir, 'node_modules', 'esbuild'))).toBe(false);
  expect(fs.existsSync(path.join(appDir, 'package-lock.json'))).toBe(false);
  const out = run('node', ['app.js'], appDir);
  expect(out).toContain('synthesized');
  template = JSON.parse(fs.readFileSync(path.join(appDir, 'cdk.out', 'Consumer.template.json'), 'utf8'));
  manifestAssets = fs.readdirSync(path.join(appDir, 'cdk.out')).filter((f) => f.startsWith('asset.'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function ofType(type: string) {
  return Object.values(template.Resources).filter((r) => r.Type === type);
}

test('the platform synthesizes from the package: one API, two spot fleets, a FIS drill each', () => {
  expect(ofType('AWS::ApiGateway::RestApi')).toHaveLength(1);
  const groups = ofType('AWS::AutoScaling::AutoScalingGroup');
  expect(groups).toHaveLength(2);
  for (const g of groups) {
    expect(g.Properties.MinSize).toBe('0');
    expect(g.Properties.MixedInstancesPolicy.InstancesDistribution).toMatchObject({
      OnDemandBaseCapacity: 0,
      OnDemandPercentageAboveBaseCapacity: 0,
      SpotAllocationStrategy: 'price-capacity-optimized',
    });
  }
  expect(ofType('AWS::FIS::ExperimentTemplate')).toHaveLength(2);
});

test("every Lambda runs the package's prebuilt bundle, on Node 24", () => {
  const functions = ofType('AWS::Lambda::Function').filter((f) => f.Properties.Runtime?.startsWith('nodejs'));
  expect(functions.length).toBeGreaterThanOrEqual(7);
  for (const f of functions) {
    expect(f.Properties.Runtime).toBe('nodejs24.x');
    const key: string = f.Properties.Code.S3Key;
    const dir = path.join(appDir, 'cdk.out', `asset.${key.replace(/\.zip$/, '')}`);
    expect(f.Properties.Handler).toBe('index.handler');
    expect(fs.readdirSync(dir)).toEqual(['index.js']);
  }
});

test('the worker agent is bundled into one file asset', () => {
  // A single-file asset (asset.<hash>.js): the one that polls IMDS for spot notices.
  const bundles = manifestAssets
    .filter((a) => a.endsWith('.js'))
    .map((a) => fs.readFileSync(path.join(appDir, 'cdk.out', a), 'utf8'))
    .filter((code) => code.includes('spot/instance-action'));
  expect(bundles).toHaveLength(1);
  // The AMI's Node.js has no packages: the bundle must not require the CDK (only run-time code is in it).
  expect(bundles[0].match(/require\(["'](aws-cdk-lib|constructs)["/]/g)).toBeNull();
});

test('cost tags reach the resources', () => {
  const queues = ofType('AWS::SQS::Queue');
  expect(queues.some((q) => (q.Properties.Tags ?? []).some((t: any) => t.Key === 'ai-burst:workload' && t.Value === 'chat'))).toBe(true);
  expect(queues.some((q) => (q.Properties.Tags ?? []).some((t: any) => t.Key === 'ai-burst:cost-center' && t.Value === 'consumer'))).toBe(true);
});
