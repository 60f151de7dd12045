/**
 * The drainer's SDK clients. Job records and queues live in the data region (AI_BURST_DATA_REGION, set when
 * the fleet is placed in another region than its platform); Auto Scaling and EC2 act on the fleet, in the
 * function's own region. Unset = every client in the function's region (AWS_REGION).
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EnvNames } from '../../lib/contracts';
import { BatchingSQSClient } from './batching-sqs';

export interface DrainClients {
  readonly sqs: BatchingSQSClient;
  readonly dynamo: DynamoDBClient;
  readonly autoScaling: AutoScalingClient;
  readonly ec2: EC2Client;
}

export function createDrainClients(env: NodeJS.ProcessEnv = process.env): DrainClients {
  const dataRegion = env[EnvNames.DATA_REGION];
  const data = dataRegion ? { region: dataRegion } : {};
  // SDK default sockets (50 per client, keep-alive): more sockets did not drain faster in bench/drain.bench.ts
  // (the client's CPU is the limit) and would cost a TLS handshake each against AWS.
  return {
    sqs: new BatchingSQSClient(data),
    dynamo: new DynamoDBClient(data),
    autoScaling: new AutoScalingClient({}),
    ec2: new EC2Client({}),
  };
}
