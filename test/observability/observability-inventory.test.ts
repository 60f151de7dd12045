/**
 * The observability surface of the example app as a readable snapshot: every alarm (logical id, what it reads
 * with metric-math ids replaced by what they refer to, when it fires, its actions) and every dashboard widget
 * (type, size, title, lines). Refactoring the constructs must leave it unchanged.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AiBurstExampleStack } from '../../bin/example-stack';
import { alarmInventory, widgetInventory } from '../support/inventory';

const app = new App();
const template = Template.fromStack(new AiBurstExampleStack(app, 'AiBurstExample'));

test('the example app keeps its alarms (inventory snapshot)', () => {
  const alarms = alarmInventory(template);
  expect(Object.keys(alarms).length).toBeGreaterThan(15);
  expect(alarms).toMatchSnapshot();
});

test('the example app keeps its dashboard widgets (inventory snapshot)', () => {
  const widgets = widgetInventory(template);
  expect(widgets.length).toBeGreaterThan(30);
  expect(widgets).toMatchSnapshot();
});
