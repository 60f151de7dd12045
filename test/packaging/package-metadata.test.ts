/**
 * What npm, Construct Hub and the jsii targets read from the two package.json files: a license file that ships,
 * the repository, keywords, and dependencies that keep each package to its world.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (dir: string) => JSON.parse(fs.readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8'));
const construct = read('.');
const tools = read('tools');

test.each([
  ['cdk-ai-burst', construct, '.'],
  ['cdk-ai-burst-tools', tools, 'tools'],
])('%s: Apache-2.0 with its LICENSE shipped, repository, homepage, issues, keywords, Node ≥ 20', (name, pkg, dir) => {
  expect(pkg.name).toBe(name);
  expect(pkg.license).toBe('Apache-2.0');
  expect(fs.readFileSync(path.join(ROOT, dir, 'LICENSE'), 'utf8')).toContain('Apache License');
  // npm always packs LICENSE and README; listing them keeps that visible.
  expect(pkg.files).toEqual(expect.arrayContaining(['dist/', 'LICENSE']));
  expect(pkg.repository.url).toMatch(/^https:\/\/github\.com\/.+\.git$/);
  if (dir !== '.') expect(pkg.repository.directory).toBe(dir);
  expect(pkg.homepage).toMatch(/^https:\/\//);
  expect(pkg.bugs.url).toMatch(/\/issues$/);
  expect(pkg.keywords.length).toBeGreaterThan(3);
  expect(pkg.engines.node).toBe('>=20');
  expect(pkg.author.name).toBeTruthy();
  expect(fs.existsSync(path.join(ROOT, dir, 'README.md'))).toBe(true);
});

test('the construct package: the awscdk keyword Construct Hub indexes, peer aws-cdk-lib and constructs, a version for every jsii target', () => {
  expect(construct.keywords).toContain('awscdk');
  expect(Object.keys(construct.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs']);
  expect(construct.stability).toBe('experimental');
  expect(Object.keys(construct.jsii.targets).sort()).toEqual(['dotnet', 'go', 'java', 'python']);
  // Run-time code ships bundled in assets/: nothing the Lambdas or the worker import is a dependency.
  expect(Object.keys(construct.dependencies ?? {}).filter((d) => d.startsWith('@aws-sdk/') || d.startsWith('@aws-lambda-powertools/'))).toEqual([]);
});

test('the tools package runs outside CDK and moves in step with the construct package', () => {
  const deps = { ...tools.dependencies, ...tools.peerDependencies };
  expect(Object.keys(deps).filter((d) => d === 'aws-cdk-lib' || d === 'constructs' || d === 'cdk-ai-burst')).toEqual([]);
  expect(tools.version).toBe(construct.version);
  expect(tools.bin['ai-burst']).toBe('dist/bin/ai-burst.js');
});
