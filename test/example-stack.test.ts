import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AiBurstExampleStack } from '../bin/example-stack';
import { resourceInventory, stacksOf } from './support/inventory';
import { expectNagClean } from './support/stacks';

// One synth for the file; the nag plugin stays off this app so the inventory is the plain template's.
const app = new App();
const stack = new AiBurstExampleStack(app, 'AiBurstExample');

test('every stack of the example app keeps its logical ids and their types (inventory snapshot)', () => {
  // A changed logical id replaces the resource on the next deploy (a new table, queue or bucket): this
  // snapshot makes such drift a visible diff. What the resources hold is asserted by the construct tests.
  const inventory = Object.fromEntries(stacksOf(app).map((s) => [s.stackName, resourceInventory(Template.fromStack(s))]));
  expect(Object.keys(inventory)).toEqual(['AiBurstExample']);
  expect(inventory).toMatchSnapshot();
});

test('example stack has zero unacknowledged cdk-nag findings, each acknowledgement proven', () => {
  expectNagClean(stack);
});
