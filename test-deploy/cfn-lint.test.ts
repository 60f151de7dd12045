/**
 * cfn-lint (preinstalled, 1.x) over every stack template of the example app and of the consumer test's app:
 * zero errors. Warnings are printed, not failed. One known spec lag is ignored, by rule *and* path, so any other
 * error of the same rule still fails:
 * - E3002 on `AWS::CloudWatch::Dashboard` `Tags`: CloudFormation accepts Tags on dashboards (aws-cdk-lib 2.276
 *   emits them), cfn-lint 1.51's bundled resource spec does not list the property yet.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { readStacks, StackArtifact, synth } from './support/cloud-assembly';
import { ASSEMBLY_ENV } from './support/global-setup';
import { requireTool } from './support/moto-server';

const REPO = path.resolve(__dirname, '..');

interface LintMatch {
  Filename: string;
  Level: 'Error' | 'Warning' | 'Informational';
  Message: string;
  Rule: { Id: string };
  Location: { Path: Array<string | number>; Start: { LineNumber: number } };
}

/** Errors cfn-lint 1.51 reports that CloudFormation accepts (spec lag), each matched by rule and path. */
const SPEC_LAG: ReadonlyArray<{ rule: string; resourceType: string; path: string[]; reason: string }> = [
  {
    rule: 'E3002',
    resourceType: 'AWS::CloudWatch::Dashboard',
    path: ['Properties', 'Tags'],
    reason: "CloudFormation supports Tags on AWS::CloudWatch::Dashboard; cfn-lint 1.51's bundled schema lags aws-cdk-lib 2.276",
  },
];

let work: string;
const templates: Array<{ app: string; stack: StackArtifact }> = [];

/**
 * The consumer test's app (test-consumer/app/app.js) against this checkout's built package (dist/, built by
 * `npm ci`), laid out as npm installs it, without the consumer test's pack and install (minutes).
 */
function synthConsumerApp(dir: string): string {
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'test-consumer', 'app', 'app.js'), path.join(dir, 'app.js'));
  // The package as installed: package.json, dist/ and assets/ (what `files` ships) in the app's node_modules, next to
  // links to this checkout's installed packages (aws-cdk-lib, constructs, esbuild, the SDK the bundles take in).
  for (const name of fs.readdirSync(path.join(REPO, 'node_modules'))) {
    if (name.startsWith('.')) continue;
    fs.symlinkSync(path.join(REPO, 'node_modules', name), path.join(dir, 'node_modules', name), 'dir');
  }
  const pkg = path.join(dir, 'node_modules', 'cdk-ai-burst');
  fs.cpSync(path.join(REPO, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  fs.cpSync(path.join(REPO, 'assets'), path.join(pkg, 'assets'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(pkg, 'package.json'));
  // An app of its own, as in the consumer test (NodejsFunction looks for the app's lock file).
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer-app', private: true }));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({ name: 'consumer-app', lockfileVersion: 3, requires: true, packages: {} }));
  if (!fs.existsSync(path.join(REPO, 'dist', 'lib', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm ci runs it)');
  execFileSync(process.execPath, ['app.js'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return path.join(dir, 'cdk.out');
}

function regionOf(stack: StackArtifact): string {
  const region = stack.environment.split('/').pop();
  return !region || region === 'unknown-region' ? 'us-east-1' : region;
}

function isSpecLag(m: LintMatch, stack: StackArtifact): string | undefined {
  const [section, logicalId, ...rest] = m.Location.Path.map(String);
  if (section !== 'Resources') return undefined;
  const type = stack.template.Resources[logicalId]?.Type;
  return SPEC_LAG.find((l) => l.rule === m.Rule.Id && l.resourceType === type && l.path.join('/') === rest.join('/'))?.reason;
}

beforeAll(() => {
  requireTool('cfn-lint', 'install cfn-lint 1.x (pip install cfn-lint), preinstalled with Python 3.11 on these machines');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-burst-cfn-lint-'));
  const example = process.env[ASSEMBLY_ENV] ?? synth(REPO, path.join(work, 'example'));
  for (const stack of readStacks(example)) templates.push({ app: 'example (bin/app.ts)', stack });
  for (const stack of readStacks(synthConsumerApp(path.join(work, 'consumer')))) templates.push({ app: 'consumer (test-consumer/app)', stack });
}, 180_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the example app and the consumer app synthesize at least one template each', () => {
  expect(templates.filter((t) => t.app.startsWith('example')).length).toBeGreaterThanOrEqual(1);
  expect(templates.filter((t) => t.app.startsWith('consumer')).length).toBeGreaterThanOrEqual(1);
});

test('cfn-lint: zero errors in every template (known spec lag ignored by rule and path)', async () => {
  const results = await Promise.all(
    templates.map(async ({ app, stack }) => {
      // Exit codes are bit flags (2 error, 4 warning, 8 informational); the JSON on stdout is the result.
      const run = await promisify(execFile)('cfn-lint', ['--format', 'json', '--regions', regionOf(stack), '--', stack.templatePath], {
        maxBuffer: 64 * 1024 * 1024,
      }).catch((e: { stdout?: string; code?: number; stderr?: string }) => {
        if (e.stdout === undefined || !e.stdout.trim().startsWith('[')) {
          throw new Error(`cfn-lint failed on ${stack.templatePath} (exit ${e.code}): ${e.stderr}`);
        }
        return { stdout: e.stdout };
      });
      const matches = JSON.parse(run.stdout) as LintMatch[];
      return { app, stack, matches };
    }),
  );
  const errors: string[] = [];
  for (const { app, stack, matches } of results) {
    const ignored = matches.filter((m) => m.Level === 'Error' && isSpecLag(m, stack));
    const failing = matches.filter((m) => m.Level === 'Error' && !isSpecLag(m, stack));
    const warnings = matches.filter((m) => m.Level === 'Warning');
    errors.push(
      ...failing.map(
        (m) => `${app} ${stack.stackName}: ${m.Rule.Id} at ${m.Location.Path.join('/')} (line ${m.Location.Start.LineNumber}): ${m.Message}`,
      ),
    );
    process.stdout.write(
      `cfn-lint ${app} ${stack.stackName} (${regionOf(stack)}): ${failing.length} errors, ${ignored.length} ignored as spec lag, ` +
        `${warnings.length} warnings${warnings.length ? ` (${[...new Set(warnings.map((w) => w.Rule.Id))].join(', ')})` : ''}\n`,
    );
  }
  expect(errors).toEqual([]);
});
