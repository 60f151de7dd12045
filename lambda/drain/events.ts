/**
 * The three EventBridge events the InterruptionDrainer handles, parsed into one small union. Pure and
 * total: anything else (another detail type, a missing field, a non-object) yields `{ ok: false }` with
 * the reason, so the handler logs and drops it instead of throwing (a throw would be retried).
 */

export const DetailTypes = {
  SPOT_INTERRUPTION: 'EC2 Spot Instance Interruption Warning',
  REBALANCE: 'EC2 Instance Rebalance Recommendation',
  TERMINATE_LIFECYCLE: 'EC2 Instance-terminate Lifecycle Action',
} as const;

export const EventSources = {
  EC2: 'aws.ec2',
  AUTOSCALING: 'aws.autoscaling',
} as const;

export const TERMINATING_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

export type DrainEvent =
  /** `noticeAt`: the event's time (epoch ms), when EC2 issued the two-minute warning. */
  | { readonly kind: 'spot-interruption'; readonly instanceId: string; readonly noticeAt?: number }
  | { readonly kind: 'rebalance'; readonly instanceId: string }
  | {
      readonly kind: 'terminate-lifecycle';
      readonly instanceId: string;
      readonly groupName: string;
      readonly hookName: string;
      readonly token: string;
    };

export type ParsedEvent = { readonly ok: true; readonly event: DrainEvent } | { readonly ok: false; readonly reason: string };

function drop(reason: string): ParsedEvent {
  return { ok: false, reason };
}

function str(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function parseDrainEvent(input: unknown): ParsedEvent {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return drop('event is not a JSON object');
  const e = input as Record<string, unknown>;
  const detailType = e['detail-type'];
  const source = e.source;
  const detail = e.detail;
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return drop('event has no detail object');
  const d = detail as Record<string, unknown>;

  if (source === EventSources.EC2 && (detailType === DetailTypes.SPOT_INTERRUPTION || detailType === DetailTypes.REBALANCE)) {
    const instanceId = str(d, 'instance-id');
    if (!instanceId || !INSTANCE_ID.test(instanceId)) return drop(`${detailType}: detail.instance-id is missing or malformed`);
    if (detailType === DetailTypes.REBALANCE) return { ok: true, event: { kind: 'rebalance', instanceId } };
    const noticeAt = typeof e.time === 'string' ? Date.parse(e.time) : NaN;
    return { ok: true, event: { kind: 'spot-interruption', instanceId, ...(Number.isFinite(noticeAt) ? { noticeAt } : {}) } };
  }

  if (source === EventSources.AUTOSCALING && detailType === DetailTypes.TERMINATE_LIFECYCLE) {
    const instanceId = str(d, 'EC2InstanceId');
    const groupName = str(d, 'AutoScalingGroupName');
    const hookName = str(d, 'LifecycleHookName');
    const token = str(d, 'LifecycleActionToken');
    if (!instanceId || !INSTANCE_ID.test(instanceId)) return drop(`${detailType}: detail.EC2InstanceId is missing or malformed`);
    if (!groupName || !hookName || !token)
      return drop(`${detailType}: AutoScalingGroupName, LifecycleHookName and LifecycleActionToken are required`);
    if (d.LifecycleTransition !== undefined && d.LifecycleTransition !== TERMINATING_TRANSITION) {
      return drop(`${detailType}: unexpected transition ${JSON.stringify(d.LifecycleTransition)}`);
    }
    return { ok: true, event: { kind: 'terminate-lifecycle', instanceId, groupName, hookName, token } };
  }

  return drop(`unhandled event: source ${JSON.stringify(source)}, detail-type ${JSON.stringify(detailType)}`);
}
