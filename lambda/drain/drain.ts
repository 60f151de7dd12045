/**
 * What the InterruptionDrainer does with one event, with every client injected (the handler in index.ts
 * only wires them).
 * - Spot warning → the instance is tagged draining (its worker stops taking jobs), and each RUNNING job of
 *   this workload gets the notice rule (lib/contracts/notice.ts): expected to end before the reclaim → left
 *   to finish (`reclaimAt` marked in its record); else back to its queue at once through requeueInterrupted
 *   (the one implementation the worker shares: record first, then a fresh copy, then delete; exactly one of
 *   two racing callers wins), all in parallel.
 * - Terminate lifecycle action → tagged draining; if a spot notice marked the jobs, they get until the reclaim;
 *   otherwise the instance is being replaced (Capacity Rebalancing, a health replacement), not reclaimed, and
 *   its jobs get until the drain timeout to finish, the hook heartbeated meanwhile. A job whose lease expired
 *   (its holder died) is requeued at once; what is left at the limit is requeued; then the action completes.
 * - Rebalance recommendation → the instance is tagged draining and nothing is requeued.
 *
 * Which fleet an instance belongs to: the spot and rebalance events name only the instance. The drainer
 * asks no Describe API (they take no resource-level permissions); instead it acts only on job records of
 * its own workload (the byInstance index), and tags an instance only through an ec2:CreateTags grant
 * conditioned on the instance's `aws:autoscaling:groupName` tag, so another group's instance is refused
 * by IAM and the event dropped.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand, RecordLifecycleActionHeartbeatCommand } from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { JobRecord, SPOT_NOTICE_SECONDS, Tags, finishesBeforeReclaim } from '../../lib/contracts';
import { JobRecords } from '../../runtime/jobs/job-records';
import { requeueInterrupted } from '../../runtime/jobs/requeue';
import { DrainEvent, parseDrainEvent } from './events';
import { Log } from '../../runtime/log';

export type DrainLog = Pick<Log, 'info' | 'warn'>;

export interface DrainDeps {
  readonly sqs: SQSClient;
  readonly records: JobRecords;
  readonly autoScaling: AutoScalingClient;
  readonly ec2: EC2Client;
  readonly workload: string;
  /** The fleet's Auto Scaling group and its terminate lifecycle hook. */
  readonly groupName: string;
  readonly hookName: string;
  /** Longest the drainer keeps requeueing before it completes the lifecycle action anyway. */
  readonly drainTimeoutSeconds: number;
  /** The hook's heartbeat timeout: while waiting, a heartbeat is recorded every half of it. */
  readonly heartbeatTimeoutSeconds: number;
  /** Pause before retrying after a failed requeue or query. @default 1000 */
  readonly retryPauseMs?: number;
  readonly log: DrainLog;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export type DrainOutcome = 'dropped' | 'drained' | 'tagged';

export interface DrainSummary {
  readonly outcome: DrainOutcome;
  readonly kind?: DrainEvent['kind'];
  readonly instanceId?: string;
  /** Why the event was dropped. */
  readonly reason?: string;
  /** Jobs this drainer took off the instance: record RUNNING → QUEUED with interruptions + 1, copy published. */
  readonly requeued: number;
  /** Jobs left running through the spot notice: expected to end before the reclaim. */
  readonly kept: number;
  /** Jobs that finished (or that their worker handed back) while the terminate hook waited. */
  readonly finishedWhileWaiting: number;
  /** Jobs found running whose requeue another party (the worker) had already won. */
  readonly alreadyHandled: number;
  /** Failed requeue attempts or queries (each retried until the deadline). */
  readonly failures: number;
  /** Jobs of ours still RUNNING on the instance at the deadline; SQS redelivers them after their lease. */
  readonly leftInFlight: number;
  /** Workloads other than ours whose jobs the instance holds (never touched). */
  readonly otherWorkloads: readonly string[];
  readonly heartbeats: number;
  readonly lifecycleCompleted: boolean;
  /** The instance got the draining tag (its worker takes no new jobs). */
  readonly taggedDraining?: boolean;
}

/** Time kept back from the Lambda's remaining time for completing the lifecycle action. */
const SAFETY_MS = 5_000;
const EMPTY = {
  requeued: 0,
  kept: 0,
  finishedWhileWaiting: 0,
  alreadyHandled: 0,
  failures: 0,
  leftInFlight: 0,
  otherWorkloads: [],
  heartbeats: 0,
  lifecycleCompleted: false,
};

/** Handle one event; never throws for an event that is not ours or not understood (it is logged and dropped). */
export async function handleDrainEvent(deps: DrainDeps, input: unknown, remainingMs?: () => number): Promise<DrainSummary> {
  const parsed = parseDrainEvent(input);
  if (!parsed.ok) return dropped(deps, parsed.reason, input);
  const event = parsed.event;
  const now = deps.now ?? Date.now;
  const budget = Math.min(deps.drainTimeoutSeconds * 1000, (remainingMs?.() ?? Infinity) - SAFETY_MS);
  const deadline = now() + Math.max(0, budget);

  switch (event.kind) {
    case 'rebalance':
      return markDraining(deps, event.instanceId, input);
    case 'spot-interruption': {
      const running = await deps.records.runningOn(event.instanceId);
      const others = [...new Set(running.map((r) => r.workload).filter((w) => w !== deps.workload))];
      if (running.length > 0 && !running.some((r) => r.workload === deps.workload)) {
        return dropped(deps, `instance ${event.instanceId} runs jobs of ${others.join(', ')} only, not ${deps.workload}`, input);
      }
      // Tag first: the worker takes nothing new from its next IMDS poll on, even if it missed the notice.
      const taggedDraining = running.length > 0 ? await tagDraining(deps, event.instanceId) : false;
      const reclaimAt = (event.noticeAt ?? now()) + SPOT_NOTICE_SECONDS * 1000;
      const drained = await drainInstance(deps, event.instanceId, deadline, undefined, reclaimAt);
      const touched = drained.requeued + drained.kept + drained.alreadyHandled + drained.leftInFlight;
      const reason = touched === 0 ? `no job of ${deps.workload} was running on the instance` : undefined;
      return report(deps, { ...EMPTY, ...drained, outcome: 'drained', kind: event.kind, instanceId: event.instanceId, reason, taggedDraining });
    }
    case 'terminate-lifecycle': {
      if (event.groupName !== deps.groupName || event.hookName !== deps.hookName) {
        return dropped(
          deps,
          `lifecycle action of group ${event.groupName} / hook ${event.hookName}, not ${deps.groupName} / ${deps.hookName}`,
          input,
        );
      }
      const heartbeat = heartbeater(deps, event);
      const taggedDraining = await tagDraining(deps, event.instanceId);
      const waited = await waitForRunningJobs(deps, event.instanceId, deadline, heartbeat.beat);
      const drained = await drainInstance(deps, event.instanceId, deadline, heartbeat.beat);
      const lifecycleCompleted = await completeLifecycle(deps, event);
      const summary: DrainSummary = {
        ...EMPTY,
        ...drained,
        requeued: drained.requeued + waited.requeued,
        alreadyHandled: drained.alreadyHandled + waited.alreadyHandled,
        failures: drained.failures + waited.failures,
        finishedWhileWaiting: waited.finished,
        heartbeats: heartbeat.count(),
        lifecycleCompleted,
        outcome: 'drained',
        kind: event.kind,
        instanceId: event.instanceId,
        taggedDraining,
      };
      return report(deps, summary);
    }
  }
}

function dropped(deps: DrainDeps, reason: string, input: unknown): DrainSummary {
  const id = typeof input === 'object' && input !== null ? (input as Record<string, unknown>).id : undefined;
  deps.log.warn('event dropped', { reason, eventId: typeof id === 'string' ? id : undefined });
  return { ...EMPTY, outcome: 'dropped', reason };
}

function report(deps: DrainDeps, summary: DrainSummary): DrainSummary {
  const { outcome: _outcome, reason, ...fields } = summary;
  if (summary.leftInFlight > 0) {
    deps.log.warn('drain deadline passed with jobs still running; SQS redelivers them after their lease', { ...fields });
  } else {
    deps.log.info(`instance drained${reason ? `: ${reason}` : ''}`, { ...fields });
  }
  return summary;
}

/** The clock, sleep and retry pause of a drain, injectable for tests. */
function timingOf(deps: DrainDeps) {
  return {
    now: deps.now ?? Date.now,
    sleep: deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    pause: deps.retryPauseMs ?? 1000,
  };
}

interface Drained {
  readonly requeued: number;
  readonly kept: number;
  readonly alreadyHandled: number;
  readonly failures: number;
  readonly leftInFlight: number;
  readonly otherWorkloads: readonly string[];
}

/**
 * Requeue every RUNNING job of this workload on the instance, all at once — or, given the spot notice's
 * `reclaimAt`, only those the notice rule does not keep — then look again (jobs the worker started meanwhile)
 * until nothing new is found; failures are retried after a pause until the deadline. A job already handled
 * here is remembered by (jobId, lease holder), so a stale read of the eventually consistent index cannot make
 * it count twice.
 */
export async function drainInstance(
  deps: DrainDeps,
  instanceId: string,
  deadline: number,
  whileWaiting?: () => Promise<void>,
  reclaimAt?: number,
): Promise<Drained> {
  const { now, sleep, pause } = timingOf(deps);
  const handled = new Set<string>();
  const others = new Set<string>();
  let requeued = 0;
  let kept = 0;
  let alreadyHandled = 0;
  let failures = 0;
  let pending = 0;
  let firstPass = true;

  for (;;) {
    let todo: JobRecord[] | undefined;
    try {
      const running = await deps.records.runningOn(instanceId);
      for (const r of running) if (r.workload !== deps.workload) others.add(r.workload);
      todo = running.filter((r) => r.workload === deps.workload && !handled.has(key(r)));
    } catch (e) {
      failures++;
      deps.log.warn("query of the instance's running jobs failed; retrying", { instanceId, error: String(e) });
    }
    if (todo && todo.length === 0) return { requeued, kept, alreadyHandled, failures, leftInFlight: 0, otherWorkloads: [...others] };
    if (todo) {
      pending = todo.length;
      // The first pass always runs (even with no time left); later ones only before the deadline.
      if (!firstPass && now() >= deadline) break;
      firstPass = false;
      const at = now();
      const keepOrRequeue = (r: JobRecord) =>
        reclaimAt !== undefined && keeps(r, at, reclaimAt) ? keepOne(deps, r, reclaimAt) : requeueOne(deps, r);
      const results = await Promise.allSettled(todo.map(keepOrRequeue));
      let failed = 0;
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') {
          handled.add(key(todo![i]));
          if (result.value === 'requeued') requeued++;
          else if (result.value === 'kept') kept++;
          else alreadyHandled++;
        } else {
          failed++;
          deps.log.warn('requeue failed; retrying', { jobId: todo![i].jobId, error: String(result.reason) });
        }
      });
      failures += failed;
      pending = failed;
      if (failed === 0) continue; // look again at once: anything started meanwhile
    }
    if (now() + pause >= deadline) break;
    await sleep(pause);
    await whileWaiting?.();
  }
  return { requeued, kept, alreadyHandled, failures, leftInFlight: pending, otherWorkloads: [...others] };
}

/**
 * The terminate hook's wait: until no job of ours runs on the instance, or the limit — the reclaim when a spot
 * notice marked the jobs (`reclaimAt`), else the deadline (a replacement: the jobs may finish). A job whose lease
 * expired meanwhile has a dead holder and is requeued at once.
 */
async function waitForRunningJobs(deps: DrainDeps, instanceId: string, deadline: number, beat: () => Promise<void>) {
  const { now, sleep, pause } = timingOf(deps);
  const seen = new Set<string>();
  const requeuedHere = new Set<string>();
  const requeuedIds = new Set<string>();
  let requeued = 0;
  let alreadyHandled = 0;
  let failures = 0;
  let running: JobRecord[] = [];
  for (;;) {
    try {
      running = (await deps.records.runningOn(instanceId)).filter((r) => r.workload === deps.workload);
    } catch (e) {
      failures++;
      deps.log.warn("query of the instance's running jobs failed; retrying", { instanceId, error: String(e) });
    }
    for (const r of running) seen.add(r.jobId);
    if (running.length === 0) break;
    const at = now();
    for (const r of running.filter((x) => x.leaseExpiresAt !== undefined && x.leaseExpiresAt < at && !requeuedHere.has(key(x)))) {
      try {
        const result = await requeueOne(deps, r);
        requeuedHere.add(key(r));
        requeuedIds.add(r.jobId);
        if (result === 'requeued') requeued++;
        else alreadyHandled++;
      } catch (e) {
        failures++;
        deps.log.warn("requeue of a dead holder's job failed; retrying", { jobId: r.jobId, error: String(e) });
      }
    }
    const reclaims = running.map((r) => r.reclaimAt).filter((t): t is number => t !== undefined);
    const limit = reclaims.length > 0 ? Math.min(deadline, Math.max(...reclaims)) : deadline;
    if (now() + pause >= limit) break;
    await sleep(pause);
    await beat();
  }
  const still = new Set(running.map((r) => r.jobId));
  const finished = [...seen].filter((id) => !still.has(id) && !requeuedIds.has(id)).length;
  return { requeued, alreadyHandled, failures, finished };
}

function key(r: JobRecord): string {
  return `${r.jobId}|${r.leaseHolder ?? r.receiptHandle ?? ''}`;
}

function keeps(r: JobRecord, nowMs: number, reclaimAt: number): boolean {
  const startedAtMs = r.startedAt !== undefined ? Date.parse(r.startedAt) : NaN;
  if (!Number.isFinite(startedAtMs)) return false;
  return finishesBeforeReclaim({ startedAtMs, expectedDoneAtMs: r.expectedDoneAt }, nowMs, reclaimAt);
}

async function keepOne(deps: DrainDeps, r: JobRecord, reclaimAt: number): Promise<'kept' | 'already-handled'> {
  if (!r.leaseHolder) throw new Error(`record ${r.jobId} is RUNNING without a lease holder`);
  return (await deps.records.keepThroughNotice(r.jobId, r.leaseHolder, reclaimAt)) ? 'kept' : 'already-handled';
}

async function requeueOne(deps: DrainDeps, r: JobRecord): Promise<'requeued' | 'already-handled'> {
  if (!r.queueUrl || !r.receiptHandle || !r.leaseHolder) throw new Error(`record ${r.jobId} is RUNNING without queueUrl/receiptHandle/leaseHolder`);
  return requeueInterrupted(deps.sqs, deps.records, { jobId: r.jobId, queueUrl: r.queueUrl, receiptHandle: r.receiptHandle, holder: r.leaseHolder });
}

function heartbeater(deps: DrainDeps, event: Extract<DrainEvent, { kind: 'terminate-lifecycle' }>) {
  const now = deps.now ?? Date.now;
  const interval = (deps.heartbeatTimeoutSeconds * 1000) / 2;
  let last = now();
  let count = 0;
  return {
    count: () => count,
    beat: async (): Promise<void> => {
      if (now() - last < interval) return;
      try {
        await deps.autoScaling.send(
          new RecordLifecycleActionHeartbeatCommand({
            AutoScalingGroupName: event.groupName,
            LifecycleHookName: event.hookName,
            LifecycleActionToken: event.token,
            InstanceId: event.instanceId,
          }),
        );
        last = now();
        count++;
      } catch (e) {
        deps.log.warn('lifecycle heartbeat failed', { instanceId: event.instanceId, error: String(e) });
      }
    },
  };
}

/** CONTINUE the termination; false when the action is no longer pending (completed before, or timed out). */
async function completeLifecycle(deps: DrainDeps, event: Extract<DrainEvent, { kind: 'terminate-lifecycle' }>): Promise<boolean> {
  try {
    await deps.autoScaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: event.groupName,
        LifecycleHookName: event.hookName,
        LifecycleActionToken: event.token,
        LifecycleActionResult: 'CONTINUE',
        InstanceId: event.instanceId,
      }),
    );
    return true;
  } catch (e) {
    if (isNoActiveLifecycleAction(e)) {
      deps.log.info('lifecycle action no longer pending (completed before, or timed out)', { instanceId: event.instanceId });
      return false;
    }
    throw e;
  }
}

function isNoActiveLifecycleAction(e: unknown): boolean {
  const err = e as { name?: string; message?: string };
  return err?.name === 'ValidationError' && /no active lifecycle action/i.test(err.message ?? '');
}

/** Errors by which EC2 says "not an instance you may tag" or "no such instance": drop, never retry. */
const NOT_OURS = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'InvalidInstanceID.NotFound',
  'InvalidInstanceID.Malformed',
]);

/** The draining tag: the worker stops taking jobs once its IMDS poll sees it. */
function putDrainingTag(deps: DrainDeps, instanceId: string): Promise<unknown> {
  return deps.ec2.send(new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: Tags.DRAINING, Value: 'true' }] }));
}

/** Tag the instance draining (its worker takes no new jobs); false when IAM refuses (not our group's) or EC2 fails. */
async function tagDraining(deps: DrainDeps, instanceId: string): Promise<boolean> {
  try {
    await putDrainingTag(deps, instanceId);
    return true;
  } catch (e) {
    deps.log.warn('could not tag the instance draining', { instanceId, error: String(e) });
    return false;
  }
}

async function markDraining(deps: DrainDeps, instanceId: string, input: unknown): Promise<DrainSummary> {
  const running = await deps.records.runningOn(instanceId);
  const otherWorkloads = [...new Set(running.map((r) => r.workload).filter((w) => w !== deps.workload))];
  if (running.length > 0 && !running.some((r) => r.workload === deps.workload)) {
    return dropped(deps, `instance ${instanceId} runs jobs of ${otherWorkloads.join(', ')} only, not ${deps.workload}`, input);
  }
  try {
    await putDrainingTag(deps, instanceId);
  } catch (e) {
    const name = (e as { name?: string; Code?: string }).name ?? (e as { Code?: string }).Code ?? '';
    if (NOT_OURS.has(name)) {
      return dropped(deps, `instance ${instanceId} is not one of group ${deps.groupName} (${name})`, input);
    }
    throw e;
  }
  deps.log.info('instance marked draining', { instanceId, tag: Tags.DRAINING });
  return { ...EMPTY, outcome: 'tagged', kind: 'rebalance', instanceId, otherWorkloads, taggedDraining: true };
}
