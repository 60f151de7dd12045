/**
 * `npx cdk synth` of the example app (two workloads, every layer; Lambda and worker code prebuilt by
 * `npm run bundle`, not bundled at synth) against a baseline synth of an app with one empty stack — both through the same CLI, so the
 * ratio is what the library adds. Goal (issue 9): under 30 s on 2 cores. Measured, never asserted.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = path.resolve(__dirname, '..');
const RUNS = 2;

function synth(app: string, out: string): number {
  const t0 = performance.now();
  execFileSync('npx', ['cdk', 'synth', '--quiet', '--app', app, '--output', out, '--no-notices', '--no-version-reporting'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
  });
  return (performance.now() - t0) / 1000;
}

export default async function synthBench(): Promise<string> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-bench-'));
  const empty = path.join(work, 'empty.ts');
  fs.writeFileSync(
    empty,
    `import { App, Stack } from '${path.join(ROOT, 'node_modules', 'aws-cdk-lib')}';\nconst app = new App();\nnew Stack(app, 'Empty');\napp.synth();\n`,
  );
  const rows: Array<[string, number[]]> = [
    ['empty app (baseline)', []],
    ['example app (bin/app.ts)', []],
  ];
  try {
    for (let i = 0; i < RUNS; i++) {
      rows[0][1].push(synth(`npx tsx ${empty}`, path.join(work, `out-empty-${i}`)));
      rows[1][1].push(synth('npx tsx bin/app.ts', path.join(work, `out-example-${i}`)));
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(rows[0][1]);
  const example = median(rows[1][1]);
  return [
    '## cdk synth time',
    '',
    `\`npx cdk synth\` through the CLI, ${RUNS} interleaved runs each, the slower of the two reported.`,
    '',
    '| app | runs (s) | reported (s) | × baseline |',
    '|---|---|---:|---:|',
    ...rows.map(
      ([name, xs]) => `| ${name} | ${xs.map((x) => x.toFixed(1)).join(', ')} | ${median(xs).toFixed(1)} | ${(median(xs) / base).toFixed(1)} |`,
    ),
    '',
    `Goal: example app under 30 s on 2 cores — ${example < 30 ? 'met' : 'NOT met'} (${example.toFixed(1)} s).`,
  ].join('\n');
}
