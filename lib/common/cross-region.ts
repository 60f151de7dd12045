import { IResource, Stack, Token } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * The region of `resource` when both it and `scope` have a known region and they differ (a GPU layer
 * placed in another region than its platform's queues and job store); `undefined` otherwise.
 */
export function remoteRegionOf(scope: Construct, resource: IResource): string | undefined {
  const here = Stack.of(scope).region;
  const there = resource.env.region;
  if (Token.isUnresolved(here) || Token.isUnresolved(there) || here === there) return undefined;
  return there;
}

/**
 * A queue's URL as `scope` can use it: the queue's own reference in its region; from another region,
 * where CloudFormation cannot reference it, the URL built from its literal region, account and name
 * (`https://sqs.<region>.<url suffix>/<account>/<name>`, the form SQS returns).
 */
export function queueUrlFrom(scope: Construct, queue: sqs.IQueue): string {
  const region = remoteRegionOf(scope, queue);
  if (region === undefined) return queue.queueUrl;
  if (Token.isUnresolved(queue.env.account)) {
    throw new Error(
      `JobQueue: queue ${queue.node.path} is used from region ${Stack.of(scope).region} but its account is not known at synth; ` +
        'give its stack an explicit env: { account, region }',
    );
  }
  return `https://sqs.${region}.${Stack.of(scope).urlSuffix}/${queue.env.account}/${queue.queueName}`;
}
