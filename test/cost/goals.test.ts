import { checkGoals } from '../../tools/cost/simulator/goals';
import { PolicyRun, SimulationResult } from '../../tools/cost/simulator/simulate';

function runOf(policy: string, over: Partial<PolicyRun>): PolicyRun {
  return {
    policy,
    costUsd: 10,
    costVsStaticOnDemand: 0.1,
    p50WaitS: 10,
    p95WaitS: 100,
    maxWaitS: 200,
    p95WaitByPriority: {},
    jobsCompleted: 10,
    jobsUnfinished: 0,
    jobsLost: 0,
    duplicateCompletions: 0,
    interruptions: 0,
    wastedGpuSeconds: 1000,
    instanceHours: 1,
    busyGpuSeconds: 2600,
    interruptedGpuSeconds: 0,
    bootGpuSeconds: 600,
    idleGpuSeconds: 400,
    billedGpuSeconds: 3600,
    ...over,
  };
}

function result(runs: PolicyRun[], floorCost = 6, floorWait = 0): SimulationResult {
  return {
    runs,
    bounds: { costFloorUsd: floorCost, p95WaitFloorS: floorWait },
    snapshotDate: 'x',
    options: { bootP95S: 480 },
  } as unknown as SimulationResult;
}

const byGoal = (checks: ReturnType<typeof checkGoals>, prefix: string) => checks.find((c) => c.goal.startsWith(prefix))!;

describe('checkGoals', () => {
  test('GIVEN ai-burst near the floor and faster than every spot baseline THEN the goals are met, with the numbers', () => {
    const checks = checkGoals(
      result([
        runOf('ai-burst', { costUsd: 10, costVsStaticOnDemand: 0.2, p95WaitS: 100, wastedGpuSeconds: 100 }),
        runOf('target-tracking', { costUsd: 12, p95WaitS: 400 }),
        runOf('poll-lambda', { costUsd: 11, p95WaitS: 250, wastedGpuSeconds: 900 }),
        runOf('ecs-steps', { p95WaitS: 180, jobsUnfinished: 3 }), // excluded: left jobs unfinished
      ]),
      true,
    );
    expect(checks.every((c) => c.met)).toBe(true);
    expect(byGoal(checks, 'p95 wait ≤ ½').detail).toMatch(/½ × 250\.0 s \(poll-lambda\)/);
    expect(byGoal(checks, 'cost ≤ 2').detail).toMatch(/\$10\.00 vs 2 × \$6\.00 = \$12\.00/);
    expect(byGoal(checks, 'wasted').detail).toMatch(/100 s vs ⅓ × 900 s = 300 s/);
  });

  test('GIVEN ai-burst pricier than target-tracking, losing a job, and a floor above half the best baseline THEN those goals are not met and the floor is named', () => {
    const checks = checkGoals(
      result(
        [
          runOf('ai-burst', { costUsd: 20, jobsLost: 1, p95WaitS: 700 }),
          runOf('target-tracking', { costUsd: 12, p95WaitS: 900 }),
          runOf('poll-lambda', { p95WaitS: 900 }),
        ],
        6,
        600,
      ),
      false,
    );
    expect(byGoal(checks, 'cost ≤ 2').met).toBe(false);
    expect(byGoal(checks, 'zero jobs lost').met).toBe(false);
    expect(byGoal(checks, 'every job finished').met).toBe(false);
    expect(byGoal(checks, 'p95 wait ≤ p95WaitFloorS').met).toBe(true); // 700 ≤ 600 + 480 + 30
    const half = byGoal(checks, 'p95 wait ≤ ½');
    expect(half.met).toBe(false);
    expect(half.detail).toMatch(/unattainable on this trace: the warm-fleet floor 600\.0 s is above 450\.0 s/);
    expect(checks.find((c) => c.goal.startsWith('wasted'))).toBeUndefined(); // not a stress run
  });

  test('GIVEN no ai-burst run THEN there is nothing to judge', () => {
    expect(checkGoals(result([runOf('poll-lambda', {})]), true)).toEqual([]);
  });
});
