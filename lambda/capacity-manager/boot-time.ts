/**
 * The fleet's learned boot time for the CapacityManager: one GetMetricData call (ColdStartSeconds
 * {Workload, Stage=model-healthy}, p90 and SampleCount over LEARNED_BOOT_WINDOW_HOURS), cached in the warm
 * container for LEARNED_BOOT_REFRESH_SECONDS, turned into the policy's boot time by the pure
 * `learnedBootTime` rule.
 *
 * A failed read (throttled, AccessDenied, a network error) never blocks scaling: the last good reading of
 * this container is used if there is one, the prior otherwise, a warning says so, and the read is retried
 * after LEARNED_BOOT_RETRY_SECONDS (not at every 10-s evaluation).
 */
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { BootStages, Dimensions, LEARNED_BOOT_WINDOW_HOURS, MetricNames } from '../../lib/contracts';
import { BootSamples, BootTime, LEARNED_BOOT_REFRESH_SECONDS, LEARNED_BOOT_RETRY_SECONDS, learnedBootTime } from '../../lib/compute/learned-boot';

/** What a warm container keeps between evaluations. */
export interface BootTimeMemory {
  /** The last good reading and when it was made (epoch ms). */
  reading?: { readonly samples: BootSamples; readonly at: number };
  /** No read before this (epoch ms): the cache is fresh, or the last attempt failed. */
  nextReadAt?: number;
}

export interface BootTimeSource {
  readonly cloudwatch: CloudWatchClient;
  readonly metricNamespace: string;
  readonly workload: string;
  /** The static `expectedBootSeconds`. */
  readonly priorSeconds: number;
}

/** The boot time of one evaluation, with how it was obtained (for the log). */
export interface BootTimeReading extends BootTime {
  /** `read`: GetMetricData now; `cached`: this container's reading; `failed`: the read failed now; `not-used`: nothing uses it. */
  readonly read: 'read' | 'cached' | 'failed' | 'not-used';
  /** Age of the reading used, seconds (absent for the prior without a reading). */
  readonly readingAgeSeconds?: number;
  /** Set when the read failed: what failed and what is used instead. */
  readonly warning?: string;
}

/** GetMetricData over the window ending at the minute of `now`: boots seen and their p90. */
export async function readBootSamples(cloudwatch: CloudWatchClient, namespace: string, workload: string, now: number): Promise<BootSamples> {
  const periodSeconds = LEARNED_BOOT_WINDOW_HOURS * 3600;
  const end = Math.floor(now / 60_000) * 60_000;
  const metric = {
    Namespace: namespace,
    MetricName: MetricNames.COLD_START_SECONDS,
    Dimensions: [
      { Name: Dimensions.WORKLOAD, Value: workload },
      { Name: Dimensions.STAGE, Value: BootStages.MODEL_HEALTHY },
    ],
  };
  const out = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(end - periodSeconds * 1000),
      EndTime: new Date(end),
      MetricDataQueries: [
        { Id: 'p90', MetricStat: { Metric: metric, Period: periodSeconds, Stat: 'p90' }, ReturnData: true },
        { Id: 'samples', MetricStat: { Metric: metric, Period: periodSeconds, Stat: 'SampleCount' }, ReturnData: true },
      ],
    }),
  );
  const values = (id: string) => (out.MetricDataResults ?? []).filter((r) => r.Id === id).flatMap((r) => r.Values ?? []);
  // One period spans the window, so one value each; should CloudWatch split it in two, sum the counts and keep the larger p90.
  const count = values('samples').reduce((sum, v) => sum + v, 0);
  const p90s = values('p90').filter((v) => Number.isFinite(v));
  return { count, ...(p90s.length > 0 ? { p90Seconds: Math.max(...p90s) } : {}) };
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
}

/**
 * The boot time to decide with at `now`. Reads CloudWatch only when the cache is stale (and not while a
 * failed read waits for its retry); never rejects.
 * @param used false when nothing in the policy uses the boot time (an explicit idle window): no read, the prior
 */
export async function bootTimeAt(source: BootTimeSource, memory: BootTimeMemory, now: number, used = true): Promise<BootTimeReading> {
  if (!used) {
    return {
      ...learnedBootTime(source.priorSeconds, undefined),
      reason: 'prior: the idle window is set explicitly, nothing uses the boot time',
      read: 'not-used',
    };
  }
  const fromReading = (read: BootTimeReading['read'], warning?: string): BootTimeReading => {
    const r = memory.reading;
    const boot = learnedBootTime(source.priorSeconds, r?.samples);
    return { ...boot, read, ...(r ? { readingAgeSeconds: Math.round((now - r.at) / 1000) } : {}), ...(warning ? { warning } : {}) };
  };
  if (memory.nextReadAt !== undefined && now < memory.nextReadAt) return fromReading('cached');
  try {
    const samples = await readBootSamples(source.cloudwatch, source.metricNamespace, source.workload, now);
    memory.reading = { samples, at: now };
    memory.nextReadAt = now + LEARNED_BOOT_REFRESH_SECONDS * 1000;
    return fromReading('read');
  } catch (error) {
    memory.nextReadAt = now + LEARNED_BOOT_RETRY_SECONDS * 1000;
    const instead = memory.reading ? `the reading of ${Math.round((now - memory.reading.at) / 1000)}s ago` : 'the prior';
    return fromReading(
      'failed',
      `GetMetricData of ${MetricNames.COLD_START_SECONDS} failed (${describe(error)}); using ${instead}, retry in ${LEARNED_BOOT_RETRY_SECONDS}s`,
    );
  }
}
