/**
 * The learned boot time: the launch-to-ready seconds the scaling policy uses, from the static prior
 * (`expectedBootSeconds`, the construct's `expectedBootTime`) and what the fleet's own boots showed — the
 * p90 of `ColdStartSeconds` at stage `model-healthy` over the last LEARNED_BOOT_WINDOW_HOURS.
 *
 * The rule (pure: the CapacityManager Lambda and the cost simulator call the same function):
 * - fewer than LEARNED_BOOT_MIN_SAMPLES boots in the window, or no reading at all → the prior;
 * - otherwise → the p90, rounded to a whole second and bounded to [LEARNED_BOOT_MIN_SECONDS,
 *   LEARNED_BOOT_MAX_SECONDS] (a broken publisher must not set a 0-s or a day-long idle window).
 *
 * Switch, not blend: five boots in a day already say more about this fleet's image, weights and instance
 * types than a configured guess does, and the prior is most often a warm-start guess that is wrong in
 * one direction (cold starts of a vLLM image plus weights take minutes longer). Blending would keep that
 * bias for dozens of boots; switching makes the number in the log the fleet's own. The p90 rather than
 * the median: the boot time sets the idle window, the ski-rental break-even against a relaunch, and a
 * relaunch is as costly as the boot it turns out to be — the tail, not the typical one, is what a
 * released instance risks.
 *
 * Where the policy uses the boot time (lib/compute/scaling-policy.ts): the idle window when it is not
 * set explicitly (its default is the boot time). The target backlog does not depend on it, and neither
 * does the wake-up; `delayedDueSoon`'s horizon is the boot time too, but only a caller that knows due
 * times (the simulator does not set it for ai-burst, SQS does not report them) would use it. So with an
 * explicit idle window the learned boot time changes nothing, and the CapacityManager does not read it.
 *
 * Import path for run-time code: `lib/compute/learned-boot` (imports only lib/contracts and scaling-policy).
 */
import { LEARNED_BOOT_MIN_SAMPLES, LEARNED_BOOT_WINDOW_HOURS } from '../contracts/boot';
import { ResolvedScalingPolicy } from './scaling-policy';

/** The learned boot time is never shorter than this (a boot faster than 30 s is a broken measurement). */
export const LEARNED_BOOT_MIN_SECONDS = 30;
/** ...nor longer than this (the longest `expectedBootTime` the construct accepts). */
export const LEARNED_BOOT_MAX_SECONDS = 7200;
/**
 * The CapacityManager reads the fleet's boot summary at most once per this many seconds per container
 * (the window is a day: a reading minutes old is as good as a fresh one, and GetMetricData costs per call).
 */
export const LEARNED_BOOT_REFRESH_SECONDS = 300;
/** After a failed read (throttled, denied), the next attempt waits this long; meanwhile the last good reading or the prior is used. */
export const LEARNED_BOOT_RETRY_SECONDS = 60;

/** What the fleet's boots showed over the window: `ColdStartSeconds{Stage=model-healthy}` SampleCount and p90. */
export interface BootSamples {
  /** Boots that reached `model-healthy` in the window. */
  readonly count: number;
  /** Their 90th percentile, seconds from launch. Undefined when there were none. */
  readonly p90Seconds?: number;
}

export type BootSource = 'prior' | 'learned';

/** The boot time the policy uses, and why. */
export interface BootTime {
  readonly bootSeconds: number;
  readonly source: BootSource;
  /** Boots seen in the window (0 without a reading). */
  readonly samples: number;
  /** The p90 read, before bounding (undefined without samples). */
  readonly p90Seconds?: number;
  /** One phrase for the log. */
  readonly reason: string;
}

/**
 * The boot seconds the policy uses: the prior until `minSamples` boots were seen in the window, then
 * their p90 (bounded). `samples` undefined = no reading (not read yet, or the read failed).
 */
export function learnedBootTime(priorSeconds: number, samples: BootSamples | undefined, minSamples: number = LEARNED_BOOT_MIN_SAMPLES): BootTime {
  if (!(Number.isFinite(priorSeconds) && priorSeconds > 0)) throw new Error(`learnedBootTime: the prior must be a number > 0 (got ${priorSeconds})`);
  const window = `${LEARNED_BOOT_WINDOW_HOURS} h`;
  if (samples === undefined) return { bootSeconds: priorSeconds, source: 'prior', samples: 0, reason: "prior: no reading of the fleet's boots" };
  const count = Number.isFinite(samples.count) && samples.count > 0 ? Math.floor(samples.count) : 0;
  const p90 = samples.p90Seconds;
  if (count < minSamples) {
    return {
      bootSeconds: priorSeconds,
      source: 'prior',
      samples: count,
      p90Seconds: p90,
      reason: `prior: ${count} of ${minSamples} boots in the last ${window}`,
    };
  }
  if (p90 === undefined || !(Number.isFinite(p90) && p90 > 0)) {
    return { bootSeconds: priorSeconds, source: 'prior', samples: count, reason: `prior: ${count} boots in the last ${window} but no p90` };
  }
  const bounded = Math.min(LEARNED_BOOT_MAX_SECONDS, Math.max(LEARNED_BOOT_MIN_SECONDS, Math.round(p90)));
  const clamped =
    bounded !== Math.round(p90) ? ` (bounded from ${Math.round(p90)} s to [${LEARNED_BOOT_MIN_SECONDS}, ${LEARNED_BOOT_MAX_SECONDS}] s)` : '';
  return {
    bootSeconds: bounded,
    source: 'learned',
    samples: count,
    p90Seconds: p90,
    reason: `learned: p90 of ${count} boots in the last ${window}${clamped}`,
  };
}

/**
 * The policy with `bootSeconds` as its boot time: `expectedBootSeconds` replaced, and the idle window too
 * when it follows the boot time (it was not set explicitly). Extra fields of `policy` are kept.
 */
export function withBootSeconds<P extends ResolvedScalingPolicy>(policy: P, bootSeconds: number, idleWindowFollowsBoot: boolean): P {
  return { ...policy, expectedBootSeconds: bootSeconds, idleWindowSeconds: idleWindowFollowsBoot ? bootSeconds : policy.idleWindowSeconds };
}
