/**
 * What happens to a running job when its instance is about to go: the one rule the worker (IMDS spot
 * notice), the InterruptionDrainer (EventBridge warning, terminate hook) and the simulator all apply.
 * Pure and dependency-free.
 *
 * - Spot reclaim (2-minute notice): a job expected to finish before the reclaim, less a margin, keeps
 *   running; every other job is requeued at once (its work so far is lost either way, and the sooner it
 *   is back on the queue the sooner another instance runs it).
 * - Replacement (Capacity Rebalancing or a terminate hook without a spot notice): the instance is not
 *   being reclaimed, so its jobs finish, up to the drain timeout; only what is left then is requeued.
 */

/** How long before the reclaim a job kept running must be expected to end (result write, delete, clock skew). */
export const NOTICE_FINISH_MARGIN_SECONDS = 20;

/**
 * A job kept through a notice that is still running this long before the reclaim is requeued then (the worker's
 * last chance to hand it back itself, rather than leave it to its lease).
 */
export const LAST_CALL_BEFORE_RECLAIM_SECONDS = NOTICE_FINISH_MARGIN_SECONDS / 2;

/** Seconds between a spot interruption notice and the reclaim (EC2 documents two minutes). */
export const SPOT_NOTICE_SECONDS = 120;

export interface RunningJobTiming {
  /** When the job started on this instance (epoch ms). */
  readonly startedAtMs: number;
  /** The fleet's expected job duration, when configured. */
  readonly expectedDurationSeconds?: number;
  /**
   * A better estimate of the end from the job's own progress (e.g. streamed tokens against the request's
   * `max_tokens`), when the worker has one (epoch ms).
   */
  readonly expectedDoneAtMs?: number;
}

/** When the job is expected to end (epoch ms), or undefined when nothing is known about its length. */
export function expectedDoneAt(job: RunningJobTiming): number | undefined {
  if (job.expectedDoneAtMs !== undefined) return job.expectedDoneAtMs;
  if (job.expectedDurationSeconds === undefined) return undefined;
  return job.startedAtMs + job.expectedDurationSeconds * 1000;
}

/**
 * True when a job should keep running through a spot notice: it is expected to end at least `marginSeconds`
 * before `reclaimAtMs`. A job of unknown length, or one already past its expected end (it is running long,
 * so the estimate says nothing), is requeued.
 */
export function finishesBeforeReclaim(
  job: RunningJobTiming,
  nowMs: number,
  reclaimAtMs: number,
  marginSeconds = NOTICE_FINISH_MARGIN_SECONDS,
): boolean {
  const done = expectedDoneAt(job);
  if (done === undefined || done < nowMs) return false;
  return done <= reclaimAtMs - marginSeconds * 1000;
}
