import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { acknowledgements, formatFindings, NAG_PROOFS, nagFindings } from './nag';

/** A fresh app + stack for construct tests (no nag plugin: nag runs explicitly via validateScope). */
export function testStack(id = 'Test'): { app: App; stack: Stack } {
  const app = new App();
  const stack = new Stack(app, id, { env: { account: '123456789012', region: 'us-east-1' } });
  return { app, stack };
}

/**
 * The cdk-nag checks every stack test runs: zero unacknowledged findings, and every acknowledgement
 * carries a reason and a proof in NAG_PROOFS that passes on this template.
 */
export function expectNagClean(stack: Stack): void {
  // Synthesize first: some acknowledgements name resolved references (exports) and are made at validation.
  const template = Template.fromStack(stack);
  expect(formatFindings(nagFindings(stack))).toEqual([]);
  // Only the nag packs' rules: aws-cdk-lib acknowledges some CloudFormation-Validate rules itself.
  for (const ack of acknowledgements(stack).filter((a) => /^(AwsSolutions|Serverless)-/.test(a.rule))) {
    expect(ack.reason.length).toBeGreaterThan(20);
    const [, rule, finding] = ack.rule.match(/^([^[]+)(?:\[(.*)\])?$/)!;
    const proof = NAG_PROOFS[rule];
    if (!proof) throw new Error(`${ack.rule} acknowledged at ${ack.path} has no proof in test/support/nag.ts`);
    proof.prove(template, finding);
  }
}
