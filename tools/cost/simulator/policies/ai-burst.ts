/**
 * `ai-burst`: this library's scheduler — the real `decideCapacity` from lib/compute/scaling-policy.ts,
 * called the way the CapacityManager Lambda calls it:
 * - an EventBridge schedule every `invocationPeriodS` (60 s), each invocation evaluating every
 *   `evaluationIntervalS` (10 s) on live queue attributes (GetQueueAttributes, not CloudWatch) and the
 *   group's state, carrying the busy-level history from one decision to the next as a warm Lambda does,
 *   and writing the group tag when planBusyHistoryWrite says so (counted: `historyTagWrites`, against
 *   `historyChanges`, the writes of a Lambda that wrote every change);
 * - the submit path's wake-up (lambda/shared/fleet-wake.ts): at most once per `wakeDebounceS` the submit
 *   path probes the backlog before sending; if it was empty (a fleet at zero, or idle), it invokes the
 *   CapacityManager asynchronously, which evaluates once, `wakeLatencyS` later;
 * - the fleet: spot, one queue per priority polled highest first, busy workers protected from
 *   scale-in, lease heartbeats, the notice rule at a spot notice (finish what ends before the reclaim,
 *   requeue a copy with interruptions + 1 of the rest; the worker knows `expectedJobSeconds`), Capacity
 *   Rebalancing with the drainer's terminate hook, and a RetryHandler behind the dead-letter queue.
 *
 * - the learned boot time (lib/compute/learned-boot.ts), with `learnedBoot` (the default, as deployed): every
 *   boot's ColdStartSeconds reaches the CloudWatch model when the instance turns ready; the manager reads the
 *   window's count and p90 at most every LEARNED_BOOT_REFRESH_SECONDS (one warm container) and decides with
 *   `learnedBootTime(prior, reading)` — the prior until 5 boots in the last 24 h, then their p90 — as the
 *   boot time, the idle window following it unless `idleWindowSeconds` is set. Off: the static prior.
 *
 * What the Lambda cannot see it is not given: `delayedDueSoon` stays unset (SQS does not report due
 * times), and the policy knows the trace only as its configurer would (mean job length for
 * `expectedJobSeconds`, the boot median for `expectedBootSeconds`, the prior).
 */
import { BootSamples, BootTime, LEARNED_BOOT_REFRESH_SECONDS, learnedBootTime, withBootSeconds } from '../../../../lib/compute/learned-boot';
import {
  BusyHistoryCarry,
  busyHistoryInput,
  decideCapacity,
  encodeBusyHistory,
  planBusyHistoryWrite,
  QueueState,
  resolveScalingPolicy,
  ScalingPolicy,
} from '../../../../lib/compute/scaling-policy';
import { LEARNED_BOOT_WINDOW_HOURS } from '../../../../lib/contracts/boot';
import { PolicyContext, PolicySetup, SimPolicy } from '../policy';

export interface AiBurstOptions {
  /**
   * Learn the boot time from the fleet's boots, as the CapacityManager does; false = the static prior
   * (`expectedBootSeconds`) throughout.
   * @default true
   */
  readonly learnedBoot?: boolean;
}

/** One read of the fleet's boots: when, what CloudWatch returned, and the boot time decided with from then on. */
export interface BootReading extends BootTime {
  readonly t: number;
}

export interface AiBurstSimPolicy extends SimPolicy {
  /** Every read of the boot summary (one per LEARNED_BOOT_REFRESH_SECONDS), in time order; empty when not learning. */
  bootReadings(): readonly BootReading[];
}

/** The ScalingPolicy a user of this trace would configure (SLO, typical job, boot), plus any overrides. */
export function aiBurstScalingPolicy(setup: PolicySetup, overrides: ScalingPolicy = {}): ScalingPolicy {
  return {
    queueWaitSloSeconds: setup.options.waitSloS,
    expectedJobSeconds: setup.meanGpuSeconds,
    jobsPerInstance: 1,
    expectedBootSeconds: setup.options.bootMedianS,
    ...overrides,
  };
}

/**
 * @param overrides ScalingPolicy fields to try instead of the defaults (e.g. a longer
 *   `idleWindowSeconds`); the run is then named `ai-burst(...)` so it cannot pass for the default.
 * @param options `learnedBoot: false` names the run `ai-burst(static boot)` (or adds it to the list).
 */
export function aiBurstPolicy(setup: PolicySetup, overrides: ScalingPolicy = {}, options: AiBurstOptions = {}): AiBurstSimPolicy {
  const o = setup.options;
  const scaling = aiBurstScalingPolicy(setup, overrides);
  const learnedBoot = options.learnedBoot ?? true;
  const resolved = resolveScalingPolicy(scaling);
  const idleWindowFollowsBoot = scaling.idleWindowSeconds === undefined;
  const tuned = [...Object.entries(overrides).map(([k, v]) => `${k}=${v}`), ...(learnedBoot ? [] : ['static boot'])].join(',');
  let carry: BusyHistoryCarry | undefined;
  let tag: string | undefined;
  let lastProbe = -Infinity;
  const stats = { evaluations: 0, historyTagWrites: 0, historyChanges: 0, bootReads: 0, bootSecondsLast: resolved.expectedBootSeconds };
  const readings: BootReading[] = [];
  let reading: BootSamples | undefined;
  let nextReadAt = -Infinity;

  /** The boot time at `t`: re-read the window's summary when the container's copy is stale. */
  const bootSecondsAt = (ctx: PolicyContext): number => {
    if (!learnedBoot) return resolved.expectedBootSeconds;
    if (ctx.now >= nextReadAt) {
      reading = ctx.cloudwatch.bootSamples(ctx.now, LEARNED_BOOT_WINDOW_HOURS * 3600);
      nextReadAt = ctx.now + LEARNED_BOOT_REFRESH_SECONDS;
      const boot = learnedBootTime(resolved.expectedBootSeconds, reading);
      readings.push({ t: ctx.now, ...boot });
      stats.bootReads++;
      stats.bootSecondsLast = boot.bootSeconds;
    }
    return stats.bootSecondsLast;
  };

  const evaluate = (ctx: PolicyContext, why: string): void => {
    const queue: QueueState = {
      queues: ctx.queues.map((q) => {
        const c = ctx.queueCounts(q);
        return { priority: q, visible: c.visible, inFlight: c.inflight, delayed: c.delayed };
      }),
    };
    const fleet = ctx.fleet();
    const booting = fleet.instances.filter((i) => i.state === 'booting').length;
    const now = Math.round(ctx.now * 1000);
    const previous = carry ? encodeBusyHistory(carry.history) : undefined;
    const decision = decideCapacity(
      queue,
      {
        desired: fleet.desired,
        min: 0,
        max: fleet.maxInstances,
        inService: fleet.instances.length - booting,
        pending: booting,
        busy: fleet.instances.filter((i) => i.state === 'busy').length,
        busyHistory: busyHistoryInput(carry, tag),
      },
      withBootSeconds(resolved, bootSecondsAt(ctx), idleWindowFollowsBoot),
      now,
    );
    const plan = planBusyHistoryWrite(carry, tag, decision.busyHistory, now);
    stats.evaluations++;
    if (plan.value !== previous) stats.historyChanges++;
    if (plan.write) {
      tag = plan.value;
      stats.historyTagWrites++;
    }
    carry = plan.carry;
    if (decision.desired !== fleet.desired) ctx.setDesired(decision.desired, `${why}: ${decision.reason}`);
  };

  return {
    name: tuned ? `ai-burst(${tuned})` : 'ai-burst',
    market: 'spot',
    priorityQueues: true,
    protectBusy: true,
    requeueAtNotice: true,
    expectedJobSeconds: scaling.expectedJobSeconds,
    capacityRebalance: true,
    heartbeat: true,
    retryHandler: true,
    visibilityTimeoutS: o.visibilityTimeoutS,
    warmAtStart: 0,
    floor: 0,
    stats: () => ({ ...stats }),
    bootReadings: () => readings,
    start(ctx) {
      const perInvocation = Math.max(1, Math.floor(o.invocationPeriodS / o.evaluationIntervalS));
      const invoke = (t: number): void => {
        for (let j = 0; j < perInvocation; j++) ctx.at(t + j * o.evaluationIntervalS, () => evaluate(ctx, 'schedule'));
        ctx.at(t + o.invocationPeriodS, () => invoke(t + o.invocationPeriodS));
      };
      invoke(0);
    },
    onSubmit(ctx, backlogBeforeSend) {
      if (ctx.now - lastProbe < o.wakeDebounceS) return;
      lastProbe = ctx.now;
      if (backlogBeforeSend > 0) return;
      ctx.at(ctx.now + o.wakeLatencyS, () => evaluate(ctx, 'wake'));
    },
  };
}
