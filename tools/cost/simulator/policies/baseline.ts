/**
 * What the baselines share: the fleet a user builds without this library — one SQS queue with a
 * dead-letter queue, a worker that does not heartbeat (the visibility timeout is set above the longest
 * job instead), no scale-in protection, and nothing that acts on a spot notice or a rebalance
 * recommendation (Capacity Rebalancing is off by default on an Auto Scaling group).
 */
import { FleetBehaviour, PolicySetup } from '../policy';

/** SQS's largest visibility timeout. */
const MAX_VISIBILITY_S = 12 * 3600;

/** A careful user's visibility timeout: 1.5 × the longest job, at least 30 s (the SQS default). */
export function baselineVisibilityTimeoutS(setup: PolicySetup): number {
  return Math.min(MAX_VISIBILITY_S, Math.max(30, Math.ceil(1.5 * setup.maxGpuSeconds)));
}

export function baselineBehaviour(setup: PolicySetup, market: 'spot' | 'on-demand', warm: number): FleetBehaviour {
  return {
    market,
    priorityQueues: false,
    protectBusy: false,
    requeueAtNotice: false,
    capacityRebalance: false,
    heartbeat: false,
    retryHandler: false,
    visibilityTimeoutS: baselineVisibilityTimeoutS(setup),
    warmAtStart: warm,
    floor: warm,
  };
}
