/**
 * One instance's cold start as the worker sees it: where its boot deadline and its boot GPU-seconds count from, and
 * the `ColdStartSeconds` it publishes — seconds from launch (`pendingTime`) to the end of each boot stage, the boot
 * script's from the stages file plus the worker's own `model-healthy` and `first-job`, each once per instance (the
 * boot marks keep that across worker restarts), with `{Workload, Stage}` and `{Workload, InstanceType, Stage}`.
 *
 * After a reboot (the kernel booted more than 15 min after `pendingTime`) "seconds from launch" means nothing: no
 * stage is published, and the boot deadline and boot GPU-seconds count from the kernel's boot and the worker's
 * start instead. Without a launch time (identity document unreadable) the same holds, from the worker's start.
 */
import { BOOT_STAGE_ORDER, BootStage, BootStages, MetricNames } from '../lib/contracts';
import { Log, LogFields } from '../runtime/log';
import { BootMarks } from './boot-marks';
import { BOOT_LOG_PATH, coldStartSeconds, lastStageOf, readBootStages, rebootedSinceLaunch, tailOf } from './boot-stages';
import { MetricsBatcher } from './metrics';

/** Boot log lines logged with a boot failure. */
const BOOT_LOG_TAIL_LINES = 20;

export interface ColdStartOptions {
  readonly workload: string;
  readonly instanceType: string;
  readonly launchedAt?: number;
  readonly kernelBootAt?: number;
  readonly stagesPath: string;
  readonly bootLogPath?: string;
  readonly metrics: MetricsBatcher;
  readonly marks: BootMarks;
  readonly logger: Log;
}

export class ColdStart {
  readonly rebooted: boolean;
  /** Stages are published for this boot (launch known, no reboot since). */
  readonly publishes: boolean;
  private firstJobSeen = false;

  constructor(private readonly o: ColdStartOptions) {
    this.rebooted = rebootedSinceLaunch(o.launchedAt, o.kernelBootAt);
    this.publishes = o.launchedAt !== undefined && !this.rebooted;
    if (this.rebooted) {
      o.logger.warn('the instance rebooted since its launch: seconds from launch mean nothing, no ColdStartSeconds is published', {
        launchedAt: iso(o.launchedAt),
        kernelBootedAt: iso(o.kernelBootAt),
      });
    }
  }

  /** When this boot began: the launch, or after a reboot the kernel's boot; undefined without a launch time. */
  get bootBegan(): number | undefined {
    return this.rebooted ? this.o.kernelBootAt : this.o.launchedAt;
  }

  /**
   * The model server must be healthy by this time (epoch ms): `bootTimeoutMs` after the boot began (the worker's
   * start when unknown), and never sooner than `graceMs` after the worker's own start (a worker restarted late gives
   * the server one look of `modelLostSeconds` before it gives up). Undefined without a boot timeout: no deadline.
   */
  deadline(bootTimeoutMs: number | undefined, workerStartedAt: number, graceMs: number): number | undefined {
    if (bootTimeoutMs === undefined) return undefined;
    return Math.max((this.bootBegan ?? workerStartedAt) + bootTimeoutMs, workerStartedAt + graceMs);
  }

  /**
   * Where `BootGpuSeconds` counts from: the launch when this worker publishes the boot's `model-healthy` (so boot
   * GPU-seconds = its ColdStartSeconds × GPUs), else the worker's own start (a restart counts only its own wait).
   */
  bootGpuOrigin(processStartedAt: number): number {
    return this.publishes && !this.o.marks.has(mark(BootStages.MODEL_HEALTHY)) ? this.o.launchedAt! : processStartedAt;
  }

  /** The model server answered healthy at `at`: publish the boot script's stages and `model-healthy`. */
  modelHealthy(at: number): void {
    if (!this.publishes) return;
    if (this.o.marks.has(mark(BootStages.MODEL_HEALTHY))) {
      this.o.logger.info('cold start already published by an earlier worker of this boot: not again');
      return;
    }
    const { times, problems } = readBootStages(this.o.stagesPath);
    if (problems.length > 0) {
      this.o.logger.warn('boot stages file: publishing what could be read', { path: this.o.stagesPath, problems: problems.slice(0, 20) });
    }
    const stages = new Map(times).set(BootStages.MODEL_HEALTHY, at);
    const published: Record<string, number> = {};
    for (const stage of BOOT_STAGE_ORDER) {
      const stageAt = stages.get(stage);
      const seconds = stageAt === undefined ? undefined : this.publish(stage, stageAt);
      if (seconds !== undefined) published[stage] = seconds;
    }
    this.o.logger.info('cold start: seconds from launch to each boot stage', { launchedAt: iso(this.o.launchedAt), ...published });
  }

  /** A job started: the first one of this instance ends the cold start. */
  jobStarted(at: number): void {
    if (this.firstJobSeen) return;
    this.firstJobSeen = true;
    if (this.publishes) this.publish(BootStages.FIRST_JOB, at);
  }

  /** What a boot failure's log line carries: how long the boot took so far, the last stage, the boot log's tail. */
  failureContext(now: number): LogFields {
    const { times } = readBootStages(this.o.stagesPath);
    const last = lastStageOf(times);
    const began = this.bootBegan;
    return {
      ...(began !== undefined ? { sinceBootBeganSeconds: Math.round((now - began) / 1000) } : {}),
      ...(last ? { lastStage: last.stage, lastStageAt: iso(last.at) } : { lastStage: 'none recorded' }),
      bootLogTail: tailOf(this.o.bootLogPath ?? BOOT_LOG_PATH, BOOT_LOG_TAIL_LINES) ?? '(boot log unreadable)',
    };
  }

  /** Record one stage once per instance; the seconds published, or undefined. */
  private publish(stage: BootStage, at: number): number | undefined {
    if (this.o.marks.has(mark(stage))) return undefined;
    const seconds = coldStartSeconds(this.o.launchedAt!, at);
    if (seconds === undefined) {
      this.o.logger.warn('a boot stage is dated before the launch: not published', { stage, at: iso(at), launchedAt: iso(this.o.launchedAt) });
      return undefined;
    }
    this.o.metrics.record(MetricNames.COLD_START_SECONDS, seconds, { workload: this.o.workload, stage, instanceType: this.o.instanceType });
    this.o.marks.add(mark(stage));
    return seconds;
  }
}

function mark(stage: BootStage): string {
  return `stage:${stage}`;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
