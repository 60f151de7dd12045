/**
 * The AWS-calling commands on a machine without AWS set-up: spawned with a clean environment (no region, no
 * credentials, no instance metadata), they say what is missing and how to provide it, and print no SDK warning.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const CLI = join(ROOT, 'tools', 'bin', 'ai-burst.ts');

function bare(...args: string[]): { code: number | null; stderr: string; stdout: string } {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  Object.assign(env, {
    AWS_CONFIG_FILE: join(ROOT, 'no-such-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(ROOT, 'no-such-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    FORCE_COLOR: '0',
  });
  const r = spawnSync(process.execPath, [TSX, CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60000, env });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('GIVEN no region THEN redrive says so and names --region and AWS_REGION, exit 2, one line', () => {
  const r = bare('redrive', '--function-name', 'agents-redrive');
  expect(r.stderr).toMatch(/^ai-burst: redrive: no AWS region: pass --region R or set AWS_REGION/);
  expect(r.stderr).not.toMatch(/internal error|NodeVersionSupportWarning/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.code).toBe(2);
});

test('GIVEN a region but no credentials THEN redrive says how to provide credentials, exit 2, one line', () => {
  const r = bare('redrive', '--function-name', 'agents-redrive', '--region', 'us-east-1');
  expect(r.stderr).toMatch(/^ai-burst: redrive: no AWS credentials .*AWS_PROFILE.*AWS_ACCESS_KEY_ID/);
  expect(r.stderr).not.toMatch(/internal error|NodeVersionSupportWarning/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.code).toBe(2);
});

test('GIVEN cost --live without credentials THEN one fallback line naming the fix, no SDK Node-version warning', () => {
  const r = bare('cost', '--docs-per-day', '100', '--gpu-hours-per-doc', '0.2', '--regions', 'us-east-1', '--live', '--json');
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(
    /^ai-burst: --live: could not read spot prices \(no AWS credentials .*AWS_PROFILE.*\); using the snapshot of \d{4}-\d{2}-\d{2}\n$/,
  );
  expect(JSON.parse(r.stdout).snapshotSource).not.toMatch(/LIVE/);
});
