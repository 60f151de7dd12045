/**
 * Scale-in protection on this instance while it runs jobs, so the Auto Scaling group never picks a busy
 * instance when it scales in; off again once the instance has been idle for `idleMs` (a short grace, so a
 * busy queue does not flip it between every two jobs). Calls are serialized and coalesced: only the
 * latest wish is applied. A failed call is logged and never blocks a job.
 */
import { AutoScalingClient, SetInstanceProtectionCommand } from '@aws-sdk/client-auto-scaling';
import { Log, errorMessage } from '../runtime/log';

export class ScaleInProtection {
  private wanted = false;
  private applied = false;
  private syncing?: Promise<void>;
  private offTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly autoscaling: AutoScalingClient,
    private readonly groupName: string,
    private readonly instanceId: string,
    private readonly logger: Log,
    private readonly idleMs: number,
  ) {}

  get protectedNow(): boolean {
    return this.applied;
  }

  /** The instance has work: protect it; resolves once the call is done (or failed). */
  async busy(): Promise<void> {
    if (this.closed) return;
    this.cancelOff();
    this.wanted = true;
    await this.sync();
  }

  /** The instance has nothing to do: unprotect after the grace unless work comes back. */
  idle(): void {
    if (this.closed) return;
    this.cancelOff();
    this.offTimer = setTimeout(() => {
      this.offTimer = undefined;
      this.wanted = false;
      void this.sync();
    }, this.idleMs);
    this.offTimer.unref?.();
  }

  /** Turn protection off now (shutdown) and stop accepting wishes. */
  async close(): Promise<void> {
    this.cancelOff();
    this.wanted = false;
    await this.sync();
    this.closed = true;
  }

  /** Stop without any further call (the agent was killed). */
  abandon(): void {
    this.cancelOff();
    this.closed = true;
  }

  private cancelOff(): void {
    if (this.offTimer) clearTimeout(this.offTimer);
    this.offTimer = undefined;
  }

  private sync(): Promise<void> {
    if (!this.syncing) {
      this.syncing = this.apply().finally(() => {
        this.syncing = undefined;
      });
    }
    // A wish made while a call is in flight is applied by the loop in apply().
    return this.syncing;
  }

  private async apply(): Promise<void> {
    while (this.wanted !== this.applied && !this.closed) {
      const target = this.wanted;
      try {
        await this.autoscaling.send(
          new SetInstanceProtectionCommand({
            AutoScalingGroupName: this.groupName,
            InstanceIds: [this.instanceId],
            ProtectedFromScaleIn: target,
          }),
        );
        this.applied = target;
        this.logger.debug('scale-in protection set', { protected: target });
      } catch (e) {
        // Not InService (still launching, or already terminating), throttled, or no permission: the job runs anyway.
        this.logger.warn('SetInstanceProtection failed', { protected: target, error: errorMessage(e) });
        return;
      }
    }
  }
}
