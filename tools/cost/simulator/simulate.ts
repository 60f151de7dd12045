/**
 * `simulate`: replays one trace through each policy with the same seed (common random numbers: the
 * same arrivals, the same k-th boot time and the same k-th interruption for every policy), and reports
 * the JSON shape plus the detail the report needs.
 */
import { InputError } from '../errors';
import { Bounds, computeBounds } from './bounds';
import { EngineResult, runEngine } from './engine';
import { resolveOptions, ResolvedOptions, SimulationOptions } from './options';
import { PolicySetup, SimPolicy } from './policy';
import { createPolicy, isPolicyName, POLICY_NAMES, PolicyName } from './policies';
import { percentile, roundTo } from './stats';
import { Trace } from './trace';

/**
 * One policy's run as reported: the engine's counts, summarized waits and cost, and where the billed
 * instance-seconds went: busy + interrupted + boot + idle = billed (each rounded to 0.1 s).
 */
export interface PolicyRun extends Pick<
  EngineResult,
  | 'policy'
  | 'costUsd'
  | 'jobsCompleted'
  | 'jobsUnfinished'
  | 'jobsLost'
  | 'duplicateCompletions'
  | 'interruptions'
  | 'wastedGpuSeconds'
  | 'busyGpuSeconds'
  | 'interruptedGpuSeconds'
  | 'bootGpuSeconds'
  | 'idleGpuSeconds'
> {
  /** Billed instance-seconds (per second, 60 s minimum per instance); `instanceHours` × 3600 unrounded. */
  readonly billedGpuSeconds: number;
  /** costUsd ÷ the static on-demand fleet's cost on the same trace. */
  readonly costVsStaticOnDemand: number;
  readonly p50WaitS: number | null;
  readonly p95WaitS: number | null;
  readonly maxWaitS: number | null;
  readonly p95WaitByPriority: Readonly<Record<string, number | null>>;
  readonly instanceHours: number;
}

export interface SimulationReport {
  readonly runs: PolicyRun[];
  readonly bounds: Bounds;
  /** Date of the price snapshot the costs use. */
  readonly snapshotDate: string;
}

export interface SimulationResult extends SimulationReport {
  readonly options: ResolvedOptions;
  readonly setup: PolicySetup;
  /** Engine detail per policy (timeline, decisions), same order as `runs`. */
  readonly details: readonly EngineResult[];
}

/** What the configurer of each policy knows about the trace. */
export function policySetup(trace: Trace, options: ResolvedOptions): PolicySetup {
  if (trace.length === 0) throw new InputError('trace: no jobs');
  const total = trace.reduce((s, j) => s + j.gpuSeconds, 0);
  const edges: [number, number][] = [];
  for (const j of trace) edges.push([j.arrivalS, 1], [j.arrivalS + j.gpuSeconds, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let peak = 0;
  for (const [, d] of edges) {
    running += d;
    peak = Math.max(peak, running);
  }
  return {
    options,
    trace,
    meanGpuSeconds: total / trace.length,
    maxGpuSeconds: Math.max(...trace.map((j) => j.gpuSeconds)),
    peakConcurrency: peak,
  };
}

export function parsePolicies(list: string | readonly string[] | undefined): PolicyName[] {
  if (list === undefined) return [...POLICY_NAMES];
  const names = (typeof list === 'string' ? list.split(',') : [...list]).map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new InputError('--policies: expected at least one policy');
  for (const n of names) {
    if (!isPolicyName(n)) throw new InputError(`--policies: unknown policy ${JSON.stringify(n)} (known: ${POLICY_NAMES.join(', ')})`);
  }
  return [...new Set(names)] as PolicyName[];
}

function summarize(r: EngineResult, staticCost: number): PolicyRun {
  const byPriority: Record<string, number | null> = {};
  for (const p of Object.keys(r.waitsByPriority).sort()) byPriority[p] = roundTo(percentile(r.waitsByPriority[p], 0.95), 1);
  return {
    policy: r.policy,
    costUsd: roundTo(r.costUsd, 4)!,
    costVsStaticOnDemand: roundTo(staticCost > 0 ? r.costUsd / staticCost : 0, 4)!,
    p50WaitS: roundTo(percentile(r.waitsS, 0.5), 1),
    p95WaitS: roundTo(percentile(r.waitsS, 0.95), 1),
    maxWaitS: roundTo(r.waitsS.length ? Math.max(...r.waitsS) : null, 1),
    p95WaitByPriority: byPriority,
    jobsCompleted: r.jobsCompleted,
    jobsUnfinished: r.jobsUnfinished,
    jobsLost: r.jobsLost,
    duplicateCompletions: r.duplicateCompletions,
    interruptions: r.interruptions,
    wastedGpuSeconds: roundTo(r.wastedGpuSeconds, 1)!,
    busyGpuSeconds: roundTo(r.busyGpuSeconds, 1)!,
    interruptedGpuSeconds: roundTo(r.interruptedGpuSeconds, 1)!,
    bootGpuSeconds: roundTo(r.bootGpuSeconds, 1)!,
    idleGpuSeconds: roundTo(r.idleGpuSeconds, 1)!,
    billedGpuSeconds: r.billedSeconds,
    instanceHours: roundTo(r.billedSeconds / 3600, 4)!,
  };
}

/**
 * Runs the trace through each policy (default: all five). The static on-demand fleet is always
 * simulated for `costVsStaticOnDemand`, listed only when asked for.
 */
export function simulate(
  trace: Trace,
  policies: readonly PolicyName[] = POLICY_NAMES,
  options: SimulationOptions = {},
  custom: readonly ((setup: PolicySetup) => SimPolicy)[] = [],
): SimulationResult {
  const o = resolveOptions(options);
  const setup = policySetup(trace, o);
  const names = [...policies];
  const total = 1 + names.filter((n) => n !== 'static-on-demand').length + custom.length;
  let index = 0;
  const run = (policy: SimPolicy): EngineResult => {
    const i = index++;
    const report = o.onProgress;
    const r = runEngine(trace, policy, report ? { ...o, onProgress: (share) => report((i + share) / total) } : o);
    report?.((i + 1) / total);
    return r;
  };
  const staticRun = run(createPolicy('static-on-demand', setup));
  const details: EngineResult[] = names.map((n) => (n === 'static-on-demand' ? staticRun : run(createPolicy(n, setup))));
  for (const make of custom) details.push(run(make(setup)));
  const runs = details.map((d) => summarize(d, staticRun.costUsd));
  const b = computeBounds(trace, o);
  return {
    runs,
    bounds: { costFloorUsd: roundTo(b.costFloorUsd, 4)!, p95WaitFloorS: roundTo(b.p95WaitFloorS, 1)! },
    snapshotDate: o.snapshot.date,
    options: o,
    setup,
    details,
  };
}

/** The JSON the CLI prints with `--json`. */
export function toReport(r: SimulationResult): SimulationReport {
  return { runs: r.runs, bounds: r.bounds, snapshotDate: r.snapshotDate };
}
