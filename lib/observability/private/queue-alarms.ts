/** The alarms of one workload that read its queues, in the queues' region (not exported from the package). */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { IJobQueue } from '../../queue/job-queue';

const MINUTE = Duration.minutes(1);

export interface QueueAlarmsProps {
  readonly queue: IJobQueue;
  readonly oldestJobAgeSlo: Duration;
}

export interface QueueAlarms {
  readonly oldestJobAge: cloudwatch.Alarm;
  readonly deadLetters: cloudwatch.Alarm;
  readonly parkedJobs: cloudwatch.Alarm;
}

/**
 * Oldest job over the SLO, jobs stuck on the dead-letter queue, parked jobs: created directly in `scope`
 * (the workload's scope), so their construct paths and logical ids are those they always had.
 */
export function createQueueAlarms(scope: Construct, props: QueueAlarmsProps): QueueAlarms {
  const tag = `[ai-burst:${props.queue.workload}]`;
  const oldestJobAge = new cloudwatch.Alarm(scope, 'OldestJobAgeAlarm', {
    metric: props.queue.metricOldestJobAge({ period: MINUTE }),
    threshold: props.oldestJobAgeSlo.toSeconds(),
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    // SQS stops reporting an idle queue (and reports late for up to 15 min when it wakes): no data = no waiting job.
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription:
      `${tag} A job has waited longer than the ${props.oldestJobAgeSlo.toHumanString()} SLO for 3 minutes: the fleet is ` +
      'under-provisioned or not consuming. Check the fleet widget: desired > in service means capacity is not ' +
      'arriving (spot capacity in these AZs/types; widen the instance types or AZs); desired = 0 means the ' +
      'CapacityManager is not scaling (see its errors alarm and logs); in service but idle GPUs means the workers ' +
      'are not pulling (worker logs on the instances).',
  });

  const deadLetters = new cloudwatch.Alarm(scope, 'DeadLettersAlarm', {
    metric: props.queue.metricDeadLetters({ period: MINUTE }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 15,
    datapointsToAlarm: 15,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription:
      `${tag} Jobs have sat visible on the dead-letter queue for 15 minutes: the RetryHandler is not ` +
      'draining it (it normally moves each failed job back with backoff or parks it within a minute). Check the ' +
      "RetryHandler's errors and logs and its event source mapping; the jobs are safe on the DLQ for 14 days.",
  });

  const parkedJobs = new cloudwatch.Alarm(scope, 'ParkedJobsAlarm', {
    metric: props.queue.metricParkedJobs({ period: MINUTE }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription:
      `${tag} Jobs are parked: their retry budget is spent and nothing will run them again. Read ` +
      'their lastError on the parking queue or the job records (status FAILED), fix the cause (bad input, model ' +
      'error, timeout too short), then redrive them (grantRedrive / StartMessageMoveTask) or delete them. ' +
      'Parked jobs expire after 14 days.',
  });

  return { oldestJobAge, deadLetters, parkedJobs };
}
