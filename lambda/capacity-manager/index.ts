/**
 * CapacityManager: the job scheduler of one GPU fleet. A scheduled run (EventBridge, every minute)
 * evaluates every `evaluationIntervalSeconds` for `loopSeconds`; a wake (`{"wake":true}`, async invoke
 * from the API tier) evaluates once, at once. Each evaluation logs its reason and emits
 * BacklogPerInstance + DesiredCapacity (EMF, dimension Workload only). Each decision's log line names the boot
 * time it used (`bootSeconds`, `bootSource` prior | learned, `bootSamples`, `bootReason`); a failed read of the
 * fleet's boot times is a warning, never a failed evaluation.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { EnvNames, METRIC_NAMESPACE, MetricNames } from '../../lib/contracts';
import { requireEnv, requireJsonEnv } from '../../runtime/env';
import { lambdaLogger, lambdaMetrics } from '../powertools';
import { createManagerClients } from './clients';
import { evaluate, evaluateLoop, HistoryMemory, ManagerConfig, parsePolicyConfig } from './evaluate';

const config: ManagerConfig = {
  workload: requireEnv(EnvNames.WORKLOAD),
  autoScalingGroupName: requireEnv(EnvNames.ASG_NAME),
  queueUrls: requireJsonEnv<Record<string, string>>(EnvNames.QUEUE_URLS),
  policy: parsePolicyConfig(requireJsonEnv(EnvNames.SCALING_POLICY)),
  metricNamespace: process.env[EnvNames.METRIC_NAMESPACE] || METRIC_NAMESPACE,
};
const logger = lambdaLogger('ai-burst-capacity-manager', config.workload);
const metrics = lambdaMetrics('ai-burst-capacity-manager', config.workload);
// Queues in the data region (AI_BURST_DATA_REGION when the fleet is placed in another region), the group here.
const clients = createManagerClients();
logger.appendKeys({ autoScalingGroupName: config.autoScalingGroupName });
// The busy history between evaluations of this container (the group tag is only the cold-start copy), and its
// last reading of the fleet's boot times (read at most every LEARNED_BOOT_REFRESH_SECONDS).
const memory: HistoryMemory = {};

async function evaluateAndReport(): Promise<void> {
  const { decision, queue, fleet, changed, history, boot } = await evaluate(clients, config, Date.now(), memory);
  if (boot.warning) logger.warn(boot.warning, { bootSeconds: boot.bootSeconds, bootSource: boot.source });
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
    bootSeconds: boot.bootSeconds,
    bootSource: boot.source,
    bootSamples: boot.samples,
    ...(boot.p90Seconds !== undefined ? { bootP90Seconds: boot.p90Seconds } : {}),
    bootReason: boot.reason,
    bootRead: boot.read,
    ...(boot.readingAgeSeconds !== undefined ? { bootReadingAgeSeconds: boot.readingAgeSeconds } : {}),
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
