/**
 * Simulation settings, their defaults, and validation (messages name the CLI flag).
 */
import { InputError, requireInteger, requireNumber } from '../errors';
import { hourlyPrice, knownInstanceTypes, PRICE_SNAPSHOT, PriceSnapshot } from '../../../lib/cost/pricing';

export interface SimulationOptions {
  /** @default 'g5.xlarge' */
  readonly instanceType?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Largest fleet any policy may run (the GpuFleet's max). @default 16 */
  readonly maxInstances?: number;
  /** @default 180 */
  readonly bootMedianS?: number;
  /** @default 480 */
  readonly bootP95S?: number;
  /** Spot interruptions per instance-hour. @default 0.02 */
  readonly interruptionsPerHour?: number;
  /** Share of spot notices nobody sees (0–1). @default 0.05 */
  readonly missedNoticeShare?: number;
  /** Queue-wait SLO the scaling policies aim at (ai-burst, and target-tracking's target). @default 300 */
  readonly waitSloS?: number;
  /** @default 1 */
  readonly seed?: number;
  /** JobQueue's visibility timeout (ai-burst; the worker heartbeats every third of it). @default 900 */
  readonly visibilityTimeoutS?: number;
  /** @default 5 (JobQueue's default) */
  readonly maxReceiveCount?: number;
  /** RetryHandler's attempt budget for jobs that reach ai-burst's dead-letter queue. @default 3 */
  readonly retryMaxAttempts?: number;
  /** CapacityManager: seconds between evaluations inside one invocation. @default 10 */
  readonly evaluationIntervalS?: number;
  /** CapacityManager: the EventBridge schedule. @default 60 */
  readonly invocationPeriodS?: number;
  /** Submit → CapacityManager evaluation when the backlog was empty (async invoke). @default 2 */
  readonly wakeLatencyS?: number;
  /**
   * The submit path probes the backlog (and may wake) at most once per this window (the JobApi's
   * `wakeDebounceSeconds`; 10 s assumed).
   * @default 10
   */
  readonly wakeDebounceS?: number;
  /** Spot notice → copy visible on the queue (worker / drainer). @default 2 */
  readonly requeueLatencyS?: number;
  /**
   * What the worker and drainer do with a running job at a spot notice (policies that act on notices):
   * `finish-or-requeue` is lib/contracts/notice.ts (a job expected to end before the reclaim less
   * NOTICE_FINISH_MARGIN_SECONDS keeps running, every other one is requeued at once); `requeue-all` is the
   * old behaviour (every running job requeued at once), kept only to compare the two.
   * @default 'finish-or-requeue'
   */
  readonly noticeRule?: NoticeRule;
  /**
   * What the notice rule knows of a running job's length: `fleet` = the fleet's expected job duration (the
   * ScalingPolicy's `expectedJobSeconds`, the trace's mean job), all a worker without progress reporting
   * has; `job` = the job's own length (a worker that streams progress against `max_tokens`: an upper bound
   * on what any worker can know).
   * @default 'fleet'
   */
  readonly noticeEstimate?: NoticeEstimate;
  /**
   * EC2 rebalance recommendations per spot instance-hour (a hazard of its own, independent of the
   * interruptions). With Capacity Rebalancing (ai-burst's GpuFleet) the group launches a replacement and
   * terminates the old instance once the replacement passes EC2 health checks; other fleets ignore them.
   * @default 0
   */
  readonly rebalancesPerHour?: number;
  /** Replacement launch → it passes EC2 health checks (long before its model is loaded). @default 60 */
  readonly replacementHealthyS?: number;
  /** InterruptionDrainer: longest a terminate hook waits for running jobs before requeueing them. @default 120 */
  readonly drainTimeoutS?: number;
  /** CloudWatch: end of minute → datapoint readable. @default 60 */
  readonly metricLagS?: number;
  /** A run stops this long after the last arrival even if jobs are left. @default 86400 */
  readonly cutoffAfterLastArrivalS?: number;
  /** After the last job, the fleet's wind-down is simulated (and billed) for at most this long. @default 3600 */
  readonly tailCapS?: number;
  /** @default PRICE_SNAPSHOT */
  readonly snapshot?: PriceSnapshot;
  /** Called now and then with the share of the work done (0–1), for a progress bar. */
  readonly onProgress?: (done: number) => void;
}

export type NoticeRule = 'finish-or-requeue' | 'requeue-all';
export type NoticeEstimate = 'fleet' | 'job';
const NOTICE_RULES: readonly NoticeRule[] = ['finish-or-requeue', 'requeue-all'];
const NOTICE_ESTIMATES: readonly NoticeEstimate[] = ['fleet', 'job'];

function oneOf<T extends string>(value: T | undefined, fallback: T, allowed: readonly T[], name: string): T {
  const v = value ?? fallback;
  if (!allowed.includes(v)) throw new InputError(`${name}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

export type ResolvedOptions = Required<Omit<SimulationOptions, 'onProgress'>> & Pick<SimulationOptions, 'onProgress'>;

/** Applies defaults and validates; throws InputError naming the flag. */
export function resolveOptions(o: SimulationOptions = {}): ResolvedOptions {
  const snapshot = o.snapshot ?? PRICE_SNAPSHOT;
  const instanceType = o.instanceType ?? 'g5.xlarge';
  const region = o.region ?? 'us-east-1';
  if (!knownInstanceTypes(snapshot).includes(instanceType)) {
    throw new InputError(
      `--instance-type: unknown instance type ${JSON.stringify(instanceType)} (known: ${knownInstanceTypes(snapshot).join(', ')})`,
    );
  }
  if (hourlyPrice(instanceType, region, 'spot', snapshot) === undefined) {
    throw new InputError(`--region: no price for ${instanceType} in ${JSON.stringify(region)}`);
  }
  const bootMedianS = requireNumber(o.bootMedianS ?? 180, '--boot-median-s', 0, true);
  const bootP95S = requireNumber(o.bootP95S ?? 480, '--boot-p95-s', 0, true);
  if (bootP95S < bootMedianS) throw new InputError(`--boot-p95-s: must be ≥ --boot-median-s (${bootMedianS}), got ${bootP95S}`);
  const missedNoticeShare = requireNumber(o.missedNoticeShare ?? 0.05, '--missed-notice-share', 0);
  if (missedNoticeShare > 1) throw new InputError(`--missed-notice-share: expected a share from 0 to 1, got ${missedNoticeShare}`);
  const evaluationIntervalS = requireNumber(o.evaluationIntervalS ?? 10, 'evaluationIntervalS', 0, true);
  const invocationPeriodS = requireNumber(o.invocationPeriodS ?? 60, 'invocationPeriodS', 0, true);
  return {
    instanceType,
    region,
    maxInstances: requireInteger(o.maxInstances ?? 16, '--max-instances', 1, 10000),
    bootMedianS,
    bootP95S,
    interruptionsPerHour: requireNumber(o.interruptionsPerHour ?? 0.02, '--interruptions-per-hour', 0),
    missedNoticeShare,
    waitSloS: requireNumber(o.waitSloS ?? 300, '--wait-slo-s', 0, true),
    seed: requireInteger(o.seed ?? 1, '--seed', 0, 2 ** 32 - 1),
    visibilityTimeoutS: requireNumber(o.visibilityTimeoutS ?? 900, 'visibilityTimeoutS', 0, true),
    maxReceiveCount: requireInteger(o.maxReceiveCount ?? 5, 'maxReceiveCount', 1, 1000),
    retryMaxAttempts: requireInteger(o.retryMaxAttempts ?? 3, 'retryMaxAttempts', 1, 100),
    evaluationIntervalS,
    invocationPeriodS,
    wakeLatencyS: requireNumber(o.wakeLatencyS ?? 2, 'wakeLatencyS', 0),
    wakeDebounceS: requireNumber(o.wakeDebounceS ?? 10, 'wakeDebounceS', 0),
    requeueLatencyS: requireNumber(o.requeueLatencyS ?? 2, 'requeueLatencyS', 0),
    noticeRule: oneOf(o.noticeRule, 'finish-or-requeue', NOTICE_RULES, 'noticeRule'),
    noticeEstimate: oneOf(o.noticeEstimate, 'fleet', NOTICE_ESTIMATES, 'noticeEstimate'),
    rebalancesPerHour: requireNumber(o.rebalancesPerHour ?? 0, 'rebalancesPerHour', 0),
    replacementHealthyS: requireNumber(o.replacementHealthyS ?? 60, 'replacementHealthyS', 0),
    drainTimeoutS: requireNumber(o.drainTimeoutS ?? 120, 'drainTimeoutS', 0),
    metricLagS: requireNumber(o.metricLagS ?? 60, 'metricLagS', 0),
    cutoffAfterLastArrivalS: requireNumber(o.cutoffAfterLastArrivalS ?? 86400, 'cutoffAfterLastArrivalS', 0, true),
    tailCapS: requireNumber(o.tailCapS ?? 3600, 'tailCapS', 0),
    snapshot,
    onProgress: o.onProgress,
  };
}
