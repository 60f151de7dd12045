import { Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { GpuFleet, JobQueue, JobStore } from '../lib';

/** The example the README's `npx cdk synth` builds; it grows a layer with each construct. */
export class AiBurstExampleStack extends Stack {
  public readonly queue: JobQueue;
  public readonly vpc: ec2.Vpc;
  public readonly store: JobStore;
  public readonly fleet: GpuFleet;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.queue = new JobQueue(this, 'RealtimeQueue', { workload: 'realtime-agent', costCenter: 'agents' });
    this.store = new JobStore(this, 'JobStore');

    // GPU workers live in private subnets: one NAT gateway for the model and package registries (Docker
    // Hub, Hugging Face, the AL2023 repositories) and AWS APIs; gateway endpoints keep S3 and DynamoDB
    // traffic off the NAT.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 3,
      natGateways: 1,
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    this.vpc.addFlowLog('FlowLog', { trafficType: ec2.FlowLogTrafficType.REJECT });

    this.fleet = new GpuFleet(this, 'RealtimeFleet', {
      vpc: this.vpc,
      jobQueue: this.queue,
      jobStore: this.store,
      maxCapacity: 4,
      costCenter: 'agents',
    });
  }
}
