import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { InterruptionDrill } from '../../lib/drill/interruption-drill';
import { expectNagClean, testStack } from '../support/stacks';

function build(props: Partial<ConstructorParameters<typeof InterruptionDrill>[2]> = {}) {
  const { stack } = testStack();
  const alarm = new cloudwatch.Alarm(stack, 'OldestJob', {
    metric: new cloudwatch.Metric({ namespace: 'AWS/SQS', metricName: 'ApproximateAgeOfOldestMessage' }),
    threshold: 300,
    evaluationPeriods: 1,
  });
  new InterruptionDrill(stack, 'Drill', { workload: 'realtime', stopCondition: alarm, ...props });
  return { stack, template: Template.fromStack(stack) };
}

describe('InterruptionDrill', () => {
  const { stack, template } = build({ instancesToInterrupt: 2 });

  test('interrupts running spot instances of the workload, selected by tag, with a 2-minute notice', () => {
    template.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      Targets: {
        spotInstances: {
          ResourceType: 'aws:ec2:spot-instance',
          ResourceTags: { 'ai-burst:workload': 'realtime' },
          Filters: [{ Path: 'State.Name', Values: ['running'] }],
          SelectionMode: 'COUNT(2)',
        },
      },
      Actions: {
        interrupt: {
          ActionId: 'aws:ec2:send-spot-instance-interruptions',
          Parameters: { durationBeforeInterruption: 'PT2M' },
          Targets: { SpotInstances: 'spotInstances' },
        },
      },
    });
  });

  test('stops on the oldest-job-age alarm', () => {
    template.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OldestJob'), 'Arn'] } }],
    });
  });

  test('its role can interrupt only instances tagged with this workload', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'ec2:SendSpotInstanceInterruptions',
            Condition: { StringEquals: { 'aws:ResourceTag/ai-burst:workload': 'realtime' } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'fis.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
          }),
        ],
      },
    });
  });

  test('zero unacknowledged cdk-nag findings', () => expectNagClean(stack));

  test.each<[string, object, RegExp]>([
    ['instancesToInterrupt is 0', { instancesToInterrupt: 0 }, /instancesToInterrupt must be an integer between 1 and 100 \(got 0\)/],
    [
      'the notice is 1 minute',
      { durationBeforeInterruption: Duration.minutes(1) },
      /durationBeforeInterruption must be between 2 minutes and 15 minutes \(got 1 minute\)/,
    ],
    ['the workload name is invalid', { workload: 'Real Time' }, /workload "Real Time" is invalid/],
  ])('fails if %s', (_n, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
