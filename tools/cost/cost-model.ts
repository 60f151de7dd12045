/**
 * The cost model: from a benchmark to GPU-hours and a monthly bill per instance type, region and purchase
 * option, cheapest first, with every assumption written out.
 *
 * Two kinds of benchmark:
 * - documents: `docsPerDay` × `gpuHoursPerDoc` GPU-hours a day (the seed's "100 documents a day at 2
 *   GPU-hours per 10 documents = 20 GPU-hours a day = 600 a month"); a GPU-hour is taken as equal on every
 *   GPU model, and an instance with n GPUs does n GPU-hours per hour;
 * - tokens: `tokensPerDay` and measured `tokensPerSecond` per instance type (the whole instance); only the
 *   measured types are priced.
 */
import { InputError, requireNumber } from './errors';
import { CostModelServer, modelServerCannotRun } from './model-server-fit';
import { hourlyPrice, instancePrice, knownRegions, Market, MARKETS, PRICE_SNAPSHOT, PriceSnapshot } from '../../lib/cost/pricing';

/**
 * Instance types priced when none are given: the one-GPU size of each common family the default vLLM
 * server runs on (not g4dn: its T4 lacks vLLM V1 support, as for the GpuFleet's defaults).
 */
export const DEFAULT_COST_INSTANCE_TYPES: readonly string[] = ['g5.xlarge', 'g6.xlarge', 'g6e.xlarge'];

export interface CostModelInput {
  /** Documents processed per day (documents benchmark). */
  readonly docsPerDay?: number;
  /** GPU-hours one document takes (2 GPU-hours per 10 documents = 0.2). */
  readonly gpuHoursPerDoc?: number;
  /** Tokens processed per day (tokens benchmark). */
  readonly tokensPerDay?: number;
  /** Measured tokens/s of one whole instance, per instance type (tokens benchmark). */
  readonly tokensPerSecond?: Readonly<Record<string, number>>;
  /** @default DEFAULT_COST_INSTANCE_TYPES (documents) or the measured types (tokens) */
  readonly instanceTypes?: readonly string[];
  /** @default every region of the snapshot */
  readonly regions?: readonly string[];
  /** @default all four markets */
  readonly markets?: readonly Market[];
  /** @default 30 */
  readonly daysPerMonth?: number;
  /**
   * Extra GPU time on spot for work redone after interruptions (a job restarts from the beginning on
   * another instance). 0.05 = 5 %.
   * @default 0.05
   */
  readonly spotInterruptionOverhead?: number;
  /**
   * Extra instance time of a fleet that scales to zero, for boot before the first job and the idle
   * window after the last (spot and on-demand only; commitments are billed around the clock anyway).
   * @default 0.1
   */
  readonly idleOverhead?: number;
  /**
   * The fleet's model server: `vllm` (the default `ModelServer.vllm()`) marks types it cannot run on and
   * never names them cheapest; `custom` (your own container or commands) prices every type alike.
   * @default 'vllm'
   */
  readonly modelServer?: CostModelServer;
  /** @default PRICE_SNAPSHOT */
  readonly snapshot?: PriceSnapshot;
}

export interface CostOption {
  readonly instanceType: string;
  readonly region: string;
  readonly market: Market;
  readonly monthlyUsd: number;
  /** Instance-hours billed per month for this option (commitments: every hour of the committed instances). */
  readonly billedInstanceHoursPerMonth: number;
  /** USD per instance-hour on this market. */
  readonly hourlyUsd: number;
  readonly gpus: number;
  /** NVIDIA part, e.g. `A10G`. */
  readonly gpuModel: string;
  /** GPU-hours of work per month on this instance type. */
  readonly gpuHoursPerMonth: number;
  /** False when the chosen model server cannot run on this type's GPU (see the assumptions for why). */
  readonly modelServerSupported: boolean;
}

export interface CostEstimate {
  /** Which benchmark the figures come from. */
  readonly benchmark: 'documents' | 'tokens';
  /**
   * GPU-hours of work per day. Documents: the same on every type. Tokens: on the cheapest option's type
   * (each type differs; see `gpuHoursPerDayByType`).
   */
  readonly gpuHoursPerDay: number;
  /** GPU-hours of work per day on each priced instance type. */
  readonly gpuHoursPerDayByType: Readonly<Record<string, number>>;
  readonly gpuHoursPerMonth: number;
  readonly daysPerMonth: number;
  readonly snapshotDate: string;
  readonly snapshotSource: string;
  /** The model server the types were checked against. */
  readonly modelServer: CostModelServer;
  /** Cheapest first (types the model server cannot run included, marked `modelServerSupported: false`). */
  readonly options: CostOption[];
  /** The cheapest option the model server can run. */
  readonly cheapest: CostOption;
  /** Every assumption behind the numbers, one sentence each. */
  readonly assumptions: string[];
}

/** Rounds away binary noise (0.1 × 3) without hiding real cents. */
function clean(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/** A benchmark input that needs its partner: required, naming both flags, when only the partner was given. */
function partner<T>(value: T | undefined, flag: string, other: string, what: string): T {
  if (value === undefined) throw new InputError(`${flag}: required with ${other} (${what})`);
  return value;
}

function cents(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Estimates the monthly cost of a benchmark on every requested instance type, region and market. */
export function estimateCost(input: CostModelInput): CostEstimate {
  const snapshot = input.snapshot ?? PRICE_SNAPSHOT;
  const daysPerMonth = requireNumber(input.daysPerMonth ?? 30, '--days-per-month', 0, true);
  if (daysPerMonth > 31) throw new InputError(`--days-per-month: expected at most 31, got ${daysPerMonth}`);
  const spotOverhead = requireNumber(input.spotInterruptionOverhead ?? 0.05, '--spot-overhead', 0);
  const idleOverhead = requireNumber(input.idleOverhead ?? 0.1, '--idle-overhead', 0);
  const markets = input.markets ?? MARKETS;
  const regions = input.regions ?? knownRegions(snapshot);
  if (regions.length === 0) throw new InputError('--regions: expected at least one region');

  const modelServer = input.modelServer ?? 'vllm';
  const byDocs = input.docsPerDay !== undefined || input.gpuHoursPerDoc !== undefined;
  const byTokens = input.tokensPerDay !== undefined || input.tokensPerSecond !== undefined;
  if (byDocs === byTokens) {
    throw new InputError('benchmark: give either --docs-per-day with --gpu-hours-per-doc, or --tokens-per-day with --tokens-per-second');
  }

  /** Instance-hours per day of work on one instance type. */
  let instanceHoursPerDay: (type: string, gpus: number) => number;
  let types: readonly string[];
  let docsGpuHoursPerDay: number | undefined;
  if (byDocs) {
    const docsGiven = partner(input.docsPerDay, '--docs-per-day', '--gpu-hours-per-doc', 'documents a day');
    const perDocGiven = partner(input.gpuHoursPerDoc, '--gpu-hours-per-doc', '--docs-per-day', 'GPU-hours one document takes, e.g. 0.2');
    const docs = requireNumber(docsGiven, '--docs-per-day', 0, true);
    const perDoc = requireNumber(perDocGiven, '--gpu-hours-per-doc', 0, true);
    const gpuHoursPerDay = clean(docs * perDoc);
    docsGpuHoursPerDay = gpuHoursPerDay;
    instanceHoursPerDay = (_type, gpus) => gpuHoursPerDay / gpus;
    types = input.instanceTypes ?? DEFAULT_COST_INSTANCE_TYPES;
  } else {
    const tokensGiven = partner(input.tokensPerDay, '--tokens-per-day', '--tokens-per-second', 'tokens processed a day');
    const tokens = requireNumber(tokensGiven, '--tokens-per-day', 0, true);
    const tps = partner(input.tokensPerSecond, '--tokens-per-second', '--tokens-per-day', 'measured TYPE=TPS pairs, e.g. g5.xlarge=1000');
    for (const [type, v] of Object.entries(tps)) requireNumber(v, `--tokens-per-second ${type}`, 0, true);
    types = input.instanceTypes ?? Object.keys(tps);
    const unmeasured = types.filter((t) => tps[t] === undefined);
    if (types.length === 0 || unmeasured.length > 0) {
      throw new InputError(`--tokens-per-second: no measurement for ${unmeasured.length ? unmeasured.join(', ') : 'any instance type'}`);
    }
    instanceHoursPerDay = (type) => tokens / (tps[type] * 3600);
  }
  if (types.length === 0) throw new InputError('--instance-types: expected at least one instance type');
  for (const region of regions) {
    if (!snapshot.regions[region]) throw new InputError(`--regions: unknown region ${JSON.stringify(region)}`);
  }
  for (const type of types) {
    if (!regions.some((r) => instancePrice(type, r, snapshot))) {
      throw new InputError(`--instance-types: unknown instance type ${JSON.stringify(type)} (not in the price snapshot)`);
    }
  }

  const options: CostOption[] = [];
  const gpuHoursPerDayByType: Record<string, number> = {};
  const cannotRun = new Map<string, string>();
  for (const type of types) {
    for (const region of regions) {
      const row = instancePrice(type, region, snapshot);
      if (!row) continue;
      const instHPerDay = instanceHoursPerDay(type, row.gpus);
      gpuHoursPerDayByType[type] = clean(instHPerDay * row.gpus);
      const why = modelServerCannotRun(modelServer, row.gpuModel);
      if (why) cannotRun.set(`${type} (${row.gpuModel})`, why);
      const instHPerMonth = instHPerDay * daysPerMonth;
      for (const market of markets) {
        const hourly = hourlyPrice(type, region, market, snapshot)!;
        let billed: number;
        if (market === 'spot') billed = instHPerMonth * (1 + spotOverhead) * (1 + idleOverhead);
        else if (market === 'on-demand') billed = instHPerMonth * (1 + idleOverhead);
        else billed = Math.max(1, Math.ceil(instHPerDay / 24 - 1e-9)) * 24 * daysPerMonth;
        options.push({
          instanceType: type,
          region,
          market,
          monthlyUsd: cents(billed * hourly),
          billedInstanceHoursPerMonth: clean(billed),
          hourlyUsd: hourly,
          gpus: row.gpus,
          gpuModel: row.gpuModel,
          gpuHoursPerMonth: clean(instHPerMonth * row.gpus),
          modelServerSupported: why === undefined,
        });
      }
    }
  }
  options.sort(
    (a, b) =>
      a.monthlyUsd - b.monthlyUsd ||
      MARKETS.indexOf(a.market) - MARKETS.indexOf(b.market) ||
      a.instanceType.localeCompare(b.instanceType) ||
      a.region.localeCompare(b.region),
  );
  const cheapest = options.find((o) => o.modelServerSupported);
  if (!cheapest) {
    const reasons = [...cannotRun].map(([t, why]) => `${t}: ${why}`).join('; ');
    throw new InputError(
      `--instance-types: no type the vLLM model server can run (${reasons}); ` +
        'add a supported type, or pass --model-server custom if your own server runs on these',
    );
  }
  const gpuHoursPerDay = docsGpuHoursPerDay ?? gpuHoursPerDayByType[cheapest.instanceType];

  const assumptions = [
    `A month is ${daysPerMonth} days.`,
    byDocs
      ? 'A GPU-hour of the benchmark is the same amount of work on every GPU model; an instance with n GPUs does n GPU-hours per hour.'
      : 'Tokens/s are measured on a whole instance of each type; only measured types are priced.',
    `Spot and on-demand scale to zero: billed only while working, plus ${Math.round(idleOverhead * 100)} % for boot and idle tails.`,
    `Spot adds ${Math.round(spotOverhead * 100)} % GPU time for work redone after interruptions (jobs restart on another instance).`,
    `1y / 3y commitments (${Math.round(snapshot.commitmentDiscount.oneYear * 100)} % / ${Math.round(
      snapshot.commitmentDiscount.threeYear * 100,
    )} % off on-demand) are billed for every hour of enough instances to carry the daily average; bursts above it would need more.`,
    ...[...cannotRun].map(([t, why]) => `${t} is marked ✗ and never cheapest: ${why}; --model-server custom prices it like any other.`),
    `Prices: snapshot of ${snapshot.date}. ${snapshot.source}`,
  ];
  return {
    benchmark: byDocs ? 'documents' : 'tokens',
    gpuHoursPerDay,
    gpuHoursPerDayByType,
    gpuHoursPerMonth: clean(gpuHoursPerDay * daysPerMonth),
    daysPerMonth,
    snapshotDate: snapshot.date,
    snapshotSource: snapshot.source,
    modelServer,
    options,
    cheapest,
    assumptions,
  };
}
