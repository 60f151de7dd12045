/** One received message on its way through the agent, and why it was stopped if it was. */
import { randomUUID } from 'node:crypto';
import { Message } from '@aws-sdk/client-sqs';
import { JobMessage, WorkerQueueConfig } from '../lib/contracts';

/**
 * Why a job was stopped. `timeout` is the job's own failure (retried); the others mean the runner must
 * leave the job to someone else: the agent requeues it (`interrupted`, `shutdown`, `model-lost`: the model
 * server stopped answering), another holder owns it (`lease-lost`), or the agent is dead (`killed`).
 */
export type StopReason = 'timeout' | 'lease-lost' | 'shutdown' | 'interrupted' | 'model-lost' | 'killed';
const RANK: Record<StopReason, number> = { timeout: 1, 'lease-lost': 2, shutdown: 3, interrupted: 3, 'model-lost': 3, killed: 4 };

export interface Received {
  readonly queue: WorkerQueueConfig;
  readonly message: Message;
  readonly receivedAt: number;
}

export type RequeueOutcome = {
  readonly jobId?: string;
  readonly result: 'requeued' | 'already-handled' | 'not-started' | 'failed';
  readonly error?: string;
};

export class JobContext {
  readonly controller = new AbortController();
  reason?: StopReason;
  job?: JobMessage;
  /** The model the job asked for (Model dimension). */
  model?: string;
  /** The record went QUEUED → RUNNING for this delivery. */
  started = false;
  startedAt?: number;
  /** One id per delivery; with the instance it is the lease holder written in the record. */
  readonly runId = randomUUID();
  /** The lease holder, once started. */
  holder?: string;
  /** When the job is expected to end (epoch ms): the start + the fleet's expected duration, or its progress. */
  expectedDoneAt?: number;
  /** Left running through a spot notice because it is expected to end before the reclaim. */
  keptThroughNotice = false;
  /** The model answered: what is left (store the result, record it) needs no model server. */
  answered = false;
  /** Resolved once the runner knows whether it started the job (or will never try). */
  readonly startSettled: Promise<void>;
  requeue?: Promise<RequeueOutcome>;
  private settle!: () => void;

  constructor(readonly received: Received) {
    this.startSettled = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
  }

  get queueUrl(): string {
    return this.received.queue.url;
  }
  get receiptHandle(): string {
    return this.received.message.ReceiptHandle ?? '';
  }
  get receiveCount(): number {
    const n = Number(this.received.message.Attributes?.ApproximateReceiveCount ?? 1);
    return Number.isFinite(n) && n >= 1 ? n : 1;
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  /** Stopped for a reason that means: hands off, someone else deals with this job now. */
  get yielded(): boolean {
    return this.reason !== undefined && this.reason !== 'timeout';
  }
  get killed(): boolean {
    return this.reason === 'killed';
  }

  /** Stop the job; a stronger reason overrides a weaker one (an interruption overrides a timeout). */
  stop(reason: StopReason): void {
    if (this.reason === undefined || RANK[reason] > RANK[this.reason]) this.reason = reason;
    if (!this.controller.signal.aborted) this.controller.abort(new Error(`job stopped: ${reason}`));
  }

  settleStart(): void {
    this.settle();
  }
}
