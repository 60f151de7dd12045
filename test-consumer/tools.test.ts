/**
 * The tools package as a user gets it: `npm pack` cdk-ai-burst-tools, install the tarball into a fresh folder
 * without a lock file, then run the CLI and import JobClient and the cost model from the package.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const tools = path.resolve(__dirname, '..', 'tools');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-burst-tools-consumer-'));
const appDir = path.join(work, 'app');
let files: string[];

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_yes: 'true' } });
}

beforeAll(() => {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], tools)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  files = packed[0].files.map((f) => f.path);
  fs.mkdirSync(appDir);
  fs.writeFileSync(
    path.join(appDir, 'package.json'),
    JSON.stringify(
      {
        name: 'tools-consumer',
        private: true,
        dependencies: { 'cdk-ai-burst-tools': `file:${path.join(work, packed[0].filename)}` },
      },
      null,
      2,
    ),
  );
  run('npm', ['install', '--prefer-offline', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error'], appDir);
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

test('the package ships built code and types only, and installs without the CDK or esbuild', () => {
  expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/bin/ai-burst.js', 'dist/types/tools/index.d.ts']));
  expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  for (const absent of ['aws-cdk-lib', 'constructs', 'esbuild', 'cdk-ai-burst']) {
    expect({ absent, installed: fs.existsSync(path.join(appDir, 'node_modules', absent)) }).toEqual({ absent, installed: false });
  }
  expect(fs.existsSync(path.join(appDir, 'package-lock.json'))).toBe(false);
});

test('npx ai-burst --help prints the commands', () => {
  const out = run('npx', ['--no-install', 'ai-burst', '--help'], appDir);
  expect(out).toMatch(/ai-burst cost/);
  expect(out).toMatch(/ai-burst simulate/);
});

test('npx ai-burst cost answers offline from the price snapshot', () => {
  const out = run('npx', ['--no-install', 'ai-burst', 'cost', '--docs-per-day', '100', '--gpu-hours-per-doc', '0.2'], appDir);
  expect(out).toMatch(/g6\.xlarge|g5\.xlarge/);
});

test('JobClient, the cost model and the simulator import from the package', () => {
  const script = [
    "const t = require('cdk-ai-burst-tools');",
    "if (typeof t.JobClient !== 'function') throw new Error('no JobClient');",
    'const e = t.estimateCost({ docsPerDay: 100, gpuHoursPerDoc: 0.2 });',
    'console.log(JSON.stringify({ client: typeof t.JobClient, simulate: typeof t.simulate, decide: typeof t.decideCapacity, options: e.options.length }));',
  ].join('\n');
  const out = JSON.parse(run('node', ['-e', script], appDir));
  expect(out).toEqual({ client: 'function', simulate: 'function', decide: 'function', options: expect.any(Number) });
  expect(out.options).toBeGreaterThan(0);
});
