// A fresh CDK app that uses cdk-ai-burst only through its public entry points, as a user would.
const { App, Duration, Stack } = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const { AiBurstPlatform, JobQueue } = require('cdk-ai-burst');

const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'Consumer', { env: { account: '123456789012', region: 'eu-west-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
const platform = new AiBurstPlatform(stack, 'Ai', {
  vpc,
  costCenter: 'consumer',
  interruptionDrill: true,
  workloads: [
    { name: 'chat', maxInstances: 2, queueWaitSlo: Duration.minutes(1) },
    { name: 'batch', priorities: ['normal'], maxInstances: 8 },
  ],
});
// Each layer is usable on its own too.
new JobQueue(stack, 'ExtraQueue', { workload: 'extra' });
platform.workload('chat').jobQueue.grantSubmit(
  new (require('aws-cdk-lib/aws-iam').Role)(stack, 'Producer', {
    assumedBy: new (require('aws-cdk-lib/aws-iam').ServicePrincipal)('ecs-tasks.amazonaws.com'),
  }),
);
app.synth();
console.log('synthesized');
