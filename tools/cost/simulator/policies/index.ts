/** The policies the simulator compares, by the names the CLI takes. */
import { PolicySetup, SimPolicy } from '../policy';
import { aiBurstPolicy } from './ai-burst';
import { ecsStepsPolicy } from './ecs-steps';
import { pollLambdaPolicy } from './poll-lambda';
import { staticOnDemandPolicy } from './static-on-demand';
import { targetTrackingPolicy } from './target-tracking';

export const POLICY_NAMES = ['ai-burst', 'static-on-demand', 'target-tracking', 'ecs-steps', 'poll-lambda'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** The spot baselines (what a user would otherwise deploy on spot). */
export const SPOT_BASELINES: readonly PolicyName[] = ['target-tracking', 'ecs-steps', 'poll-lambda'];

const FACTORIES: Readonly<Record<PolicyName, (setup: PolicySetup) => SimPolicy>> = {
  'ai-burst': (s) => aiBurstPolicy(s),
  'static-on-demand': staticOnDemandPolicy,
  'target-tracking': (s) => targetTrackingPolicy(s),
  'ecs-steps': ecsStepsPolicy,
  'poll-lambda': pollLambdaPolicy,
};

export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

export function createPolicy(name: PolicyName, setup: PolicySetup): SimPolicy {
  return FACTORIES[name](setup);
}

export { aiBurstPolicy, aiBurstScalingPolicy } from './ai-burst';
export { ecsStepsPolicy } from './ecs-steps';
export { pollLambdaPolicy } from './poll-lambda';
export { staticOnDemandPolicy } from './static-on-demand';
export { targetTrackingPolicy } from './target-tracking';
