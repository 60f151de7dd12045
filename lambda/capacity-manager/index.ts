/**
 * CapacityManager: the job scheduler of one GPU fleet. A scheduled run (EventBridge, every minute)
 * evaluates every `evaluationIntervalSeconds` for `loopSeconds`; a wake (`{"wake":true}`, async invoke
 * from the API tier) evaluates once, at once. Each evaluation logs its reason and emits
 * BacklogPerInstance + DesiredCapacity (EMF, dimension Workload only).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { Dimensions, EnvNames, MetricNames } from '../../lib/contracts';
import { requireEnv, requireJsonEnv } from '../shared/env';
import { createManagerClients } from './clients';
import { evaluate, evaluateLoop, HistoryMemory, ManagerConfig, parsePolicyConfig } from './evaluate';

const logger = new Logger({ serviceName: 'ai-burst-capacity-manager' });
const config: ManagerConfig = {
  workload: requireEnv(EnvNames.WORKLOAD),
  autoScalingGroupName: requireEnv(EnvNames.ASG_NAME),
  queueUrls: requireJsonEnv<Record<string, string>>(EnvNames.QUEUE_URLS),
  policy: parsePolicyConfig(requireJsonEnv(EnvNames.SCALING_POLICY)),
};
const metrics = new Metrics({ namespace: requireEnv(EnvNames.METRIC_NAMESPACE), serviceName: 'ai-burst-capacity-manager' });
// The contract's dimension set for these metrics is exactly [Workload]: drop Powertools' `service` dimension.
metrics.clearDefaultDimensions();
metrics.setDefaultDimensions({ [Dimensions.WORKLOAD]: config.workload });
// Queues in the data region (AI_BURST_DATA_REGION when the fleet is placed in another region), the group here.
const clients = createManagerClients();
logger.appendKeys({ workload: config.workload, autoScalingGroupName: config.autoScalingGroupName });
// The busy history between evaluations of this container (the group tag is only the cold-start copy).
const memory: HistoryMemory = {};

async function evaluateAndReport(): Promise<void> {
  const { decision, queue, fleet, changed, history } = await evaluate(clients, config, Date.now(), memory);
  logger.info(decision.reason, {
    action: decision.action,
    desired: decision.desired,
    previous: fleet.desired,
    changed,
    need: decision.need,
    backlog: decision.backlog,
    queues: queue.queues,
    fleet: { ...fleet, busyHistory: undefined },
    historyTag: history,
  });
  metrics.addMetric(MetricNames.BACKLOG_PER_INSTANCE, MetricUnit.Count, decision.backlogPerInstance);
  metrics.addMetric(MetricNames.DESIRED_CAPACITY, MetricUnit.Count, decision.desired);
  metrics.publishStoredMetrics();
}

export const handler = async (event: { wake?: boolean } | undefined, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
  if (event?.wake === true) {
    await evaluateAndReport();
    return { evaluations: 1, failures: 0 };
  }
  const started = Date.now();
  const budgetMs = config.policy.loopSeconds * 1000;
  const remaining = context?.getRemainingTimeInMillis?.() ?? budgetMs + 10_000;
  const result = await evaluateLoop(evaluateAndReport, (error) => logger.error('evaluation failed', error as Error), {
    until: started + Math.min(budgetMs, remaining - 10_000),
    intervalMs: config.policy.evaluationIntervalSeconds * 1000,
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  if (result.failures === result.evaluations) throw new Error(`all ${result.evaluations} evaluations failed`);
  return result;
};
