/**
 * The instance reports itself unhealthy to its Auto Scaling group (SetInstanceHealth, Unhealthy, not respecting
 * the group's health check grace period), which then terminates and replaces it. Any error (throttling, a
 * ResourceContention, AccessDenied while a fresh role propagates, the network) is retried a bounded number of times
 * with exponential backoff; the caller gives up on the instance either way, so this never throws.
 */
import { AutoScalingClient, SetInstanceHealthCommand } from '@aws-sdk/client-auto-scaling';
import { Log, errorMessage } from '../runtime/log';

export const SET_INSTANCE_HEALTH_ATTEMPTS = 5;

export interface ReportUnhealthyOptions {
  /** Calls in all. @default SET_INSTANCE_HEALTH_ATTEMPTS */
  readonly attempts?: number;
  /** First retry's delay; doubles each time, with jitter between half and all of it. @default 1000 */
  readonly baseDelayMs?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ReportOutcome {
  readonly reported: boolean;
  readonly calls: number;
  readonly error?: string;
}

export async function reportUnhealthy(
  autoscaling: AutoScalingClient,
  instanceId: string,
  logger: Log,
  options: ReportUnhealthyOptions = {},
): Promise<ReportOutcome> {
  const attempts = options.attempts ?? SET_INSTANCE_HEALTH_ATTEMPTS;
  const base = options.baseDelayMs ?? 1000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let error = '';
  for (let call = 1; call <= attempts; call++) {
    try {
      await autoscaling.send(new SetInstanceHealthCommand({ InstanceId: instanceId, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false }));
      logger.warn('instance reported Unhealthy to its Auto Scaling group: the group replaces it', { instanceId, calls: call });
      return { reported: true, calls: call };
    } catch (e) {
      error = errorMessage(e);
      if (call === attempts) break;
      const ceiling = base * 2 ** (call - 1);
      const delayMs = Math.round(ceiling / 2 + (random() * ceiling) / 2);
      logger.warn('SetInstanceHealth failed; retrying', { instanceId, call, delayMs, error });
      await sleep(delayMs);
    }
  }
  logger.error('could not report the instance Unhealthy: it stays in its group until someone terminates it', { instanceId, calls: attempts, error });
  return { reported: false, calls: attempts, error };
}
