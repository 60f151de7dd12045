/**
 * The agent: boot (identity from IMDS, model server health), the receive loop over the priority queues,
 * job slots, and the three ways work stops — drain (rebalance recommendation or draining tag: finish what
 * runs, take nothing new), interruption (spot notice: finish what is expected to end before the reclaim,
 * requeue the rest at once; also when the drainer's requeue shows the instance was interrupted) and shutdown
 * (SIGTERM: a grace period, then requeue the rest) — plus `kill()`, which stops dead with no cleanup, as a
 * crash would — and giving up on the instance (`giveUp`): the model server was not healthy by the boot deadline,
 * or stopped answering for `modelLostSeconds` after it was: no new jobs, the jobs in hand go back as interruptions,
 * one `BootFailures` / `ModelServerLost`, the instance reported Unhealthy to its group (which replaces it), and
 * `done` resolves with `status().gaveUp` set (the entry exits with EXIT_GAVE_UP).
 *
 * Every SDK client, `fetch` and the clock are injected (`WorkerDeps`), so tests run this code in-process
 * against local servers.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BOOT_STAGES_PATH,
  BootFailureReasons,
  JobRecord,
  LAST_CALL_BEFORE_RECLAIM_SECONDS,
  MetricNames,
  SPOT_NOTICE_SECONDS,
  WorkerConfig,
  expectedDoneAt,
  finishesBeforeReclaim,
} from '../lib/contracts';
import { JobRecords } from '../runtime/jobs/job-records';
import { requeueInterrupted } from '../runtime/jobs/requeue';
import { RetryDeps } from '../runtime/jobs/retry';
import { BootMarks } from './boot-marks';
import { readKernelBootTime } from './boot-stages';
import { ColdStart } from './cold-start';
import { WorkerSettings, settingsOf, validateWorkerConfig } from './config';
import { GpuEconomics, economics, gpuSecondsOf } from './cost';
import { ReportOutcome, reportUnhealthy } from './instance-health';
import { ImdsClient, ImdsWatcher, InstanceIdentity, InterruptionNotice, instanceIdentity } from './imds';
import { JobContext, Received, RequeueOutcome, StopReason } from './job-context';
import { JobFinishedEvent, JobStartedEvent, UNNAMED_MODEL, runJob } from './job-runner';
import { Log, LogFields, errorMessage, jsonLogger } from '../runtime/log';
import { MetricsBatcher } from './metrics';
import { ModelAdapter, createModelAdapter, waitForHealthy } from './model/adapter';
import { ModelHealthWatch } from './model/health';
import { ScaleInProtection } from './protection';
import { QueueScheduler } from './scheduler';

export interface WorkerDeps {
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly cloudwatch: CloudWatchClient;
  readonly autoscaling: AutoScalingClient;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Jitter source of the retry backoff. @default Math.random */
  readonly random?: () => number;
  /** @default JSON lines on stdout */
  readonly logger?: Log;
  /** When the process started (boot GPU-seconds count from here). @default performance.timeOrigin */
  readonly processStartedAt?: number;
  /** Skip the IMDS identity lookup (benchmarks). */
  readonly identity?: InstanceIdentity;
  /** The boot stages file the boot script appends to. @default BOOT_STAGES_PATH */
  readonly bootStagesPath?: string;
  /** The boot script's log, whose tail goes with a boot failure. @default /var/log/ai-burst-boot.log */
  readonly bootLogPath?: string;
  /** When the kernel booted (epoch ms; reboot detection). @default `btime` of /proc/stat */
  readonly kernelBootTime?: () => number | undefined;
  /** Where the per-boot marks live (see boot-marks.ts; the entry passes $RUNTIME_DIRECTORY or /dev/shm/ai-burst-worker). @default in memory */
  readonly bootMarksDir?: string;
  readonly timing?: {
    /** Between two health probes while the model server boots. @default 1000 */
    readonly healthPollMs?: number;
    /** Between two health probes once it was healthy (a failing inference call probes at once). @default 5000 */
    readonly healthWatchMs?: number;
    /** Idle time before scale-in protection is turned off. @default 2000 */
    readonly protectionIdleMs?: number;
    /** Pause after a failed receive. @default 1000 */
    readonly receiveErrorBackoffMs?: number;
    /** First retry delay of SetInstanceHealth (doubling, 5 calls in all). @default 1000 */
    readonly setInstanceHealthRetryMs?: number;
    /**
     * After giving up, how long the agent waits for its group to terminate the instance before it exits (systemd
     * then restarts it, and the new agent looks again): one report per this long, not one per restart. @default 600000
     */
    readonly giveUpLingerMs?: number;
  };
}

/** Why the agent gave up on its instance (the log's `reason`). */
export type GiveUpReason = typeof BootFailureReasons.MODEL_NEVER_HEALTHY | 'model-server-lost';
export const MODEL_SERVER_LOST = 'model-server-lost';

export interface GaveUpEvent {
  readonly reason: GiveUpReason;
  /** When the agent gave up (epoch ms, the injected clock). */
  readonly at: number;
  /** The jobs it held, handed back. */
  readonly requeued: readonly RequeueOutcome[];
  /** SetInstanceHealth (Unhealthy) went through. */
  readonly reportedUnhealthy: boolean;
  readonly setInstanceHealthCalls: number;
}

export type WorkerPhase = 'booting' | 'running' | 'stopping' | 'stopped';
export type DrainReason = 'rebalance' | 'tag';

export interface WorkerStatus {
  readonly phase: WorkerPhase;
  readonly accepting: boolean;
  readonly interrupted: boolean;
  readonly draining: readonly DrainReason[];
  readonly inFlight: readonly string[];
  readonly concurrency?: number;
  readonly instanceId?: string;
  /** Set once the agent gave up on the instance. */
  readonly gaveUp?: GiveUpReason;
}

export interface ReadyEvent {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly concurrency: number;
  /** Seconds the boot GPU-seconds count (from the launch, or from this process's start: see cold-start.ts). */
  readonly bootSeconds: number;
}

export interface InterruptedEvent {
  readonly notice: InterruptionNotice;
  /** When the agent learned of the notice and when every in-flight job was back (epoch ms, the injected clock). */
  readonly noticedAt: number;
  readonly settledAt: number;
  readonly requeued: readonly RequeueOutcome[];
  /** Jobs left running because they are expected to end before the reclaim. */
  readonly kept: number;
}

/** Events the agent emits (tests and benchmarks wait on them; production logs them). */
export interface WorkerEvents {
  ready: [ReadyEvent];
  'job-started': [JobStartedEvent];
  'job-finished': [JobFinishedEvent];
  draining: [{ readonly reason: DrainReason }];
  resumed: [];
  interrupting: [{ readonly notice: InterruptionNotice; readonly at: number }];
  interrupted: [InterruptedEvent];
  /** The agent gives up on the instance: no receive from here on. */
  'giving-up': [{ readonly reason: GiveUpReason; readonly at: number }];
  'gave-up': [GaveUpEvent];
  stopped: [{ readonly reason: string }];
}

export interface Worker {
  readonly events: TypedEmitter<WorkerEvents>;
  /** Resolves once the model server is healthy and the loop pulls; rejects if boot fails. */
  readonly ready: Promise<ReadyEvent>;
  /** Resolves when the agent has stopped (shutdown, kill, or gave up: see `status().gaveUp`); rejects if boot fails. */
  readonly done: Promise<void>;
  status(): WorkerStatus;
  /** Graceful stop (SIGTERM): no new jobs, running ones get the grace period, the rest are requeued. */
  shutdown(reason?: string): Promise<void>;
  /** Stop dead, as a crash would: no requeue, no delete, no record change, no metrics flush. */
  kill(): Promise<void>;
}

export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> extends EventEmitter {
  override emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    return super.emit(event, ...args);
  }
  override on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
  override once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }
  override off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
}

/** Start the agent; it boots in the background (await `ready`) and runs until `shutdown()` or `kill()`. */
export function startWorker(config: WorkerConfig, deps: WorkerDeps): Worker {
  return new Agent(validateWorkerConfig(config), deps);
}

/** A promise that can be waited on repeatedly and woken from outside. */
class Wakeup {
  private resolve!: () => void;
  private promise!: Promise<void>;
  constructor() {
    this.reset();
  }
  wait(): Promise<void> {
    return this.promise;
  }
  notify(): void {
    const r = this.resolve;
    this.reset();
    r();
  }
  private reset(): void {
    this.promise = new Promise<void>((r) => {
      this.resolve = r;
    });
  }
}

/** Free job slots × GPUs per slot × time, accrued between metric flushes. */
class IdleMeter {
  private last: number;
  private busy = 0;
  private accrued = 0;
  constructor(
    private readonly now: () => number,
    private readonly e: GpuEconomics,
  ) {
    this.last = now();
  }
  update(busy: number): void {
    const t = this.now();
    this.accrued += Math.max(0, this.e.concurrency - this.busy) * this.e.gpusPerSlot * ((t - this.last) / 1000);
    this.last = t;
    this.busy = busy;
  }
  take(): number {
    this.update(this.busy);
    const v = this.accrued;
    this.accrued = 0;
    return Math.round(v * 1000) / 1000;
  }
}

class Agent implements Worker {
  readonly events = new TypedEmitter<WorkerEvents>();
  readonly ready: Promise<ReadyEvent>;
  readonly done: Promise<void>;

  private readonly settings: WorkerSettings;
  private readonly logger: Log;
  private readonly now: () => number;
  private readonly fetchFn: typeof fetch;
  private readonly imds: ImdsClient;
  private readonly model: ModelAdapter;
  private readonly records: JobRecords;
  private readonly metrics: MetricsBatcher;
  private readonly scheduler: QueueScheduler;
  private readonly wake = new Wakeup();
  /** Aborted by kill(): a pending receive stops at once. */
  private readonly life = new AbortController();
  /** Aborted by shutdown() and kill(): the health wait of a booting agent stops. */
  private readonly booting = new AbortController();
  /** Aborted by shutdown() and kill(): an agent that gave up stops waiting to be terminated. */
  private readonly lingering = new AbortController();
  /** When this agent started (the injected clock): a late start gets its own look at the model server. */
  private readonly startedAt: number;
  private readonly inFlight = new Map<JobContext, Promise<void>>();
  private readonly drainReasons = new Set<DrainReason>();

  private phase: WorkerPhase = 'booting';
  /** Taking no new jobs because this instance is being reclaimed (its own notice, or the drainer's requeue). */
  private interrupted = false;
  /** The IMDS notice has been handled (the drainer's requeue alone does not set it). */
  private noticed = false;
  private reclaimTimer?: NodeJS.Timeout;
  private stopping = false;
  private killed = false;
  private identity?: InstanceIdentity;
  private econ?: GpuEconomics;
  private protection?: ScaleInProtection;
  private watcher?: ImdsWatcher;
  private idle?: IdleMeter;
  private coldStart?: ColdStart;
  private marks?: BootMarks;
  private healthWatch?: ModelHealthWatch;
  private gaveUp?: GiveUpReason;
  private loopDone: Promise<void> = Promise.resolve();
  private stopPromise?: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (e: unknown) => void;
  private resolveReady!: (e: ReadyEvent) => void;
  private rejectReady!: (e: unknown) => void;

  constructor(
    private readonly config: WorkerConfig,
    private readonly deps: WorkerDeps,
  ) {
    this.settings = settingsOf(config);
    this.now = deps.now ?? Date.now;
    this.startedAt = this.now();
    this.logger = deps.logger ?? jsonLogger({ base: { workload: config.workload } });
    this.fetchFn = deps.fetch ?? fetch;
    this.imds = new ImdsClient(this.settings.imdsEndpoint, this.fetchFn, this.now);
    this.model = createModelAdapter(config.modelServer, this.fetchFn, this.now);
    this.records = new JobRecords(deps.dynamo, config.jobTable, { clock: () => new Date(this.now()) });
    this.metrics = new MetricsBatcher(deps.cloudwatch, config.metricNamespace, this.logger, this.now);
    this.scheduler = new QueueScheduler(config.queues.length, this.settings.starvationLimit);
    this.ready = new Promise<ReadyEvent>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Nobody may be awaiting these yet; a boot failure must not become an unhandled rejection.
    this.ready.catch(() => undefined);
    this.done.catch(() => undefined);
    void this.boot();
  }

  status(): WorkerStatus {
    return {
      phase: this.phase,
      accepting: this.accepting(),
      interrupted: this.interrupted,
      draining: [...this.drainReasons],
      inFlight: [...this.inFlight.keys()].map((c) => c.job?.jobId ?? '(unparsed)'),
      concurrency: this.econ?.concurrency,
      instanceId: this.identity?.instanceId,
      ...(this.gaveUp ? { gaveUp: this.gaveUp } : {}),
    };
  }

  private accepting(): boolean {
    return this.phase === 'running' && !this.stopping && !this.interrupted && this.drainReasons.size === 0 && this.gaveUp === undefined;
  }

  // ---- boot ---------------------------------------------------------------------------------------

  private async boot(): Promise<void> {
    try {
      this.identity = this.deps.identity ?? (await this.lookUpIdentity());
      const identity = this.identity;
      if (identity.launchTimeProblem) {
        this.logger.warn('launch time unknown: the boot deadline counts from the worker start, no ColdStartSeconds', {
          problem: identity.launchTimeProblem,
        });
      }
      this.econ = economics(
        identity.instanceType,
        this.config.region,
        this.config.concurrency,
        this.config.hourlyPriceUsd,
        this.config.instanceWeights,
      );
      if (this.config.instanceWeights && this.config.instanceWeights[identity.instanceType] === undefined) {
        this.logger.warn('this instance type has no weight in the config: it runs as weight 1', { instanceType: identity.instanceType });
      }
      if (this.econ.hourlyPriceUsd === undefined) {
        this.logger.warn('no hourly price for this instance type in the config: jobs get no costUsd', { instanceType: identity.instanceType });
      }
      const kernelBootAt = (this.deps.kernelBootTime ?? readKernelBootTime)();
      this.marks = new BootMarks(this.deps.bootMarksDir, identity.instanceId, kernelBootAt, this.logger);
      this.coldStart = new ColdStart({
        workload: this.config.workload,
        instanceType: identity.instanceType,
        launchedAt: identity.launchedAt,
        kernelBootAt,
        stagesPath: this.deps.bootStagesPath ?? BOOT_STAGES_PATH,
        bootLogPath: this.deps.bootLogPath,
        metrics: this.metrics,
        marks: this.marks,
        logger: this.logger,
      });
      const bootGpuFrom = this.coldStart.bootGpuOrigin(this.deps.processStartedAt ?? performance.timeOrigin);
      this.protection = new ScaleInProtection(
        this.deps.autoscaling,
        this.config.autoScalingGroupName,
        identity.instanceId,
        this.logger,
        this.deps.timing?.protectionIdleMs ?? 2000,
      );
      this.metrics.start(this.settings.metricsFlushMs);
      this.watcher = new ImdsWatcher(
        this.imds,
        this.settings.imdsPollMs,
        {
          onInterruption: (notice) => void this.onInterruption(notice),
          onRebalance: () => this.drain('rebalance', true),
          onDrainingTag: (on) => this.drain('tag', on),
        },
        this.logger,
      );
      this.watcher.start();

      const deadline = this.coldStart.deadline(this.settings.bootTimeoutMs, this.startedAt, this.settings.modelLostMs);
      const healthy = await waitForHealthy(this.model, {
        intervalMs: this.deps.timing?.healthPollMs ?? 1000,
        signal: this.booting.signal,
        logger: this.logger,
        deadline,
        now: this.now,
      });
      // When it answered healthy, or when the deadline passed without that.
      const waitEnded = this.now();
      const bootSeconds = Math.max(0, (waitEnded - bootGpuFrom) / 1000);
      this.metrics.record(MetricNames.BOOT_GPU_SECONDS, Math.round(bootSeconds * this.econ.gpus * 1000) / 1000, { workload: this.config.workload });
      if (!healthy) {
        this.rejectReady(new Error(`the model server was not healthy by the boot deadline (${BootFailureReasons.MODEL_NEVER_HEALTHY})`));
        await this.giveUp(BootFailureReasons.MODEL_NEVER_HEALTHY, {
          waitedSeconds: Math.round((waitEnded - this.startedAt) / 1000),
          bootTimeoutSeconds: this.config.bootTimeoutSeconds,
          deadline: new Date(deadline!).toISOString(),
          ...(deadline! > (this.coldStart.bootBegan ?? this.startedAt) + this.settings.bootTimeoutMs! ? { workerStartedLate: true } : {}),
          ...this.coldStart.failureContext(waitEnded),
        });
        return;
      }
      this.coldStart.modelHealthy(waitEnded);
      const idle = new IdleMeter(this.now, this.econ);
      this.idle = idle;
      this.metrics.onBeforeFlush(() => {
        const seconds = idle.take();
        if (seconds > 0) this.metrics.record(MetricNames.IDLE_GPU_SECONDS, seconds, { workload: this.config.workload });
      });
      if (this.stopping || this.killed) return;
      this.healthWatch = new ModelHealthWatch(this.model, {
        intervalMs: this.deps.timing?.healthWatchMs ?? 5000,
        lostMs: this.settings.modelLostMs,
        now: this.now,
        logger: this.logger,
        onLost: (downMs) =>
          void this.giveUp(MODEL_SERVER_LOST, { downSeconds: Math.round(downMs / 1000), modelLostSeconds: this.settings.modelLostMs / 1000 }),
      });
      this.healthWatch.start();
      this.phase = 'running';
      const ready: ReadyEvent = {
        instanceId: identity.instanceId,
        instanceType: identity.instanceType,
        concurrency: this.econ.concurrency,
        bootSeconds,
      };
      this.logger.info('worker ready', { ...ready, accepting: this.accepting(), queues: this.config.queues.map((q) => q.priority) });
      this.resolveReady(ready);
      this.events.emit('ready', ready);
      this.loopDone = this.loop();
    } catch (e) {
      if (this.stopping || this.killed) {
        this.rejectReady(new Error('worker stopped before it was ready'));
        return;
      }
      this.logger.error('worker failed to boot', { error: errorMessage(e) });
      this.rejectReady(e);
      this.rejectDone(e);
      await this.watcher?.stop();
      this.metrics.abandon();
    }
  }

  private async lookUpIdentity(): Promise<InstanceIdentity> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await instanceIdentity(this.imds);
      } catch (e) {
        if (attempt >= 5 || this.booting.signal.aborted) throw new Error(`cannot read the instance identity from IMDS: ${errorMessage(e)}`);
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  // ---- loop ---------------------------------------------------------------------------------------

  private async loop(): Promise<void> {
    const concurrency = this.econ!.concurrency;
    while (!this.stopping && !this.killed) {
      if (!this.accepting() || this.inFlight.size >= concurrency) {
        await this.wake.wait();
        continue;
      }
      let batch: Received[];
      try {
        batch = await this.receiveRound(Math.min(10, concurrency - this.inFlight.size));
      } catch (e) {
        if (this.killed) return;
        this.logger.warn('receive failed', { error: errorMessage(e) });
        await Promise.race([new Promise((r) => setTimeout(r, this.deps.timing?.receiveErrorBackoffMs ?? 1000)), this.wake.wait()]);
        continue;
      }
      if (this.killed) return;
      for (const received of batch) this.launch(received);
    }
  }

  /**
   * One round: a short receive on each queue in the scheduler's order; when all are empty, a long poll
   * on each in turn sharing `pollWaitSeconds`. Returns the first non-empty answer.
   */
  private async receiveRound(max: number): Promise<Received[]> {
    const order = this.scheduler.order();
    const queues = this.config.queues;
    const waits = queues.length === 1 ? [this.settings.pollWaitSeconds] : [0, Math.max(1, Math.ceil(this.settings.pollWaitSeconds / queues.length))];
    for (const wait of waits) {
      for (const index of order) {
        if (!this.accepting()) return [];
        const queue = queues[index];
        const r = await this.deps.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.url,
            MaxNumberOfMessages: max,
            WaitTimeSeconds: wait,
            AttributeNames: ['All'], // deprecated name, still honoured by SQS; the only one local-aws-sqs reads
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: this.life.signal },
        );
        const messages = r.Messages ?? [];
        if (messages.length > 0) {
          this.scheduler.record(order[0], index);
          const receivedAt = this.now();
          return messages.map((message) => ({ queue, message, receivedAt }));
        }
      }
    }
    this.scheduler.record(order[0], undefined);
    return [];
  }

  private launch(received: Received): void {
    const ctx = new JobContext(received);
    const run = runJob(ctx, {
      config: this.config,
      sqs: this.deps.sqs,
      s3: this.deps.s3,
      records: this.records,
      retry: this.retryDeps(),
      model: this.model,
      modelHealth: this.healthWatch,
      metrics: this.metrics,
      protection: this.protection!,
      economics: this.econ!,
      instanceId: this.identity!.instanceId,
      logger: this.logger,
      now: this.now,
      accepting: () => this.accepting(),
      started: (e) => {
        this.coldStart?.jobStarted(this.now());
        this.events.emit('job-started', e);
      },
      finished: (e) => this.events.emit('job-finished', e),
      taken: (jobId, record) => this.onTaken(jobId, record),
    })
      .catch((e) => this.logger.error('job runner failed', { error: errorMessage(e) }))
      .finally(() => {
        this.inFlight.delete(ctx);
        this.idle?.update(this.inFlight.size);
        if (this.inFlight.size === 0 && !this.killed) this.protection?.idle();
        this.wake.notify();
      });
    this.inFlight.set(ctx, run);
    this.idle?.update(this.inFlight.size);
  }

  private retryDeps(): RetryDeps {
    return {
      sqs: this.deps.sqs,
      records: this.records,
      queueUrls: Object.fromEntries(this.config.queues.map((q) => [q.priority, q.url])),
      parkingQueueUrl: this.config.parkingQueueUrl,
      maxAttempts: this.config.maxAttempts,
      backoff: this.settings.retryBackoff,
      random: this.deps.random,
      now: () => new Date(this.now()),
      onParked: async (message, reason) => {
        this.metrics.record(MetricNames.JOBS_PARKED, 1, { workload: message.workload });
        this.logger.warn('job parked', { jobId: message.jobId, reason });
      },
    };
  }

  // ---- stopping work ------------------------------------------------------------------------------

  private drain(reason: DrainReason, on: boolean): void {
    if (this.killed) return;
    if (on && !this.drainReasons.has(reason)) {
      this.drainReasons.add(reason);
      this.logger.warn('draining: no new jobs, running ones finish', { reason, inFlight: this.inFlight.size });
      this.events.emit('draining', { reason });
      this.wake.notify();
    } else if (!on && this.drainReasons.delete(reason)) {
      this.logger.info('drain lifted', { reason, accepting: this.accepting() });
      if (this.accepting()) this.events.emit('resumed');
      this.wake.notify();
    }
  }

  /**
   * A job was taken from this instance, or refused to it, and its record names this instance as interrupted: the
   * drainer acted on the spot warning before our own IMDS poll. Stop receiving at once; the drainer has decided
   * for every job it found (requeued, or left to finish within the notice), and our own notice, when it comes,
   * applies the same rule to what is left.
   */
  private onTaken(jobId: string, record: JobRecord | undefined): void {
    if (this.killed || this.interrupted || record?.interruptedOn !== this.identity?.instanceId) return;
    this.interrupted = true;
    this.wake.notify();
    this.logger.warn('a job of this instance was requeued by the drainer: taking no new jobs', { jobId, inFlight: this.inFlight.size });
  }

  /**
   * The spot notice from IMDS: take nothing new; a job expected to end before the reclaim (less a margin) keeps
   * running (`keepThroughNotice` tells the drainer and the terminate hook), every other job is requeued at once.
   * Kept jobs still running shortly before the reclaim are requeued then, so none waits for its lease to expire.
   */
  private async onInterruption(notice: InterruptionNotice): Promise<void> {
    if (this.noticed || this.killed) return;
    this.noticed = true;
    this.interrupted = true;
    const noticedAt = this.now();
    const parsed = Date.parse(notice.time);
    const reclaimAt = Number.isFinite(parsed) ? parsed : noticedAt + SPOT_NOTICE_SECONDS * 1000;
    this.wake.notify();
    this.logger.warn('spot interruption notice', {
      action: notice.action,
      reclaimAt: new Date(reclaimAt).toISOString(),
      inFlight: this.inFlight.size,
    });
    this.events.emit('interrupting', { notice, at: noticedAt });
    const decisions = await Promise.all([...this.inFlight.keys()].map((ctx) => this.atNotice(ctx, reclaimAt)));
    const requeued = decisions.filter((d): d is RequeueOutcome => d !== 'kept');
    const kept = decisions.length - requeued.length;
    const event: InterruptedEvent = { notice, noticedAt, settledAt: this.now(), requeued, kept };
    this.logger.warn('spot notice handled', {
      requeued: requeued.filter((r) => r.result === 'requeued').length,
      keptToFinish: kept,
      ms: event.settledAt - noticedAt,
    });
    this.events.emit('interrupted', event);
    if (kept > 0) {
      const lastCall = reclaimAt - LAST_CALL_BEFORE_RECLAIM_SECONDS * 1000 - this.now();
      this.reclaimTimer = setTimeout(
        () => {
          const late = [...this.inFlight.keys()].filter((c) => c.keptThroughNotice);
          if (late.length > 0) this.logger.warn('jobs kept through the notice are still running: requeueing them', { count: late.length });
          void Promise.all(late.map((c) => this.requeue(c, 'interrupted')));
        },
        Math.max(0, lastCall),
      );
      this.reclaimTimer.unref?.();
    }
    // Report the interruption tax before the instance goes away.
    await this.metrics.flush();
  }

  /** The notice rule for one in-flight job, once it is known whether it started. */
  private async atNotice(ctx: JobContext, reclaimAt: number): Promise<RequeueOutcome | 'kept'> {
    await ctx.startSettled;
    const job = ctx.job;
    if (ctx.started && job && ctx.holder && ctx.startedAt !== undefined && !ctx.yielded) {
      const timing = { startedAtMs: ctx.startedAt, expectedDurationSeconds: this.config.expectedJobSeconds, expectedDoneAtMs: ctx.expectedDoneAt };
      if (finishesBeforeReclaim(timing, this.now(), reclaimAt)) {
        ctx.keptThroughNotice = true;
        await this.records
          .keepThroughNotice(job.jobId, ctx.holder, reclaimAt)
          .catch((e) => this.logger.warn('could not mark a job kept through the notice', { jobId: job.jobId, error: errorMessage(e) }));
        this.logger.info('job kept through the spot notice: expected to end before the reclaim', {
          jobId: job.jobId,
          expectedDoneAt: expectedDoneAt(timing),
        });
        return 'kept';
      }
    }
    return this.requeue(ctx, 'interrupted');
  }

  private requeueAll(reason: StopReason): Promise<RequeueOutcome[]> {
    return Promise.all([...this.inFlight.keys()].map((ctx) => this.requeue(ctx, reason)));
  }

  /** Put one in-flight job back without spending its retry budget (shared with the drainer: race-safe). */
  private requeue(ctx: JobContext, reason: StopReason): Promise<RequeueOutcome> {
    ctx.stop(reason);
    ctx.requeue ??= (async (): Promise<RequeueOutcome> => {
      await ctx.startSettled;
      const job = ctx.job;
      if (!ctx.started || !job || !ctx.holder) return { jobId: job?.jobId, result: 'not-started' };
      const gpuSeconds = gpuSecondsOf((this.now() - (ctx.startedAt ?? this.now())) / 1000, this.econ!);
      try {
        const result = await requeueInterrupted(this.deps.sqs, this.records, {
          jobId: job.jobId,
          queueUrl: ctx.queueUrl,
          receiptHandle: ctx.receiptHandle,
          holder: ctx.holder,
        });
        if (result === 'requeued') {
          const dims = {
            workload: job.workload,
            agent: job.agent,
            model: ctx.model ?? job.model ?? this.config.modelServer.defaultModel ?? UNNAMED_MODEL,
          };
          this.metrics.record(MetricNames.JOBS_INTERRUPTED, 1, dims);
          this.metrics.record(MetricNames.JOBS_REQUEUED, 1, dims);
          this.metrics.record(MetricNames.INTERRUPTED_GPU_SECONDS, gpuSeconds, dims);
        }
        this.logger.info('job requeued', { jobId: job.jobId, reason, result });
        return { jobId: job.jobId, result };
      } catch (e) {
        // The original stays in flight: SQS redelivers it after its lease. Slower, never lost.
        this.logger.error('requeue failed; the message returns after its visibility timeout', { jobId: job.jobId, error: errorMessage(e) });
        return { jobId: job.jobId, result: 'failed', error: errorMessage(e) };
      }
    })();
    return ctx.requeue;
  }

  /**
   * Give up on this instance: take nothing new, hand back every job that still needs the model (as an interruption:
   * no attempt spent; a job whose answer is in hand may finish within the shutdown grace, and one already finished
   * is left alone by the conditional release), count one BootFailures / ModelServerLost (once per boot), report the
   * instance Unhealthy (bounded retries), turn scale-in protection off (so an instance the group does not replace can
   * still be scaled in), then wait to be terminated and stop with `gaveUp` set.
   */
  private giveUp(reason: GiveUpReason, details: LogFields): Promise<void> {
    // Stop the jobs at once, before any runner waiting on the server learns it is lost (so none spends an attempt).
    const held = new Set([...this.inFlight.keys()].filter((c) => !c.answered));
    for (const ctx of held) void this.requeue(ctx, 'model-lost');
    if (this.stopPromise) return this.stopPromise;
    const at = this.now();
    this.gaveUp = reason;
    this.stopping = true;
    this.phase = 'stopping';
    this.wake.notify();
    this.events.emit('giving-up', { reason, at });
    this.logger.error('giving up on this instance: no new jobs, jobs in hand go back, the instance is reported Unhealthy', {
      reason,
      jobs: [...this.inFlight.keys()].map((c) => c.job?.jobId ?? '(unparsed)'),
      ...details,
    });
    this.stopPromise = (async () => {
      await this.healthWatch?.stop();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.settled(),
        new Promise<void>((r) => {
          timer = setTimeout(r, this.settings.shutdownGraceMs);
        }),
      ]);
      clearTimeout(timer);
      // What is still in flight after the grace goes back too (requeue() is once per job: the same outcome twice).
      for (const ctx of this.inFlight.keys()) held.add(ctx);
      const requeued = await Promise.all([...held].map((ctx) => this.requeue(ctx, 'model-lost')));
      const counted = `counted:${reason}`;
      if (this.marks?.has(counted)) {
        this.logger.info('this boot already counted this give-up (an earlier worker): not counted again', { reason });
      } else {
        this.metrics.record(reason === MODEL_SERVER_LOST ? MetricNames.MODEL_SERVER_LOST : MetricNames.BOOT_FAILURES, 1, {
          workload: this.config.workload,
        });
        this.marks?.add(counted);
      }
      // The report and the flush do not wait for each other, nor for a pending receive to end (its messages are handed back).
      const [outcome] = await Promise.all([
        this.identity
          ? reportUnhealthy(this.deps.autoscaling, this.identity.instanceId, this.logger, {
              baseDelayMs: this.deps.timing?.setInstanceHealthRetryMs ?? 1000,
              random: this.deps.random,
            })
          : Promise.resolve<ReportOutcome>({ reported: false, calls: 0, error: 'no instance identity' }),
        this.metrics.flush(),
        this.loopDone.then(() => this.settled()),
      ]);
      await this.watcher?.stop();
      await this.protection?.close();
      const event: GaveUpEvent = { reason, at, requeued, reportedUnhealthy: outcome.reported, setInstanceHealthCalls: outcome.calls };
      this.events.emit('gave-up', event);
      const lingerMs = this.deps.timing?.giveUpLingerMs ?? 600_000;
      if (!this.lingering.signal.aborted && lingerMs > 0) {
        this.logger.info('waiting for the group to terminate the instance', { reason, exitInSeconds: lingerMs / 1000 });
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(t);
            resolve();
          };
          const t = setTimeout(() => {
            this.lingering.signal.removeEventListener('abort', done);
            resolve();
          }, lingerMs);
          this.lingering.signal.addEventListener('abort', done, { once: true });
        });
      }
      await this.metrics.close();
      this.finish(`gave up: ${reason}`);
    })();
    return this.stopPromise;
  }

  private async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
  }

  shutdown(reason = 'shutdown'): Promise<void> {
    this.lingering.abort(new Error(reason));
    if (this.stopPromise) return this.stopPromise;
    this.stopping = true;
    if (this.phase !== 'stopped') this.phase = 'stopping';
    this.wake.notify();
    // Stops the health wait of a booting agent. A pending receive is not aborted (SQS may already have handed it
    // messages): it ends within its wait, and what it brings is handed back unchanged.
    this.booting.abort(new Error('shutdown'));
    this.stopPromise = (async () => {
      this.logger.info('shutting down', { reason, inFlight: this.inFlight.size, graceMs: this.settings.shutdownGraceMs });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.settled(),
        new Promise<void>((r) => {
          timer = setTimeout(r, this.settings.shutdownGraceMs);
        }),
      ]);
      clearTimeout(timer);
      await this.requeueAll('shutdown');
      await this.loopDone;
      await this.settled();
      await this.healthWatch?.stop();
      await this.watcher?.stop();
      await this.protection?.close();
      await this.metrics.close();
      this.finish(reason);
    })();
    return this.stopPromise;
  }

  kill(): Promise<void> {
    this.lingering.abort(new Error('killed'));
    if (this.stopPromise) return this.stopPromise;
    this.killed = true;
    this.stopping = true;
    this.phase = 'stopping';
    this.life.abort(new Error('killed'));
    this.booting.abort(new Error('killed'));
    for (const ctx of this.inFlight.keys()) ctx.stop('killed');
    this.protection?.abandon();
    this.metrics.abandon();
    this.wake.notify();
    this.stopPromise = (async () => {
      await this.healthWatch?.stop();
      await this.watcher?.stop();
      await this.loopDone.catch(() => undefined);
      await this.settled();
      this.finish('killed');
    })();
    return this.stopPromise;
  }

  private finish(reason: string): void {
    if (this.reclaimTimer) clearTimeout(this.reclaimTimer);
    this.phase = 'stopped';
    this.logger.info('worker stopped', { reason });
    this.events.emit('stopped', { reason });
    this.resolveDone();
  }
}
