/**
 * The CapacityManager's SDK clients: the queues it reads live in the data region (AI_BURST_DATA_REGION, set
 * when the fleet is placed in another region than its platform); the group it scales is in the function's
 * own region, and so are the boot times its workers publish to CloudWatch. Unset = all in the function's region
 * (AWS_REGION).
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EnvNames } from '../../lib/contracts';
import type { ManagerClients } from './evaluate';

export type { ManagerClients };

export function createManagerClients(env: NodeJS.ProcessEnv = process.env): ManagerClients {
  const dataRegion = env[EnvNames.DATA_REGION];
  return {
    sqs: new SQSClient(dataRegion ? { region: dataRegion } : {}),
    autoscaling: new AutoScalingClient({}),
    cloudwatch: new CloudWatchClient({}),
  };
}
