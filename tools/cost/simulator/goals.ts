/**
 * The goals for `ai-burst` on a trace, judged from one simulation: each one met or not, with
 * the numbers that decide it. Nothing here changes a run; it only reads the results.
 */
import { POLICY_NAMES, SPOT_BASELINES } from './policies';
import { PolicyRun, SimulationResult } from './simulate';

export interface GoalCheck {
  readonly goal: string;
  readonly met: boolean;
  readonly detail: string;
}

function run(r: SimulationResult, policy: string): PolicyRun | undefined {
  return r.runs.find((x) => x.policy === policy);
}

const fmt = (x: number | null, d = 1): string => (x === null ? 'n/a' : x.toFixed(d));

/**
 * Goals that need a baseline are skipped when that baseline was not simulated.
 * @param stress include the waste goal (≤ 1/3 of poll-lambda's wasted GPU-seconds)
 */
export function checkGoals(r: SimulationResult, stress: boolean): GoalCheck[] {
  const ai = run(r, 'ai-burst');
  if (!ai) return [];
  const out: GoalCheck[] = [];
  const floor = r.bounds.costFloorUsd;
  out.push({
    goal: 'cost ≤ 2 × costFloorUsd',
    met: ai.costUsd <= 2 * floor,
    detail: `$${ai.costUsd.toFixed(2)} vs 2 × $${floor.toFixed(2)} = $${(2 * floor).toFixed(2)} (${(ai.costUsd / floor).toFixed(2)} × floor)`,
  });
  out.push({
    goal: 'cost ≤ 0.25 × static on-demand',
    met: ai.costVsStaticOnDemand <= 0.25,
    detail: `${ai.costVsStaticOnDemand.toFixed(3)} × static`,
  });
  out.push({
    goal: 'every job finished',
    met: ai.jobsUnfinished === 0 && ai.jobsLost === 0,
    detail: `${ai.jobsCompleted} completed, ${ai.jobsUnfinished} unfinished, ${ai.jobsLost} lost`,
  });
  const waitBound = r.bounds.p95WaitFloorS + r.options.bootP95S + 30;
  out.push({
    goal: 'p95 wait ≤ p95WaitFloorS + boot p95 + 30 s',
    met: ai.p95WaitS !== null && ai.p95WaitS <= waitBound,
    detail: `${fmt(ai.p95WaitS)} s vs ${fmt(r.bounds.p95WaitFloorS)} + ${r.options.bootP95S} + 30 = ${fmt(waitBound)} s`,
  });
  const spot = SPOT_BASELINES.map((p) => run(r, p)).filter((x): x is PolicyRun => x !== undefined && x.p95WaitS !== null);
  const finished = spot.filter((x) => x.jobsUnfinished === 0 && x.jobsLost === 0);
  const pool = finished.length > 0 ? finished : spot;
  const tt = run(r, 'target-tracking');
  if (pool.length > 0 && tt) {
    const best = pool.reduce((a, b) => (b.p95WaitS! < a.p95WaitS! ? b : a));
    const waitOk = ai.p95WaitS !== null && ai.p95WaitS <= 0.5 * best.p95WaitS!;
    const costOk = ai.costUsd <= tt.costUsd;
    const half = 0.5 * best.p95WaitS!;
    const unattainable =
      r.bounds.p95WaitFloorS > half
        ? ` — unattainable on this trace: the warm-fleet floor ${fmt(r.bounds.p95WaitFloorS)} s is above ${fmt(half)} s`
        : '';
    out.push({
      goal: 'p95 wait ≤ ½ best spot baseline, cost ≤ target-tracking',
      met: waitOk && costOk,
      detail:
        `p95 ${fmt(ai.p95WaitS)} s vs ½ × ${fmt(best.p95WaitS)} s (${best.policy}${finished.length === 0 ? ', which left jobs unfinished' : ''}) ${waitOk ? 'ok' : 'missed'}; ` +
        `cost $${ai.costUsd.toFixed(2)} vs target-tracking $${tt.costUsd.toFixed(2)} ${costOk ? 'ok' : 'missed'}${unattainable}`,
    });
  }
  out.push({ goal: 'zero jobs lost', met: ai.jobsLost === 0, detail: `${ai.jobsLost} lost` });
  const poll = run(r, 'poll-lambda');
  if (stress && poll) {
    out.push({
      goal: 'wasted GPU-s ≤ ⅓ poll-lambda (stress)',
      met: ai.wastedGpuSeconds <= poll.wastedGpuSeconds / 3,
      detail: `${ai.wastedGpuSeconds.toFixed(0)} s vs ⅓ × ${poll.wastedGpuSeconds.toFixed(0)} s = ${(poll.wastedGpuSeconds / 3).toFixed(0)} s`,
    });
  }
  return out;
}

export { POLICY_NAMES };
