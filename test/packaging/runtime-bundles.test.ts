/**
 * Prebuilt run-time code (issue 13): the Lambdas and the worker are bundled once by scripts/bundle-runtime.ts,
 * reproducibly, and the constructs load those files as content-hashed assets instead of bundling at synth.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, FileSystem, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CostReporter, GpuFleet, JobQueue, JobStore } from '../../lib';
import { runtimeAssetDir } from '../../lib/common/handler';
import { BundleResult, bundleRuntime, runtimeBundles } from '../../scripts/bundle-runtime';

const ROOT = path.resolve(__dirname, '..', '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-bundles-'));
let first: BundleResult[];

/** sha256 of every file under dir, by relative path. */
function filesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out[path.relative(dir, full)] = createHash('sha256').update(fs.readFileSync(full)).digest('hex');
  }
  return out;
}

beforeAll(() => {
  first = bundleRuntime(path.join(work, 'a'));
  bundleRuntime(path.join(work, 'b'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the bundles', () => {
  test('every Lambda under lambda/ and the worker get a minified bundle with a linked source map', () => {
    const lambdas = fs.readdirSync(path.join(ROOT, 'lambda')).filter((d) => fs.existsSync(path.join(ROOT, 'lambda', d, 'index.ts')));
    expect(first.map((b) => b.name).sort()).toEqual([...lambdas, 'worker'].sort());
    for (const b of first) {
      const js = fs.readFileSync(path.join(work, 'a', b.name, 'index.js'), 'utf8');
      expect(js.trimEnd().endsWith('//# sourceMappingURL=index.js.map')).toBe(true);
      const map = JSON.parse(fs.readFileSync(path.join(work, 'a', b.name, 'index.js.map'), 'utf8'));
      expect(map.sources).toContain(`../../${runtimeBundles().find((x) => x.name === b.name)!.entry}`);
      // Minified: far fewer lines than characters.
      expect(js.split('\n').length).toBeLessThan(js.length / 1000 + 20);
    }
  });

  test('bundling twice gives the same bytes (so content-based asset hashes are stable)', () => {
    expect(filesOf(path.join(work, 'b'))).toEqual(filesOf(path.join(work, 'a')));
    // No absolute path of the build machine leaks into the output.
    for (const file of Object.keys(filesOf(path.join(work, 'a')))) {
      const leaks = fs.readFileSync(path.join(work, 'a', file), 'utf8').includes(ROOT);
      expect({ file, leaks }).toEqual({ file, leaks: false });
    }
  });

  test('each Lambda bundle exports handler; none contains aws-cdk-lib or constructs', () => {
    for (const b of first) {
      // esbuild's CommonJS output names its exports in a `0&&(module.exports={…})` annotation for Node's cjs lexer.
      const js = fs.readFileSync(path.join(work, 'a', b.name, 'index.js'), 'utf8');
      const exports = /0&&\(module\.exports=\{([^}]*)\}\)/.exec(js)?.[1].split(',') ?? [];
      if (b.name !== 'worker') expect({ name: b.name, exports }).toEqual({ name: b.name, exports: ['handler'] });
      expect(b.inputs.filter((i) => /node_modules\/(aws-cdk-lib|constructs)\//.test(i))).toEqual([]);
    }
  });

  test("the worker and the API handlers carry the SDK; the other Lambdas use the runtime's", () => {
    const withSdk = first
      .filter((b) => b.inputs.some((i) => i.includes('node_modules/@aws-sdk/')))
      .map((b) => b.name)
      .sort();
    expect(withSdk).toEqual(['status', 'submit', 'worker']);
  });
});

describe('the constructs load the prebuilt bundles', () => {
  function platformPieces(app: App): Stack {
    const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
    const jobQueue = new JobQueue(stack, 'Queue', { workload: 'chat' });
    new GpuFleet(stack, 'Fleet', { vpc: new ec2.Vpc(stack, 'Vpc'), jobQueue, jobStore: new JobStore(stack, 'Store') });
    new CostReporter(stack, 'Cost', { workloads: ['chat'] });
    return stack;
  }

  test("a Lambda's code is its assets/ folder, hashed by content without the source map; handler index.handler", () => {
    const template = Template.fromStack(platformPieces(new App()));
    const dir = runtimeAssetDir('cost-reporter');
    const hash = FileSystem.fingerprint(dir, { exclude: ['*.map'] });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Code: { S3Key: `${hash}.zip` },
      Description: 'ai-burst: publishes SpendUsd per workload and agent every minute',
    });
  });

  test('GpuFleet uploads the prebuilt worker file as is; two syntheses give the same hashes', () => {
    const keys = (app: App) => {
      const fns = Template.fromStack(platformPieces(app)).findResources('AWS::Lambda::Function');
      return Object.values(fns)
        .map((f) => f.Properties.Code?.S3Key)
        .filter(Boolean)
        .sort();
    };
    const stack = platformPieces(new App());
    const fleet = stack.node.findChild('Fleet') as GpuFleet;
    const file = path.join(runtimeAssetDir('worker'), 'index.js');
    expect(fleet.workerAsset.assetHash).toBe(FileSystem.fingerprint(file));
    expect(fleet.workerAsset.s3ObjectKey).toBe(`${FileSystem.fingerprint(file)}.js`);
    expect(keys(new App())).toEqual(keys(new App()));
  });
});
