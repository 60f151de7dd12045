/**
 * The CostReporter's AWS calls, each a small function over an injected SDK client: list the fleets'
 * running instances, read spot prices (cached in the warm container), read each agent's GPU-seconds, and
 * publish SpendUsd. `reportSpend` runs one minute's report end to end.
 */
import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand, MetricDataQuery, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { _InstanceType, DescribeInstancesCommand, DescribeSpotPriceHistoryCommand, EC2Client } from '@aws-sdk/client-ec2';
import { Dimensions, MetricNames, Tags } from '../../lib/contracts';
import { PRICE_SNAPSHOT } from '../../lib/cost/pricing';
import { computeSpend, priceInstances, priceKey, RunningInstance, SpendReport, toMetricData } from './cost';

/** How long a live spot price is reused before DescribeSpotPriceHistory is asked again. */
export const SPOT_PRICE_TTL_MS = 5 * 60 * 1000;
/** GPU-seconds of this trailing window decide each agent's share. */
export const ATTRIBUTION_WINDOW_MS = 5 * 60 * 1000;
/** PutMetricData accepts up to 1000 datums a call; stay well under it. */
const PUT_BATCH = 500;
/** GetMetricData accepts up to 500 queries a call. */
const GET_BATCH = 500;
/** The only products a GPU fleet runs; EC2 reports the same price under both descriptions. */
const LINUX_PRODUCTS = ['Linux/UNIX', 'Linux/UNIX (Amazon VPC)'];

/** Spot prices by type|AZ with a fetch time; lives as long as the warm container. */
export class SpotPriceCache {
  private readonly entries = new Map<string, { price: number; at: number }>();
  constructor(private readonly ttlMs = SPOT_PRICE_TTL_MS) {}

  public fresh(key: string, now: number): number | undefined {
    const e = this.entries.get(key);
    return e && now - e.at < this.ttlMs ? e.price : undefined;
  }

  public put(key: string, price: number, now: number): void {
    this.entries.set(key, { price, at: now });
  }
}

/** Every running instance tagged with one of `workloads`, across all pages of DescribeInstances. */
export async function listRunningInstances(ec2: EC2Client, workloads: readonly string[]): Promise<RunningInstance[]> {
  const found: RunningInstance[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${Tags.WORKLOAD}`, Values: [...workloads] },
          { Name: 'instance-state-name', Values: ['running'] },
        ],
        MaxResults: 1000,
        NextToken,
      }),
    );
    for (const reservation of page.Reservations ?? []) {
      for (const i of reservation.Instances ?? []) {
        const workload = i.Tags?.find((t) => t.Key === Tags.WORKLOAD)?.Value;
        if (!i.InstanceId || !i.InstanceType || !workload) continue;
        found.push({
          instanceId: i.InstanceId,
          instanceType: i.InstanceType,
          availabilityZone: i.Placement?.AvailabilityZone ?? '',
          workload,
          spot: i.InstanceLifecycle === 'spot',
          launchTime: i.LaunchTime,
        });
      }
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return found;
}

export interface LivePrices {
  /** type|AZ → USD per hour, for the pairs the API (or the warm cache) answered. */
  readonly prices: Map<string, number>;
  /** Why the price API could not be read, when it could not. */
  readonly error?: string;
}

/**
 * The spot price in effect now for each (type, AZ) pair of the spot instances. Fresh cache entries are
 * reused; the rest come from DescribeSpotPriceHistory with StartTime = EndTime = now (EC2 then returns the
 * price in effect at that time per type and AZ), all pages. A failed call is reported, not thrown: the
 * caller prices those instances from the snapshot.
 */
export async function liveSpotPrices(ec2: EC2Client, instances: readonly RunningInstance[], cache: SpotPriceCache, now: Date): Promise<LivePrices> {
  const prices = new Map<string, number>();
  const missing = new Map<string, RunningInstance>();
  for (const i of instances) {
    if (!i.spot) continue;
    const key = priceKey(i.instanceType, i.availabilityZone);
    const cached = cache.fresh(key, now.getTime());
    if (cached !== undefined) prices.set(key, cached);
    else missing.set(key, i);
  }
  if (missing.size === 0) return { prices };

  const types = [...new Set([...missing.values()].map((i) => i.instanceType))].sort();
  const zones = [...new Set([...missing.values()].map((i) => i.availabilityZone))].sort();
  const latest = new Map<string, { price: number; at: number }>();
  try {
    let NextToken: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeSpotPriceHistoryCommand({
          InstanceTypes: types as _InstanceType[],
          Filters: [
            { Name: 'product-description', Values: LINUX_PRODUCTS },
            { Name: 'availability-zone', Values: zones },
          ],
          StartTime: now,
          EndTime: now,
          MaxResults: 1000,
          NextToken,
        }),
      );
      for (const p of page.SpotPriceHistory ?? []) {
        const price = Number(p.SpotPrice);
        if (!p.InstanceType || !p.AvailabilityZone || !Number.isFinite(price) || price <= 0) continue;
        const key = priceKey(p.InstanceType, p.AvailabilityZone);
        const at = p.Timestamp?.getTime() ?? 0;
        const seen = latest.get(key);
        if (!seen || at > seen.at) latest.set(key, { price, at });
      }
      NextToken = page.NextToken || undefined;
    } while (NextToken);
  } catch (err) {
    return { prices, error: errorText(err) };
  }
  for (const key of missing.keys()) {
    const hit = latest.get(key);
    if (!hit) continue;
    prices.set(key, hit.price);
    cache.put(key, hit.price, now.getTime());
  }
  return { prices };
}

/**
 * GPU-seconds per agent per workload over the trailing attribution window: ListMetrics finds the
 * `GpuSeconds{Workload, Agent}` series active in the last 3 hours, GetMetricData sums each over the window.
 * Exact series, no label parsing; a workload with no series maps to an empty map.
 */
export async function gpuSecondsByAgent(
  cw: CloudWatchClient,
  namespace: string,
  workloads: readonly string[],
  windowEnd: Date,
): Promise<Map<string, Map<string, number>>> {
  const result = new Map<string, Map<string, number>>(workloads.map((w) => [w, new Map()]));
  const series: { workload: string; agent: string }[] = [];
  for (const workload of workloads) {
    let NextToken: string | undefined;
    do {
      const page = await cw.send(
        new ListMetricsCommand({
          Namespace: namespace,
          MetricName: MetricNames.GPU_SECONDS,
          Dimensions: [{ Name: Dimensions.WORKLOAD, Value: workload }],
          RecentlyActive: 'PT3H',
          NextToken,
        }),
      );
      for (const m of page.Metrics ?? []) {
        const dims = m.Dimensions ?? [];
        const agent = dims.find((d) => d.Name === Dimensions.AGENT)?.Value;
        if (dims.length === 2 && agent) series.push({ workload, agent });
      }
      NextToken = page.NextToken;
    } while (NextToken);
  }

  for (let start = 0; start < series.length; start += GET_BATCH) {
    const batch = series.slice(start, start + GET_BATCH);
    const queries: MetricDataQuery[] = batch.map((s, n) => ({
      Id: `q${n}`,
      MetricStat: {
        Metric: {
          Namespace: namespace,
          MetricName: MetricNames.GPU_SECONDS,
          Dimensions: [
            { Name: Dimensions.WORKLOAD, Value: s.workload },
            { Name: Dimensions.AGENT, Value: s.agent },
          ],
        },
        Period: 60,
        Stat: 'Sum',
      },
    }));
    let NextToken: string | undefined;
    do {
      const page = await cw.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: new Date(windowEnd.getTime() - ATTRIBUTION_WINDOW_MS),
          EndTime: windowEnd,
          NextToken,
        }),
      );
      for (const r of page.MetricDataResults ?? []) {
        const s = batch[Number(r.Id?.slice(1))];
        if (!s) continue;
        const sum = (r.Values ?? []).reduce((a, b) => a + b, 0);
        const agents = result.get(s.workload)!;
        agents.set(s.agent, (agents.get(s.agent) ?? 0) + sum);
      }
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return result;
}

/** Publish the report's SpendUsd datums in batches. */
export async function publishSpend(cw: CloudWatchClient, namespace: string, report: SpendReport, timestamp: Date): Promise<number> {
  const data = toMetricData(report.datums, timestamp);
  for (let start = 0; start < data.length; start += PUT_BATCH) {
    await cw.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(start, start + PUT_BATCH) }));
  }
  return data.length;
}

/** The structured log line of one run; `priceSource` says whether any instance was priced from the snapshot. */
export interface ReportSummary {
  readonly windowEnd: string;
  readonly instances: number;
  readonly totalUsd: number;
  readonly priceSource: 'live' | 'snapshot' | 'mixed' | 'none';
  readonly priceApiError?: string;
  readonly snapshotDate?: string;
  readonly unpriced: readonly string[];
  readonly attributionError?: string;
  readonly published: number;
  readonly workloads: SpendReport['workloads'];
}

export interface ReportDeps {
  readonly ec2: EC2Client;
  readonly cw: CloudWatchClient;
  readonly cache: SpotPriceCache;
  readonly region: string;
  readonly namespace: string;
  readonly workloads: readonly string[];
}

/**
 * One minute's report: instances → prices (live, else snapshot) → spend → agent shares → PutMetricData.
 * A failed GPU-seconds read does not lose the spend: it is published unattributed and the error logged.
 * A failed DescribeInstances or PutMetricData throws (the run fails, the errors alarm sees it).
 */
export async function reportSpend(deps: ReportDeps, windowEnd: Date): Promise<ReportSummary> {
  const instances = await listRunningInstances(deps.ec2, deps.workloads);
  const live = await liveSpotPrices(deps.ec2, instances, deps.cache, windowEnd);
  const prices = priceInstances(instances, live.prices, deps.region);

  let shares = new Map<string, Map<string, number>>();
  let attributionError: string | undefined;
  if (instances.length > 0) {
    try {
      shares = await gpuSecondsByAgent(deps.cw, deps.namespace, deps.workloads, windowEnd);
    } catch (err) {
      attributionError = errorText(err);
    }
  }

  const report = computeSpend({ workloads: deps.workloads, instances, prices, gpuSecondsByAgent: shares, windowEnd });
  const published = await publishSpend(deps.cw, deps.namespace, report, windowEnd);
  const sources = new Set([...prices.values()].filter((q) => q !== undefined).map((q) => q!.source));
  const priceSource = sources.size === 0 ? 'none' : sources.size > 1 ? 'mixed' : [...sources][0];
  return {
    windowEnd: windowEnd.toISOString(),
    instances: instances.length,
    totalUsd: report.workloads.reduce((sum, w) => sum + w.usd, 0),
    priceSource,
    ...(live.error ? { priceApiError: live.error } : {}),
    ...(sources.has('snapshot') ? { snapshotDate: PRICE_SNAPSHOT.date } : {}),
    unpriced: report.unpriced.map((i) => `${i.instanceId} (${i.instanceType})`),
    ...(attributionError ? { attributionError } : {}),
    published,
    workloads: report.workloads,
  };
}

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
