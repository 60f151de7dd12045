/**
 * `target-tracking`: the AWS-documented "backlog per instance" target-tracking policy on spot —
 * metric math `visible / GroupInServiceInstances` on 1-minute CloudWatch datapoints, target =
 * acceptable latency ÷ average processing time (the wait SLO ÷ the trace's mean job), scale out after
 * 3 breaching datapoints to ceil(capacity × metric ÷ target), scale in after 15 datapoints below 90 % of
 * the target.
 *
 * Without a guard the division has no datapoint at 0 instances, so the alarm never fires and the fleet
 * never starts; the careful user's guard `IF(m2 > 0, m1 / m2, m1)` lets it leave zero (`zeroGuard`).
 */
import { Datapoint } from '../cloudwatch';
import { PolicySetup, SimPolicy } from '../policy';
import { baselineBehaviour } from './baseline';

export interface TargetTrackingOptions {
  /** @default true */
  readonly zeroGuard?: boolean;
}

export const SCALE_OUT_DATAPOINTS = 3;
export const SCALE_IN_DATAPOINTS = 15;
export const SCALE_IN_THRESHOLD = 0.9;

export function targetTrackingPolicy(setup: PolicySetup, opts: TargetTrackingOptions = {}): SimPolicy {
  const guard = opts.zeroGuard ?? true;
  const target = setup.options.waitSloS / setup.meanGpuSeconds;
  const metric = (dp: Datapoint): number | undefined => (dp.inService > 0 ? dp.visible / dp.inService : guard ? dp.visible : undefined);
  return {
    name: guard ? 'target-tracking' : 'target-tracking-unguarded',
    ...baselineBehaviour(setup, 'spot', 0),
    start(ctx) {
      const evaluate = (): void => {
        const fleet = ctx.fleet();
        const current = fleet.instances.length;
        const high = ctx.cloudwatch.latest(ctx.now, SCALE_OUT_DATAPOINTS);
        const highValues = high?.map(metric);
        if (highValues && highValues.every((v) => v !== undefined && v > target)) {
          const m = highValues[highValues.length - 1]!;
          const want = Math.ceil((Math.max(current, 1) * m) / target - 1e-9);
          if (want > fleet.desired)
            ctx.setDesired(want, `backlog/instance ${m.toFixed(2)} > target ${target.toFixed(2)} for ${SCALE_OUT_DATAPOINTS} min`);
          return;
        }
        const low = ctx.cloudwatch.latest(ctx.now, SCALE_IN_DATAPOINTS);
        const lowValues = low?.map(metric);
        if (lowValues && lowValues.every((v) => v !== undefined && v < SCALE_IN_THRESHOLD * target)) {
          const m = lowValues[lowValues.length - 1]!;
          const want = Math.ceil((current * m) / target - 1e-9);
          if (want < fleet.desired)
            ctx.setDesired(want, `backlog/instance ${m.toFixed(2)} < ${SCALE_IN_THRESHOLD} × target for ${SCALE_IN_DATAPOINTS} min`);
        }
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
