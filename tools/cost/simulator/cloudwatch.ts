/**
 * CloudWatch publication of the SQS (and Auto Scaling group) metrics the native policies read:
 * one datapoint per minute, available `lagS` after the minute ends, and — when a queue that was idle
 * for 6 hours wakes up — the datapoints of its first minutes held back until up to 15 minutes later.
 * Policies that read CloudWatch only ever see what is available at their evaluation time.
 *
 * Also the workers' `ColdStartSeconds` at stage `model-healthy`: one value per boot, timestamped when the
 * instance became ready and readable `lagS` later, summarized over a window as GetMetricData's SampleCount and
 * p90 (nearest rank) — what the CapacityManager's learned boot time reads.
 */
import { BootSamples } from '../../../lib/compute/learned-boot';
import { keyedUniform } from './rng';
import { percentile } from './stats';

export interface MetricValues {
  /** ApproximateNumberOfMessagesVisible, all queues. */
  readonly visible: number;
  /** ApproximateNumberOfMessagesNotVisible, all queues. */
  readonly inflight: number;
  /** GroupInServiceInstances. */
  readonly inService: number;
}

export interface Datapoint extends MetricValues {
  /** Minute index: the datapoint covers [60·minute, 60·minute + 60). */
  readonly minute: number;
  readonly availableAt: number;
}

export interface CloudWatchOptions {
  readonly seed: number;
  /** Normal delay from the end of a minute to its datapoint being readable. @default 60 */
  readonly lagS?: number;
  /** Idle time after which a queue's metrics go dormant. @default 6 h */
  readonly idleAfterS?: number;
  /** Longest extra delay of the first datapoints after a dormant queue wakes. @default 900 */
  readonly wakeMaxDelayS?: number;
}

export class CloudWatchModel {
  private readonly points: Datapoint[] = [];
  /** Boots in the order they became ready: [ready at, seconds from launch]. */
  private readonly boots: [number, number][] = [];
  private wake?: { readonly start: number; readonly end: number };
  readonly lagS: number;
  readonly idleAfterS: number;
  readonly wakeMaxDelayS: number;
  /** Wake-ups seen (for the report). */
  wakeUps = 0;

  constructor(private readonly opts: CloudWatchOptions) {
    this.lagS = opts.lagS ?? 60;
    this.idleAfterS = opts.idleAfterS ?? 6 * 3600;
    this.wakeMaxDelayS = opts.wakeMaxDelayS ?? 900;
  }

  /**
   * The engine reports a send; `lastActivityAt` is the queue's last activity before it and `empty` whether
   * the queue held nothing. A dormant queue's next datapoints are delayed by up to `wakeMaxDelayS` (the
   * delay is keyed by the send time, so every policy sees the same one for the same arrival).
   */
  noteSend(now: number, lastActivityAt: number, empty: boolean): void {
    if (!empty || now - lastActivityAt < this.idleAfterS) return;
    const delay = this.wakeMaxDelayS * keyedUniform(this.opts.seed, 'cloudwatch-wake', Math.floor(now));
    this.wake = { start: now, end: now + delay };
    this.wakeUps++;
  }

  /** Records the datapoint of `minute` (called at the end of the minute). */
  publish(minute: number, values: MetricValues): void {
    const end = 60 * (minute + 1);
    let availableAt = end + this.lagS;
    if (this.wake && end > this.wake.start && 60 * minute < this.wake.end) availableAt = Math.max(availableAt, this.wake.end);
    this.points.push({ minute, availableAt, ...values });
  }

  /** A worker publishes its boot time when its model server turns healthy (`readyAt`, in time order). */
  noteBoot(readyAt: number, seconds: number): void {
    this.boots.push([readyAt, seconds]);
  }

  /**
   * GetMetricData at `now` over the last `windowS`: the boots timestamped in the window and readable by now
   * (`lagS` after they were published), their count and p90.
   */
  bootSamples(now: number, windowS: number): BootSamples {
    const seconds = this.boots.filter(([at]) => at >= now - windowS && at + this.lagS <= now).map(([, s]) => s);
    const p90 = percentile(seconds, 0.9);
    return p90 === null ? { count: 0 } : { count: seconds.length, p90Seconds: p90 };
  }

  /** The latest `n` consecutive datapoints readable at `now`, oldest first, or undefined if fewer exist. */
  latest(now: number, n: number): Datapoint[] | undefined {
    let i = this.points.length - 1;
    while (i >= 0 && this.points[i].availableAt > now) i--;
    if (i + 1 < n) return undefined;
    return this.points.slice(i + 1 - n, i + 1);
  }
}
