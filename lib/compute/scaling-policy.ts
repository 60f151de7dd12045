/**
 * The scaling decision of a GPU fleet as a pure function: live queue state + fleet state + policy → the
 * desired capacity and why. The CapacityManager Lambda calls it with what GetQueueAttributes and
 * DescribeAutoScalingGroups return; the cost simulator calls it to replay traces. No I/O, no clock (the
 * caller passes `now`), no randomness: the same inputs always give the same decision.
 *
 * The rules, in order:
 * 1. **Backlog** = visible + in flight (+ delayed jobs due soon), summed over the priority queues.
 * 2. **Need** = ceil(backlog ÷ target backlog per instance). The target is given, or derived from a
 *    queue-wait SLO: `jobsPerInstance × (1 + floor(slo ÷ expected job duration))` — the jobs an instance
 *    runs at once plus those that can wait behind them and still start within the SLO.
 * 3. **Scale out at once**: when need exceeds the current desired capacity, desired jumps straight to
 *    need (from 0 too: one step, not one instance at a time), capped at the group's max.
 * 4. **Scale in after the idle window**: capacity level `k` is released only when no evaluation in the
 *    last `idleWindowSeconds` needed `k` or more instances (see {@link BusyLevel}). The default window is
 *    the expected boot-to-ready time: the ski-rental break-even — idling that long costs at most what a
 *    relaunch would, so the choice is never worse than 2× the best in hindsight. This is also the
 *    hysteresis: flapping input holds the peak instead of thrashing. The CapacityManager and the simulator pass
 *    the learned boot time as `expectedBootSeconds` (learned-boot.ts: the fleet's boot p90 once 5 boots were seen
 *    in a day, the configured prior until then), so a derived window follows it.
 * 5. **Never below the jobs in flight**: desired ≥ max(instances protected from scale-in, ceil(in-flight
 *    ÷ jobsPerInstance)), and ≥ the group's min. Busy workers protect themselves from scale-in, so
 *    lowering desired capacity only ever removes idle instances.
 *
 * Import path for run-time code: `lib/compute/scaling-policy` (this file imports nothing).
 */

/** Jobs on one priority queue, as GetQueueAttributes reports them. */
export interface PriorityBacklog {
  readonly priority: string;
  /** `ApproximateNumberOfMessages`: waiting and receivable now. */
  readonly visible: number;
  /** `ApproximateNumberOfMessagesNotVisible`: received by a worker and not yet deleted (running). */
  readonly inFlight: number;
  /** `ApproximateNumberOfMessagesDelayed`: retries in backoff, not yet receivable (SQS delay ≤ 15 min). */
  readonly delayed: number;
  /**
   * Of `delayed`, those that become visible within `expectedBootSeconds`; they count as backlog.
   * SQS does not report due times, so the Lambda leaves this out; a simulator that knows them sets it.
   * Delayed jobs not counted here never trigger a scale-out, but they keep capacity that is already
   * running from being released (a retry in backoff is about to need it).
   * @default 0
   */
  readonly delayedDueSoon?: number;
}

/** The live queue state of one workload. */
export interface QueueState {
  /** One entry per priority queue (order does not matter for capacity). */
  readonly queues: PriorityBacklog[];
}

/**
 * "The last time the fleet needed at least `level` instances" — the fleet's idle tracking.
 *
 * Why levels and not per-instance timers: the Lambda is stateless across invocations and cannot see
 * which instance ran what; the Auto Scaling group picks which instances to terminate, and only among
 * the unprotected (idle) ones. So it is enough to know, for each capacity level k, how long the k-th
 * instance has been surplus: level k is idle since `at` of the first entry with `level ≥ k`. A history
 * of these steps (levels descending, times ascending) is what {@link decideCapacity} needs; it returns
 * the updated history, which the caller keeps for the next call:
 * - the CapacityManager Lambda carries it from one evaluation to the next while warm, and persists it in a
 *   tag on the Auto Scaling group ({@link BUSY_HISTORY_TAG}, encoded by {@link encodeBusyHistory}, ≤ 256
 *   characters) for cold starts — no table, no extra service; the tag is written only on a material
 *   change, at most once a minute ({@link planBusyHistoryWrite});
 * - a simulator simply passes the previous decision's `busyHistory` back in.
 * A missing or unreadable history is treated as "every current instance was busy just now": losing the
 * state can only delay a scale-in by one idle window, never cut a busy level. Resolution: one evaluation
 * interval (the need is sampled at each call).
 */
export interface BusyLevel {
  /** Capacity level (instances). */
  readonly level: number;
  /** Epoch milliseconds of the last evaluation that needed at least `level` instances. */
  readonly at: number;
}

/**
 * The Auto Scaling group's state, as DescribeAutoScalingGroups reports it. Every count is in the unit of
 * the group's DesiredCapacity: instances, or weight units when the group's instance types have weights
 * (an instance of weight 4 counts 4 in `inService`, `pending` and `busy`). The policy's per-instance
 * numbers (`jobsPerInstance`, `targetBacklogPerInstance`) are then per weight unit.
 */
export interface FleetState {
  /** `DesiredCapacity` now. */
  readonly desired: number;
  /** `MinSize`. */
  readonly min: number;
  /** `MaxSize`: the decision never exceeds it. */
  readonly max: number;
  /** Instances `InService`. */
  readonly inService: number;
  /** Instances launching (`Pending*`): they count toward `desired`, so booting capacity is not re-bought. */
  readonly pending: number;
  /**
   * Instances holding a job: the worker turns scale-in protection on while it holds one and off when it
   * is idle, so this is the count of `InService` instances with `ProtectedFromScaleIn`.
   */
  readonly busy: number;
  /** The history from the previous decision. @default - unknown: current capacity treated as busy now */
  readonly busyHistory?: BusyLevel[];
  /** The counts are weight units (the reason then says "/unit"). @default false */
  readonly weighted?: boolean;
}

/** Policy inputs (all plain numbers so they travel as JSON in the Lambda's environment). */
export interface ScalingPolicy {
  /**
   * Jobs (running + waiting) one instance should carry. Set this, or `queueWaitSloSeconds` with
   * `expectedJobSeconds`, from which it is derived.
   * @default - derived from the SLO; `jobsPerInstance` when no SLO is given
   */
  readonly targetBacklogPerInstance?: number;
  /** Longest a job should wait in the queue before it starts, seconds (> 0). */
  readonly queueWaitSloSeconds?: number;
  /** Typical run time of one job, seconds (> 0). @default 60 */
  readonly expectedJobSeconds?: number;
  /** Jobs one instance runs at once (the worker's concurrency). @default 1 */
  readonly jobsPerInstance?: number;
  /** Expected launch-to-first-job time of an instance, seconds (the prior, or the learned p90: learned-boot.ts). @default 180 */
  readonly expectedBootSeconds?: number;
  /** How long a surplus level must stay unneeded before it is released, seconds. @default - `expectedBootSeconds` */
  readonly idleWindowSeconds?: number;
}

/** {@link ScalingPolicy} with every default applied and the target derived. */
export interface ResolvedScalingPolicy {
  readonly targetBacklogPerInstance: number;
  readonly jobsPerInstance: number;
  readonly expectedBootSeconds: number;
  readonly idleWindowSeconds: number;
}

export type ScalingAction = 'scale-out' | 'scale-in' | 'hold' | 'idle';

export interface CapacityDecision {
  /** Desired capacity to set, an integer within [min, max]. */
  readonly desired: number;
  /** One line for the log: what was seen and why this number. */
  readonly reason: string;
  readonly action: ScalingAction;
  /** Backlog counted for scale-out (visible + in flight + delayed due soon). */
  readonly backlog: number;
  /** Instances the backlog needs now (before the idle window, min and max). */
  readonly need: number;
  /** Backlog ÷ current instances (in service + pending; weight units when weighted), or the backlog itself at 0. */
  readonly backlogPerInstance: number;
  /** History to pass to the next call (persist it). */
  readonly busyHistory: BusyLevel[];
}

export const DEFAULT_EXPECTED_BOOT_SECONDS = 180;
export const DEFAULT_EXPECTED_JOB_SECONDS = 60;
/** Name of the Auto Scaling group tag holding the encoded busy history (not propagated to instances). */
export const BUSY_HISTORY_TAG = 'ai-burst:busy-history';
/** Entries kept in the history; more are merged conservatively (the tag value is limited to 256 chars). */
export const MAX_BUSY_LEVELS = 12;

function positive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new Error(`ScalingPolicy: ${name} must be a number > 0 (got ${value})`);
  }
}

/** Apply defaults and derive the target; throws with a message naming the field for invalid input. */
export function resolveScalingPolicy(policy: ScalingPolicy = {}): ResolvedScalingPolicy {
  positive('targetBacklogPerInstance', policy.targetBacklogPerInstance);
  positive('queueWaitSloSeconds', policy.queueWaitSloSeconds);
  positive('expectedJobSeconds', policy.expectedJobSeconds);
  positive('expectedBootSeconds', policy.expectedBootSeconds);
  const jobsPerInstance = policy.jobsPerInstance ?? 1;
  if (!Number.isInteger(jobsPerInstance) || jobsPerInstance < 1) {
    throw new Error(`ScalingPolicy: jobsPerInstance must be an integer ≥ 1 (got ${jobsPerInstance})`);
  }
  if (policy.idleWindowSeconds !== undefined && !(Number.isFinite(policy.idleWindowSeconds) && policy.idleWindowSeconds >= 0)) {
    throw new Error(`ScalingPolicy: idleWindowSeconds must be a number ≥ 0 (got ${policy.idleWindowSeconds})`);
  }
  const expectedBootSeconds = policy.expectedBootSeconds ?? DEFAULT_EXPECTED_BOOT_SECONDS;
  let target = policy.targetBacklogPerInstance;
  if (target === undefined) {
    target =
      policy.queueWaitSloSeconds === undefined
        ? jobsPerInstance
        : deriveTargetBacklog(policy.queueWaitSloSeconds, policy.expectedJobSeconds ?? DEFAULT_EXPECTED_JOB_SECONDS, jobsPerInstance);
  }
  return {
    targetBacklogPerInstance: target,
    jobsPerInstance,
    expectedBootSeconds,
    idleWindowSeconds: policy.idleWindowSeconds ?? expectedBootSeconds,
  };
}

/**
 * Target backlog per instance from a queue-wait SLO: the `jobsPerInstance` running plus the waiting jobs
 * that still start within the SLO behind them (each batch of `jobsPerInstance` takes `jobSeconds`).
 */
export function deriveTargetBacklog(queueWaitSloSeconds: number, jobSeconds: number, jobsPerInstance = 1): number {
  positive('queueWaitSloSeconds', queueWaitSloSeconds);
  positive('expectedJobSeconds', jobSeconds);
  return jobsPerInstance * (1 + Math.floor(queueWaitSloSeconds / jobSeconds));
}

function count(n: number | undefined): number {
  return n !== undefined && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/**
 * Record that `level` instances were needed at `now`: every level ≤ `level` is busy now. Levels above
 * keep their older times. Result: levels strictly descending, times strictly ascending.
 */
export function recordBusy(history: readonly BusyLevel[], level: number, now: number): BusyLevel[] {
  const kept = history.filter((e) => e.level > level);
  if (level > 0) kept.push({ level, at: now });
  return kept;
}

/** Drop levels idle for longer than the window; merge down to MAX_BUSY_LEVELS entries conservatively. */
function expire(history: readonly BusyLevel[], now: number, windowMs: number): BusyLevel[] {
  const live = history.filter((e) => now - e.at <= windowMs);
  while (live.length > MAX_BUSY_LEVELS) {
    // Merge the two neighbours closest in time: the higher level takes the later time (held longer, never shorter).
    let best = 0;
    for (let i = 1; i < live.length - 1; i++) {
      if (live[i + 1].at - live[i].at < live[best + 1].at - live[best].at) best = i;
    }
    live.splice(best, 2, { level: live[best].level, at: live[best + 1].at });
  }
  return live;
}

/** The highest level needed within the window (0 if none). */
function heldLevel(history: readonly BusyLevel[]): number {
  return history.length > 0 ? history[0].level : 0;
}

/** Valid history entries only, sorted and normalized (a corrupt tag must not break scaling). */
function normalize(history: readonly BusyLevel[] | undefined, now: number): BusyLevel[] {
  let out: BusyLevel[] = [];
  const valid = (history ?? [])
    .filter((e) => Number.isInteger(e.level) && e.level > 0 && Number.isFinite(e.at))
    .map((e) => ({ level: e.level, at: Math.min(e.at, now) }))
    .sort((a, b) => a.at - b.at || b.level - a.level);
  for (const e of valid) out = recordBusy(out, e.level, e.at);
  return out;
}

/**
 * Decide the desired capacity of a fleet. Pure and deterministic: see the file comment for the rules.
 * @param queue live queue state (GetQueueAttributes of every priority queue)
 * @param fleet the group's state (DescribeAutoScalingGroups) and the previous decision's history
 * @param policy the policy (defaults applied by {@link resolveScalingPolicy})
 * @param now epoch milliseconds of this evaluation
 */
export function decideCapacity(queue: QueueState, fleet: FleetState, policy: ScalingPolicy | ResolvedScalingPolicy, now: number): CapacityDecision {
  const p = resolveScalingPolicy(policy);
  const min = count(fleet.min);
  const max = Math.max(min, count(fleet.max));
  const current = count(fleet.desired);
  const instances = count(fleet.inService) + count(fleet.pending);

  let visible = 0;
  let inFlight = 0;
  let delayed = 0;
  let dueSoon = 0;
  for (const q of queue.queues) {
    visible += count(q.visible);
    inFlight += count(q.inFlight);
    const d = count(q.delayed);
    delayed += d;
    dueSoon += Math.min(d, count(q.delayedDueSoon));
  }
  const backlog = visible + inFlight + dueSoon;
  const target = p.targetBacklogPerInstance;

  // Levels: what the backlog needs, what running jobs pin, what retries in backoff keep.
  const backlogNeed = Math.ceil(backlog / target);
  const pinned = Math.max(count(fleet.busy), Math.ceil(inFlight / p.jobsPerInstance));
  const delayedKeep = Math.min(current, Math.ceil((backlog + delayed - dueSoon) / target));
  const need = Math.max(backlogNeed, pinned, delayedKeep);

  // Idle tracking: unknown capacity above the history counts as busy now (conservative), then the
  // current need is recorded and levels idle for the whole window expire.
  let history = normalize(fleet.busyHistory, now);
  if (current > Math.max(min, heldLevel(history))) history = recordBusy(history, current, now);
  history = recordBusy(history, need, now);
  history = expire(history, now, p.idleWindowSeconds * 1000);
  const held = heldLevel(history);

  const desired = Math.min(max, Math.max(min, need, held));
  const backlogPerInstance = instances > 0 ? backlog / instances : backlog;

  const seen =
    `backlog ${backlog} (visible ${visible}, in flight ${inFlight}` +
    `${delayed > 0 ? `, delayed ${delayed} of which due soon ${dueSoon}` : ''})` +
    ` at target ${round(target)}/${fleet.weighted ? 'unit' : 'instance'} needs ${need}` +
    `${pinned > 0 ? ` (${pinned} pinned by running jobs)` : ''}`;
  const capped = desired < Math.max(need, held) ? ` (capped at max ${max})` : '';
  let action: ScalingAction;
  let reason: string;
  if (desired > current) {
    action = 'scale-out';
    reason = `scale out ${current}→${desired}: ${seen}${capped}`;
  } else if (desired < current) {
    action = 'scale-in';
    reason =
      `scale in ${current}→${desired}: ${seen}; capacity above ${desired} idle for ≥ ${p.idleWindowSeconds}s` +
      `${desired === min && min > Math.max(need, held) ? ` (min ${min})` : ''}`;
  } else if (desired === 0) {
    action = 'idle';
    reason = `idle at 0: ${seen}`;
  } else {
    action = 'hold';
    const why =
      desired > need && held > need
        ? `; holding ${held} until idle for ${p.idleWindowSeconds}s (level ${held} last needed ${Math.round((now - lastNeeded(history, held)) / 1000)}s ago)`
        : desired === min && min > need
          ? `; min ${min}`
          : '';
    reason = `hold ${desired}: ${seen}${why}${capped}`;
  }
  return { desired, reason, action, backlog, need, backlogPerInstance, busyHistory: history };
}

function lastNeeded(history: readonly BusyLevel[], level: number): number {
  return history.find((e) => e.level >= level)?.at ?? 0;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Encode a history for the ASG tag: `v1:level@epochSeconds,…` (≤ 256 characters for MAX_BUSY_LEVELS). */
export function encodeBusyHistory(history: readonly BusyLevel[]): string {
  return 'v1:' + history.map((e) => `${e.level}@${Math.ceil(e.at / 1000)}`).join(',');
}

/** Decode a tag value; `undefined` for a missing or unreadable value (→ the conservative default). */
export function decodeBusyHistory(value: string | undefined): BusyLevel[] | undefined {
  if (value === undefined || !value.startsWith('v1:')) return undefined;
  const body = value.slice(3);
  if (body === '') return [];
  const out: BusyLevel[] = [];
  for (const part of body.split(',')) {
    const m = /^(\d{1,6})@(\d{1,12})$/.exec(part);
    if (!m) return undefined;
    out.push({ level: Number(m[1]), at: Number(m[2]) * 1000 });
  }
  return out;
}

// ---- persisting the history: the tag is written only on a material change, at most once a minute ----

/**
 * Fewest seconds between two writes of the busy-history tag (CreateOrUpdateTags; Auto Scaling API
 * throttling is account-wide, and the CapacityManager evaluates every 10 s).
 */
export const BUSY_HISTORY_WRITE_INTERVAL_SECONDS = 60;
/**
 * A level's "last needed" time moving by at least this much against the tag is a material change. Under
 * steady load the held level's time advances at every evaluation; that alone is worth one write a minute
 * (so a cold start's copy is never more than about a minute old), not six.
 */
export const BUSY_HISTORY_DRIFT_SECONDS = 30;

/**
 * What the CapacityManager carries from one evaluation to the next while its container is warm. The
 * carried history is the authority (so throttling the tag never changes a decision); the tag is the copy
 * a cold start or a concurrent invocation reads.
 */
export interface BusyHistoryCarry {
  /** The previous decision's history, at full precision. */
  readonly history: BusyLevel[];
  /** The tag value as the carrier last wrote or read it. */
  readonly tag?: string;
  /** When the carrier last wrote the tag (epoch ms); unset: not since it started. */
  readonly writtenAt?: number;
}

/**
 * The history to decide with: the carried one while the tag is still what the carrier last wrote or read;
 * the tag alone without a carry (cold start); both merged (each level held until the later of the two
 * times — conservative) when someone else wrote the tag meanwhile (a wake in another container).
 */
export function busyHistoryInput(carry: BusyHistoryCarry | undefined, tag: string | undefined): BusyLevel[] | undefined {
  if (!carry) return decodeBusyHistory(tag);
  if (tag === carry.tag) return carry.history;
  const stored = decodeBusyHistory(tag);
  return stored ? [...carry.history, ...stored] : carry.history;
}

/**
 * Why `next` differs materially from the history in the tag, or undefined when it does not. Material:
 * the tag is missing or unreadable; the set of levels differs (a level was added — more capacity was
 * needed — or one expired — capacity may be released); or some level's time moved by at least
 * BUSY_HISTORY_DRIFT_SECONDS.
 */
export function materialHistoryChange(stored: readonly BusyLevel[] | undefined, next: readonly BusyLevel[]): string | undefined {
  if (!stored) return 'no readable history in the tag';
  const levels = (h: readonly BusyLevel[]) => h.map((e) => e.level).join(',');
  if (levels(stored) !== levels(next)) return `levels [${levels(stored)}] → [${levels(next)}]`;
  for (let i = 0; i < next.length; i++) {
    const moved = Math.abs(next[i].at - stored[i].at) / 1000;
    if (moved >= BUSY_HISTORY_DRIFT_SECONDS) return `level ${next[i].level} last needed ${Math.round(moved)}s later`;
  }
  return undefined;
}

export interface BusyHistoryWrite {
  /** Write `value` to the tag now. */
  readonly write: boolean;
  /** The encoded history of this decision. */
  readonly value: string;
  /** For the log: the material change, and why it waits if it does. */
  readonly reason: string;
  /** What to carry into the next evaluation once the write (if any) succeeded. */
  readonly carry: BusyHistoryCarry;
  /** What to carry if the write failed: the history moves on, the tag is retried at the next evaluation. */
  readonly carryIfWriteFails: BusyHistoryCarry;
}

/**
 * Whether to write the busy-history tag after a decision. Write when the decision's history differs
 * materially from the tag ({@link materialHistoryChange}) and the carrier's last write is at least
 * BUSY_HISTORY_WRITE_INTERVAL_SECONDS old (or unknown). A change that must wait is not lost: it is
 * compared with the tag again at every evaluation, and written at the first one allowed.
 * @param carry what the previous evaluation carried (undefined at a cold start)
 * @param tag the tag value read for this evaluation
 * @param next the history this evaluation's decision returned
 * @param now epoch milliseconds of this evaluation
 */
export function planBusyHistoryWrite(carry: BusyHistoryCarry | undefined, tag: string | undefined, next: BusyLevel[], now: number): BusyHistoryWrite {
  const value = encodeBusyHistory(next);
  const change = value === tag ? undefined : materialHistoryChange(decodeBusyHistory(tag), next);
  const writtenAt = carry?.writtenAt;
  const sinceMs = writtenAt === undefined ? Infinity : now - writtenAt;
  const allowed = sinceMs >= BUSY_HISTORY_WRITE_INTERVAL_SECONDS * 1000;
  const write = change !== undefined && allowed;
  const unchanged: BusyHistoryCarry = { history: next, tag, writtenAt };
  let reason: string;
  if (change === undefined) reason = value === tag ? 'unchanged' : 'no material change';
  else if (write) reason = change;
  else reason = `${change}; waits: last write ${Math.round(sinceMs / 1000)}s ago (at most one per ${BUSY_HISTORY_WRITE_INTERVAL_SECONDS}s)`;
  return { write, value, reason, carry: write ? { history: next, tag: value, writtenAt: now } : unchanged, carryIfWriteFails: unchanged };
}
