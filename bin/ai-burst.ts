#!/usr/bin/env node
/**
 * `ai-burst`: predict GPU spend before deploying, and replay a demand trace through this library's
 * scaling policy side by side with the usual alternatives. No AWS account needed.
 *
 *   ai-burst cost --docs-per-day 100 --gpu-hours-per-doc 0.2
 *   ai-burst simulate --trace jobs.csv --report out/
 *   ai-burst traces --out traces/
 *
 * Bad input prints one line naming the flag or file row and exits with code 2.
 */
import { fetchSpotPrices } from './live-prices';
import { REDRIVE_USAGE, redriveCommand } from './redrive-command';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, ParseArgsConfig } from 'node:util';
import { DEFAULT_COST_INSTANCE_TYPES, estimateCost, CostEstimate } from '../lib/cost/cost-model';
import { withLiveSpotPrices } from '../lib/cost/live-prices';
import { InputError, requireInteger, requireNumber } from '../lib/cost/errors';
import { knownRegions, Market, MARKETS, PRICE_SNAPSHOT } from '../lib/cost/pricing';
import { checkGoals } from '../lib/cost/simulator/goals';
import { POLICY_NAMES } from '../lib/cost/simulator/policies';
import { chartSvg } from '../lib/cost/simulator/report/svg';
import { runsTable, settingsLine, summaryMarkdown } from '../lib/cost/simulator/report/markdown';
import { parsePolicies, simulate, SimulationResult, toReport } from '../lib/cost/simulator/simulate';
import { standardTraces } from '../lib/cost/simulator/standard-traces';
import { parseTraceCsv, traceToCsv } from '../lib/cost/simulator/trace';

const USAGE = `ai-burst — GPU cost model and scaling simulator (prices are a dated snapshot; see --help of each command)

Usage:
  ai-burst cost --docs-per-day N --gpu-hours-per-doc H [options]
  ai-burst cost --tokens-per-day N --tokens-per-second TYPE=TPS[,TYPE=TPS…] [options]
      --instance-types a,b,…   instance types to price (default g4dn.xlarge,g5.xlarge,g6.xlarge,g6e.xlarge)
      --regions a,b,…          regions to price (default: every region of the snapshot)
      --markets a,b,…          spot,on-demand,1y,3y (default: all)
      --days-per-month D       days in a month (default 30)
      --spot-overhead X        extra GPU time on spot for redone work (default 0.05)
      --idle-overhead X        extra instance time for boot and idle tails (default 0.1)
      --top N                  rows in the table (default 20; --json lists all)
      --json                   print { gpuHoursPerDay, gpuHoursPerMonth, snapshotDate, options, cheapest, … }
      --live                   replace snapshot spot prices with DescribeSpotPriceHistory now (needs AWS
                               credentials with ec2:DescribeSpotPriceHistory; falls back to the snapshot, saying so)

  ai-burst simulate --trace FILE.csv [options]
      FILE.csv has the header arrival_s,gpu_seconds,priority,agent
      --policies a,b,…         ${POLICY_NAMES.join(',')} (default: all)
      --instance-type T        default g5.xlarge
      --region R               default us-east-1
      --max-instances N        default 16
      --boot-median-s S        default 180
      --boot-p95-s S           default 480
      --interruptions-per-hour R   spot interruptions per instance-hour (default 0.02)
      --missed-notice-share P  share of spot notices nobody sees (default 0.05)
      --wait-slo-s S           queue-wait SLO the policies aim at (default 300)
      --seed K                 random seed (default 1); same seed → same result
      --json                   print { runs: […], bounds: { costFloorUsd, p95WaitFloorS }, snapshotDate }
      --report DIR             write DIR/summary.md and one SVG chart per policy

  ai-burst traces --out DIR [--seed K]
      write the benchmark's standard trace set as CSV files

  ai-burst --help | -h
`;

type Values = Record<string, string | boolean | undefined>;

function parse(argv: string[], options: ParseArgsConfig['options']): Values {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false })
      .values as Values;
  } catch (err) {
    const message = String((err as Error).message).split('\n')[0];
    const ambiguous = /^Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
    if (ambiguous) throw new InputError(`${ambiguous[1]}: a value starting with "-" is not accepted (values are ≥ 0)`);
    // node:util's messages name the option; keep the first line only.
    throw new InputError(message);
  }
}

function list(v: string | boolean | undefined): string[] | undefined {
  if (typeof v !== 'string') return undefined;
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function num(v: string | boolean | undefined, flag: string, min = 0, exclusive = false): number | undefined {
  if (v === undefined) return undefined;
  return requireNumber(v, flag, min, exclusive);
}

async function costCommand(argv: string[], fetchPrices: typeof fetchSpotPrices = fetchSpotPrices): Promise<void> {
  const v = parse(argv, {
    'docs-per-day': { type: 'string' },
    'gpu-hours-per-doc': { type: 'string' },
    'tokens-per-day': { type: 'string' },
    'tokens-per-second': { type: 'string' },
    'instance-types': { type: 'string' },
    regions: { type: 'string' },
    markets: { type: 'string' },
    'days-per-month': { type: 'string' },
    'spot-overhead': { type: 'string' },
    'idle-overhead': { type: 'string' },
    top: { type: 'string' },
    json: { type: 'boolean' },
    live: { type: 'boolean' },
  });
  if (v.help) return void process.stdout.write(USAGE);
  let tokensPerSecond: Record<string, number> | undefined;
  if (typeof v['tokens-per-second'] === 'string') {
    tokensPerSecond = {};
    for (const pair of list(v['tokens-per-second']) ?? []) {
      const [type, value, extra] = pair.split('=');
      if (!type || value === undefined || extra !== undefined) {
        throw new InputError(`--tokens-per-second: expected TYPE=TPS pairs, got ${JSON.stringify(pair)}`);
      }
      tokensPerSecond[type] = requireNumber(value, `--tokens-per-second ${type}`, 0, true);
    }
  }
  const markets = list(v.markets);
  for (const m of markets ?? []) {
    if (!(MARKETS as readonly string[]).includes(m)) throw new InputError(`--markets: unknown market ${JSON.stringify(m)} (known: ${MARKETS.join(', ')})`);
  }
  let snapshot = PRICE_SNAPSHOT;
  if (v.live) {
    const regions = list(v.regions) ?? knownRegions(PRICE_SNAPSHOT);
    const types = list(v['instance-types']) ?? (tokensPerSecond ? Object.keys(tokensPerSecond) : [...DEFAULT_COST_INSTANCE_TYPES]);
    try {
      snapshot = withLiveSpotPrices(PRICE_SNAPSHOT, await fetchPrices(regions, types), new Date());
    } catch (err) {
      // No credentials, no permission, no network: the estimate still comes, from the snapshot, and says so.
      process.stderr.write(`ai-burst: --live: could not read spot prices (${(err as Error).name}: ${(err as Error).message}); using the snapshot of ${PRICE_SNAPSHOT.date}\n`);
    }
  }
  const estimate = estimateCost({
    snapshot,
    docsPerDay: num(v['docs-per-day'], '--docs-per-day', 0, true),
    gpuHoursPerDoc: num(v['gpu-hours-per-doc'], '--gpu-hours-per-doc', 0, true),
    tokensPerDay: num(v['tokens-per-day'], '--tokens-per-day', 0, true),
    tokensPerSecond,
    instanceTypes: list(v['instance-types']),
    regions: list(v.regions),
    markets: markets as Market[] | undefined,
    daysPerMonth: num(v['days-per-month'], '--days-per-month', 0, true),
    spotInterruptionOverhead: num(v['spot-overhead'], '--spot-overhead'),
    idleOverhead: num(v['idle-overhead'], '--idle-overhead'),
  });
  if (v.json) {
    process.stdout.write(`${JSON.stringify(estimate, null, 2)}\n`);
    return;
  }
  const top = v.top === undefined ? 20 : requireInteger(v.top, '--top', 1);
  process.stdout.write(costTable(estimate, top));
}

function costTable(e: CostEstimate, top: number): string {
  const lines = [
    `GPU-hours: ${e.gpuHoursPerDay} per day, ${e.gpuHoursPerMonth} per ${e.daysPerMonth}-day month   (prices: snapshot of ${e.snapshotDate})`,
    '',
    `${'instance type'.padEnd(16)}${'region'.padEnd(16)}${'market'.padEnd(11)}${'USD/h'.padStart(9)}${'inst-h/month'.padStart(14)}${'USD/month'.padStart(13)}`,
  ];
  for (const o of e.options.slice(0, top)) {
    lines.push(
      `${o.instanceType.padEnd(16)}${o.region.padEnd(16)}${o.market.padEnd(11)}${o.hourlyUsd.toFixed(4).padStart(9)}` +
        `${o.billedInstanceHoursPerMonth.toFixed(1).padStart(14)}${o.monthlyUsd.toFixed(2).padStart(13)}`,
    );
  }
  if (e.options.length > top) lines.push(`… ${e.options.length - top} more (--top N, or --json for all)`);
  lines.push('', `Cheapest: ${e.cheapest.instanceType} ${e.cheapest.region} ${e.cheapest.market} at $${e.cheapest.monthlyUsd.toFixed(2)}/month`, '', 'Assumptions:');
  for (const a of e.assumptions) lines.push(`  - ${a}`);
  return `${lines.join('\n')}\n`;
}

function progressBar(): { update: (label: string, share: number) => void; done: () => void } | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = '';
  return {
    update(label, share) {
      const width = 30;
      const filled = Math.round(share * width);
      const line = `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${label}`;
      if (line !== last) process.stderr.write(line);
      last = line;
    },
    done() {
      process.stderr.write(`\r${' '.repeat(last.length)}\r`);
    },
  };
}

function simulateCommand(argv: string[]): void {
  const v = parse(argv, {
    trace: { type: 'string' },
    policies: { type: 'string' },
    'instance-type': { type: 'string' },
    region: { type: 'string' },
    'max-instances': { type: 'string' },
    'boot-median-s': { type: 'string' },
    'boot-p95-s': { type: 'string' },
    'interruptions-per-hour': { type: 'string' },
    'missed-notice-share': { type: 'string' },
    'wait-slo-s': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    report: { type: 'string' },
  });
  if (v.help) return void process.stdout.write(USAGE);
  if (typeof v.trace !== 'string' || v.trace === '') throw new InputError('--trace: required (a CSV file with header arrival_s,gpu_seconds,priority,agent)');
  let text: string;
  try {
    text = readFileSync(v.trace, 'utf8');
  } catch (err) {
    throw new InputError(`--trace: cannot read ${JSON.stringify(v.trace)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const trace = parseTraceCsv(text, v.trace);
  const policies = parsePolicies(typeof v.policies === 'string' ? v.policies : undefined);
  const bar = progressBar();
  const result = simulate(trace, policies, {
    instanceType: typeof v['instance-type'] === 'string' ? v['instance-type'] : undefined,
    region: typeof v.region === 'string' ? v.region : undefined,
    maxInstances: v['max-instances'] === undefined ? undefined : requireInteger(v['max-instances'], '--max-instances', 1, 10000),
    bootMedianS: num(v['boot-median-s'], '--boot-median-s', 0, true),
    bootP95S: num(v['boot-p95-s'], '--boot-p95-s', 0, true),
    interruptionsPerHour: num(v['interruptions-per-hour'], '--interruptions-per-hour'),
    missedNoticeShare: num(v['missed-notice-share'], '--missed-notice-share'),
    waitSloS: num(v['wait-slo-s'], '--wait-slo-s', 0, true),
    seed: v.seed === undefined ? undefined : requireInteger(v.seed, '--seed', 0, 2 ** 32 - 1),
    onProgress: bar ? (share) => bar.update('simulating', share) : undefined,
  });
  bar?.done();
  if (typeof v.report === 'string') writeReport(v.report, result);
  if (v.json) {
    process.stdout.write(`${JSON.stringify(toReport(result), null, 2)}\n`);
    return;
  }
  const lines = [settingsLine(result), '', runsTable(result), ''];
  lines.push(`Bounds: cost floor $${result.bounds.costFloorUsd.toFixed(2)}, p95 wait floor ${result.bounds.p95WaitFloorS.toFixed(1)} s`);
  const goals = checkGoals(result, result.options.interruptionsPerHour >= 0.3);
  if (goals.length > 0) {
    lines.push('', 'ai-burst goals:');
    for (const g of goals) lines.push(`  ${g.met ? 'met    ' : 'NOT met'}  ${g.goal}: ${g.detail}`);
  }
  if (typeof v.report === 'string') lines.push('', `Report: ${join(v.report, 'summary.md')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function writeReport(dir: string, result: SimulationResult): void {
  try {
    mkdirSync(dir, { recursive: true });
    const charts: Record<string, string> = {};
    for (const d of result.details) {
      const file = `${d.policy}.svg`;
      writeFileSync(join(dir, file), chartSvg(d, `${d.policy}: backlog, instances, cumulative cost`));
      charts[d.policy] = file;
    }
    writeFileSync(join(dir, 'summary.md'), summaryMarkdown(result, 'ai-burst simulation', charts));
  } catch (err) {
    throw new InputError(`--report: cannot write to ${JSON.stringify(dir)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function tracesCommand(argv: string[]): void {
  const v = parse(argv, { out: { type: 'string' }, seed: { type: 'string' } });
  if (v.help) return void process.stdout.write(USAGE);
  if (typeof v.out !== 'string' || v.out === '') throw new InputError('--out: required (a directory)');
  const seed = v.seed === undefined ? 42 : requireInteger(v.seed, '--seed', 0, 2 ** 32 - 1);
  try {
    mkdirSync(v.out, { recursive: true });
    for (const t of standardTraces(seed)) {
      writeFileSync(join(v.out, `${t.name}.csv`), traceToCsv(t.trace));
      process.stdout.write(`${join(v.out, `${t.name}.csv`)}  ${t.trace.length} jobs  ${t.description}\n`);
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`--out: cannot write to ${JSON.stringify(v.out)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Exposed for tests: the cost command with an injected price fetcher. */
export { costCommand };

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'redrive':
        return await redriveCommand(rest);
      case 'cost':
        await costCommand(rest);
        return 0;
      case 'simulate':
        simulateCommand(rest);
        return 0;
      case 'traces':
        tracesCommand(rest);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n${REDRIVE_USAGE}`);
        return 0;
      default:
        throw new InputError(`unknown command ${JSON.stringify(command)} (expected cost, simulate, traces or redrive; see --help)`);
    }
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`ai-burst: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`ai-burst: internal error: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
