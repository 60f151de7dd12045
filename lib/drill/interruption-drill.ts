import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as fis from 'aws-cdk-lib/aws-fis';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { Tags, WORKLOAD_NAME_PATTERN } from '../contracts';
import { acknowledgeNag, nagArn } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { validateDuration, validateInteger, validatePattern } from '../common/validate';

export interface InterruptionDrillProps {
  /** The workload whose spot instances (tag `ai-burst:workload`) receive interruption notices. */
  readonly workload: string;
  /**
   * The experiment stops when this alarm fires; use the workload's oldest-job-age alarm so a drill
   * that starts to hurt callers ends by itself.
   */
  readonly stopCondition: cloudwatch.IAlarm;
  /**
   * How many running spot instances to interrupt (1–100).
   * @default 1
   */
  readonly instancesToInterrupt?: number;
  /**
   * Notice before the interruption, as EC2 gives it (2–15 minutes).
   * @default Duration.minutes(2)
   */
  readonly durationBeforeInterruption?: Duration;
  /** @default - no cost-center tag */
  readonly costCenter?: string;
}

const NAME = 'InterruptionDrill';

/**
 * An opt-in AWS FIS experiment template that sends real spot interruption notices to a workload's
 * instances: start it (`aws fis start-experiment --experiment-template-id <id>`) and watch the jobs those
 * instances held go back to the queue and complete once elsewhere.
 */
export class InterruptionDrill extends Construct {
  public readonly experimentTemplate: fis.CfnExperimentTemplate;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: InterruptionDrillProps) {
    super(scope, id);
    validatePattern(NAME, 'workload', props.workload, WORKLOAD_NAME_PATTERN, 'use the workload name of a JobQueue');
    validateInteger(NAME, 'instancesToInterrupt', props.instancesToInterrupt, 1, 100);
    validateDuration(NAME, 'durationBeforeInterruption', props.durationBeforeInterruption, Duration.minutes(2), Duration.minutes(15));
    const stack = Stack.of(this);

    this.logGroup = new logs.LogGroup(this, 'Log', { retention: logs.RetentionDays.ONE_MONTH });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('fis.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: `FIS spot-interruption drill for workload ${props.workload}`,
    });
    // Only this workload's instances can be interrupted.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:SendSpotInstanceInterruptions'],
        resources: [stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
        conditions: { StringEquals: { [`aws:ResourceTag/${Tags.WORKLOAD}`]: props.workload } },
      }),
    );
    acknowledgeNag(
      this.role,
      `AwsSolutions-IAM5[Resource::${nagArn(stack, 'ec2', 'instance/*')}]`,
      'Spot instances are launched at run time; the action is confined to instances tagged with this workload.',
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:DescribeInstances',
          'logs:CreateLogDelivery',
          'logs:DescribeLogGroups',
          'logs:DescribeResourcePolicies',
          'logs:PutResourcePolicy',
        ],
        resources: ['*'],
      }),
    );
    acknowledgeNag(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      'ec2:DescribeInstances (to resolve the tag-selected targets) and the CloudWatch Logs delivery actions FIS uses for ' +
        'experiment logs support no resource-level permissions; none of them mutates an instance.',
    );

    const count = props.instancesToInterrupt ?? 1;
    const notice = props.durationBeforeInterruption ?? Duration.minutes(2);
    this.experimentTemplate = new fis.CfnExperimentTemplate(this, 'Resource', {
      description: `Send spot interruption notices to ${count} instance(s) of workload ${props.workload}`,
      roleArn: this.role.roleArn,
      targets: {
        spotInstances: {
          resourceType: 'aws:ec2:spot-instance',
          resourceTags: { [Tags.WORKLOAD]: props.workload },
          filters: [{ path: 'State.Name', values: ['running'] }],
          selectionMode: `COUNT(${count})`,
        },
      },
      actions: {
        interrupt: {
          actionId: 'aws:ec2:send-spot-instance-interruptions',
          description: 'Spot interruption notice, then termination',
          parameters: { durationBeforeInterruption: `PT${notice.toMinutes()}M` },
          targets: { SpotInstances: 'spotInstances' },
        },
      },
      stopConditions: [{ source: 'aws:cloudwatch:alarm', value: props.stopCondition.alarmArn }],
      logConfiguration: { logSchemaVersion: 2, cloudWatchLogsConfiguration: { LogGroupArn: this.logGroup.logGroupArn } },
      tags: { Name: `${props.workload}-spot-interruption-drill` },
    });
    applyCostTags(this, props.workload, props.costCenter);
  }
}
