/**
 * Per-agent daily budgets. The spend source is the CostReporter's `SpendUsd` metric with the dimensions
 * {Workload, Agent} (published every minute), summed over the API's workloads for the current UTC day with
 * one GetMetricData call, and cached per agent in the warm handler.
 *
 * Lag, end to end: the CostReporter prices the minute that just ended (≤ 1 min), CloudWatch makes the data
 * point readable (typically < 1 min more), and the cache serves a reading for up to `cacheSeconds`. So an
 * agent can overshoot its limit by roughly 2 min + cacheSeconds of its spend rate, plus whatever its
 * already-queued jobs cost: the budget gates new submissions, it does not stop running work.
 * When CloudWatch cannot be read, the check fails open (submissions go through, a warning is logged):
 * a budget is a cost guard, and an outage of the metrics API must not take the job API down with it.
 */
import { CloudWatchClient, GetMetricDataCommand, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { Dimensions, MetricNames } from '../../lib/contracts';

/** Today's spend of one agent in USD, from `dayStart` (00:00 UTC) to now. */
export interface SpendSource {
  dailySpendUsd(agent: string, dayStart: Date): Promise<number>;
}

export type BudgetDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly agent: string; readonly spentUsd: number; readonly limitUsd: number; readonly resetsAt: Date };

export interface BudgetLimits {
  readonly dailyLimitsUsd: Readonly<Record<string, number>>;
  readonly defaultDailyLimitUsd?: number;
}

export interface BudgetGuardOptions {
  readonly cacheSeconds: number;
  readonly clock?: () => Date;
  /** Told when the spend source fails (the check then lets the submission through). */
  readonly onSourceError?: (agent: string, error: unknown) => void;
}

const DAY_MS = 86_400_000;

/** 00:00 UTC of `now`'s day. */
export function utcDayStart(now: Date): Date {
  return new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
}

/** The limit that applies to `agent`, or undefined when it has none. */
export function limitFor(limits: BudgetLimits, agent: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(limits.dailyLimitsUsd, agent) ? limits.dailyLimitsUsd[agent] : limits.defaultDailyLimitUsd;
}

export class BudgetGuard {
  private readonly cache = new Map<string, { dayStart: number; at: number; spentUsd: number }>();
  private readonly clock: () => Date;

  constructor(
    private readonly limits: BudgetLimits,
    private readonly source: SpendSource,
    private readonly options: BudgetGuardOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** Whether `agent` may submit now; reads the source at most once per agent per `cacheSeconds`. */
  async check(agent: string): Promise<BudgetDecision> {
    const limitUsd = limitFor(this.limits, agent);
    if (limitUsd === undefined) return { allowed: true };
    const now = this.clock();
    const dayStart = utcDayStart(now);
    let spentUsd: number;
    const cached = this.cache.get(agent);
    if (cached && cached.dayStart === dayStart.getTime() && now.getTime() - cached.at < this.options.cacheSeconds * 1000) {
      spentUsd = cached.spentUsd;
    } else {
      try {
        spentUsd = await this.source.dailySpendUsd(agent, dayStart);
      } catch (e) {
        this.options.onSourceError?.(agent, e);
        return { allowed: true };
      }
      this.cache.set(agent, { dayStart: dayStart.getTime(), at: now.getTime(), spentUsd });
    }
    if (spentUsd < limitUsd) return { allowed: true };
    return { allowed: false, agent, spentUsd, limitUsd, resetsAt: new Date(dayStart.getTime() + DAY_MS) };
  }
}

/** `SpendUsd` {Workload, Agent}, Sum over the UTC day, over every workload of the API: one call per reading. */
export class CloudWatchSpendSource implements SpendSource {
  constructor(
    private readonly cloudWatch: CloudWatchClient,
    private readonly namespace: string,
    private readonly workloads: readonly string[],
  ) {}

  async dailySpendUsd(agent: string, dayStart: Date): Promise<number> {
    const queries: MetricDataQuery[] = this.workloads.map((workload, i) => ({
      Id: `w${i}`,
      MetricStat: {
        Metric: {
          Namespace: this.namespace,
          MetricName: MetricNames.SPEND_USD,
          Dimensions: [
            { Name: Dimensions.WORKLOAD, Value: workload },
            { Name: Dimensions.AGENT, Value: agent },
          ],
        },
        Period: DAY_MS / 1000,
        Stat: 'Sum',
      },
      ReturnData: true,
    }));
    let total = 0;
    let nextToken: string | undefined;
    do {
      const r = await this.cloudWatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: dayStart,
          EndTime: new Date(dayStart.getTime() + DAY_MS),
          NextToken: nextToken,
        }),
      );
      for (const result of r.MetricDataResults ?? []) for (const v of result.Values ?? []) total += v;
      nextToken = r.NextToken;
    } while (nextToken);
    return total;
  }
}
