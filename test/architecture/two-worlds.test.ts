/**
 * DESIGN's "two worlds, one rule": synth-time code (lib/) never imports the AWS SDK, so a user's synth
 * never drags it in; run-time code (runtime/, lambda/, worker/) never imports aws-cdk-lib or constructs, so
 * handlers bundle small. Both may import the pure modules (contracts, scaling policy, cost). The run-time core
 * lives in runtime/; lambda/ and worker/ are adapters over it and never import each other. The tools package
 * (tools/) runs outside CDK: no aws-cdk-lib either.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
}

/** Module specifiers of static imports, re-exports and require() calls. */
function importsOf(file: string): string[] {
  const code = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const m of code.matchAll(
    /(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g,
  )) {
    found.push(m[1] ?? m[2] ?? m[3]);
  }
  return found;
}

function offenders(files: string[], forbidden: RegExp): string[] {
  return files.flatMap((f) =>
    importsOf(f)
      .filter((s) => forbidden.test(s))
      .map((s) => `${f} imports ${s}`),
  );
}

test('lib/ never imports the AWS SDK', () => {
  const files = sources('lib');
  expect(files.length).toBeGreaterThan(20);
  expect(offenders(files, /^@aws-sdk\//)).toEqual([]);
});

const RUNTIME = ['runtime', 'lambda', 'worker'];

/** Repo-relative targets of a file's relative imports. */
function relativeTargets(f: string): string[] {
  return importsOf(f)
    .filter((s) => s.startsWith('.'))
    .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(f), s)));
}

test.each(RUNTIME)('%s/ never imports aws-cdk-lib or constructs', (dir) => {
  const files = sources(dir);
  expect(files.length).toBeGreaterThan(5);
  expect(offenders(files, /^(aws-cdk-lib|constructs)(\/|$)/)).toEqual([]);
});

test('the tools package never imports aws-cdk-lib or constructs, nor the construct package by name', () => {
  const files = sources('tools').filter((f) => !f.startsWith('tools/dist/') && !f.includes('node_modules'));
  expect(files.length).toBeGreaterThan(10);
  expect(offenders(files, /^(aws-cdk-lib|constructs|cdk-ai-burst)(\/|$)/)).toEqual([]);
});

test('run-time code reaches into lib/ only through its pure modules', () => {
  const pure = /\/lib\/(contracts|compute\/scaling-policy|compute\/learned-boot|cost)(\/|$)/;
  const runtime = RUNTIME.flatMap(sources);
  const intoLib = runtime.flatMap((f) =>
    relativeTargets(f)
      .filter((target) => target.startsWith('lib/'))
      .filter((target) => !pure.test(`/${target}`))
      .map((target) => `${f} → ${target}`),
  );
  expect(intoLib).toEqual([]);
});

test('runtime/ is the shared core: it imports neither lambda/ nor worker/; lambda/ and worker/ never import each other', () => {
  const crossing = (dir: string, forbidden: string[]) =>
    sources(dir).flatMap((f) =>
      relativeTargets(f)
        .filter((t) => forbidden.some((d) => t === d || t.startsWith(`${d}/`)))
        .map((t) => `${f} → ${t}`),
    );
  expect(crossing('runtime', ['lambda', 'worker'])).toEqual([]);
  expect(crossing('lambda', ['worker'])).toEqual([]);
  expect(crossing('worker', ['lambda'])).toEqual([]);
});

test('the construct package compiles no run-time code: jsii excludes runtime/, lambda/, worker/ and tools/', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  expect(pkg.jsii.excludeTypescript).toEqual(expect.arrayContaining(['runtime/**', 'lambda/**', 'worker/**', 'tools/**']));
});

test('the detector sees a forbidden import (guards against a test that cannot fail)', () => {
  const tmp = path.join('test', 'architecture', '.probe.ts');
  fs.writeFileSync(path.join(ROOT, tmp), "import { Stack } from 'aws-cdk-lib';\nexport const s = Stack;\n");
  try {
    expect(offenders([tmp], /^(aws-cdk-lib|constructs)(\/|$)/)).toEqual([`${tmp} imports aws-cdk-lib`]);
  } finally {
    fs.rmSync(path.join(ROOT, tmp));
  }
});
