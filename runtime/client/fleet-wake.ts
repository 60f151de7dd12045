/**
 * Waking a workload's CapacityManager when a job arrives at a fleet that is (probably) at zero, so the first
 * job does not wait for the next scheduled evaluation.
 *
 * How the submit path knows the fleet is at zero, cheaply: it does not ask Auto Scaling (DescribeAutoScaling-
 * Groups is rate-limited, needs `*` permissions and the group name). It reads the workload's backlog instead
 * — GetQueueAttributes on its priority queues, in parallel with the record write, before the message is sent.
 * An empty backlog is necessary for a fleet at zero (the manager scales out as soon as it sees one job), so
 * every "at zero" case wakes; the false positives (backlog empty but instances idle within their idle window)
 * cost one extra evaluation, which is harmless. A backlog that is not empty means an earlier submission
 * already woke the manager or its scheduled evaluation (every few seconds while it runs, every minute at
 * worst) sees the jobs.
 *
 * Debounce: at most one probe — and so at most one wake — per workload per `debounceSeconds` per warm
 * handler (one JobClient). A probe that found jobs also holds the window: a fleet that had backlog moments
 * ago cannot have scaled to zero within seconds (it only scales in after its idle window, minutes). So the
 * hot path costs nothing most of the time, one GetQueueAttributes per priority queue at most once per
 * window, and one async Invoke (InvocationType Event, ~tens of ms) only when the backlog was empty.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ApiWorkloadConfig, WakeEvent } from '../../lib/contracts';

/** At most one acquisition per key per window (pure; the clock is passed in). */
export class WakeDebounce {
  private readonly last = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  /** True (and the window starts) when `key` was not acquired in the last window. */
  tryAcquire(key: string, nowMs: number): boolean {
    const previous = this.last.get(key);
    if (previous !== undefined && nowMs - previous < this.windowMs) return false;
    this.last.set(key, nowMs);
    return true;
  }
}

export interface FleetWakerOptions {
  readonly debounceSeconds: number;
  readonly clock?: () => Date;
  readonly onError?: (what: 'probe' | 'wake', workload: string, error: unknown) => void;
}

const BACKLOG_ATTRIBUTES = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;

export class FleetWaker {
  private readonly debounce: WakeDebounce;
  private readonly clock: () => Date;

  constructor(
    private readonly sqs: SQSClient,
    private readonly lambda: LambdaClient,
    private readonly workloads: Readonly<Record<string, ApiWorkloadConfig>>,
    private readonly options: FleetWakerOptions,
  ) {
    this.debounce = new WakeDebounce(options.debounceSeconds * 1000);
    this.clock = options.clock ?? (() => new Date());
  }

  /**
   * Start a backlog probe for `workload` — call it before the job's message is sent. Resolves to true when
   * the workload's queues were empty (wake after sending), false otherwise; undefined when the workload has
   * no wake target or the debounce window is closed (no call made). Never rejects.
   */
  probe(workload: string): Promise<boolean> | undefined {
    const config = this.workloads[workload];
    if (!config?.wakeFunction) return undefined;
    if (!this.debounce.tryAcquire(workload, this.clock().getTime())) return undefined;
    return Promise.all(
      config.queues.map((q) => this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.url, AttributeNames: [...BACKLOG_ATTRIBUTES] }))),
    )
      .then((answers) => answers.every((a) => BACKLOG_ATTRIBUTES.every((k) => Number(a.Attributes?.[k] ?? '0') === 0)))
      .catch((e) => {
        this.options.onError?.('probe', workload, e);
        return false;
      });
  }

  /** Invoke the workload's CapacityManager asynchronously. Never rejects: a failed wake is covered by its schedule. */
  async wake(workload: string, jobId: string): Promise<boolean> {
    const target = this.workloads[workload]?.wakeFunction;
    if (!target) return false;
    const event: WakeEvent = { wake: true, workload, jobId };
    try {
      await this.lambda.send(new InvokeCommand({ FunctionName: target, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(event)) }));
      return true;
    } catch (e) {
      this.options.onError?.('wake', workload, e);
      return false;
    }
  }
}
