/**
 * Metrics buffered in memory and sent with CloudWatch PutMetricData: every value once per dimension set
 * lib/contracts lists for its metric (METRIC_DIMENSION_SETS), raw values kept as Values/Counts arrays (so
 * percentile widgets work), at most 150 distinct values per datum, 1,000 datums and ~800 KB per call.
 */
import { CloudWatchClient, MetricDatum, PutMetricDataCommand, StandardUnit } from '@aws-sdk/client-cloudwatch';
import { DimensionName, Dimensions, METRIC_DIMENSION_SETS, MetricName, WORKER_METRIC_UNITS } from '../lib/contracts';
import { Log, errorMessage } from '../runtime/log';

export const MAX_DATUMS_PER_CALL = 1000;
export const MAX_VALUES_PER_DATUM = 150;
/** PutMetricData requests are capped at 1 MB; stay well under with a conservative size estimate. */
const MAX_ESTIMATED_BYTES_PER_CALL = 800_000;
/** Datums kept for a retry while CloudWatch refuses them; the oldest go first beyond this. */
const MAX_PENDING_DATUMS = 20_000;

/** Dimension values a metric may be published with; sets needing a missing value are skipped. */
export interface MetricDimensions {
  readonly workload: string;
  readonly agent?: string;
  readonly model?: string;
  /** Cold start: the boot stage. */
  readonly stage?: string;
  /** Cold start: the instance type. */
  readonly instanceType?: string;
}

interface Bucket {
  readonly name: MetricName;
  readonly dimensions: { Name: string; Value: string }[];
  readonly timestamp: Date;
  readonly counts: Map<number, number>;
}

export class MetricsBatcher {
  private buckets = new Map<string, Bucket>();
  private pending: MetricDatum[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private readonly beforeFlush: (() => void)[] = [];

  constructor(
    private readonly cloudwatch: CloudWatchClient,
    private readonly namespace: string,
    private readonly logger: Log,
    private readonly now: () => number = Date.now,
  ) {}

  /** Flush every `intervalMs` until {@link close}. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref?.();
  }

  /** Run `hook` right before each flush (e.g. to add the idle time accrued since the last one). */
  onBeforeFlush(hook: () => void): void {
    this.beforeFlush.push(hook);
  }

  record(name: MetricName, value: number, dims: MetricDimensions): void {
    if (!Number.isFinite(value)) return;
    for (const set of METRIC_DIMENSION_SETS[name]) {
      const dimensions = dimensionsFor(set, dims);
      if (!dimensions) continue;
      const key = `${name}|${dimensions.map((d) => `${d.Name}=${d.Value}`).join('|')}`;
      let bucket = this.buckets.get(key);
      if (bucket && !bucket.counts.has(value) && bucket.counts.size >= MAX_VALUES_PER_DATUM) {
        this.pending.push(toDatum(bucket));
        bucket = undefined;
      }
      if (!bucket) {
        bucket = { name, dimensions, timestamp: new Date(this.now()), counts: new Map() };
        this.buckets.set(key, bucket);
      }
      bucket.counts.set(value, (bucket.counts.get(value) ?? 0) + 1);
    }
  }

  /** Send everything buffered; concurrent callers share one flush. Never throws. */
  flush(): Promise<void> {
    if (!this.flushing)
      this.flushing = this.send().finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }

  /** Stop without sending (the agent was killed). */
  abandon(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async send(): Promise<void> {
    for (const hook of this.beforeFlush) hook();
    const datums = [...this.pending, ...[...this.buckets.values()].map(toDatum)];
    this.pending = [];
    this.buckets = new Map();
    for (const batch of batches(datums)) {
      try {
        await this.cloudwatch.send(new PutMetricDataCommand({ Namespace: this.namespace, MetricData: batch }));
      } catch (e) {
        this.logger.warn('PutMetricData failed; keeping the data for the next flush', { datums: batch.length, error: errorMessage(e) });
        this.pending.push(...batch);
      }
    }
    if (this.pending.length > MAX_PENDING_DATUMS) {
      this.logger.warn('dropping the oldest unsent metric data', { dropped: this.pending.length - MAX_PENDING_DATUMS });
      this.pending = this.pending.slice(-MAX_PENDING_DATUMS);
    }
  }
}

const DIMENSION_VALUE: Record<DimensionName, keyof MetricDimensions | undefined> = {
  [Dimensions.WORKLOAD]: 'workload',
  [Dimensions.AGENT]: 'agent',
  [Dimensions.MODEL]: 'model',
  [Dimensions.PRICE_SOURCE]: undefined,
  [Dimensions.STAGE]: 'stage',
  [Dimensions.INSTANCE_TYPE]: 'instanceType',
};

function dimensionsFor(set: readonly DimensionName[], dims: MetricDimensions): { Name: string; Value: string }[] | undefined {
  const out: { Name: string; Value: string }[] = [];
  for (const name of set) {
    const field = DIMENSION_VALUE[name];
    const value = field ? dims[field] : undefined;
    if (value === undefined || value === '') return undefined;
    out.push({ Name: name, Value: value.slice(0, 1024) });
  }
  return out;
}

function toDatum(bucket: Bucket): MetricDatum {
  const entries = [...bucket.counts.entries()];
  return {
    MetricName: bucket.name,
    Dimensions: bucket.dimensions,
    Timestamp: bucket.timestamp,
    Unit: (WORKER_METRIC_UNITS[bucket.name] ?? 'None') as StandardUnit,
    Values: entries.map(([v]) => v),
    Counts: entries.map(([, n]) => n),
  };
}

function estimatedBytes(datum: MetricDatum): number {
  return 300 + (datum.Dimensions ?? []).reduce((n, d) => n + 80 + d.Name!.length + d.Value!.length, 0) + 100 * (datum.Values?.length ?? 1);
}

/** Split datums into PutMetricData calls of at most 1,000 datums and ~800 KB each. */
export function batches(datums: readonly MetricDatum[]): MetricDatum[][] {
  const out: MetricDatum[][] = [];
  let current: MetricDatum[] = [];
  let bytes = 0;
  for (const datum of datums) {
    const size = estimatedBytes(datum);
    if (current.length > 0 && (current.length >= MAX_DATUMS_PER_CALL || bytes + size > MAX_ESTIMATED_BYTES_PER_CALL)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(datum);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
