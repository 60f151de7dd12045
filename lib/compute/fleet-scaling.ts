import { Duration } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import { Construct } from 'constructs';
import { validateDuration, validateRange } from '../common/validate';
import { IJobQueue } from '../queue/job-queue';
import { CapacityManager, ScalingPolicyOptions, toScalingPolicy } from './capacity-manager';
import { resolveScalingPolicy } from './scaling-policy';

/** What a scaling strategy needs from the fleet it scales. */
export interface IScalableGpuFleet {
  readonly workload: string;
  readonly jobQueue: IJobQueue;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly autoScalingGroupName: string;
  /** Jobs one instance runs at once (per weight unit when `instanceWeights` is set). */
  readonly jobsPerInstance: number;
  /**
   * Weight of each instance type, when the group is weighted: capacity is then counted in weight units.
   * @default - unweighted: capacity counts instances
   */
  readonly instanceWeights?: Record<string, number>;
  readonly costCenter?: string;
}

export interface CapacityManagerScalingOptions extends ScalingPolicyOptions {
  /**
   * How often the manager re-evaluates within each scheduled minute (5 s to 60 s).
   * @default Duration.seconds(10)
   */
  readonly evaluationInterval?: Duration;
}

export interface TargetTrackingScalingOptions {
  /**
   * Backlog (visible + in-flight jobs over every priority queue) per in-service instance to hold (per
   * in-service weight unit when the fleet has `instanceWeights`).
   * @default - the jobs an instance (or weight unit) runs at once
   */
  readonly targetBacklogPerInstance?: number;
  /**
   * Time a new instance needs before its metrics count (boot + model load).
   * @default Duration.seconds(180)
   */
  readonly estimatedInstanceWarmup?: Duration;
}

/** What binding a strategy produced. */
export interface FleetScalingBinding {
  /** Set when the strategy is the CapacityManager. */
  readonly capacityManager?: CapacityManager;
  /** Set when the strategy is native target tracking. */
  readonly scalingPolicy?: autoscaling.CfnScalingPolicy;
}

/**
 * How a GpuFleet's desired capacity is driven.
 *
 * - `FleetScaling.capacityManager()` (default): the CapacityManager Lambda reads the queues directly
 *   every ~10 s and can be woken by the API; it scales out from 0 in seconds and releases idle capacity
 *   only after the idle window.
 * - `FleetScaling.targetTracking()`: EC2 Auto Scaling's own target tracking on backlog per instance from
 *   CloudWatch metric math. No Lambda, but SQS metrics reach CloudWatch once a minute (up to ~15 min
 *   late after 6 h idle), so reaction is minutes; the division is guarded (`IF(instances > 0, backlog /
 *   instances, backlog)`) so the metric has data at 0 instances, and scale-in follows target tracking's
 *   own rules (no idle window, no knowledge of busy workers beyond scale-in protection). A weighted
 *   fleet divides by its in-service capacity units (`GroupInServiceCapacity`), the unit its desired
 *   capacity counts, instead of its instances.
 * - `FleetScaling.none()`: nothing; you set the desired capacity yourself.
 */
export abstract class FleetScaling {
  public static capacityManager(options: CapacityManagerScalingOptions = {}): FleetScaling {
    return new CapacityManagerScaling(options);
  }

  public static targetTracking(options: TargetTrackingScalingOptions = {}): FleetScaling {
    return new TargetTrackingScaling(options);
  }

  public static none(): FleetScaling {
    return new NoScaling();
  }

  public abstract bind(scope: Construct, fleet: IScalableGpuFleet): FleetScalingBinding;
}

class CapacityManagerScaling extends FleetScaling {
  constructor(private readonly options: CapacityManagerScalingOptions) {
    super();
  }

  public bind(scope: Construct, fleet: IScalableGpuFleet): FleetScalingBinding {
    const capacityManager = new CapacityManager(scope, 'CapacityManager', {
      ...this.options,
      workload: fleet.workload,
      jobQueue: fleet.jobQueue,
      autoScalingGroupName: fleet.autoScalingGroupName,
      jobsPerInstance: fleet.jobsPerInstance,
      costCenter: fleet.costCenter,
    });
    return { capacityManager };
  }
}

class NoScaling extends FleetScaling {
  public bind(): FleetScalingBinding {
    return {};
  }
}

class TargetTrackingScaling extends FleetScaling {
  constructor(private readonly options: TargetTrackingScalingOptions) {
    super();
  }

  public bind(scope: Construct, fleet: IScalableGpuFleet): FleetScalingBinding {
    const name = 'FleetScaling.targetTracking';
    validateRange(name, 'targetBacklogPerInstance', this.options.targetBacklogPerInstance, 0.01, 100000);
    validateDuration(name, 'estimatedInstanceWarmup', this.options.estimatedInstanceWarmup, Duration.seconds(0), Duration.hours(1));
    const target = resolveScalingPolicy(
      toScalingPolicy(name, { targetBacklogPerInstance: this.options.targetBacklogPerInstance }, fleet.jobsPerInstance),
    ).targetBacklogPerInstance;
    return { scalingPolicy: backlogPerInstanceTargetTracking(scope, fleet, target, this.options.estimatedInstanceWarmup ?? Duration.seconds(180)) };
  }
}

/**
 * THE escape hatch (the one place): aws-cdk-lib's L2 target-tracking policy rejects `MathExpression`,
 * while CloudFormation accepts metric math in `CustomizedMetricSpecification.Metrics`. So the policy is
 * an L1 `CfnScalingPolicy` whose one returned expression is backlog per instance with the division
 * guarded, so it still has a value (the backlog) at 0 in-service instances.
 */
export function backlogPerInstanceTargetTracking(
  scope: Construct,
  fleet: IScalableGpuFleet,
  targetBacklogPerInstance: number,
  warmup: Duration,
): autoscaling.CfnScalingPolicy {
  const metrics: autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty[] = [];
  const backlogIds: string[] = [];
  fleet.jobQueue.queues.forEach((queue, i) => {
    for (const [prefix, metricName] of [
      ['v', 'ApproximateNumberOfMessagesVisible'],
      ['f', 'ApproximateNumberOfMessagesNotVisible'],
    ] as const) {
      const id = `${prefix}${i}`;
      backlogIds.push(id);
      metrics.push({
        id,
        returnData: false,
        metricStat: {
          metric: { namespace: 'AWS/SQS', metricName, dimensions: [{ name: 'QueueName', value: queue.queueName }] },
          stat: 'Sum',
          period: 60,
        },
      });
    }
  });
  // Target tracking sets the desired capacity from this ratio, so the divisor must count what desired
  // counts: weight units in a weighted group (GroupInServiceCapacity), instances otherwise.
  const weighted = fleet.instanceWeights !== undefined && Object.keys(fleet.instanceWeights).length > 0;
  metrics.push({
    id: 'instances',
    returnData: false,
    metricStat: {
      metric: {
        namespace: 'AWS/AutoScaling',
        metricName: weighted ? 'GroupInServiceCapacity' : 'GroupInServiceInstances',
        dimensions: [{ name: 'AutoScalingGroupName', value: fleet.autoScalingGroupName }],
      },
      stat: 'Average',
      period: 60,
    },
  });
  const backlog = backlogIds.join(' + ');
  metrics.push({
    id: 'backlogPerInstance',
    label: `${fleet.workload} backlog per ${weighted ? 'capacity unit' : 'instance'}`,
    expression: `IF(instances > 0, (${backlog}) / instances, ${backlog})`,
    returnData: true,
  });
  return new autoscaling.CfnScalingPolicy(scope, 'BacklogTargetTracking', {
    autoScalingGroupName: fleet.autoScalingGroupName,
    policyType: 'TargetTrackingScaling',
    estimatedInstanceWarmup: warmup.toSeconds(),
    targetTrackingConfiguration: {
      targetValue: targetBacklogPerInstance,
      customizedMetricSpecification: { metrics },
    },
  });
}
