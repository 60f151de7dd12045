import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../tools/bin/ai-burst';

/** Runs the CLI in-process and captures what it writes. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((c) => {
    out.push(String(c));
    return true;
  });
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((c) => {
    err.push(String(c));
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const DOCS = ['--docs-per-day', '100', '--gpu-hours-per-doc', '0.2'];
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ai-burst-cli-truth-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('each command --help prints its own usage', () => {
  test.each<[string, RegExp, RegExp]>([
    ['cost', /^Usage: ai-burst cost /, /ai-burst simulate|--trace|--function-name/],
    ['simulate', /^Usage: ai-burst simulate --trace FILE\.csv/, /--docs-per-day|--function-name|ai-burst traces/],
    ['traces', /^Usage: ai-burst traces --out DIR/, /--docs-per-day|--trace FILE|--function-name/],
    ['redrive', /^Usage: ai-burst redrive --function-name NAME/, /--docs-per-day|--trace FILE/],
  ])('GIVEN `%s --help` THEN only that command’s usage, exit 0', async (command, own, others) => {
    for (const flag of ['--help', '-h']) {
      const r = await cli(command, flag);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(own);
      expect(r.stdout).not.toMatch(others);
    }
  });

  test('GIVEN --help alone THEN every command is listed', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    for (const c of ['cost', 'simulate', 'traces', 'redrive']) expect(r.stdout).toMatch(new RegExp(`ai-burst ${c} `));
  });
});

describe('bad flags get a message that names the flag and the fix', () => {
  test.each<[string, string[], RegExp]>([
    ['a benchmark flag without its partner', ['cost', '--docs-per-day', '100'], /^ai-burst: --gpu-hours-per-doc: required with --docs-per-day/],
    [
      'a flag at the end without its value',
      ['cost', '--gpu-hours-per-doc', '1', '--docs-per-day'],
      /^ai-burst: --docs-per-day: missing its value\n$/,
    ],
    [
      'a flag followed by the next flag',
      ['cost', '--docs-per-day', '--gpu-hours-per-doc', '1'],
      /^ai-burst: --docs-per-day: missing its value \(found the next flag --gpu-hours-per-doc instead\)\n$/,
    ],
    [
      'a hexadecimal number',
      ['cost', '--docs-per-day', '0x10', '--gpu-hours-per-doc', '1'],
      /^ai-burst: --docs-per-day: expected a decimal number, got "0x10"\n$/,
    ],
    ['--top 0', ['cost', ...DOCS, '--top', '0'], /^ai-burst: --top: expected an integer ≥ 1, got 0\n$/],
    ['--seed in hex', ['traces', '--out', '/tmp/x', '--seed', '0x1'], /^ai-burst: --seed: expected a decimal number, got "0x1"\n$/],
  ])('%s', async (_name, args, expected) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(expected);
    expect(r.stderr).not.toMatch(/undefined|9007199254740991/);
  });

  test('GIVEN -5 as a separate argument or after = THEN the same message', async () => {
    const a = await cli('cost', '--docs-per-day', '-5', '--gpu-hours-per-doc', '1');
    const b = await cli('cost', '--docs-per-day=-5', '--gpu-hours-per-doc', '1');
    expect(a.stderr).toBe('ai-burst: --docs-per-day: expected a number > 0, got -5\n');
    expect(b.stderr).toBe(a.stderr);
    expect([a.code, b.code]).toEqual([2, 2]);
  });
});

describe('cost: token benchmark figures', () => {
  const TOKENS = ['cost', '--tokens-per-day', '36000000', '--tokens-per-second', 'g5.xlarge=1000,g6e.xlarge=2500', '--regions', 'us-east-1'];

  test('GIVEN two measured types THEN the header gives the GPU-hours of each type, not the cheapest one’s as the total', async () => {
    const r = await cli(...TOKENS);
    expect(r.code).toBe(0);
    const header = r.stdout.split('\n')[0];
    expect(header).toMatch(/GPU-hours per day by instance type: g5\.xlarge 10, g6e\.xlarge 4\b/);
    expect(header).not.toMatch(/^GPU-hours: \d+ per day/);
  });

  test('GIVEN --json THEN gpuHoursPerDayByType holds each type', async () => {
    const r = await cli(...TOKENS, '--json');
    const e = JSON.parse(r.stdout);
    expect(e.benchmark).toBe('tokens');
    expect(e.gpuHoursPerDayByType).toEqual({ 'g5.xlarge': 10, 'g6e.xlarge': 4 });
  });
});

describe('cost: types the model server cannot use', () => {
  test('GIVEN the defaults THEN no g4dn (T4) type is priced', async () => {
    const e = JSON.parse((await cli('cost', ...DOCS, '--json')).stdout);
    expect(e.options.filter((o: { instanceType: string }) => o.instanceType.startsWith('g4dn'))).toEqual([]);
  });

  test('GIVEN g4dn asked for with the default vLLM server THEN it is marked and never the cheapest', async () => {
    const args = ['cost', ...DOCS, '--instance-types', 'g4dn.xlarge,g5.xlarge', '--regions', 'us-east-1', '--markets', 'spot'];
    const text = await cli(...args);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^g4dn\.xlarge .*✗/m);
    expect(text.stdout).toMatch(/✗ vLLM .*T4/);
    expect(text.stdout).toMatch(/^Cheapest: g5\.xlarge /m);
    const e = JSON.parse((await cli(...args, '--json')).stdout);
    expect(e.options[0]).toMatchObject({ instanceType: 'g4dn.xlarge', modelServerSupported: false });
    expect(e.cheapest).toMatchObject({ instanceType: 'g5.xlarge', modelServerSupported: true });
  });

  test('GIVEN --model-server custom THEN g4dn is usable and can be the cheapest', async () => {
    const r = await cli(
      'cost',
      ...DOCS,
      '--instance-types',
      'g4dn.xlarge,g5.xlarge',
      '--regions',
      'us-east-1',
      '--markets',
      'spot',
      '--model-server',
      'custom',
      '--json',
    );
    expect(JSON.parse(r.stdout).cheapest).toMatchObject({ instanceType: 'g4dn.xlarge', modelServerSupported: true });
  });

  test('GIVEN only g4dn with vLLM THEN it fails naming the flag and the way out', async () => {
    const r = await cli('cost', ...DOCS, '--instance-types', 'g4dn.xlarge');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ai-burst: --instance-types: no type the vLLM model server can run .*--model-server custom/);
  });
});

describe('a trace carries its own interruption rate', () => {
  test('GIVEN `traces --out` THEN stress.csv says its settings and `simulate --trace stress.csv` runs at 0.3 per instance-hour', async () => {
    const out = join(dir, 'traces');
    expect((await cli('traces', '--out', out)).code).toBe(0);
    const csv = readFileSync(join(out, 'stress.csv'), 'utf8');
    expect(csv.split('\n').slice(0, 3).join('\n')).toMatch(/^# ai-burst simulate --interruptions-per-hour 0\.3 --missed-notice-share 0\.05$/m);
    // Same settings line, a small trace: the rate comes from the file, a flag overrides it.
    const small = `${csv
      .split('\n')
      .filter((l) => l.startsWith('#'))
      .join('\n')}\narrival_s,gpu_seconds,priority,agent\n0,60,high,a\n10,60,normal,b\n`;
    writeFileSync(join(dir, 'small-stress.csv'), small);
    const r = await cli('simulate', '--trace', join(dir, 'small-stress.csv'), '--policies', 'ai-burst');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/0\.3 interruptions per instance-hour \(5 % notices missed\)/);
    expect(r.stdout).toMatch(/^Settings from the trace: --interruptions-per-hour 0\.3 --missed-notice-share 0\.05 \(a flag overrides them\)$/m);
    const o = await cli('simulate', '--trace', join(dir, 'small-stress.csv'), '--policies', 'ai-burst', '--interruptions-per-hour', '0.1');
    expect(o.stdout).toMatch(/0\.1 interruptions per instance-hour/);
  });

  test('GIVEN a settings line with an unknown flag THEN the file and line are named', async () => {
    writeFileSync(join(dir, 'bad-settings.csv'), '# ai-burst simulate --max-instances 4\narrival_s,gpu_seconds,priority,agent\n0,1,high,a\n');
    const r = await cli('simulate', '--trace', join(dir, 'bad-settings.csv'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-settings\.csv line 1: unknown flag --max-instances .*--interruptions-per-hour, --missed-notice-share/);
  });
});

describe('simulate --report: charts share one time axis', () => {
  test('GIVEN two policies that end at different times THEN their charts have the same round time ticks and axis titles', async () => {
    const trace = ['arrival_s,gpu_seconds,priority,agent', ...Array.from({ length: 12 }, (_, i) => `${i * 600},300,normal,a`)].join('\n');
    writeFileSync(join(dir, 'chart.csv'), `${trace}\n`);
    const report = join(dir, 'report');
    const r = await cli('simulate', '--trace', join(dir, 'chart.csv'), '--policies', 'ai-burst,static-on-demand,poll-lambda', '--report', report);
    expect(r.code).toBe(0);
    const ticks = ['ai-burst', 'static-on-demand', 'poll-lambda'].map((p) => {
      const svg = readFileSync(join(report, `${p}.svg`), 'utf8');
      expect(svg).toMatch(/<text[^>]*class="axis-title"[^>]*>time from the trace start \((h|min)\)<\/text>/);
      expect(svg).toMatch(/class="axis-title"[^>]*>jobs</);
      expect(svg).toMatch(/class="axis-title"[^>]*>USD</);
      return [...svg.matchAll(/<text x="([\d.]+)"[^>]*class="x-tick"[^>]*>([^<]*)</g)].map((m) => `${m[1]}:${m[2]}`);
    });
    expect(ticks[0].length).toBeGreaterThanOrEqual(3);
    expect(ticks[1]).toEqual(ticks[0]);
    expect(ticks[2]).toEqual(ticks[0]);
    for (const t of ticks[0]) expect(t.split(':')[1]).toMatch(/^\d+$/); // whole units; the unit is in the axis title
  });
});

test('GIVEN simulate on a g4dn type THEN a note says the default vLLM server cannot run there', async () => {
  writeFileSync(join(dir, 'one.csv'), 'arrival_s,gpu_seconds,priority,agent\n0,60,high,a\n');
  const r = await cli('simulate', '--trace', join(dir, 'one.csv'), '--policies', 'ai-burst', '--instance-type', 'g4dn.xlarge', '--json');
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/^ai-burst: note: --instance-type g4dn\.xlarge \(T4\): vLLM's V1 engine .* a custom ModelServer\n$/);
  const ok = await cli('simulate', '--trace', join(dir, 'one.csv'), '--policies', 'ai-burst', '--json');
  expect(ok.stderr).toBe('');
});
