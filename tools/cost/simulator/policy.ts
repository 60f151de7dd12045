/**
 * What a scaling policy is to the simulator: how its fleet behaves (market, queues, worker) and when it
 * changes the Auto Scaling group's desired capacity.
 */
import { CloudWatchModel } from './cloudwatch';
import { ResolvedOptions } from './options';
import { QueueCounts } from './sqs';
import { Trace } from './trace';

export type InstanceState = 'booting' | 'idle' | 'busy';

export interface InstanceView {
  readonly id: number;
  readonly launchedAt: number;
  /** When the worker is (or will be) ready to take jobs. */
  readonly readyAt: number;
  readonly state: InstanceState;
  /** A spot notice was seen: the worker takes no new jobs. */
  readonly draining: boolean;
  /** Since when the instance has been idle (ready and without a job). */
  readonly idleSince?: number;
  /** When its current job started. */
  readonly busySince?: number;
}

export interface FleetView {
  readonly desired: number;
  readonly maxInstances: number;
  /** Instances not yet terminated. */
  readonly instances: readonly InstanceView[];
}

/** What a policy may read and do. */
export interface PolicyContext {
  /** Simulated seconds since the start of the trace. */
  readonly now: number;
  readonly options: ResolvedOptions;
  readonly trace: Trace;
  /** Queue names, poll order. */
  readonly queues: readonly string[];
  /** Live queue attributes (GetQueueAttributes): one queue, or all. */
  queueCounts(queue?: string): QueueCounts;
  /** Published metrics, with their lag. */
  readonly cloudwatch: CloudWatchModel;
  fleet(): FleetView;
  /** SetDesiredCapacity (clamped to 0..maxInstances). */
  setDesired(desired: number, reason: string): void;
  /** Runs `fn` at simulated time `t`. */
  at(t: number, fn: () => void): void;
}

/** How the policy's fleet and queue are built; the baselines get what a user would deploy. */
export interface FleetBehaviour {
  readonly market: 'spot' | 'on-demand';
  /** One queue per priority, polled highest first; else one queue for everything. */
  readonly priorityQueues: boolean;
  /** Busy workers hold scale-in protection, so lowering desired capacity only removes idle instances. */
  readonly protectBusy: boolean;
  /**
   * The worker / drainer act on a spot notice: they take no new job and apply the notice rule
   * (lib/contracts/notice.ts, or the old requeue-everything with `noticeRule: 'requeue-all'`); a requeue
   * publishes a copy (interruptions + 1) and deletes the original.
   */
  readonly requeueAtNotice: boolean;
  /**
   * The fleet's expected job duration as its worker is configured with it: what the notice rule compares
   * with the time left (with `noticeEstimate: 'fleet'`). Unset: unknown, every running job is requeued.
   */
  readonly expectedJobSeconds?: number;
  /**
   * Capacity Rebalancing plus the terminate hook the InterruptionDrainer holds: at a rebalance
   * recommendation the worker takes no new job and the group launches a replacement; once that passes EC2
   * health checks the old instance's jobs finish, up to the drain timeout, and what is left is requeued.
   */
  readonly capacityRebalance: boolean;
  /** The worker extends the lease every third of the visibility timeout while a job runs. */
  readonly heartbeat: boolean;
  /** The dead-letter queue is drained by a RetryHandler (backoff, attempt + 1) before jobs are parked. */
  readonly retryHandler: boolean;
  readonly visibilityTimeoutS: number;
  /** Instances running and ready at the start of the trace. */
  readonly warmAtStart: number;
  /** Capacity the policy never goes below; the run's wind-down ends there. */
  readonly floor: number;
}

export interface SimPolicy extends FleetBehaviour {
  readonly name: string;
  /** Called once at time 0, after the warm instances are up. */
  start(ctx: PolicyContext): void;
  /**
   * Called after each job submission (the submit path), with the workload's backlog (visible + in flight
   * + delayed, all queues) as it was just before the job's message was sent.
   */
  onSubmit?(ctx: PolicyContext, backlogBeforeSend: number): void;
  /** Counts of the policy's own (e.g. API calls it made), reported as the run's `policyStats`. */
  stats?(): Readonly<Record<string, number>>;
}

/** What a policy factory may know up front: the trace's shape, as the person configuring it would. */
export interface PolicySetup {
  readonly options: ResolvedOptions;
  readonly trace: Trace;
  readonly meanGpuSeconds: number;
  readonly maxGpuSeconds: number;
  /** Most jobs that would run at once if every job started on arrival. */
  readonly peakConcurrency: number;
}
