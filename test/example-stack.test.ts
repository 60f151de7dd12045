import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AiBurstExampleStack } from '../bin/example-stack';
import { expectNagClean } from './support/stacks';

// One synth for the file; the nag plugin stays off this app so the snapshot is the plain template.
const app = new App();
const stack = new AiBurstExampleStack(app, 'AiBurstExample');
const template = Template.fromStack(stack);

test('example stack matches its snapshot (asset hashes masked)', () => {
  expect(template.toJSON()).toMatchSnapshot();
});

test('example stack has zero unacknowledged cdk-nag findings, each acknowledgement proven', () => {
  expectNagClean(stack);
});
