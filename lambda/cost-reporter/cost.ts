/**
 * The CostReporter's arithmetic, free of AWS calls: running instances × hourly price → spend of one
 * minute per workload, split between agents by their share of GPU-seconds. Unit-tested on its own.
 */
import { Dimensions, MetricNames, PriceSource, PriceSources, UNATTRIBUTED_AGENT } from '../../lib/contracts';
import { hourlyPrice } from '../../lib/cost/pricing';

/** One running instance of a fleet, as DescribeInstances shows it. */
export interface RunningInstance {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly availabilityZone: string;
  /** Value of the instance's `ai-burst:workload` tag. */
  readonly workload: string;
  /** True when `InstanceLifecycle` is `spot`; anything else is billed on-demand. */
  readonly spot: boolean;
  readonly launchTime?: Date;
}

/** What one instance-hour costs and where the number came from. */
export interface PriceQuote {
  readonly usdPerHour: number;
  readonly source: PriceSource;
}

/** Key of the live spot price table: instance type and Availability Zone. */
export function priceKey(instanceType: string, availabilityZone: string): string {
  return `${instanceType}|${availabilityZone}`;
}

/** Snapshot lookup, injectable for tests: USD per hour or undefined. */
export type SnapshotPrice = (instanceType: string, region: string, market: 'spot' | 'on-demand') => number | undefined;

const snapshotPrice: SnapshotPrice = (type, region, market) => hourlyPrice(type, region, market);

/**
 * The price of every instance: a spot instance at its type's live price in its AZ when the price API
 * answered for that pair, else the snapshot's spot price; an on-demand instance at the snapshot's on-demand
 * price (the live API prices spot only). `undefined` when neither source knows the type.
 */
export function priceInstances(
  instances: readonly RunningInstance[],
  livePrices: ReadonlyMap<string, number>,
  region: string,
  snapshot: SnapshotPrice = snapshotPrice,
): Map<string, PriceQuote | undefined> {
  const quotes = new Map<string, PriceQuote | undefined>();
  for (const i of instances) {
    const live = i.spot ? livePrices.get(priceKey(i.instanceType, i.availabilityZone)) : undefined;
    if (live !== undefined) {
      quotes.set(i.instanceId, { usdPerHour: live, source: PriceSources.LIVE });
      continue;
    }
    const fallback = snapshot(i.instanceType, region, i.spot ? 'spot' : 'on-demand');
    quotes.set(i.instanceId, fallback === undefined ? undefined : { usdPerHour: fallback, source: PriceSources.SNAPSHOT });
  }
  return quotes;
}

/** One SpendUsd value to publish: workload total, one agent's share, or the part priced from one source. */
export interface SpendDatum {
  readonly workload: string;
  readonly agent?: string;
  readonly priceSource?: PriceSource;
  readonly usd: number;
}

export interface SpendInput {
  /** Every workload the reporter covers: each gets a value, 0 when nothing runs. */
  readonly workloads: readonly string[];
  readonly instances: readonly RunningInstance[];
  readonly prices: ReadonlyMap<string, PriceQuote | undefined>;
  /** Workload → agent → GPU-seconds reported in the attribution window. */
  readonly gpuSecondsByAgent: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** End of the minute being reported. */
  readonly windowEnd: Date;
  /** @default 60 */
  readonly intervalSeconds?: number;
}

export interface WorkloadSpend {
  readonly workload: string;
  readonly instances: number;
  readonly usd: number;
  readonly usdBySource: Readonly<Partial<Record<PriceSource, number>>>;
  readonly usdByAgent: Readonly<Record<string, number>>;
}

export interface SpendReport {
  readonly workloads: readonly WorkloadSpend[];
  /** Instances neither the price API nor the snapshot could price: left out of spend, logged as an error. */
  readonly unpriced: readonly RunningInstance[];
  readonly datums: readonly SpendDatum[];
}

/**
 * Spend of the minute ending at `windowEnd`. An instance launched inside the minute counts from its launch.
 * A workload's spend is split between agents in proportion to their GPU-seconds (a fully loaded cost: idle
 * and boot time are shared by the agents that used the fleet); with no GPU-seconds reported it all goes to
 * {@link UNATTRIBUTED_AGENT}. Workloads with no instance get an explicit 0, so a dashboard shows zero spend
 * rather than missing data and silence means the reporter itself is down.
 */
export function computeSpend(input: SpendInput): SpendReport {
  const interval = input.intervalSeconds ?? 60;
  const end = input.windowEnd.getTime();
  const covered = new Set(input.workloads);
  const byWorkload = new Map<string, { instances: number; usd: number; bySource: Map<PriceSource, number> }>();
  for (const w of input.workloads) byWorkload.set(w, { instances: 0, usd: 0, bySource: new Map() });
  const unpriced: RunningInstance[] = [];

  for (const i of input.instances) {
    if (!covered.has(i.workload)) continue;
    const quote = input.prices.get(i.instanceId);
    if (!quote) {
      unpriced.push(i);
      continue;
    }
    const launched = i.launchTime?.getTime();
    const seconds = launched === undefined ? interval : Math.max(0, Math.min(interval, (end - launched) / 1000));
    const usd = (quote.usdPerHour * seconds) / 3600;
    const w = byWorkload.get(i.workload)!;
    w.instances += 1;
    w.usd += usd;
    w.bySource.set(quote.source, (w.bySource.get(quote.source) ?? 0) + usd);
  }

  const workloads: WorkloadSpend[] = [];
  const datums: SpendDatum[] = [];
  for (const [workload, w] of byWorkload) {
    const usdByAgent = attribute(w.usd, input.gpuSecondsByAgent.get(workload));
    workloads.push({ workload, instances: w.instances, usd: w.usd, usdBySource: Object.fromEntries(w.bySource), usdByAgent });
    datums.push({ workload, usd: w.usd });
    for (const [priceSource, usd] of w.bySource) datums.push({ workload, priceSource, usd });
    for (const [agent, usd] of Object.entries(usdByAgent)) datums.push({ workload, agent, usd });
  }
  return { workloads, unpriced, datums };
}

/** Split `usd` by GPU-seconds share; nothing to split gives nothing, no usage gives the unattributed agent all. */
export function attribute(usd: number, gpuSeconds: ReadonlyMap<string, number> | undefined): Record<string, number> {
  if (usd <= 0) return {};
  const used = [...(gpuSeconds ?? new Map<string, number>())].filter(([, s]) => Number.isFinite(s) && s > 0);
  const total = used.reduce((sum, [, s]) => sum + s, 0);
  if (total <= 0) return { [UNATTRIBUTED_AGENT]: usd };
  return Object.fromEntries(used.map(([agent, s]) => [agent, (usd * s) / total]));
}

/** A PutMetricData datum, SDK-shaped but SDK-free. */
export interface MetricDatumShape {
  readonly MetricName: string;
  readonly Dimensions: { Name: string; Value: string }[];
  readonly Timestamp: Date;
  readonly Value: number;
  readonly Unit: 'None';
}

/** The datums as PutMetricData wants them: one SpendUsd per dimension set of the metrics contract. */
export function toMetricData(datums: readonly SpendDatum[], timestamp: Date): MetricDatumShape[] {
  return datums.map((d) => {
    const dims: { Name: string; Value: string }[] = [{ Name: Dimensions.WORKLOAD, Value: d.workload }];
    if (d.agent !== undefined) dims.push({ Name: Dimensions.AGENT, Value: d.agent });
    if (d.priceSource !== undefined) dims.push({ Name: Dimensions.PRICE_SOURCE, Value: d.priceSource });
    return { MetricName: MetricNames.SPEND_USD, Dimensions: dims, Timestamp: timestamp, Value: d.usd, Unit: 'None' };
  });
}
