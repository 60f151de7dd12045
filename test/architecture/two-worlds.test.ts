/**
 * DESIGN's "two worlds, one rule": synth-time code (lib/) never imports the AWS SDK, so a user's synth
 * never drags it in; run-time code (lambda/, worker/) never imports aws-cdk-lib or constructs, so
 * handlers bundle small. Both may import the pure modules (contracts, scaling policy, cost).
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

test('lambda/ and worker/ never import aws-cdk-lib or constructs', () => {
  const files = [...sources('lambda'), ...sources('worker')];
  expect(files.length).toBeGreaterThan(20);
  expect(offenders(files, /^(aws-cdk-lib|constructs)(\/|$)/)).toEqual([]);
});

test('run-time code reaches into lib/ only through its pure modules', () => {
  const pure = /\/lib\/(contracts|compute\/scaling-policy|cost)(\/|$)/;
  const runtime = [...sources('lambda'), ...sources('worker')];
  const intoLib = runtime.flatMap((f) =>
    importsOf(f)
      .filter((s) => s.startsWith('.'))
      .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(f), s)))
      .filter((target) => target.startsWith('lib/'))
      .filter((target) => !pure.test(`/${target}`))
      .map((target) => `${f} → ${target}`),
  );
  expect(intoLib).toEqual([]);
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
