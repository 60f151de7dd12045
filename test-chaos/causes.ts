/**
 * Model calls per job by cause — what the faults cost in GPU work. Each call after a job's first is charged to
 * what ended the call before it: a model error or timeout (retry), its instance being interrupted (rerun after
 * interruption) or killed (rerun after kill) — while it ran, or after it answered but before its run's SUCCEEDED
 * write — or nothing at all (a duplicate: the earlier call answered or was still running, its holder alive).
 */
import { callsByJob, instances, stoppedFromOutside } from './detectors';
import { CallEvidence, Evidence, InstanceEvidence } from './evidence';

export const CAUSES = ['first', 'retry', 'interruption', 'kill', 'duplicate'] as const;
export type Cause = (typeof CAUSES)[number];
export const CAUSE_LABELS: Record<Cause, string> = {
  first: 'first run',
  retry: 'retry after model error/timeout',
  interruption: 'rerun after interruption',
  kill: 'rerun after kill',
  duplicate: 'duplicate',
};

export type CallsByCause = Record<Cause, number>;

export interface CauseReport {
  readonly totals: CallsByCause;
  /** Jobs with at least one call of the cause. */
  readonly jobsWith: CallsByCause;
  readonly maxPerJob: CallsByCause;
  readonly perJob: Readonly<Record<string, CallsByCause>>;
  readonly jobsWithCalls: number;
  readonly calls: number;
}

const zero = (): CallsByCause => ({ first: 0, retry: 0, interruption: 0, kill: 0, duplicate: 0 });

export function causeOf(previous: CallEvidence | undefined, call: CallEvidence, holder: InstanceEvidence | undefined): Cause {
  if (!previous) return 'first';
  const end = Math.min(previous.endedAt ?? Infinity, call.startedAt);
  const within = (t: number | undefined, to: number) => t !== undefined && t >= previous.startedAt && t <= to;
  if (within(holder?.killedAt, end)) return 'kill';
  if (within(holder?.interruptedAt, end)) return 'interruption';
  // Started just after a notice its worker had not yet polled (IMDS every few seconds), then requeued by it.
  if (
    holder?.interruptedAt !== undefined &&
    holder.interruptedAt <= previous.startedAt &&
    previous.end !== 'answered' &&
    (holder.drainerDoneAt ?? holder.killedAt ?? Infinity) >= previous.startedAt
  )
    return 'interruption';
  if (previous.fault !== 'ok' && !stoppedFromOutside(previous, holder)) return 'retry';
  // The call answered, but its holder died or was reclaimed before the SUCCEEDED write: the answer was lost with it.
  if (within(holder?.killedAt, call.startedAt)) return 'kill';
  if (within(holder?.interruptedAt, call.startedAt)) return 'interruption';
  return 'duplicate';
}

export function callsByCause(e: Evidence): CauseReport {
  const inst = instances(e);
  const perJob: Record<string, CallsByCause> = {};
  for (const [jobId, calls] of callsByJob(e.calls)) {
    const counts = zero();
    calls.forEach((c, i) => {
      counts[causeOf(calls[i - 1], c, calls[i - 1] && inst.get(calls[i - 1].instanceId))]++;
    });
    perJob[jobId] = counts;
  }
  const totals = zero();
  const jobsWith = zero();
  const maxPerJob = zero();
  for (const counts of Object.values(perJob)) {
    for (const cause of CAUSES) {
      totals[cause] += counts[cause];
      if (counts[cause] > 0) jobsWith[cause]++;
      maxPerJob[cause] = Math.max(maxPerJob[cause], counts[cause]);
    }
  }
  return { totals, jobsWith, maxPerJob, perJob, jobsWithCalls: Object.keys(perJob).length, calls: e.calls.filter((c) => c.jobId).length };
}

export function causeTable(title: string, r: CauseReport): string {
  const rows = CAUSES.map((c) => [CAUSE_LABELS[c], String(r.totals[c]), String(r.jobsWith[c]), String(r.maxPerJob[c])]);
  const head = ['cause', 'model calls', 'jobs', 'max per job'];
  const all = [head, ...rows, ['all', String(r.calls), String(r.jobsWithCalls), '']];
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [title, line(head), ...rows.map(line), line(all[all.length - 1])].join('\n');
}
