/**
 * What the fault-injection run collects, from public behaviour only: job records (DynamoDB), result objects
 * (S3), messages left on the queues (SQS), the fake model servers' ledger, the workers' JSON log lines, and
 * what the test itself did to each instance. The detectors (detectors.ts) are pure functions over this.
 */

/** What the fake model server was told to do with a call. */
export type CallFault = 'ok' | 'error' | 'timeout';
/** How the call ended: answered 200, answered 500, the client went away, or still open. */
export type CallEnd = 'answered' | 'error' | 'aborted' | 'open';

export interface CallEvidence {
  /** Unique per run; an answered call's output contains `out-<id>`, so a result object names the run that wrote it. */
  readonly id: string;
  readonly jobId?: string;
  /** The instance whose model server took the call (one fake model server per worker, as on a GPU instance). */
  readonly instanceId: string;
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly fault: CallFault;
  readonly end: CallEnd;
}

export interface LogLine {
  readonly instanceId: string;
  /** Epoch ms of the line's `time`. */
  readonly time: number;
  readonly message: string;
  readonly jobId?: string;
}

/** What the test did to an instance (epoch ms). */
export interface InstanceEvidence {
  readonly instanceId: string;
  /** SIGKILL (a crash, or the spot reclaim after a notice). */
  readonly killedAt?: number;
  /** First outside signal that the instance goes: its IMDS spot notice posted, or the drainer's spot event. */
  readonly interruptedAt?: number;
  /** The drainer finished requeueing the instance's jobs (spot event handled). */
  readonly drainerDoneAt?: number;
}

export interface RecordEvidence {
  readonly status: string;
  readonly attempt: number;
  readonly resultRef?: string;
  /** Inline result, JSON text. */
  readonly result?: string;
}

export interface JobEvidence {
  readonly jobId: string;
  readonly record?: RecordEvidence;
  /** Text of the object `record.resultRef` names (undefined: absent or not SUCCEEDED). */
  readonly resultObject?: string;
  /** Copies of the job left on a work queue, the DLQ or the parking queue at the end. */
  readonly messages: number;
}

export interface PoisonEvidence {
  readonly body: string;
  /** Found on the parking queue at the end. */
  readonly parked: boolean;
}

export interface Evidence {
  readonly maxAttempts: number;
  /** The workers' jobTimeoutSeconds in ms: no holder may legitimately hold a job longer. */
  readonly jobTimeoutMs: number;
  readonly jobs: readonly JobEvidence[];
  readonly calls: readonly CallEvidence[];
  readonly logs: readonly LogLine[];
  readonly instances: readonly InstanceEvidence[];
  readonly poison: readonly PoisonEvidence[];
}
