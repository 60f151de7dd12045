/**
 * Job records in DynamoDB. Every status change is a conditional write implementing the contract's
 * ALLOWED_TRANSITIONS (lib/contracts/job.ts). A RUNNING job is owned by a lease in its record (holder +
 * expiry, renewed by each heartbeat), so a duplicate delivery cannot take over a live run, move a finished
 * job backwards or finish it twice, and of two parties that race to requeue the same job (worker and
 * drainer), exactly one wins.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { JOB_TABLE_INSTANCE_INDEX, JobRecord, JobStatus, instanceOfHolder, leaseHolderOf } from '../../lib/contracts';

/** What the submitter knows of a new job. */
export type NewJob = Pick<
  JobRecord,
  'jobId' | 'workload' | 'agent' | 'model' | 'priority' | 'submittedAt' | 'payload' | 'payloadRef' | 'idempotencyKey'
>;

export interface RunningOn {
  readonly instanceId: string;
  /** One id per delivery: the lease holder is `<instanceId>/<runId>` and results go under it. */
  readonly runId: string;
  readonly queueUrl: string;
  readonly receiptHandle: string;
  /** How long the lease lasts without a renewal (the queue's visibility timeout). */
  readonly leaseSeconds: number;
  /** Retry budget: a takeover of a dead holder's job spends one attempt and is refused once it is spent. */
  readonly maxAttempts: number;
  /** The fleet's expected job duration: sets `expectedDoneAt`, which the notice rule reads. */
  readonly expectedDurationSeconds?: number;
}

export type NotStartedReason =
  /** No record: nothing to run. */
  | 'missing'
  /** SUCCEEDED, FAILED or CANCELLED: a duplicate delivery. */
  | 'finished'
  /** RUNNING under a live lease of another delivery: this copy waits (`leaseRemainingMs`). */
  | 'held'
  /** This instance was interrupted while it ran the job: it must not take it again. */
  | 'interrupted-here'
  /** RUNNING under an expired lease (its holder died) with the retry budget spent: to be parked. */
  | 'exhausted';

export type StartResult =
  | { readonly started: true; readonly record: JobRecord; readonly holder: string; readonly takeover: boolean }
  | { readonly started: false; readonly reason: NotStartedReason; readonly record?: JobRecord; readonly leaseRemainingMs?: number };

/** What a finished run adds to the record. */
export type Outcome = Pick<JobRecord, 'tokensIn' | 'tokensOut' | 'latencyMs' | 'gpuSeconds' | 'costUsd' | 'resultRef' | 'result'>;

/** A run's request to go back to QUEUED: an interruption (budget untouched) or a retry (attempt + 1, up to the budget). */
export interface ReleaseChange {
  readonly interruption?: boolean;
  readonly retry?: boolean;
  readonly error?: string;
  /** With `retry`: refuse (reason `exhausted`) when the record's attempt has reached this. */
  readonly maxAttempts?: number;
}

export type ReleaseResult =
  | { readonly released: true; readonly record: JobRecord }
  | { readonly released: false; readonly reason: 'lost' | 'exhausted'; readonly record?: JobRecord };

export interface JobRecordsOptions {
  /** Seconds a record is kept after its last change. @default 30 days */
  readonly retentionSeconds?: number;
  readonly clock?: () => Date;
}

const RELEASE = 'REMOVE instanceId, queueUrl, receiptHandle, leaseHolder, leaseExpiresAt, expectedDoneAt, reclaimAt';
/** RUNNING whose lease has run out (or a record of a version without leases). */
const EXPIRED = '(#s = :running AND (attribute_not_exists(leaseExpiresAt) OR leaseExpiresAt < :nowMs))';

export class JobRecords {
  private readonly retentionSeconds: number;
  private readonly clock: () => Date;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    public readonly tableName: string,
    options: JobRecordsOptions = {},
  ) {
    this.retentionSeconds = options.retentionSeconds ?? 30 * 86400;
    this.clock = options.clock ?? (() => new Date());
  }

  /** Write a QUEUED record; `exists` when the id is taken (an idempotent resubmission). */
  async create(job: NewJob): Promise<'created' | 'exists'> {
    const now = this.clock().toISOString();
    const item: JobRecord = { ...job, status: 'QUEUED', attempt: 1, interruptions: 0, updatedAt: now, ttl: this.ttl() };
    const ok = await this.conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: stripUndefined(item),
          ConditionExpression: 'attribute_not_exists(jobId)',
        }),
      ),
    );
    return ok ? 'created' : 'exists';
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { jobId }, ConsistentRead: true }));
    return r.Item as JobRecord | undefined;
  }

  /**
   * Take the job for one delivery: QUEUED → RUNNING, or — only once the holder's lease has expired (it died) —
   * RUNNING → RUNNING for the new holder with `attempt + 1`. Never for an instance the job was interrupted on.
   * Ownership is the lease, not the SQS receive count: a copy received while a live holder runs the job gets
   * `held` with the lease's remaining time and must not call the model.
   */
  async start(jobId: string, on: RunningOn): Promise<StartResult> {
    const holder = leaseHolderOf(on.instanceId, on.runId);
    const first = await this.take(jobId, on, holder, '#s = :queued', {}, false);
    if (first) return { started: true, record: first, holder, takeover: false };
    const record = await this.get(jobId);
    if (!record) return { started: false, reason: 'missing' };
    if (record.status !== 'QUEUED' && record.status !== 'RUNNING') return { started: false, reason: 'finished', record };
    if (record.interruptedOn === on.instanceId) return { started: false, reason: 'interrupted-here', record };
    const nowMs = this.clock().getTime();
    if (record.status === 'RUNNING' && record.leaseExpiresAt !== undefined && record.leaseExpiresAt >= nowMs) {
      return { started: false, reason: 'held', record, leaseRemainingMs: record.leaseExpiresAt - nowMs };
    }
    if (record.status === 'RUNNING' && record.attempt >= on.maxAttempts) return { started: false, reason: 'exhausted', record };
    // QUEUED again (raced with a requeue) or RUNNING under an expired lease: one more conditional try, pinned to
    // what was read so two takers cannot both win.
    const takeover = record.status === 'RUNNING';
    const pinned = takeover
      ? `${EXPIRED} AND attempt = :seenAttempt AND ${record.leaseHolder === undefined ? 'attribute_not_exists(leaseHolder)' : 'leaseHolder = :seenHolder'}`
      : '#s = :queued';
    const again = await this.take(
      jobId,
      on,
      holder,
      pinned,
      {
        ...(takeover ? { ':seenAttempt': record.attempt, ':nowMs': nowMs, ':running': 'RUNNING' } : {}),
        ...(takeover && record.leaseHolder !== undefined ? { ':seenHolder': record.leaseHolder } : {}),
      },
      takeover,
    );
    if (again) return { started: true, record: again, holder, takeover };
    const latest = await this.get(jobId);
    if (!latest) return { started: false, reason: 'missing' };
    if (latest.status !== 'QUEUED' && latest.status !== 'RUNNING') return { started: false, reason: 'finished', record: latest };
    const remaining = latest.leaseExpiresAt !== undefined ? Math.max(0, latest.leaseExpiresAt - this.clock().getTime()) : 0;
    return { started: false, reason: 'held', record: latest, leaseRemainingMs: remaining };
  }

  /**
   * Renew the lease of a running job (each heartbeat), optionally with a better estimate of its end.
   * False when the holder lost the job: requeued by the drainer, taken over, cancelled or finished.
   */
  async renew(jobId: string, holder: string, leaseSeconds: number, expectedDoneAt?: number): Promise<boolean> {
    const nowMs = this.clock().getTime();
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: `SET leaseExpiresAt = :exp${expectedDoneAt !== undefined ? ', expectedDoneAt = :done' : ''}`,
          ConditionExpression: '#s = :running AND leaseHolder = :h',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: stripUndefined({
            ':running': 'RUNNING',
            ':h': holder,
            ':exp': nowMs + leaseSeconds * 1000,
            ':done': expectedDoneAt,
          }),
        }),
      ),
    );
  }

  /** Mark a running job as left to finish through a spot notice (the terminate hook then waits for it until `reclaimAt`). */
  async keepThroughNotice(jobId: string, holder: string, reclaimAt: number): Promise<boolean> {
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: 'SET reclaimAt = :r',
          ConditionExpression: '#s = :running AND leaseHolder = :h',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':running': 'RUNNING', ':h': holder, ':r': reclaimAt },
        }),
      ),
    );
  }

  /** RUNNING (held by `holder`) → SUCCEEDED with the outcome; false if this holder lost the job. */
  async succeed(jobId: string, holder: string, outcome: Outcome): Promise<boolean> {
    return this.finishHeld(jobId, holder, 'SUCCEEDED', outcome as Record<string, unknown>);
  }

  /**
   * RUNNING (held by `holder`) → QUEUED, releasing the lease in the same write. An interruption adds one to
   * `interruptions` and records the instance (it never takes the job again); a retry adds one to `attempt`,
   * refused as `exhausted` once the record's attempt reached `maxAttempts`. Exactly one of two racing callers
   * (worker and drainer) wins.
   */
  async release(jobId: string, holder: string, change: ReleaseChange): Promise<ReleaseResult> {
    const budget = change.retry && change.maxAttempts !== undefined;
    const record = await this.toQueued(jobId, change, `#s = :running AND leaseHolder = :h${budget ? ' AND attempt < :max' : ''}`, {
      ':running': 'RUNNING',
      ':h': holder,
      ':max': budget ? change.maxAttempts : undefined,
      ':inst': change.interruption ? instanceOfHolder(holder) : undefined,
    });
    if (record) return { released: true, record };
    const current = await this.get(jobId);
    const stillOurs = current?.status === 'RUNNING' && current.leaseHolder === holder;
    return { released: false, reason: stillOurs && budget ? 'exhausted' : 'lost', record: current };
  }

  /**
   * RUNNING under an expired lease (its holder died; SQS dead-lettered the message) → QUEUED with `attempt + 1`:
   * the RetryHandler's path. Refused (undefined) while a live lease holds the job, or once the budget is spent.
   */
  async retryDead(jobId: string, error: string, maxAttempts: number): Promise<JobRecord | undefined> {
    return this.toQueued(jobId, { retry: true, error }, `${EXPIRED} AND attempt < :max`, {
      ':running': 'RUNNING',
      ':nowMs': this.clock().getTime(),
      ':max': maxAttempts,
    });
  }

  /**
   * → FAILED with the reason: a run that holds the job (`holder`), or — without a holder — a job no live lease
   * holds (QUEUED, or RUNNING under an expired lease). False when already terminal, missing, or held by another.
   */
  async fail(jobId: string, error: string, holder?: string): Promise<boolean> {
    const now = this.clock().toISOString();
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: `SET #s = :failed, #e = :e, finishedAt = :now, updatedAt = :now, #ttl = :ttl ${RELEASE}`,
          ConditionExpression: holder !== undefined ? '#s = :running AND leaseHolder = :h' : `#s = :queued OR ${EXPIRED}`,
          ExpressionAttributeNames: { '#s': 'status', '#e': 'error', '#ttl': 'ttl' },
          ExpressionAttributeValues: stripUndefined({
            ':failed': 'FAILED',
            ':queued': holder !== undefined ? undefined : 'QUEUED',
            ':running': 'RUNNING',
            ':e': error.slice(0, 2000),
            ':now': now,
            ':ttl': this.ttl(),
            ':h': holder,
            ':nowMs': holder !== undefined ? undefined : this.clock().getTime(),
          }),
        }),
      ),
    );
  }

  /** QUEUED → CANCELLED; false when the job already started or finished. */
  async cancel(jobId: string): Promise<boolean> {
    const now = this.clock().toISOString();
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: 'SET #s = :cancelled, finishedAt = :now, updatedAt = :now',
          ConditionExpression: '#s = :queued',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':cancelled': 'CANCELLED', ':queued': 'QUEUED', ':now': now },
        }),
      ),
    );
  }

  /** FAILED → QUEUED with a fresh attempt budget: an operator's redrive of a parked job after a fix. */
  async reset(jobId: string): Promise<JobRecord | undefined> {
    const now = this.clock().toISOString();
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: 'SET #s = :queued, attempt = :one, updatedAt = :now, #ttl = :ttl REMOVE #e, finishedAt, lastError',
          ConditionExpression: '#s = :failed',
          ExpressionAttributeNames: { '#s': 'status', '#e': 'error', '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':queued': 'QUEUED', ':failed': 'FAILED', ':one': 1, ':now': now, ':ttl': this.ttl() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return r.Attributes as JobRecord;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return undefined;
      throw e;
    }
  }

  /** RUNNING records held by an instance (index `byInstance`), all pages. */
  async runningOn(instanceId: string): Promise<JobRecord[]> {
    const records: JobRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: JOB_TABLE_INSTANCE_INDEX,
          KeyConditionExpression: 'instanceId = :i',
          FilterExpression: '#s = :running',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':i': instanceId, ':running': 'RUNNING' },
          ExclusiveStartKey: start,
        }),
      );
      records.push(...((r.Items ?? []) as JobRecord[]));
      start = r.LastEvaluatedKey;
    } while (start);
    return records;
  }

  private async finishHeld(jobId: string, holder: string, status: JobStatus, fields: Record<string, unknown>): Promise<boolean> {
    const now = this.clock().toISOString();
    const values = stripUndefined(fields);
    const sets = Object.keys(values).map((k) => `#f_${k} = :f_${k}`);
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: `SET ${[...sets, '#s = :to', 'finishedAt = :now', 'updatedAt = :now', '#ttl = :ttl'].join(', ')} ${RELEASE}`,
          ConditionExpression: '#s = :running AND leaseHolder = :h',
          ExpressionAttributeNames: { '#s': 'status', '#ttl': 'ttl', ...Object.fromEntries(Object.keys(values).map((k) => [`#f_${k}`, k])) },
          ExpressionAttributeValues: {
            ':to': status,
            ':running': 'RUNNING',
            ':h': holder,
            ':now': now,
            ':ttl': this.ttl(),
            ...Object.fromEntries(Object.entries(values).map(([k, v]) => [`:f_${k}`, v])),
          },
        }),
      ),
    );
  }

  /** One conditional QUEUED/expired → RUNNING write for `holder`; the new record, or undefined when the condition failed. */
  private async take(
    jobId: string,
    on: RunningOn,
    holder: string,
    condition: string,
    values: Record<string, unknown>,
    takeover: boolean,
  ): Promise<JobRecord | undefined> {
    const nowDate = this.clock();
    const nowMs = nowDate.getTime();
    const now = nowDate.toISOString();
    const sets = [
      '#s = :running',
      'instanceId = :i',
      'queueUrl = :q',
      'receiptHandle = :rh',
      'leaseHolder = :holder',
      'leaseExpiresAt = :exp',
      'startedAt = :now',
      'updatedAt = :now',
      '#ttl = :ttl',
    ];
    if (on.expectedDurationSeconds !== undefined) sets.push('expectedDoneAt = :done');
    if (takeover) sets.push('attempt = attempt + :one');
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: `SET ${sets.join(', ')}${on.expectedDurationSeconds === undefined ? ' REMOVE expectedDoneAt, reclaimAt' : ' REMOVE reclaimAt'}`,
          ConditionExpression: `(${condition}) AND (attribute_not_exists(interruptedOn) OR interruptedOn <> :i)`,
          ExpressionAttributeNames: { '#s': 'status', '#ttl': 'ttl' },
          ExpressionAttributeValues: stripUndefined({
            ':running': 'RUNNING',
            ':queued': condition.includes(':queued') ? 'QUEUED' : undefined,
            ':i': on.instanceId,
            ':q': on.queueUrl,
            ':rh': on.receiptHandle,
            ':holder': holder,
            ':exp': nowMs + on.leaseSeconds * 1000,
            ':now': now,
            ':ttl': this.ttl(),
            ':done': on.expectedDurationSeconds !== undefined ? nowMs + on.expectedDurationSeconds * 1000 : undefined,
            ':one': takeover ? 1 : undefined,
            ...values,
          }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return r.Attributes as JobRecord;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return undefined;
      throw e;
    }
  }

  private async toQueued(jobId: string, change: ReleaseChange, condition: string, values: Record<string, unknown>): Promise<JobRecord | undefined> {
    const now = this.clock().toISOString();
    const sets = ['#s = :queued', 'updatedAt = :now', '#ttl = :ttl'];
    if (change.interruption) sets.push('interruptions = interruptions + :one');
    if (change.interruption && values[':inst'] !== undefined) sets.push('interruptedOn = :inst');
    if (change.retry) sets.push('attempt = attempt + :one');
    if (change.error !== undefined) sets.push('lastError = :err');
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: `SET ${sets.join(', ')} ${RELEASE}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#s': 'status', '#ttl': 'ttl' },
          ExpressionAttributeValues: stripUndefined({
            ...values,
            ':queued': 'QUEUED',
            ':now': now,
            ':ttl': this.ttl(),
            ':one': change.interruption || change.retry ? 1 : undefined,
            ':err': change.error?.slice(0, 2000),
          }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return r.Attributes as JobRecord;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return undefined;
      throw e;
    }
  }

  private ttl(): number {
    return Math.floor(this.clock().getTime() / 1000) + this.retentionSeconds;
  }

  /** true when the write happened, false when its condition failed; other errors propagate. */
  private async conditional(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
