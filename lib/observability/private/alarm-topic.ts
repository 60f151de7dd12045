/** The alarm topic the observability constructs create (not exported from the package). */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { SHARED_WORKLOAD_TAG_VALUE } from '../../contracts';
import { applyCostTags } from '../../common/tags';

/**
 * An encrypted, TLS-only topic (`AlarmTopic`, key `AlarmTopicKey` unless one is given) that this account's
 * CloudWatch alarms of the scope's region may publish to. Alarm actions must be in the alarm's region.
 */
export function createAlarmTopic(scope: Construct, alarmTopicKey: kms.IKey | undefined, costCenter: string | undefined): sns.Topic {
  const key =
    alarmTopicKey ??
    new kms.Key(scope, 'AlarmTopicKey', {
      enableKeyRotation: true,
      description: 'ai-burst alarm topic',
    });
  // CloudWatch alarms publish to an encrypted topic only if they may use its key (SNS "compatibility with
  // AWS services"); the conditions keep the grant to this account's alarms (confused deputy).
  const stack = Stack.of(scope);
  const fromOwnAlarms = {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: {
      'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    },
  };
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: fromOwnAlarms,
    }),
  );
  const topic = new sns.Topic(scope, 'AlarmTopic', { masterKey: key, enforceSSL: true, displayName: 'ai-burst alarms' });
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: fromOwnAlarms,
    }),
  );
  applyCostTags(topic, SHARED_WORKLOAD_TAG_VALUE, costCenter);
  if (!alarmTopicKey) applyCostTags(key, SHARED_WORKLOAD_TAG_VALUE, costCenter);
  return topic;
}
