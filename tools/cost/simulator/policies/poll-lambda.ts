/**
 * `poll-lambda`: a Lambda on a 1-minute schedule that reads the queue (GetQueueAttributes) and sets
 * desired = visible + in-flight, on spot. Interrupted jobs come back only when their visibility timeout
 * runs out (spending a receive), and scale-in may remove a busy instance.
 */
import { PolicySetup, SimPolicy } from '../policy';
import { baselineBehaviour } from './baseline';

export function pollLambdaPolicy(setup: PolicySetup): SimPolicy {
  return {
    name: 'poll-lambda',
    ...baselineBehaviour(setup, 'spot', 0),
    start(ctx) {
      const tick = (t: number): void =>
        ctx.at(t, () => {
          const q = ctx.queueCounts();
          ctx.setDesired(q.visible + q.inflight, `visible ${q.visible} + in-flight ${q.inflight}`);
          tick(t + 60);
        });
      tick(0);
    },
  };
}
