/**
 * CostReporter: every minute (EventBridge schedule), the fleets' running instances × spot price per type
 * and AZ → SpendUsd per workload, per agent (by GPU-seconds share) and per price source.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { ScheduledEvent } from 'aws-lambda';
import { EnvNames } from '../../lib/contracts';
import { requireEnv, requireJsonEnv } from '../../runtime/env';
import { lambdaLogger } from '../powertools';
import { reportSpend, ReportSummary, SpotPriceCache } from './aws';

const logger = lambdaLogger('ai-burst-cost-reporter');
const ec2 = new EC2Client({});
const cw = new CloudWatchClient({});
const cache = new SpotPriceCache();
const region = requireEnv('AWS_REGION');
const namespace = requireEnv(EnvNames.METRIC_NAMESPACE);
const workloads = requireJsonEnv<string[]>(EnvNames.WORKLOADS);
if (!Array.isArray(workloads) || workloads.length === 0 || workloads.some((w) => typeof w !== 'string')) {
  throw new Error(`environment variable ${EnvNames.WORKLOADS} must be a non-empty JSON array of workload names`);
}

/** The minute reported is the one ending at the schedule's `time`, so a late start still reports its own minute. */
export const handler = async (event: Partial<ScheduledEvent> = {}): Promise<ReportSummary> => {
  const scheduled = event.time ? new Date(event.time) : new Date();
  const windowEnd = Number.isNaN(scheduled.getTime()) ? new Date() : scheduled;
  const summary = await reportSpend({ ec2, cw, cache, region, namespace, workloads }, windowEnd);
  if (summary.priceApiError || summary.unpriced.length > 0 || summary.attributionError) {
    logger.warn('spend reported with fallbacks', { ...summary });
  } else {
    logger.info('spend reported', { ...summary });
  }
  return summary;
};
