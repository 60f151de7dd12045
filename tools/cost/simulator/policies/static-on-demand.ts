/**
 * `static-on-demand`: the traditional answer — an on-demand fleet sized for the trace's peak (the most
 * jobs that would run at once if each started on arrival, capped at max-instances), running from the
 * start of the trace to its last job.
 */
import { PolicySetup, SimPolicy } from '../policy';
import { baselineBehaviour } from './baseline';

export function staticOnDemandPolicy(setup: PolicySetup): SimPolicy {
  const size = Math.max(1, Math.min(setup.options.maxInstances, setup.peakConcurrency));
  return {
    name: 'static-on-demand',
    ...baselineBehaviour(setup, 'on-demand', size),
    start(ctx) {
      ctx.setDesired(size, `static fleet sized for the peak (${size})`);
    },
  };
}
