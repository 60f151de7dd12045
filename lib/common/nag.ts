import { Stack, Token, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The one place the library acknowledges a cdk-nag finding. Each call carries the reason a reviewer
 * reads; the test suite lists every acknowledgement in a tree and requires a Template assertion that
 * proves the compensating control (test/support/nag.ts).
 */
export function acknowledgeNag(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 20) throw new Error(`acknowledgeNag(${id}): give a real reason`);
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * How cdk-nag spells an ARN of this stack in a finding id: pseudo parameters as `<AWS::Region>`, literal
 * values when the stack has a concrete environment.
 */
export function nagArn(stack: Stack, service: string, resource: string): string {
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  return `arn:<AWS::Partition>:${service}:${region}:${account}:${resource}`;
}
