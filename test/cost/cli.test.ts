import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const CLI = join(ROOT, 'tools', 'bin', 'ai-burst.ts');

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TSX, CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ai-burst-cli-'));
  const rows = ['arrival_s,gpu_seconds,priority,agent'];
  for (let i = 0; i < 6; i++) rows.push(`${i * 5},120,${i % 2 ? 'high' : 'normal'},agent-${i}`);
  writeFileSync(join(dir, 'ok.csv'), rows.join('\n') + '\n');
  writeFileSync(join(dir, 'bad-header.csv'), 'time,seconds\n0,1\n');
  writeFileSync(join(dir, 'bad-row.csv'), 'arrival_s,gpu_seconds,priority,agent\n0,10,high,a\n5,-3,high,a\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ai-burst CLI (spawned with tsx)', () => {
  test('--help prints the usage and exits 0', () => {
    const r = run('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ai-burst cost --docs-per-day N --gpu-hours-per-doc H/);
    expect(r.stdout).toMatch(/ai-burst simulate --trace FILE\.csv/);
  });

  test("cost --json gives the seed's example and the issue's shape", () => {
    const r = run('cost', '--docs-per-day', '100', '--gpu-hours-per-doc', '0.2', '--regions', 'us-east-1,eu-west-1', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ gpuHoursPerDay: 20, gpuHoursPerMonth: 600, snapshotDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    expect(out.options[0]).toEqual(
      expect.objectContaining({
        instanceType: expect.any(String),
        region: expect.any(String),
        market: expect.any(String),
        monthlyUsd: expect.any(Number),
      }),
    );
    expect(out.cheapest).toEqual(out.options[0]);
  });

  test('cost without --json prints a table with the snapshot date and the assumptions', () => {
    const r = run('cost', '--docs-per-day', '100', '--gpu-hours-per-doc', '0.2', '--days-per-month', '31');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/GPU-hours: 20 per day, 620 per 31-day month\s+\(prices: snapshot of \d{4}-\d{2}-\d{2}\)/);
    expect(r.stdout).toMatch(/Assumptions:/);
  });

  test('simulate --json prints runs and bounds; --report writes Markdown and one SVG per policy', () => {
    const report = join(dir, 'report');
    const r = run('simulate', '--trace', join(dir, 'ok.csv'), '--policies', 'ai-burst,poll-lambda', '--seed', '3', '--json', '--report', report);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(''); // no progress bar when stderr is not a TTY
    const out = JSON.parse(r.stdout);
    expect(out.runs.map((x: { policy: string }) => x.policy)).toEqual(['ai-burst', 'poll-lambda']);
    expect(Object.keys(out.runs[0]).sort()).toEqual(
      [
        'policy',
        'costUsd',
        'costVsStaticOnDemand',
        'p50WaitS',
        'p95WaitS',
        'maxWaitS',
        'p95WaitByPriority',
        'jobsCompleted',
        'jobsUnfinished',
        'jobsLost',
        'duplicateCompletions',
        'interruptions',
        'wastedGpuSeconds',
        'instanceHours',
        'busyGpuSeconds',
        'interruptedGpuSeconds',
        'bootGpuSeconds',
        'idleGpuSeconds',
        'billedGpuSeconds',
      ].sort(),
    );
    expect(Object.keys(out.bounds).sort()).toEqual(['costFloorUsd', 'p95WaitFloorS']);
    expect(readFileSync(join(report, 'summary.md'), 'utf8')).toMatch(/\| ai-burst \|/);
    for (const p of ['ai-burst', 'poll-lambda']) {
      const svg = readFileSync(join(report, `${p}.svg`), 'utf8');
      expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      expect(svg.match(/<path /g)!.length).toBe(4); // backlog, instances, busy, cost
    }
    expect(existsSync(join(report, 'target-tracking.svg'))).toBe(false);
  });

  test.each([
    [['simulate', '--trace', 'missing.csv'], /^ai-burst: --trace: cannot read "missing\.csv" \(ENOENT\)\n$/],
    [['simulate', '--trace', '@DIR/bad-header.csv'], /bad-header\.csv line 1: expected header arrival_s,gpu_seconds,priority,agent/],
    [['simulate', '--trace', '@DIR/bad-row.csv'], /bad-row\.csv line 3: gpu_seconds must be a number > 0, got "-3"/],
    [['simulate', '--trace', '@DIR/ok.csv', '--policies', 'ai-burst,magic'], /--policies: unknown policy "magic"/],
    [['simulate', '--trace', '@DIR/ok.csv', '--instance-type', 'x9.huge'], /--instance-type: unknown instance type "x9.huge"/],
    [['simulate', '--trace', '@DIR/ok.csv', '--max-instances', 'many'], /--max-instances: expected a decimal number, got "many"/],
    [['cost', '--docs-per-day', '-5', '--gpu-hours-per-doc', '1'], /--docs-per-day: expected a number > 0, got -5/],
    [['cost', '--docs-per-day=abc', '--gpu-hours-per-doc', '1'], /--docs-per-day: expected a decimal number, got "abc"/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('bad input %p → one line on stderr naming the flag or row, exit code 2, no stack trace', (args, message) => {
    const r = run(...args.map((a) => a.replace('@DIR', dir)));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
