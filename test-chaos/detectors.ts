/**
 * The checks of issue 12, each a pure function over the collected evidence (evidence.ts) returning its
 * violations. detectors.test.ts plants one fault per check and shows that it fires.
 */
import { CallEvidence, Evidence, InstanceEvidence, LogLine } from './evidence';

export const CHECKS = [
  'nothing-lost',
  'succeeded-once',
  'no-live-lease-takeover',
  'result-is-the-records',
  'attempts-within-budget',
  'no-start-after-drain',
] as const;
export type CheckName = (typeof CHECKS)[number];

export interface Violation {
  readonly check: CheckName;
  readonly jobId?: string;
  readonly instanceId?: string;
  readonly detail: string;
}

/** The worker log lines the checks read (worker/job-runner.ts, worker/worker.ts). */
export const LOG = {
  STARTED: 'job started',
  SUCCEEDED: 'job succeeded',
  SPOT_NOTICE: 'spot interruption notice',
  DRAINING: 'draining:',
} as const;

/**
 * A 'job started' line up to this long after the instance was drained is not counted: the start's conditional
 * write may have been accepted just before the drainer's last look, and the line is written after the write
 * returns (the worker and the servers share 2 busy cores).
 */
export const START_AFTER_DRAIN_ALLOWANCE_MS = 1000;

/** The unique text an answered call returns: a result names the call (and so the run) that produced it. */
export function outputOf(callId: string): string {
  return `[[call ${callId}]]`;
}
const OUTPUT_PATTERN = /\[\[call (c\d+)\]\]/;

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export function runChecks(e: Evidence): Record<CheckName, Violation[]> {
  return {
    'nothing-lost': nothingLost(e),
    'succeeded-once': succeededOnce(e),
    'no-live-lease-takeover': noLiveLeaseTakeover(e),
    'result-is-the-records': resultIsTheRecords(e),
    'attempts-within-budget': attemptsWithinBudget(e),
    'no-start-after-drain': noStartAfterDrain(e),
  };
}

/** Every job ends in a terminal record or has a message on a work queue, the DLQ or the parking queue; every poison body is parked. */
export function nothingLost(e: Evidence): Violation[] {
  const out: Violation[] = [];
  for (const job of e.jobs) {
    if (job.record && TERMINAL.has(job.record.status)) continue;
    if (job.messages > 0) continue;
    out.push({ check: 'nothing-lost', jobId: job.jobId, detail: `record ${job.record?.status ?? 'missing'} and no message on any queue` });
  }
  e.poison.forEach((p, i) => {
    if (!p.parked) out.push({ check: 'nothing-lost', detail: `poison body #${i} (${p.body.slice(0, 40)}) is not on the parking queue` });
  });
  return out;
}

/** At most one run reports success per job ('job succeeded' follows the conditional RUNNING → SUCCEEDED write). */
export function succeededOnce(e: Evidence): Violation[] {
  const out: Violation[] = [];
  for (const [jobId, lines] of byJob(e.logs.filter((l) => l.message === LOG.SUCCEEDED))) {
    if (lines.length > 1) {
      const on = lines.map((l) => l.instanceId).join(', ');
      out.push({ check: 'succeeded-once', jobId, detail: `SUCCEEDED written ${lines.length} times (on ${on})` });
    }
  }
  return out;
}

/**
 * No run takes a job over while an earlier run of it still holds its lease. Two kinds of evidence: two model
 * calls of one job overlap in time, or a run starts ('job started') while an earlier run of the job has not
 * ended (no later log line of that job on its instance: succeeded, failed, requeued, lease lost, result
 * discarded). Either way the earlier holder must have been killed, its instance interrupted, or its job
 * timeout passed before the later one began; otherwise the takeover stole a live lease.
 */
export function noLiveLeaseTakeover(e: Evidence): Violation[] {
  const out: Violation[] = [];
  const inst = instances(e);
  const excused = (holderId: string, holderStart: number, takerStart: number) => {
    const holder = inst.get(holderId);
    return (
      (holder?.killedAt ?? Infinity) <= takerStart || (holder?.interruptedAt ?? Infinity) <= takerStart || takerStart - holderStart >= e.jobTimeoutMs
    );
  };
  const flagged = new Set<string>();
  for (const [jobId, calls] of callsByJob(e.calls)) {
    for (let i = 0; i < calls.length; i++) {
      for (let j = i + 1; j < calls.length; j++) {
        const [a, b] = [calls[i], calls[j]];
        if (b.startedAt >= (a.endedAt ?? Infinity) || excused(a.instanceId, a.startedAt, b.startedAt)) continue;
        flagged.add(jobId);
        out.push({
          check: 'no-live-lease-takeover',
          jobId,
          instanceId: b.instanceId,
          detail: `call ${b.id} on ${b.instanceId} began while ${a.id} on live ${a.instanceId} was running (${b.startedAt - a.startedAt} ms in)`,
        });
      }
    }
  }
  for (const [jobId, runs] of runsByJob(e.logs)) {
    if (flagged.has(jobId)) continue; // one violation per job is enough when the calls already show it
    for (let i = 0; i < runs.length; i++) {
      for (let j = i + 1; j < runs.length; j++) {
        const [a, b] = [runs[i], runs[j]];
        if (b.startedAt >= (a.endedAt ?? Infinity) || excused(a.instanceId, a.startedAt, b.startedAt)) continue;
        out.push({
          check: 'no-live-lease-takeover',
          jobId,
          instanceId: b.instanceId,
          detail: `run on ${b.instanceId} started while the run on live ${a.instanceId} had not ended (${b.startedAt - a.startedAt} ms in)`,
        });
      }
    }
  }
  return out;
}

export interface Run {
  readonly instanceId: string;
  readonly startedAt: number;
  /** The run's next log line of the job on its instance (its outcome); undefined while it had none. */
  readonly endedAt?: number;
}

/** Runs per job from the workers' log lines: each 'job started' to the next line of that job on that instance. */
export function runsByJob(logs: readonly LogLine[]): Map<string, Run[]> {
  const m = new Map<string, Run[]>();
  const ordered = [...logs].filter((l) => l.jobId).sort((a, b) => a.time - b.time);
  for (const [i, l] of ordered.entries()) {
    if (l.message !== LOG.STARTED) continue;
    const end = ordered.slice(i + 1).find((x) => x.jobId === l.jobId && x.instanceId === l.instanceId);
    m.set(l.jobId!, [...(m.get(l.jobId!) ?? []), { instanceId: l.instanceId, startedAt: l.time, endedAt: end?.time }]);
  }
  return m;
}

/**
 * A SUCCEEDED record's result (the object its resultRef names, or the inline result) is the output of the
 * winning run: the last answered call, before its success line, on the instance that logged 'job succeeded'.
 */
export function resultIsTheRecords(e: Evidence): Violation[] {
  const out: Violation[] = [];
  const successes = byJob(e.logs.filter((l) => l.message === LOG.SUCCEEDED));
  const calls = callsByJob(e.calls);
  for (const job of e.jobs) {
    if (job.record?.status !== 'SUCCEEDED') continue;
    const won = successes.get(job.jobId)?.[0];
    if (!won) continue; // killed between the write and its log line: the winner cannot be named
    const content = job.record.resultRef !== undefined ? job.resultObject : job.record.result;
    const winner = (calls.get(job.jobId) ?? [])
      .filter((c) => c.instanceId === won.instanceId && c.end === 'answered' && c.startedAt <= won.time)
      .sort((x, y) => y.startedAt - x.startedAt)[0];
    const v = (detail: string) => out.push({ check: 'result-is-the-records', jobId: job.jobId, instanceId: won.instanceId, detail });
    if (content === undefined) v(`SUCCEEDED but no result is readable (resultRef ${job.record.resultRef ?? 'none'})`);
    else if (!winner) v(`no answered model call on the winning instance ${won.instanceId}`);
    else if (!content.includes(outputOf(winner.id))) {
      const holds = OUTPUT_PATTERN.exec(content)?.[1] ?? 'no known call';
      v(`result holds the output of ${holds}, the winning run's call was ${winner.id}`);
    }
  }
  return out;
}

/** The record's attempt, and the model calls that failed on their own (not killed, not interrupted), stay within maxAttempts. */
export function attemptsWithinBudget(e: Evidence): Violation[] {
  const out: Violation[] = [];
  const inst = instances(e);
  for (const job of e.jobs) {
    if (job.record && job.record.attempt > e.maxAttempts) {
      out.push({ check: 'attempts-within-budget', jobId: job.jobId, detail: `record attempt ${job.record.attempt} > maxAttempts ${e.maxAttempts}` });
    }
  }
  for (const [jobId, calls] of callsByJob(e.calls)) {
    const failed = calls.filter((c) => c.fault !== 'ok' && c.end !== 'open' && !stoppedFromOutside(c, inst.get(c.instanceId)));
    if (failed.length > e.maxAttempts) {
      out.push({ check: 'attempts-within-budget', jobId, detail: `${failed.length} failed model calls > maxAttempts ${e.maxAttempts}` });
    }
  }
  return out;
}

/** No 'job started' on an instance after it was drained (drainer done, or its own spot notice or drain line) plus the allowance. */
export function noStartAfterDrain(e: Evidence): Violation[] {
  const out: Violation[] = [];
  const drained = drainedAt(e);
  for (const l of e.logs) {
    if (l.message !== LOG.STARTED) continue;
    const at = drained.get(l.instanceId);
    if (at !== undefined && l.time > at + START_AFTER_DRAIN_ALLOWANCE_MS) {
      const detail = `started ${l.time - at} ms after the instance was drained`;
      out.push({ check: 'no-start-after-drain', jobId: l.jobId, instanceId: l.instanceId, detail });
    }
  }
  return out;
}

/** When each instance stopped being allowed to start jobs. */
export function drainedAt(e: Evidence): Map<string, number> {
  const at = new Map<string, number>();
  const earliest = (id: string, t: number | undefined) => {
    if (t !== undefined) at.set(id, Math.min(at.get(id) ?? Infinity, t));
  };
  for (const i of e.instances) earliest(i.instanceId, i.drainerDoneAt);
  for (const l of e.logs) if (l.message.startsWith(LOG.SPOT_NOTICE) || l.message.startsWith(LOG.DRAINING)) earliest(l.instanceId, l.time);
  return at;
}

/** The call ended because its instance was killed or interrupted while it ran. */
export function stoppedFromOutside(c: CallEvidence, i: InstanceEvidence | undefined): boolean {
  const end = c.endedAt ?? Infinity;
  if (i?.killedAt !== undefined && i.killedAt >= c.startedAt && i.killedAt <= end) return true;
  // An interruption is a window: from the notice (or the drainer's event) until the drainer is done. A call that
  // overlaps it may have lost its job to the requeue before it failed: the interruption, not the failure, ended it.
  if (i?.interruptedAt === undefined) return false;
  const from = i.interruptedAt;
  const to = Math.max(from, i.drainerDoneAt ?? from);
  return from <= end && to >= c.startedAt;
}

export function instances(e: Evidence): Map<string, InstanceEvidence> {
  return new Map(e.instances.map((i) => [i.instanceId, i]));
}

export function callsByJob(calls: readonly CallEvidence[]): Map<string, CallEvidence[]> {
  const m = new Map<string, CallEvidence[]>();
  for (const c of calls) if (c.jobId) m.set(c.jobId, [...(m.get(c.jobId) ?? []), c]);
  for (const list of m.values()) list.sort((a, b) => a.startedAt - b.startedAt);
  return m;
}

function byJob(lines: readonly LogLine[]): Map<string, LogLine[]> {
  const m = new Map<string, LogLine[]>();
  for (const l of lines) if (l.jobId) m.set(l.jobId, [...(m.get(l.jobId) ?? []), l]);
  return m;
}
