#!/usr/bin/env node
/**
 * `ai-burst`: predict GPU spend before deploying, and replay a demand trace through this library's
 * scaling policy side by side with the usual alternatives. No AWS account needed (but for `--live`,
 * `redrive` and `stage-model`).
 *
 *   ai-burst cost --docs-per-day 100 --gpu-hours-per-doc 0.2
 *   ai-burst simulate --trace jobs.csv --report out/
 *   ai-burst traces --out traces/
 *   ai-burst stage-model --model Qwen/Qwen2.5-7B-Instruct --s3 s3://my-models/qwen2.5-7b
 *
 * Bad input or set-up prints one line naming the flag, file line or missing setting and exits with code 2.
 */
import { awsSetupProblem } from './aws-errors';
import { fetchSpotPrices } from './live-prices';
import { redriveCommand } from './redrive-command';
import { stageModelCommand } from './stage-model';
import { COST_USAGE, OVERVIEW, SIMULATE_USAGE, TRACES_USAGE } from './usage';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flagList, flagString, FlagValues, parseFlags } from '../cost/cli-args';
import { DEFAULT_COST_INSTANCE_TYPES, estimateCost } from '../cost/cost-model';
import { costTable } from '../cost/cost-table';
import { withLiveSpotPrices } from '../cost/live-prices';
import { InputError, requireInteger, requireNumber } from '../cost/errors';
import { COST_MODEL_SERVERS, CostModelServer, modelServerCannotRun } from '../cost/model-server-fit';
import { instancePrice, knownRegions, Market, MARKETS, PRICE_SNAPSHOT } from '../../lib/cost/pricing';
import { checkGoals } from '../cost/simulator/goals';
import { chartSvg, sharedTimeAxis } from '../cost/simulator/report/svg';
import { runsTable, settingsLine, summaryMarkdown } from '../cost/simulator/report/markdown';
import { parsePolicies, simulate, SimulationResult, toReport } from '../cost/simulator/simulate';
import { standardTraces } from '../cost/simulator/standard-traces';
import { parseTraceFile, traceSettingsLine, TraceSettings, traceToCsv } from '../cost/simulator/trace';

function num(v: FlagValues[string], flag: string, min = 0, exclusive = false): number | undefined {
  return v === undefined ? undefined : requireNumber(v, flag, min, exclusive);
}

async function costCommand(argv: string[], fetchPrices: typeof fetchSpotPrices = fetchSpotPrices): Promise<void> {
  const v = parseFlags(
    argv,
    {
      'docs-per-day': 'string',
      'gpu-hours-per-doc': 'string',
      'tokens-per-day': 'string',
      'tokens-per-second': 'string',
      'instance-types': 'string',
      'model-server': 'string',
      regions: 'string',
      markets: 'string',
      'days-per-month': 'string',
      'spot-overhead': 'string',
      'idle-overhead': 'string',
      top: 'string',
      json: 'boolean',
      live: 'boolean',
    },
    'ai-burst cost',
  );
  if (v.help) return void process.stdout.write(COST_USAGE);
  let tokensPerSecond: Record<string, number> | undefined;
  if (typeof v['tokens-per-second'] === 'string') {
    tokensPerSecond = {};
    for (const pair of flagList(v['tokens-per-second']) ?? []) {
      const [type, value, extra] = pair.split('=');
      if (!type || value === undefined || extra !== undefined) {
        throw new InputError(`--tokens-per-second: expected TYPE=TPS pairs, got ${JSON.stringify(pair)}`);
      }
      tokensPerSecond[type] = requireNumber(value, `--tokens-per-second ${type}`, 0, true);
    }
  }
  const markets = flagList(v.markets);
  for (const m of markets ?? []) {
    if (!(MARKETS as readonly string[]).includes(m)) {
      throw new InputError(`--markets: unknown market ${JSON.stringify(m)} (known: ${MARKETS.join(', ')})`);
    }
  }
  const modelServer = flagString(v['model-server']);
  if (modelServer !== undefined && !(COST_MODEL_SERVERS as readonly string[]).includes(modelServer)) {
    throw new InputError(`--model-server: expected ${COST_MODEL_SERVERS.join(' or ')}, got ${JSON.stringify(modelServer)}`);
  }
  // Validated before --live so bad input fails at once, not after a round trip to EC2.
  const top = v.top === undefined ? 20 : requireInteger(v.top, '--top', 1);
  const input = {
    docsPerDay: num(v['docs-per-day'], '--docs-per-day', 0, true),
    gpuHoursPerDoc: num(v['gpu-hours-per-doc'], '--gpu-hours-per-doc', 0, true),
    tokensPerDay: num(v['tokens-per-day'], '--tokens-per-day', 0, true),
    tokensPerSecond,
    instanceTypes: flagList(v['instance-types']),
    regions: flagList(v.regions),
    markets: markets as Market[] | undefined,
    modelServer: modelServer as CostModelServer | undefined,
    daysPerMonth: num(v['days-per-month'], '--days-per-month', 0, true),
    spotInterruptionOverhead: num(v['spot-overhead'], '--spot-overhead'),
    idleOverhead: num(v['idle-overhead'], '--idle-overhead'),
  };
  let estimate = estimateCost(input);
  if (v.live) {
    const regions = input.regions ?? knownRegions(PRICE_SNAPSHOT);
    const types = input.instanceTypes ?? (tokensPerSecond ? Object.keys(tokensPerSecond) : [...DEFAULT_COST_INSTANCE_TYPES]);
    try {
      estimate = estimateCost({ ...input, snapshot: withLiveSpotPrices(PRICE_SNAPSHOT, await fetchPrices(regions, types), new Date()) });
    } catch (err) {
      if (err instanceof InputError) throw err;
      // No credentials, no permission, no network: the estimate still comes, from the snapshot, and says why.
      const why = awsSetupProblem(err, 'ec2:DescribeSpotPriceHistory') ?? `${(err as Error).name}: ${(err as Error).message}`;
      process.stderr.write(`ai-burst: --live: could not read spot prices (${why}); using the snapshot of ${PRICE_SNAPSHOT.date}\n`);
    }
  }
  if (v.json) {
    process.stdout.write(`${JSON.stringify(estimate, null, 2)}\n`);
    return;
  }
  process.stdout.write(costTable(estimate, top));
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
  const v = parseFlags(
    argv,
    {
      trace: 'string',
      policies: 'string',
      'instance-type': 'string',
      region: 'string',
      'max-instances': 'string',
      'boot-median-s': 'string',
      'boot-p95-s': 'string',
      'interruptions-per-hour': 'string',
      'missed-notice-share': 'string',
      'wait-slo-s': 'string',
      seed: 'string',
      json: 'boolean',
      report: 'string',
    },
    'ai-burst simulate',
  );
  if (v.help) return void process.stdout.write(SIMULATE_USAGE);
  const file = flagString(v.trace);
  if (!file) throw new InputError('--trace: required (a CSV file with header arrival_s,gpu_seconds,priority,agent)');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`--trace: cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const { jobs: trace, settings } = parseTraceFile(text, file);
  // The trace's own settings apply unless a flag says otherwise.
  const fromTrace: TraceSettings = {
    ...(v['interruptions-per-hour'] === undefined ? { interruptionsPerHour: settings.interruptionsPerHour } : {}),
    ...(v['missed-notice-share'] === undefined ? { missedNoticeShare: settings.missedNoticeShare } : {}),
  };
  const policies = parsePolicies(flagString(v.policies));
  const report = flagString(v.report);
  const bar = progressBar();
  const result = simulate(trace, policies, {
    instanceType: flagString(v['instance-type']),
    region: flagString(v.region),
    maxInstances: v['max-instances'] === undefined ? undefined : requireInteger(v['max-instances'], '--max-instances', 1, 10000),
    bootMedianS: num(v['boot-median-s'], '--boot-median-s', 0, true),
    bootP95S: num(v['boot-p95-s'], '--boot-p95-s', 0, true),
    interruptionsPerHour: num(v['interruptions-per-hour'], '--interruptions-per-hour') ?? fromTrace.interruptionsPerHour,
    missedNoticeShare: num(v['missed-notice-share'], '--missed-notice-share') ?? fromTrace.missedNoticeShare,
    waitSloS: num(v['wait-slo-s'], '--wait-slo-s', 0, true),
    seed: v.seed === undefined ? undefined : requireInteger(v.seed, '--seed', 0, 2 ** 32 - 1),
    onProgress: bar ? (share) => bar.update('simulating', share) : undefined,
  });
  bar?.done();
  const gpu = instancePrice(result.options.instanceType, result.options.region, result.options.snapshot)?.gpuModel ?? '';
  const cannotRun = modelServerCannotRun('vllm', gpu);
  if (cannotRun) {
    process.stderr.write(
      `ai-burst: note: --instance-type ${result.options.instanceType} (${gpu}): ${cannotRun}; ` + 'the fleet needs a custom ModelServer\n',
    );
  }
  if (report) writeReport(report, result);
  if (v.json) {
    process.stdout.write(`${JSON.stringify(toReport(result), null, 2)}\n`);
    return;
  }
  const lines = [settingsLine(result)];
  const traceLine = traceSettingsLine(fromTrace);
  if (traceLine) lines.push(`Settings from the trace: ${traceLine.replace(/^# ai-burst simulate /, '')} (a flag overrides them)`);
  lines.push('', runsTable(result), '');
  lines.push(`Bounds: cost floor $${result.bounds.costFloorUsd.toFixed(2)}, p95 wait floor ${result.bounds.p95WaitFloorS.toFixed(1)} s`);
  const goals = checkGoals(result, result.options.interruptionsPerHour >= 0.3);
  if (goals.length > 0) {
    lines.push('', 'ai-burst goals:');
    for (const g of goals) lines.push(`  ${g.met ? 'met    ' : 'NOT met'}  ${g.goal}: ${g.detail}`);
  }
  if (report) lines.push('', `Report: ${join(report, 'summary.md')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function writeReport(dir: string, result: SimulationResult): void {
  try {
    mkdirSync(dir, { recursive: true });
    const charts: Record<string, string> = {};
    const axis = sharedTimeAxis(result.details);
    for (const d of result.details) {
      const file = `${d.policy}.svg`;
      writeFileSync(join(dir, file), chartSvg(d, `${d.policy}: backlog, instances, cumulative cost`, axis));
      charts[d.policy] = file;
    }
    writeFileSync(join(dir, 'summary.md'), summaryMarkdown(result, 'ai-burst simulation', charts));
  } catch (err) {
    throw new InputError(`--report: cannot write to ${JSON.stringify(dir)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function tracesCommand(argv: string[]): void {
  const v = parseFlags(argv, { out: 'string', seed: 'string' }, 'ai-burst traces');
  if (v.help) return void process.stdout.write(TRACES_USAGE);
  const out = flagString(v.out);
  if (!out) throw new InputError('--out: required (a directory)');
  const seed = v.seed === undefined ? 42 : requireInteger(v.seed, '--seed', 0, 2 ** 32 - 1);
  try {
    mkdirSync(out, { recursive: true });
    for (const t of standardTraces(seed)) {
      writeFileSync(join(out, `${t.name}.csv`), traceToCsv(t.trace, t.settings, `${t.name}: ${t.description}`));
      process.stdout.write(`${join(out, `${t.name}.csv`)}  ${t.trace.length} jobs  ${t.description}\n`);
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`--out: cannot write to ${JSON.stringify(out)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
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
      case 'stage-model':
        return await stageModelCommand(rest);
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
        process.stdout.write(OVERVIEW);
        return 0;
      default:
        throw new InputError(`unknown command ${JSON.stringify(command)} (expected cost, simulate, traces, redrive or stage-model; see --help)`);
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
  // The SDK warns on Node < 22 about SDK releases after early 2027; the SDK this package installs supports
  // the Node 20 that `engines` allows, so the warning would only bury the CLI's one-line answer (see README,
  // "Node.js versions"). An explicit value of the variable wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
