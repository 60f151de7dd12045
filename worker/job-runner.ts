/**
 * One message, start to end. The order is the safety argument:
 * parse (malformed → parked, deleted) → notBefore (ahead → sent back with the remaining delay) →
 * take the lease (QUEUED → RUNNING, or a dead holder's expired lease; finished/cancelled → deleted without a
 * model call; a live lease elsewhere → the copy waits out the lease, no model call; interrupted on this
 * instance → handed back) → payload → model call under the job deadline, the lease renewed by the heartbeat →
 * result stored under this run's own key → RUNNING→SUCCEEDED naming that key, conditional on the lease →
 * only then delete (a run that lost the job deletes its own object instead). A failure goes through the retry
 * policy (the record's attempt is the budget) before the delete. When the agent stops the job (interruption,
 * shutdown, lost lease, model server lost, kill) the runner touches nothing more: the agent requeues it, or someone
 * else owns it.
 *
 * Which model failures spend an attempt: an answer — an HTTP error status (5xx, 408/409/429 transient, other 4xx
 * permanent), a body that is not JSON, a malformed or failed stream — does (retry with `attempt + 1`, or park). A
 * connection error (refused, reset, dropped mid-answer: {@link ModelConnectionError}) does not: it is the server's
 * fault, so the job waits, under its lease and deadline, for the server's health check to answer again and calls
 * it again with the same attempt (at most {@link MAX_CONNECTION_WAITS} times per run, so a job that crashes the
 * server every time still ends up spending its budget). If the server is lost meanwhile the agent hands the job
 * back as an interruption (attempt unchanged).
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import { jobMessageGroupId, JobMessage, JobRecord, MetricNames, SQS_MAX_VISIBILITY_SECONDS, WorkerConfig, parseJobMessage } from '../lib/contracts';
import { JobRecords, NotStartedReason } from '../runtime/jobs/job-records';
import { deleteQuietly } from '../runtime/jobs/requeue';
import { RetryDeps, park, parkRaw, remainingDelaySeconds, retryOrPark } from '../runtime/jobs/retry';
import { GpuEconomics, costUsdOf, gpuSecondsOf } from './cost';
import { JobError, ModelConnectionError } from './errors';
import { Heartbeat, jobDeadline } from './heartbeat';
import { JobContext } from './job-context';
import { Log, errorMessage } from '../runtime/log';
import { MetricDimensions, MetricsBatcher } from './metrics';
import { ModelAdapter, ModelResult } from './model/adapter';
import { ModelHealth } from './model/health';
import { ScaleInProtection } from './protection';
import { deleteResult, readPayload, storeResult } from './storage';

/** Model dimension value when neither the job, its payload nor the fleet names a model. */
export const UNNAMED_MODEL = 'default';

/** Connection errors one run waits out (no attempt spent) before the next one fails the attempt. */
export const MAX_CONNECTION_WAITS = 3;

export type JobOutcome =
  | 'succeeded'
  | 'retried'
  | 'parked'
  | 'malformed'
  | 'delayed'
  | 'handed-back'
  | 'skipped-finished'
  | 'skipped-held'
  | 'skipped-interrupted-here'
  | 'lost'
  | 'stopped'
  | 'error';

export interface JobStartedEvent {
  readonly jobId: string;
  readonly priority: string;
  readonly receiveCount: number;
  /** The record's attempt (the budget), not the message's copy. */
  readonly attempt: number;
  readonly interruptions: number;
  /** The lease holder of this run: `<instanceId>/<runId>`. */
  readonly holder: string;
  /** Taken over from a holder whose lease had expired. */
  readonly takeover: boolean;
}

export interface JobFinishedEvent {
  readonly jobId?: string;
  readonly outcome: JobOutcome;
  readonly detail?: string;
  readonly delaySeconds?: number;
}

export interface RunnerDeps {
  readonly config: WorkerConfig;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly records: JobRecords;
  readonly retry: RetryDeps;
  readonly model: ModelAdapter;
  /** The model server's health watch: a connection error waits for it instead of spending an attempt. */
  readonly modelHealth?: ModelHealth;
  readonly metrics: MetricsBatcher;
  readonly protection: ScaleInProtection;
  readonly economics: GpuEconomics;
  readonly instanceId: string;
  readonly logger: Log;
  readonly now: () => number;
  /** False while the agent drains, is interrupted or stops: a message not yet started goes back. */
  readonly accepting: () => boolean;
  readonly started: (e: JobStartedEvent) => void;
  readonly finished: (e: JobFinishedEvent) => void;
  /**
   * The job was taken from this run (refused renewal or write), or refused because this instance was
   * interrupted while running it: the agent learns what the record says (e.g. `interruptedOn` is this instance).
   */
  readonly taken: (jobId: string, record: JobRecord | undefined) => void;
}

export async function runJob(ctx: JobContext, d: RunnerDeps): Promise<void> {
  const { message } = ctx.received;
  const body = message.Body ?? '';
  let deadline: NodeJS.Timeout | undefined;
  const heartbeat = new Heartbeat(d.sqs, ctx.queueUrl, ctx.receiptHandle, {
    visibilityTimeoutSeconds: d.config.visibilityTimeoutSeconds,
    receivedAt: ctx.received.receivedAt,
    now: d.now,
    logger: d.logger,
    onLost: (reason) => {
      d.logger.warn('lease lost; leaving the job to its new holder', { jobId: ctx.job?.jobId, reason });
      ctx.stop('lease-lost');
      const jobId = ctx.job?.jobId;
      if (jobId)
        void d.records.get(jobId).then(
          (r) => d.taken(jobId, r),
          () => d.taken(jobId, undefined),
        );
    },
  });
  heartbeat.start();
  try {
    const parsed = parseJobMessage(body);
    if (!parsed.ok) {
      await parkRaw(d.sqs, d.config.parkingQueueUrl, body, `malformed job message: ${parsed.error}`);
      await deleteQuietly(d.sqs, ctx.queueUrl, ctx.receiptHandle);
      d.metrics.record(MetricNames.JOBS_PARKED, 1, { workload: d.config.workload });
      d.logger.warn('malformed message parked', { queue: ctx.received.queue.priority, error: parsed.error });
      d.finished({ outcome: 'malformed', detail: parsed.error });
      return;
    }
    const job = parsed.value;
    ctx.job = job;
    const log = { jobId: job.jobId, agent: job.agent };

    const wait = remainingDelaySeconds(job, new Date(d.now()));
    if (wait !== undefined) {
      await d.sqs.send(
        new SendMessageCommand({ QueueUrl: ctx.queueUrl, MessageBody: body, DelaySeconds: wait, MessageGroupId: jobMessageGroupId(job) }),
      );
      await deleteQuietly(d.sqs, ctx.queueUrl, ctx.receiptHandle);
      d.finished({ jobId: job.jobId, outcome: 'delayed', delaySeconds: wait });
      return;
    }

    if (ctx.killed) return;
    if (ctx.signal.aborted || !d.accepting()) {
      // Received while the agent was told to stop taking work: an unchanged copy goes back (a fresh
      // message, so this receive does not count against the retry budget), then the original is deleted.
      await d.sqs.send(new SendMessageCommand({ QueueUrl: ctx.queueUrl, MessageBody: body, MessageGroupId: jobMessageGroupId(job) }));
      await deleteQuietly(d.sqs, ctx.queueUrl, ctx.receiptHandle);
      d.finished({ jobId: job.jobId, outcome: 'handed-back' });
      return;
    }

    const start = await d.records.start(job.jobId, {
      instanceId: d.instanceId,
      runId: ctx.runId,
      queueUrl: ctx.queueUrl,
      receiptHandle: ctx.receiptHandle,
      leaseSeconds: d.config.visibilityTimeoutSeconds,
      maxAttempts: d.config.maxAttempts,
      expectedDurationSeconds: d.config.expectedJobSeconds,
    });
    if (start.started) {
      ctx.started = true;
      ctx.startedAt = d.now();
      ctx.holder = start.holder;
      ctx.expectedDoneAt = start.record.expectedDoneAt;
      const holder = start.holder;
      heartbeat.withLease(() => d.records.renew(job.jobId, holder, d.config.visibilityTimeoutSeconds, ctx.expectedDoneAt));
    }
    ctx.settleStart();
    if (ctx.killed) return;
    if (!start.started) {
      await notStarted(ctx, job, start, d);
      return;
    }
    if (ctx.yielded) return;
    const { attempt, interruptions } = start.record;
    d.started({
      jobId: job.jobId,
      priority: job.priority,
      receiveCount: ctx.receiveCount,
      attempt,
      interruptions,
      holder: start.holder,
      takeover: start.takeover,
    });
    d.logger.info('job started', { ...log, attempt, interruptions, receiveCount: ctx.receiveCount, holder: start.holder, takeover: start.takeover });
    await d.protection.busy();

    const until = jobDeadline(ctx.startedAt!, ctx.received.receivedAt, d.config.jobTimeoutSeconds);
    deadline = setTimeout(() => ctx.stop('timeout'), Math.max(0, until - d.now()));
    const input = job.payloadRef !== undefined ? await readPayload(d.s3, job.payloadRef, ctx.signal) : job.payload;
    const model = modelOf(job, input, d.config.modelServer.defaultModel);
    ctx.model = model;
    const dims: MetricDimensions = { workload: job.workload, agent: job.agent, model: model ?? UNNAMED_MODEL };
    ctx.signal.throwIfAborted();
    const call = { at: d.now() };
    const result = await invokeModel(ctx, d, model, input, call);
    ctx.answered = true;
    // From the call that answered: a wait for the server during a blip is not inference latency.
    const latencyMs = d.now() - call.at;
    clearTimeout(deadline);
    if (ctx.yielded) return;

    const stored = await storeResult(d.s3, d.config.resultBucket, job.jobId, ctx.runId, result.output, d.config.inlineResultMaxBytes);
    if (ctx.killed) return;
    const wallSeconds = (d.now() - ctx.startedAt!) / 1000;
    const gpuSeconds = gpuSecondsOf(wallSeconds, d.economics);
    const costUsd = costUsdOf(gpuSeconds, d.economics);
    const ok = await d.records.succeed(job.jobId, ctx.holder!, {
      tokensIn: result.tokensIn,
      tokensOut: result.tokensOut,
      latencyMs,
      gpuSeconds,
      costUsd,
      ...(stored.resultRef !== undefined ? { resultRef: stored.resultRef } : { result: stored.result }),
    });
    if (ctx.killed) return;
    if (!ok) {
      // Requeued by the drainer or taken over after an expired lease meanwhile: not ours to delete, and our
      // object (under this run's own key) is nobody's result.
      if (stored.resultRef !== undefined) {
        await deleteResult(d.s3, stored.resultRef).catch((e) =>
          d.logger.warn("could not delete the losing run's result", { ...log, error: errorMessage(e) }),
        );
      }
      d.logger.warn('job was no longer held by this run; result discarded', log);
      d.finished({ jobId: job.jobId, outcome: 'lost' });
      const record = await d.records.get(job.jobId).catch(() => undefined);
      d.taken(job.jobId, record);
      return;
    }
    heartbeat.stop();
    await deleteQuietly(d.sqs, ctx.queueUrl, ctx.receiptHandle);

    if (result.tokensIn !== undefined) d.metrics.record(MetricNames.TOKENS_IN, result.tokensIn, dims);
    if (result.tokensOut !== undefined) d.metrics.record(MetricNames.TOKENS_OUT, result.tokensOut, dims);
    if (result.timeToFirstTokenMs !== undefined) d.metrics.record(MetricNames.TIME_TO_FIRST_TOKEN, result.timeToFirstTokenMs, dims);
    d.metrics.record(MetricNames.INFERENCE_LATENCY, latencyMs, dims);
    d.metrics.record(MetricNames.JOB_DURATION, round3(wallSeconds), dims);
    d.metrics.record(MetricNames.GPU_SECONDS, gpuSeconds, dims);
    d.metrics.record(MetricNames.JOBS_SUCCEEDED, 1, dims);
    if (ctx.keptThroughNotice) d.metrics.record(MetricNames.JOBS_FINISHED_IN_NOTICE, 1, dims);
    d.logger.info('job succeeded', {
      ...log,
      holder: ctx.holder,
      tokensIn: result.tokensIn,
      tokensOut: result.tokensOut,
      latencyMs,
      gpuSeconds,
      costUsd,
      inline: stored.resultRef === undefined,
      ...(ctx.keptThroughNotice ? { finishedInNotice: true } : {}),
    });
    d.finished({ jobId: job.jobId, outcome: 'succeeded' });
  } catch (e) {
    if (ctx.yielded) return;
    const job = ctx.job;
    if (!job || !ctx.started) {
      // Could not even record the start (e.g. the table is unreachable): the message comes back after its lease.
      d.logger.error('job could not be started; its message returns after the visibility timeout', { jobId: job?.jobId, error: errorMessage(e) });
      d.finished({ jobId: job?.jobId, outcome: 'error', detail: errorMessage(e) });
      return;
    }
    await failed(ctx, job, e, d);
  } finally {
    if (deadline) clearTimeout(deadline);
    heartbeat.stop();
    ctx.settleStart();
  }
}

async function notStarted(
  ctx: JobContext,
  job: JobMessage,
  start: { reason: NotStartedReason; record?: JobRecord; leaseRemainingMs?: number },
  d: RunnerDeps,
): Promise<void> {
  switch (start.reason) {
    case 'finished':
      // Finished or cancelled already (a duplicate delivery, or cancelled while queued): no model call.
      await deleteQuietly(d.sqs, ctx.queueUrl, ctx.receiptHandle);
      d.finished({ jobId: job.jobId, outcome: 'skipped-finished' });
      return;
    case 'held': {
      // A live lease elsewhere: this copy comes back once that lease would have expired, and is settled then
      // (deleted if the job finished, taken over if its holder died). No model call.
      const seconds = Math.min(SQS_MAX_VISIBILITY_SECONDS - 60, Math.ceil((start.leaseRemainingMs ?? 0) / 1000) + 1);
      await d.sqs
        .send(new ChangeMessageVisibilityCommand({ QueueUrl: ctx.queueUrl, ReceiptHandle: ctx.receiptHandle, VisibilityTimeout: seconds }))
        .catch((e) =>
          d.logger.warn('could not defer a copy of a held job; it returns after its visibility timeout', {
            jobId: job.jobId,
            error: errorMessage(e),
          }),
        );
      d.finished({ jobId: job.jobId, outcome: 'skipped-held', delaySeconds: seconds });
      return;
    }
    case 'interrupted-here':
      // This instance was interrupted while it ran the job: it is going away, and must not take the job (or
      // anything else) again. An unchanged copy goes back for another instance (a fresh message: no receive counted).
      await d.sqs.send(
        new SendMessageCommand({
          QueueUrl: ctx.queueUrl,
          MessageBody: ctx.received.message.Body ?? '',
          MessageGroupId: jobMessageGroupId(job),
        }),
      );
      await deleteQuietly(d.sqs, ctx.queueUrl, ctx.receiptHandle);
      d.logger.warn('job was interrupted on this instance: handed back', { jobId: job.jobId });
      d.finished({ jobId: job.jobId, outcome: 'skipped-interrupted-here' });
      d.taken(job.jobId, start.record);
      return;
    case 'exhausted':
      // Its holder died with the retry budget spent: park it without another model call.
      await park(
        d.retry,
        { ...job, attempt: start.record?.attempt ?? job.attempt },
        `retry budget spent after ${start.record?.attempt ?? job.attempt} attempts (the last holder died)`,
      );
      await deleteQuietly(d.sqs, ctx.queueUrl, ctx.receiptHandle);
      d.finished({ jobId: job.jobId, outcome: 'parked', detail: 'retry budget spent' });
      return;
    case 'missing':
      await park(d.retry, job, `no job record for ${job.jobId}`);
      await deleteQuietly(d.sqs, ctx.queueUrl, ctx.receiptHandle);
      d.finished({ jobId: job.jobId, outcome: 'parked', detail: 'no job record' });
  }
}

async function failed(ctx: JobContext, job: JobMessage, e: unknown, d: RunnerDeps): Promise<void> {
  const timedOut = ctx.reason === 'timeout';
  const error = timedOut
    ? `timed out after ${Math.round((d.now() - ctx.startedAt!) / 1000)} s (jobTimeoutSeconds ${d.config.jobTimeoutSeconds})`
    : e instanceof JobError
      ? e.message
      : errorMessage(e);
  const permanent = !timedOut && e instanceof JobError && e.permanent;
  const dims: MetricDimensions = {
    workload: job.workload,
    agent: job.agent,
    model: ctx.model ?? modelOf(job, job.payload, d.config.modelServer.defaultModel) ?? UNNAMED_MODEL,
  };
  d.metrics.record(MetricNames.JOBS_FAILED, 1, dims);
  d.metrics.record(MetricNames.GPU_SECONDS, gpuSecondsOf((d.now() - ctx.startedAt!) / 1000, d.economics), dims);
  d.logger.warn('job failed', { jobId: job.jobId, holder: ctx.holder, permanent, error });
  try {
    const r = await retryOrPark(d.retry, job, { error, permanent, holder: ctx.holder });
    if (ctx.killed) return;
    if (r.action !== 'already-handled') await deleteQuietly(d.sqs, ctx.queueUrl, ctx.receiptHandle);
    if (r.action === 'retried') d.metrics.record(MetricNames.JOBS_RETRIED, 1, { workload: job.workload });
    d.finished({
      jobId: job.jobId,
      outcome: r.action === 'already-handled' ? 'lost' : r.action,
      detail: r.action === 'parked' ? r.reason : error,
      ...(r.action === 'retried' ? { delaySeconds: r.delaySeconds } : {}),
    });
  } catch (e2) {
    d.logger.error('could not retry or park; the message returns after the visibility timeout', { jobId: job.jobId, error: errorMessage(e2) });
    d.finished({ jobId: job.jobId, outcome: 'error', detail: errorMessage(e2) });
  }
}

/** The model call; a connection error waits for the server's health and calls again (see the header). */
async function invokeModel(ctx: JobContext, d: RunnerDeps, model: string | undefined, input: unknown, call: { at: number }): Promise<ModelResult> {
  for (let waits = 0; ; waits++) {
    call.at = d.now();
    try {
      // A streamed answer refines the expected end (the notice rule reads it; the heartbeat writes it to the record).
      return await d.model.invoke({
        model,
        input,
        signal: ctx.signal,
        onProgress: (end) => {
          ctx.expectedDoneAt = end;
        },
      });
    } catch (e) {
      if (!(e instanceof ModelConnectionError) || !d.modelHealth || ctx.signal.aborted || waits >= MAX_CONNECTION_WAITS) throw e;
      d.modelHealth.unreachable();
      d.logger.warn('model server unreachable: the job waits for it (no attempt spent)', {
        jobId: ctx.job?.jobId,
        waits: waits + 1,
        error: e.message,
      });
      const back = await d.modelHealth.waitForHealthy(ctx.signal);
      // 'lost': the agent has stopped this job to hand it back; 'aborted': stopped (timeout, interruption, shutdown).
      if (back !== 'healthy') throw ctx.signal.aborted ? ctx.signal.reason : e;
      d.logger.info('model server answers again: calling it again', { jobId: ctx.job?.jobId });
    }
  }
}

/** The job's model, else the payload's `model`, else the fleet's default. */
export function modelOf(job: JobMessage, input: unknown, defaultModel: string | undefined): string | undefined {
  if (job.model) return job.model;
  const fromPayload = typeof input === 'object' && input !== null ? (input as { model?: unknown }).model : undefined;
  return typeof fromPayload === 'string' && fromPayload.length > 0 ? fromPayload : defaultModel;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
