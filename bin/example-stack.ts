import { CfnOutput, Duration, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { AiBurstPlatform, Tags as CostTags, ModelServer, SHARED_WORKLOAD_TAG_VALUE } from '../lib';

export interface AiBurstExampleStackProps extends StackProps {
  /** Add the FIS spot-interruption drill to every workload. @default true */
  readonly interruptionDrill?: boolean;
}

/**
 * The example the README's `npx cdk synth` builds: a two-workload platform.
 * - `realtime-agent`: small GPUs, a tight queue-wait SLO and high priority first — answers in seconds.
 * - `doc-analysis`: bigger GPUs for batch document analysis that may wait, with its own cost center.
 * Separate queues, fleets, scaling and cost tags: one agent's long batch cannot starve the other.
 */
export class AiBurstExampleStack extends Stack {
  public readonly vpc: ec2.Vpc;
  public readonly platform: AiBurstPlatform;

  constructor(scope: Construct, id: string, props: AiBurstExampleStackProps = {}) {
    super(scope, id, props);

    // GPU workers live in private subnets: one NAT gateway for ECR (the model server image), Hugging Face (weights
    // without ModelWeights), the AL2023 repositories and AWS APIs; gateway endpoints keep S3 (image layers, weights)
    // and DynamoDB traffic off the NAT.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 3,
      natGateways: 1,
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    this.vpc.addFlowLog('FlowLog', { trafficType: ec2.FlowLogTrafficType.REJECT });
    // The VPC is the app's, shared by every workload: tag it as the platform tags its shared resources.
    Tags.of(this.vpc).add(CostTags.WORKLOAD, SHARED_WORKLOAD_TAG_VALUE);
    Tags.of(this.vpc).add(CostTags.COST_CENTER, 'ai-platform');

    this.platform = new AiBurstPlatform(this, 'AiBurst', {
      vpc: this.vpc,
      // API Gateway's account-level CloudWatch role, needed for execution logs: once per account and region.
      apiCloudWatchRole: true,
      costCenter: 'ai-platform',
      interruptionDrill: props.interruptionDrill ?? true,
      agentDailyBudgetUsd: 200,
      dailyBudgetUsd: 1000,
      workloads: [
        {
          name: 'realtime-agent',
          costCenter: 'agents',
          priorities: ['high', 'normal'],
          instanceTypes: ['g6.xlarge', 'g5.xlarge', 'g6.2xlarge', 'g5.2xlarge'],
          maxInstances: 8,
          queueWaitSlo: Duration.seconds(30),
          expectedJobDuration: Duration.seconds(20),
          jobTimeout: Duration.minutes(5),
          modelServer: ModelServer.vllm({ model: 'Qwen/Qwen2.5-7B-Instruct' }),
        },
        {
          name: 'doc-analysis',
          costCenter: 'research',
          priorities: ['normal', 'backfill'],
          instanceTypes: ['g6e.xlarge', 'g6e.2xlarge', 'g5.4xlarge'],
          maxInstances: 32,
          queueWaitSlo: Duration.minutes(30),
          expectedJobDuration: Duration.minutes(5),
          jobTimeout: Duration.hours(2),
          maxAttempts: 4,
          dailyBudgetUsd: 400,
          modelServer: ModelServer.vllm({ model: 'Qwen/Qwen2.5-32B-Instruct-AWQ' }),
        },
      ],
    });

    // The app, not the library, decides what to output.
    new CfnOutput(this, 'ApiUrl', { value: this.platform.api.url, description: 'Job API (SigV4): POST /jobs, GET /jobs/{id}' });
    new CfnOutput(this, 'Dashboard', { value: this.platform.observability.dashboard.dashboardName });
    for (const [name, w] of Object.entries(this.platform.workloads)) {
      if (w.drill)
        new CfnOutput(this, `${name}-drill`, {
          value: w.drill.experimentTemplate.attrId,
          description: `aws fis start-experiment --experiment-template-id <this> (${name})`,
        });
      new CfnOutput(this, `${name}-redrive`, {
        value: w.retryHandler.redriveFunction.functionName,
        description: `npx ai-burst redrive --function-name <this> (${name})`,
      });
    }
  }
}
