/**
 * Job records in DynamoDB. Every status change is a conditional write implementing the contract's
 * ALLOWED_TRANSITIONS (lib/contracts/job.ts), so a duplicate delivery cannot move a finished job backwards
 * or finish it twice, and of two parties that race to requeue the same job (worker and drainer), exactly
 * one wins.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { JOB_TABLE_INSTANCE_INDEX, JobRecord, JobStatus } from '../../lib/contracts';

/** What the submitter knows of a new job. */
export type NewJob = Pick<JobRecord, 'jobId' | 'workload' | 'agent' | 'model' | 'priority' | 'submittedAt' | 'payload' | 'payloadRef' | 'idempotencyKey'>;

export interface RunningOn {
  readonly instanceId: string;
  readonly queueUrl: string;
  readonly receiptHandle: string;
  /** SQS ApproximateReceiveCount of this delivery: > 1 means SQS redelivered it (the holder died). */
  readonly receiveCount: number;
}

export type StartResult =
  | { readonly started: true; readonly record: JobRecord }
  | { readonly started: false; readonly reason: 'missing' | 'finished' | 'held'; readonly record?: JobRecord };

/** What a finished run adds to the record. */
export type Outcome = Pick<JobRecord, 'tokensIn' | 'tokensOut' | 'latencyMs' | 'gpuSeconds' | 'costUsd' | 'resultRef' | 'result'>;

export interface JobRecordsOptions {
  /** Seconds a record is kept after its last change. @default 30 days */
  readonly retentionSeconds?: number;
  readonly clock?: () => Date;
}

const RELEASE = 'REMOVE instanceId, queueUrl, receiptHandle';

export class JobRecords {
  private readonly retentionSeconds: number;
  private readonly clock: () => Date;

  constructor(private readonly doc: DynamoDBDocumentClient, public readonly tableName: string, options: JobRecordsOptions = {}) {
    this.retentionSeconds = options.retentionSeconds ?? 30 * 86400;
    this.clock = options.clock ?? (() => new Date());
  }

  /** Write a QUEUED record; `exists` when the id is taken (an idempotent resubmission). */
  async create(job: NewJob): Promise<'created' | 'exists'> {
    const now = this.clock().toISOString();
    const item: JobRecord = { ...job, status: 'QUEUED', attempt: 1, interruptions: 0, updatedAt: now, ttl: this.ttl() };
    const ok = await this.conditional(() => this.doc.send(new PutCommand({
      TableName: this.tableName,
      Item: stripUndefined(item),
      ConditionExpression: 'attribute_not_exists(jobId)',
    })));
    return ok ? 'created' : 'exists';
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { jobId }, ConsistentRead: true }));
    return r.Item as JobRecord | undefined;
  }

  /**
   * QUEUED → RUNNING on this instance. A RUNNING record is taken over only when SQS redelivered the same
   * message (receive count > 1: its holder died or lost the lease); a fresh copy never steals a live job.
   */
  async start(jobId: string, on: RunningOn): Promise<StartResult> {
    const now = this.clock().toISOString();
    try {
      const r = await this.doc.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { jobId },
        UpdateExpression: 'SET #s = :running, instanceId = :i, queueUrl = :q, receiptHandle = :h, startedAt = :now, updatedAt = :now, #ttl = :ttl',
        ConditionExpression: on.receiveCount > 1 ? '#s IN (:queued, :running)' : '#s = :queued',
        ExpressionAttributeNames: { '#s': 'status', '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':running': 'RUNNING', ':queued': 'QUEUED', ':i': on.instanceId, ':q': on.queueUrl, ':h': on.receiptHandle,
          ':now': now, ':ttl': this.ttl(),
        },
        ReturnValues: 'ALL_NEW',
      }));
      return { started: true, record: r.Attributes as JobRecord };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      const record = await this.get(jobId);
      if (!record) return { started: false, reason: 'missing' };
      return { started: false, reason: record.status === 'RUNNING' || record.status === 'QUEUED' ? 'held' : 'finished', record };
    }
  }

  /** RUNNING (held by `receiptHandle`) → SUCCEEDED with the outcome; false if this holder lost the job. */
  async succeed(jobId: string, receiptHandle: string, outcome: Outcome): Promise<boolean> {
    return this.finishHeld(jobId, receiptHandle, 'SUCCEEDED', outcome as Record<string, unknown>);
  }

  /**
   * RUNNING (held by `receiptHandle`) → QUEUED, releasing the instance. Used for interruptions
   * (`interruptions + 1`, attempt unchanged) and retries (`attempt + 1`). Returns the new record to the
   * one caller that won, undefined to everyone else.
   */
  async release(jobId: string, receiptHandle: string, change: { interruption?: boolean; retry?: boolean; error?: string }): Promise<JobRecord | undefined> {
    return this.toQueued(jobId, change, '#s = :running AND receiptHandle = :h', { ':running': 'RUNNING', ':h': receiptHandle });
  }

  /**
   * QUEUED or RUNNING (any holder) → QUEUED with `attempt + 1`: the RetryHandler's path for a job SQS
   * dead-lettered (its holder died or kept failing), where no receipt handle of the holder is known.
   */
  async retry(jobId: string, error: string): Promise<JobRecord | undefined> {
    return this.toQueued(jobId, { retry: true, error }, '#s IN (:running, :queued)', { ':running': 'RUNNING', ':queued': 'QUEUED' });
  }

  /** Any non-terminal status → FAILED with the reason; false when already terminal (or missing). */
  async fail(jobId: string, error: string): Promise<boolean> {
    const now = this.clock().toISOString();
    return this.conditional(() => this.doc.send(new UpdateCommand({
      TableName: this.tableName,
      Key: { jobId },
      UpdateExpression: `SET #s = :failed, #e = :e, finishedAt = :now, updatedAt = :now, #ttl = :ttl ${RELEASE}`,
      ConditionExpression: '#s IN (:queued, :running)',
      ExpressionAttributeNames: { '#s': 'status', '#e': 'error', '#ttl': 'ttl' },
      ExpressionAttributeValues: { ':failed': 'FAILED', ':queued': 'QUEUED', ':running': 'RUNNING', ':e': error.slice(0, 2000), ':now': now, ':ttl': this.ttl() },
    })));
  }

  /** QUEUED → CANCELLED; false when the job already started or finished. */
  async cancel(jobId: string): Promise<boolean> {
    const now = this.clock().toISOString();
    return this.conditional(() => this.doc.send(new UpdateCommand({
      TableName: this.tableName,
      Key: { jobId },
      UpdateExpression: 'SET #s = :cancelled, finishedAt = :now, updatedAt = :now',
      ConditionExpression: '#s = :queued',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':cancelled': 'CANCELLED', ':queued': 'QUEUED', ':now': now },
    })));
  }

  /** FAILED → QUEUED with a fresh attempt budget: an operator's redrive of a parked job after a fix. */
  async reset(jobId: string): Promise<JobRecord | undefined> {
    const now = this.clock().toISOString();
    try {
      const r = await this.doc.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { jobId },
        UpdateExpression: 'SET #s = :queued, attempt = :one, updatedAt = :now, #ttl = :ttl REMOVE #e, finishedAt, lastError',
        ConditionExpression: '#s = :failed',
        ExpressionAttributeNames: { '#s': 'status', '#e': 'error', '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':queued': 'QUEUED', ':failed': 'FAILED', ':one': 1, ':now': now, ':ttl': this.ttl() },
        ReturnValues: 'ALL_NEW',
      }));
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
      const r = await this.doc.send(new QueryCommand({
        TableName: this.tableName,
        IndexName: JOB_TABLE_INSTANCE_INDEX,
        KeyConditionExpression: 'instanceId = :i',
        FilterExpression: '#s = :running',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':i': instanceId, ':running': 'RUNNING' },
        ExclusiveStartKey: start,
      }));
      records.push(...((r.Items ?? []) as JobRecord[]));
      start = r.LastEvaluatedKey;
    } while (start);
    return records;
  }

  private async finishHeld(jobId: string, receiptHandle: string, status: JobStatus, fields: Record<string, unknown>): Promise<boolean> {
    const now = this.clock().toISOString();
    const values = stripUndefined(fields);
    const sets = Object.keys(values).map((k) => `#f_${k} = :f_${k}`);
    return this.conditional(() => this.doc.send(new UpdateCommand({
      TableName: this.tableName,
      Key: { jobId },
      UpdateExpression: `SET ${[...sets, '#s = :to', 'finishedAt = :now', 'updatedAt = :now', '#ttl = :ttl'].join(', ')} ${RELEASE}`,
      ConditionExpression: '#s = :running AND receiptHandle = :h',
      ExpressionAttributeNames: { '#s': 'status', '#ttl': 'ttl', ...Object.fromEntries(Object.keys(values).map((k) => [`#f_${k}`, k])) },
      ExpressionAttributeValues: {
        ':to': status, ':running': 'RUNNING', ':h': receiptHandle, ':now': now, ':ttl': this.ttl(),
        ...Object.fromEntries(Object.entries(values).map(([k, v]) => [`:f_${k}`, v])),
      },
    })));
  }

  private async toQueued(jobId: string, change: { interruption?: boolean; retry?: boolean; error?: string }, condition: string, values: Record<string, unknown>): Promise<JobRecord | undefined> {
    const now = this.clock().toISOString();
    const sets = ['#s = :queued', 'updatedAt = :now', '#ttl = :ttl'];
    if (change.interruption) sets.push('interruptions = interruptions + :one');
    if (change.retry) sets.push('attempt = attempt + :one');
    if (change.error !== undefined) sets.push('lastError = :err');
    try {
      const r = await this.doc.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { jobId },
        UpdateExpression: `SET ${sets.join(', ')} ${RELEASE}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#s': 'status', '#ttl': 'ttl' },
        ExpressionAttributeValues: stripUndefined({
          ...values, ':queued': 'QUEUED', ':now': now, ':ttl': this.ttl(),
          ':one': change.interruption || change.retry ? 1 : undefined,
          ':err': change.error?.slice(0, 2000),
        }),
        ReturnValues: 'ALL_NEW',
      }));
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
