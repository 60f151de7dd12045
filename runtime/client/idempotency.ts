/**
 * Idempotency keys, stored in the job table next to the records: item key `<workload>.idem.<sha256>` (the
 * leading `<workload>.` keeps workload-scoped IAM — `dynamodb:LeadingKeys` `<workload>.*` — working), holding
 * the job id the key maps to, a fingerprint of the request, and a state:
 *
 * - `PENDING`: claimed by a submission that has not finished enqueueing yet;
 * - `ENQUEUED`: the job's message is on its queue — a replay answers with the same job id;
 * - `ABANDONED`: the submission failed before its message was sent — the next request may claim the key.
 *
 * Claims are conditional puts, so of any number of concurrent requests with one key exactly one claims it.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SubmitRequest } from './submit-request';

export type IdempotencyState = 'PENDING' | 'ENQUEUED' | 'ABANDONED';

export interface IdempotencyItem {
  /** The table key: `<workload>.idem.<sha256 hex>`. */
  readonly jobId: string;
  /** The job the key maps to. */
  readonly targetJobId: string;
  readonly fingerprint: string;
  readonly idemState: IdempotencyState;
  /** Epoch milliseconds of the claim (a PENDING claim older than the stale age may be taken over). */
  readonly claimedAtMs: number;
  readonly ttl: number;
}

/** Separator between agent and key in the hash input: a character neither may contain. */
const SEP = '\u0000';

/** The item key of an idempotency key: scoped to the workload (prefix) and the agent (hashed with the key). */
export function idempotencyItemKey(workload: string, agent: string, key: string): string {
  return `${workload}.idem.${sha256(`${agent}${SEP}${key}`)}`;
}

/** JSON with object keys sorted at every level, so equal requests hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * What makes two submissions "the same request": everything but the idempotency key. A key reused with a
 * different request is refused (422) instead of silently answering with the first job.
 */
export function requestFingerprint(request: SubmitRequest): string {
  const { idempotencyKey: _ignored, ...rest } = request;
  return sha256(canonicalJson(rest));
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export type ClaimResult = { readonly claimed: true } | { readonly claimed: false; readonly existing: IdempotencyItem };

export interface IdempotencyStoreOptions {
  /** Seconds an idempotency key is kept (the records' retention). @default 30 days */
  readonly retentionSeconds?: number;
  readonly clock?: () => Date;
}

export class IdempotencyStore {
  private readonly retentionSeconds: number;
  private readonly clock: () => Date;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: IdempotencyStoreOptions = {},
  ) {
    this.retentionSeconds = options.retentionSeconds ?? 30 * 86400;
    this.clock = options.clock ?? (() => new Date());
  }

  /** Claim `key` for `targetJobId`: succeeds when the key is new or its last claim was abandoned. */
  async claim(key: string, targetJobId: string, fingerprint: string): Promise<ClaimResult> {
    for (let i = 0; i < 2; i++) {
      const now = this.clock().getTime();
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              jobId: key,
              targetJobId,
              fingerprint,
              idemState: 'PENDING',
              claimedAtMs: now,
              ttl: Math.floor(now / 1000) + this.retentionSeconds,
            },
            ConditionExpression: 'attribute_not_exists(jobId) OR idemState = :abandoned',
            ExpressionAttributeValues: { ':abandoned': 'ABANDONED' },
          }),
        );
        return { claimed: true };
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
      const existing = await this.get(key);
      if (existing) return { claimed: false, existing };
      // Expired (TTL) between the put and the read: claim again.
    }
    throw new Error(`idempotency key ${key} could not be claimed or read`);
  }

  async get(key: string): Promise<IdempotencyItem | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { jobId: key }, ConsistentRead: true }));
    return r.Item as IdempotencyItem | undefined;
  }

  /** PENDING → ENQUEUED once the job's message is sent; false when the claim moved on (taken over). */
  async markEnqueued(key: string, targetJobId: string): Promise<boolean> {
    return this.transition(key, targetJobId, 'ENQUEUED');
  }

  /** PENDING → ABANDONED when the submission failed before its message was sent. */
  async abandon(key: string, targetJobId: string): Promise<boolean> {
    return this.transition(key, targetJobId, 'ABANDONED');
  }

  /**
   * Take over a stale PENDING claim of `oldTargetJobId` for a new job: only when nobody else did first
   * (the claim still names the old job).
   */
  async takeOver(key: string, oldTargetJobId: string, newTargetJobId: string, fingerprint: string): Promise<boolean> {
    const now = this.clock().getTime();
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId: key },
          UpdateExpression: 'SET targetJobId = :new, fingerprint = :f, claimedAtMs = :now',
          ConditionExpression: 'idemState = :pending AND targetJobId = :old',
          ExpressionAttributeValues: { ':new': newTargetJobId, ':f': fingerprint, ':now': now, ':pending': 'PENDING', ':old': oldTargetJobId },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  private async transition(key: string, targetJobId: string, to: IdempotencyState): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId: key },
          UpdateExpression: 'SET idemState = :to',
          ConditionExpression: 'idemState = :pending AND targetJobId = :t',
          ExpressionAttributeValues: { ':to': to, ':pending': 'PENDING', ':t': targetJobId },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }
}
