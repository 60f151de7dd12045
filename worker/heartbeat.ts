/**
 * Keeps a received message invisible and the job's lease alive while it runs: ChangeMessageVisibility and a
 * conditional lease renewal in the record every third of the visibility timeout, never past SQS's 12-hour cap
 * counted from the receive. A refused handle or a refused renewal means the job is no longer ours (requeued,
 * taken over after an expired lease, cancelled): `onLost`.
 */
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SQS_MAX_VISIBILITY_SECONDS } from '../lib/contracts';
import { Log, errorMessage } from '../runtime/log';

/** Seconds kept free before the 12 h cap: the job is stopped as timed out before SQS would refuse. */
export const SQS_CAP_MARGIN_SECONDS = 60;

export interface HeartbeatOptions {
  readonly visibilityTimeoutSeconds: number;
  /** When the message was received (the 12 h cap counts from here). */
  readonly receivedAt: number;
  readonly now: () => number;
  readonly logger: Log;
  readonly onLost: (reason: string) => void;
}

export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private renewLease?: () => Promise<boolean>;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly receiptHandle: string,
    private readonly options: HeartbeatOptions,
  ) {}

  start(): void {
    const everyMs = Math.max(200, (this.options.visibilityTimeoutSeconds * 1000) / 3);
    this.timer = setInterval(() => void this.beat(), everyMs);
    this.timer.unref?.();
  }

  /**
   * From now on each beat also renews the job's lease in its record (set once the job started); `renew` answers
   * false when the record refused it: the job was requeued, taken over, cancelled or finished elsewhere.
   */
  withLease(renew: () => Promise<boolean>): void {
    this.renewLease = renew;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  async beat(): Promise<void> {
    const left = Math.floor(SQS_MAX_VISIBILITY_SECONDS - (this.options.now() - this.options.receivedAt) / 1000 - 1);
    const seconds = Math.min(this.options.visibilityTimeoutSeconds, left);
    if (seconds < 1 || this.stopped) return;
    try {
      await this.sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: this.receiptHandle, VisibilityTimeout: seconds }),
      );
      const renew = this.renewLease;
      if (renew && !this.stopped && !(await renew())) {
        if (this.stopped) return;
        this.stop();
        this.options.onLost('the job record refused the lease renewal');
        return;
      }
    } catch (e) {
      if (this.stopped) return;
      const name = (e as Error).name;
      if (
        name === 'ReceiptHandleIsInvalid' ||
        name === 'MessageNotInflight' ||
        /MessageNotInflight|ReceiptHandleIsInvalid/.test(String((e as { Code?: string }).Code))
      ) {
        this.stop();
        this.options.onLost(`${name}: ${(e as Error).message}`);
        return;
      }
      this.options.logger.warn('heartbeat failed; retrying at the next beat', { error: errorMessage(e) });
    }
  }
}

/** The latest moment a job may still run: its timeout from start, and never past the 12 h cap from the receive. */
export function jobDeadline(startedAt: number, receivedAt: number, jobTimeoutSeconds: number): number {
  return Math.min(startedAt + jobTimeoutSeconds * 1000, receivedAt + (SQS_MAX_VISIBILITY_SECONDS - SQS_CAP_MARGIN_SECONDS) * 1000);
}
