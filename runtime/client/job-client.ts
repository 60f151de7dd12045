/**
 * JobClient: submit jobs, read their status and results, cancel them — the logic behind the JobApi's
 * Lambdas, usable directly by a service that holds the grants (`JobQueue.grantSubmit`, the JobStore's record
 * and payload grants), on ECS, EC2 or Lambda, without going through API Gateway. Published as
 * `cdk-ai-burst/client`; it imports the AWS SDK, so it is never re-exported from the construct library.
 *
 * Submit, in order: check the request (nothing written on any 4xx) → the agent's budget (429) → claim the
 * idempotency key (a replay answers with the first job id) → write the QUEUED record (it holds the inline
 * payload the drainer needs) → send the message → mark the key ENQUEUED → wake the fleet if its backlog was
 * empty. If the send fails, the record is marked FAILED, the key released, and the caller gets 503 — never
 * a job id for a job that is not on its queue.
 */
import { randomUUID } from 'node:crypto';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  ApiConfig,
  ApiErrorCodes,
  ApiWorkloadConfig,
  DEFAULT_INLINE_PAYLOAD_MAX_BYTES,
  formatJobId,
  JOB_MESSAGE_VERSION,
  JobMessage,
  JobStatus,
  payloadKey,
  serializeJobMessage,
  SQS_MAX_MESSAGE_BYTES,
  workloadOfJobId,
  jobMessageGroupId,
} from '../../lib/contracts';
import { ApiError, quote } from '../http/api-error';
import { FleetWaker } from './fleet-wake';
import { idempotencyItemKey, IdempotencyStore, requestFingerprint } from './idempotency';
import { JobRecords } from '../jobs/job-records';
import { jobView, JobView } from './job-view';
import { BudgetGuard, CloudWatchSpendSource } from './spend-budget';
import { checkJobId, checkSubmitRequest, SubmitRequest, tooLarge, WorkloadCatalog } from './submit-request';
import { Log } from '../log';

export { ApiError } from '../http/api-error';
export type { JobView } from './job-view';

/** What a caller sends; checked at run time like an HTTP body (the same rules and error codes). */
export interface SubmitJobInput {
  readonly workload: string;
  readonly agent: string;
  readonly model?: string;
  /** @default the workload's lowest priority */
  readonly priority?: string;
  /** Inline input (any JSON but null), up to the inline limit. */
  readonly payload?: unknown;
  /** Step 1 of a large input: answer a pre-signed PUT URL; nothing is queued yet. */
  readonly payloadUpload?: true;
  /** Step 2 of a large input: the `uploadId` of step 1, after the input was PUT to its URL. */
  readonly uploadId?: string;
  /** Same key (per workload and agent) → same job id, and nothing new queued. */
  readonly idempotencyKey?: string;
}

export type SubmitResult =
  | { readonly kind: 'queued'; readonly jobId: string; readonly status: JobStatus; readonly replayed: boolean }
  | {
      readonly kind: 'upload';
      readonly uploadId: string;
      readonly upload: {
        readonly url: string;
        readonly method: 'PUT';
        readonly headers: Readonly<Record<string, string>>;
        readonly expiresAt: string;
      };
    };

export type ResultAnswer =
  | { readonly jobId: string; readonly status: 'SUCCEEDED'; readonly result: unknown }
  | { readonly jobId: string; readonly status: 'SUCCEEDED'; readonly resultUrl: string; readonly expiresAt: string };

/** What the client logs with (a Powertools Logger, `console`, or any `Log`). */
export type JobClientLog = Pick<Log, 'warn'>;

export interface JobClientProps {
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBDocumentClient;
  /** Needed for payload uploads and result URLs. */
  readonly s3?: S3Client;
  readonly tableName: string;
  /** The JobStore's data bucket (payloads/, results/). */
  readonly bucket?: string;
  readonly workloads: Readonly<Record<string, ApiWorkloadConfig>>;
  /** @default DEFAULT_INLINE_PAYLOAD_MAX_BYTES (256 KiB) */
  readonly inlinePayloadMaxBytes?: number;
  /** @default 900 */
  readonly uploadUrlSeconds?: number;
  /** @default 300 */
  readonly resultUrlSeconds?: number;
  /** Records and idempotency keys are kept this long. @default 30 days */
  readonly retentionSeconds?: number;
  /** How long a request waits for a concurrent request with the same idempotency key to finish. @default 3000 */
  readonly idempotencyWaitMs?: number;
  /**
   * A claim older than this whose submission never finished (it crashed) may be taken over. Must exceed the
   * longest a submit call can take (the submit Lambda's timeout is 15 s). @default 120
   */
  readonly idempotencyStaleSeconds?: number;
  /** @default - no budgets */
  readonly budget?: BudgetGuard;
  /** @default - no wake-up */
  readonly waker?: FleetWaker;
  /** Called once per newly queued job (the submit Lambda counts `JobsSubmitted`). */
  readonly onSubmitted?: (workload: string, jobId: string) => void;
  readonly log?: JobClientLog;
  readonly clock?: () => Date;
  readonly newId?: () => string;
}

/** The clients {@link JobClient.fromConfig} wires up; CloudWatch and Lambda only when budgets / wake targets are configured. */
export interface JobClientClients {
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly s3?: S3Client;
  readonly cloudWatch?: CloudWatchClient;
  readonly lambda?: LambdaClient;
}

const POLL_MS = 50;

export class JobClient {
  /** The same configuration the JobApi gives its Lambdas, with the clients to use. */
  static fromConfig(
    config: ApiConfig,
    clients: JobClientClients,
    store: { tableName: string; bucket?: string },
    extra: Pick<JobClientProps, 'log' | 'clock' | 'newId' | 'onSubmitted' | 'idempotencyWaitMs' | 'idempotencyStaleSeconds'> = {},
  ): JobClient {
    const workloads = Object.keys(config.workloads);
    const budget =
      config.budgets && clients.cloudWatch
        ? new BudgetGuard(config.budgets, new CloudWatchSpendSource(clients.cloudWatch, config.budgets.metricNamespace, workloads), {
            cacheSeconds: config.budgets.cacheSeconds,
            clock: extra.clock,
            onSourceError: (agent, e) => extra.log?.warn('budget check skipped: spend could not be read', { agent, error: String(e) }),
          })
        : undefined;
    if (config.budgets && !clients.cloudWatch) throw new Error('JobClient: budgets are configured but no CloudWatch client was given');
    const wakes = Object.values(config.workloads).some((w) => w.wakeFunction);
    if (wakes && !clients.lambda) throw new Error('JobClient: wake functions are configured but no Lambda client was given');
    const waker =
      wakes && clients.lambda
        ? new FleetWaker(clients.sqs, clients.lambda, config.workloads, {
            debounceSeconds: config.wakeDebounceSeconds,
            clock: extra.clock,
            onError: (what, workload, e) => extra.log?.warn(`fleet ${what} failed`, { workload, error: String(e) }),
          })
        : undefined;
    return new JobClient({
      ...extra,
      sqs: clients.sqs,
      dynamo: clients.dynamo,
      s3: clients.s3,
      tableName: store.tableName,
      bucket: store.bucket,
      workloads: config.workloads,
      inlinePayloadMaxBytes: config.inlinePayloadMaxBytes,
      uploadUrlSeconds: config.uploadUrlSeconds,
      resultUrlSeconds: config.resultUrlSeconds,
      retentionSeconds: config.retentionSeconds,
      budget,
      waker,
    });
  }

  public readonly records: JobRecords;
  private readonly idempotency: IdempotencyStore;
  private readonly catalog: WorkloadCatalog;
  private readonly inlineMax: number;
  private readonly clock: () => Date;
  private readonly newId: () => string;

  constructor(private readonly props: JobClientProps) {
    this.clock = props.clock ?? (() => new Date());
    this.newId = props.newId ?? randomUUID;
    this.inlineMax = props.inlinePayloadMaxBytes ?? DEFAULT_INLINE_PAYLOAD_MAX_BYTES;
    this.records = new JobRecords(props.dynamo, props.tableName, { retentionSeconds: props.retentionSeconds, clock: props.clock });
    this.idempotency = new IdempotencyStore(props.dynamo, props.tableName, { retentionSeconds: props.retentionSeconds, clock: props.clock });
    this.catalog = Object.fromEntries(Object.entries(props.workloads).map(([w, c]) => [w, c.queues.map((q) => q.priority)]));
  }

  /** The largest inline body or payload accepted, bytes. */
  get inlinePayloadMaxBytes(): number {
    return this.inlineMax;
  }

  /**
   * Submit a job. Throws {@link ApiError} with a code from ApiErrorCodes: 400/413/415/422 for bad input,
   * 409 for an unfinished concurrent request with the same idempotency key or a missing upload, 429 over
   * budget, 503 when the message could not be queued. Nothing is written or queued when it throws a 4xx.
   */
  async submit(input: SubmitJobInput | unknown): Promise<SubmitResult> {
    const request = checkSubmitRequest(input, this.catalog);
    if (request.kind === 'inline') {
      const bytes = Buffer.byteLength(JSON.stringify(request.payload), 'utf8');
      if (bytes > this.inlineMax) throw tooLarge(`the payload is ${bytes} bytes`, this.inlineMax);
    }
    await this.checkBudget(request);
    if (request.kind === 'upload') return this.presignUpload(request);

    const jobId = request.kind === 'commit' ? request.uploadId : formatJobId(request.workload, this.newId());
    let payloadRef: string | undefined;
    if (request.kind === 'commit') {
      payloadRef = `s3://${this.requireBucket()}/${payloadKey(jobId)}`;
      await this.requireUpload(jobId);
    }
    const submittedAt = this.clock().toISOString();
    const message: JobMessage = {
      v: JOB_MESSAGE_VERSION,
      jobId,
      workload: request.workload,
      agent: request.agent,
      ...(request.model !== undefined ? { model: request.model } : {}),
      priority: request.priority,
      ...(request.kind === 'inline' ? { payload: request.payload } : { payloadRef }),
      submittedAt,
      attempt: 1,
      interruptions: 0,
    };
    const body = sqsSafeJson(serializeJobMessage(message));
    const bodyBytes = Buffer.byteLength(body, 'utf8');
    if (bodyBytes > SQS_MAX_MESSAGE_BYTES)
      throw tooLarge(`the job message would be ${bodyBytes} bytes, over the SQS limit of ${SQS_MAX_MESSAGE_BYTES}`, this.inlineMax);

    let claimedKey: string | undefined;
    if (request.idempotencyKey !== undefined) {
      const claim = await this.claimKey(request, jobId);
      if ('replay' in claim) return claim.replay;
      claimedKey = claim.key;
    }

    let sent = false;
    try {
      const probe = this.props.waker?.probe(request.workload);
      const created = await this.records.create({
        jobId,
        workload: request.workload,
        agent: request.agent,
        model: request.model,
        priority: request.priority,
        submittedAt,
        payload: request.kind === 'inline' ? request.payload : undefined,
        payloadRef,
        idempotencyKey: request.idempotencyKey,
      });
      if (created === 'exists') throw new ApiError(ApiErrorCodes.JOB_EXISTS, `job ${jobId} was already submitted; GET /jobs/${jobId} for its status`);
      const queueUrl = this.props.workloads[request.workload].queues.find((q) => q.priority === request.priority)!.url;
      try {
        await this.props.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: jobMessageGroupId(request) }));
        sent = true;
      } catch (e) {
        this.props.log?.warn('job could not be queued; record marked FAILED', { jobId, error: String(e) });
        await this.records
          .fail(jobId, 'the job could not be queued')
          .catch((f) => this.props.log?.warn('could not mark the record FAILED', { jobId, error: String(f) }));
        throw new ApiError(ApiErrorCodes.ENQUEUE_FAILED, 'the job could not be queued and was not accepted; retry the request');
      }
      if (claimedKey !== undefined) {
        // Failure here leaves the key PENDING; a replay after the stale age finds the QUEUED record and answers with it.
        await this.idempotency
          .markEnqueued(claimedKey, jobId)
          .catch((e) => this.props.log?.warn('idempotency key not marked ENQUEUED', { jobId, error: String(e) }));
      }
      this.props.onSubmitted?.(request.workload, jobId);
      if (probe && (await probe)) await this.props.waker!.wake(request.workload, jobId);
      return { kind: 'queued', jobId, status: 'QUEUED', replayed: false };
    } catch (e) {
      if (!sent && claimedKey !== undefined) {
        await this.idempotency
          .abandon(claimedKey, jobId)
          .catch((f) => this.props.log?.warn('idempotency key not released', { jobId, error: String(f) }));
      }
      throw e;
    }
  }

  /** The caller's view of a job (no internal fields). 400 for a malformed id, 404 when there is no such job. */
  async status(jobId: string): Promise<JobView> {
    return jobView(await this.requireRecord(jobId));
  }

  /**
   * The result of a SUCCEEDED job: inline, or a short-lived pre-signed GET URL of the result object.
   * 409 RESULT_NOT_AVAILABLE for any other status.
   */
  async result(jobId: string): Promise<ResultAnswer> {
    const record = await this.requireRecord(jobId);
    if (record.status !== 'SUCCEEDED') {
      throw new ApiError(ApiErrorCodes.RESULT_NOT_AVAILABLE, `job ${jobId} is ${record.status}; a result exists only once it SUCCEEDED`);
    }
    if (record.resultRef === undefined) return { jobId, status: 'SUCCEEDED', result: record.result ?? null };
    const bucket = this.requireBucket();
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(record.resultRef);
    // Only ever sign this job's own object in the store's bucket, whatever the record says.
    if (!match || match[1] !== bucket || !match[2].startsWith(`results/${workloadOfJobId(jobId)}/`)) {
      this.props.log?.warn('result reference outside the results prefix', { jobId });
      throw new ApiError(ApiErrorCodes.INTERNAL_ERROR, `the result of job ${jobId} cannot be served; contact the operator`);
    }
    const seconds = this.props.resultUrlSeconds ?? 300;
    const url = await getSignedUrl(this.requireS3(), new GetObjectCommand({ Bucket: bucket, Key: match[2] }), { expiresIn: seconds });
    return { jobId, status: 'SUCCEEDED', resultUrl: url, expiresAt: new Date(this.clock().getTime() + seconds * 1000).toISOString() };
  }

  /** QUEUED → CANCELLED (the worker skips it). 409 JOB_NOT_CANCELLABLE once it runs or finished. */
  async cancel(jobId: string): Promise<{ jobId: string; status: 'CANCELLED' }> {
    checkJobId(jobId, this.catalog);
    if (await this.records.cancel(jobId)) return { jobId, status: 'CANCELLED' };
    const record = await this.requireRecord(jobId);
    if (record.status === 'CANCELLED') return { jobId, status: 'CANCELLED' };
    throw new ApiError(ApiErrorCodes.JOB_NOT_CANCELLABLE, `job ${jobId} is ${record.status}; only QUEUED jobs can be cancelled`);
  }

  private async requireRecord(jobId: string) {
    checkJobId(jobId, this.catalog);
    const record = await this.records.get(jobId);
    if (!record) throw new ApiError(ApiErrorCodes.JOB_NOT_FOUND, `job ${quote(jobId, 80)} does not exist`);
    return record;
  }

  private async checkBudget(request: SubmitRequest): Promise<void> {
    if (!this.props.budget) return;
    const decision = await this.props.budget.check(request.agent);
    if (decision.allowed) return;
    // A replay of a request that was accepted before the agent went over budget still gets its job id.
    if (request.idempotencyKey !== undefined && request.kind !== 'upload') {
      const item = await this.idempotency.get(idempotencyItemKey(request.workload, request.agent, request.idempotencyKey));
      if (item?.idemState === 'ENQUEUED' && item.fingerprint === requestFingerprint(request)) return;
    }
    const retryAfter = Math.max(1, Math.ceil((decision.resetsAt.getTime() - this.clock().getTime()) / 1000));
    throw new ApiError(
      ApiErrorCodes.BUDGET_EXCEEDED,
      `agent ${quote(decision.agent, 64)} has spent $${decision.spentUsd.toFixed(2)} today (UTC) of its daily budget of ` +
        `$${decision.limitUsd.toFixed(2)}; nothing was queued. The budget resets at ${decision.resetsAt.toISOString()}`,
      { 'Retry-After': String(retryAfter) },
    );
  }

  /** Claim the request's idempotency key for `jobId`, or the answer of the request that holds it. */
  private async claimKey(request: SubmitRequest, jobId: string): Promise<{ key: string } | { replay: SubmitResult }> {
    const key = idempotencyItemKey(request.workload, request.agent, request.idempotencyKey!);
    const fingerprint = requestFingerprint(request);
    const deadline = this.clock().getTime() + (this.props.idempotencyWaitMs ?? 3000);
    const staleMs = (this.props.idempotencyStaleSeconds ?? 120) * 1000;
    let claim = await this.idempotency.claim(key, jobId, fingerprint);
    for (;;) {
      if (claim.claimed) return { key };
      const existing = claim.existing;
      if (existing.fingerprint !== fingerprint) {
        throw new ApiError(
          ApiErrorCodes.IDEMPOTENCY_KEY_REUSED,
          `idempotencyKey ${quote(request.idempotencyKey, 64)} was already used for a different request; use a new key for a new job`,
        );
      }
      if (existing.idemState === 'ENQUEUED') return { replay: await this.replay(existing.targetJobId) };
      if (existing.idemState === 'ABANDONED') {
        claim = await this.idempotency.claim(key, jobId, fingerprint);
        continue;
      }
      const now = this.clock().getTime();
      if (now - existing.claimedAtMs > staleMs) {
        // The holder never finished. A record that exists and did not fail means its message was most likely
        // sent (only the final mark was lost): answer with it rather than risk a second job.
        const record = await this.records.get(existing.targetJobId);
        if (record && record.status !== 'FAILED') {
          await this.idempotency.markEnqueued(key, existing.targetJobId);
          return { replay: await this.replay(existing.targetJobId) };
        }
        if (await this.idempotency.takeOver(key, existing.targetJobId, jobId, fingerprint)) return { key };
      } else if (now >= deadline) {
        throw new ApiError(
          ApiErrorCodes.IDEMPOTENCY_IN_PROGRESS,
          `a request with idempotencyKey ${quote(request.idempotencyKey, 64)} is still being processed; retry in a few seconds`,
          { 'Retry-After': '2' },
        );
      } else {
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      const again = await this.idempotency.get(key);
      claim = again ? { claimed: false, existing: again } : await this.idempotency.claim(key, jobId, fingerprint);
    }
  }

  private async replay(jobId: string): Promise<SubmitResult> {
    const record = await this.records.get(jobId);
    return { kind: 'queued', jobId, status: record?.status ?? 'QUEUED', replayed: true };
  }

  private async presignUpload(request: SubmitRequest): Promise<SubmitResult> {
    const uploadId = formatJobId(request.workload, this.newId());
    const seconds = this.props.uploadUrlSeconds ?? 900;
    const url = await getSignedUrl(
      this.requireS3(),
      new PutObjectCommand({ Bucket: this.requireBucket(), Key: payloadKey(uploadId), ContentType: 'application/json' }),
      { expiresIn: seconds },
    );
    return {
      kind: 'upload',
      uploadId,
      upload: {
        url,
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        expiresAt: new Date(this.clock().getTime() + seconds * 1000).toISOString(),
      },
    };
  }

  private async requireUpload(jobId: string): Promise<void> {
    try {
      await this.requireS3().send(new HeadObjectCommand({ Bucket: this.requireBucket(), Key: payloadKey(jobId) }));
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (e as Error).name === 'NotFound') {
        throw new ApiError(
          ApiErrorCodes.UPLOAD_NOT_FOUND,
          `nothing was uploaded for uploadId ${jobId}; PUT the input to the upload URL first (it expires after ${this.props.uploadUrlSeconds ?? 900} s)`,
        );
      }
      throw e;
    }
  }

  private requireS3(): S3Client {
    if (!this.props.s3) throw new Error('JobClient: this call needs an S3 client (props.s3)');
    return this.props.s3;
  }

  private requireBucket(): string {
    if (!this.props.bucket) throw new Error('JobClient: this call needs the data bucket (props.bucket)');
    return this.props.bucket;
  }
}

/**
 * SQS refuses U+FFFE and U+FFFF in a message body, which JSON.stringify leaves as they are; inside JSON
 * strings (the only place they can occur) their `\uXXXX` escapes are equivalent. Control characters and lone
 * surrogates are already escaped by JSON.stringify.
 */
export function sqsSafeJson(json: string): string {
  return json.replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}
