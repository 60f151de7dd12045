/**
 * `ecs-steps`: aws-ecs-patterns' QueueProcessingService defaults, one task per GPU instance, on spot —
 * step scaling on the queue's `ApproximateNumberOfMessagesVisible` (Maximum over 5 minutes, one
 * evaluation period): ≤ 0 → −1, ≥ 100 → +1, ≥ 500 → +5; 300 s cooldown; minimum capacity 1 (the
 * pattern's `minScalingCapacity` default), so one instance is always on. Between 1 and 99 visible
 * messages nothing happens: a 50-job backlog is left to the one instance there is.
 */
import { PolicySetup, SimPolicy } from '../policy';
import { baselineBehaviour } from './baseline';

export const ECS_STEPS = { scaleInAtOrBelow: 0, plusOneAt: 100, plusFiveAt: 500 } as const;
export const ECS_COOLDOWN_S = 300;
export const ECS_MIN_CAPACITY = 1;
const PERIOD_MINUTES = 5;

export function ecsStepsPolicy(setup: PolicySetup): SimPolicy {
  return {
    name: 'ecs-steps',
    ...baselineBehaviour(setup, 'spot', ECS_MIN_CAPACITY),
    start(ctx) {
      let lastScalingAt = -Infinity;
      const evaluate = (): void => {
        if (ctx.now - lastScalingAt < ECS_COOLDOWN_S) return;
        const window = ctx.cloudwatch.latest(ctx.now, PERIOD_MINUTES);
        if (!window) return;
        const max = Math.max(...window.map((dp) => dp.visible));
        let change = 0;
        if (max >= ECS_STEPS.plusFiveAt) change = 5;
        else if (max >= ECS_STEPS.plusOneAt) change = 1;
        else if (max <= ECS_STEPS.scaleInAtOrBelow) change = -1;
        if (change === 0) return;
        const desired = ctx.fleet().desired;
        const want = Math.max(ECS_MIN_CAPACITY, Math.min(ctx.options.maxInstances, desired + change));
        if (want === desired) return;
        lastScalingAt = ctx.now;
        ctx.setDesired(want, `max visible over 5 min = ${max} → ${change > 0 ? '+' : ''}${change}`);
      };
      const tick = (t: number): void =>
        ctx.at(t, () => {
          evaluate();
          tick(t + 60);
        });
      tick(61);
    },
  };
}
