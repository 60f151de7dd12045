/**
 * The discrete-event engine: one policy, one trace, one seed.
 *
 * It owns the Auto Scaling group (desired capacity, launches, termination of unprotected instances
 * newest first, replacement of reclaimed ones), the workers (one job at a time per instance, polling the
 * queues the moment they are idle), the SQS model, the CloudWatch publication model, spot interruptions,
 * the RetryHandler on the dead-letter queue (when the policy has one) and billing. The policy only
 * reads state and sets desired capacity.
 *
 * Going away (lib/contracts/notice.ts): at a spot notice a policy's worker that acts on notices applies
 * the notice rule to its running job — keep it when it is expected to end before the reclaim less the
 * margin, else requeue a copy at once (the run is stopped: a requeued job is never also finished); a
 * kept job still running at that deadline (LAST_CALL_BEFORE_RECLAIM_SECONDS) is requeued then, as the worker does.
 * With Capacity Rebalancing, a rebalance recommendation makes the group launch a replacement; once it
 * passes EC2 health checks the old instance enters the terminate hook, its job finishes (up to the drain
 * timeout, then it is requeued) and the instance goes.
 *
 * Every billed instance-second is one of: boot (launch → ready), busy (a run that finished, or was still
 * going when the simulation ended), interrupted (a run thrown away: reclaim, requeue, scale-in under it),
 * idle (ready without a job, plus the billing minimum's and whole-second rounding's padding).
 */
import { finishesBeforeReclaim, LAST_CALL_BEFORE_RECLAIM_SECONDS, RunningJobTiming } from '../../../lib/contracts/notice';
import { billedSeconds, instanceCost } from './billing';
import { BootModel } from './boot';
import { CloudWatchModel } from './cloudwatch';
import { EventQueue } from './event-queue';
import { ResolvedOptions } from './options';
import { FleetView, InstanceView, PolicyContext, SimPolicy } from './policy';
import { keyedUniform } from './rng';
import { Message, SqsModel } from './sqs';
import { RebalanceModel, SpotModel } from './spot';
import { Trace, tracePriorities } from './trace';
import { hourlyPrice } from '../../../lib/cost/pricing';

/** The single queue of policies without priority queues. */
export const SINGLE_QUEUE = 'jobs';

interface Run {
  readonly job: number;
  readonly msg: Message;
  readonly lease: number;
  readonly startedAt: number;
  alive: boolean;
  /** Kept running through a spot notice (expected to end before the reclaim). */
  kept?: boolean;
}

interface Instance {
  readonly id: number;
  readonly launchedAt: number;
  readonly readyAt: number;
  ready: boolean;
  terminatedAt?: number;
  run?: Run;
  draining: boolean;
  idleSince?: number;
  /** Start of the current idle stretch (for the idle GPU-seconds); undefined while booting or busy. */
  idleFrom?: number;
  /** Idle seconds of closed stretches. */
  idleS: number;
  /** A replacement was launched for it (Capacity Rebalancing): it no longer counts toward desired capacity. */
  replaced: boolean;
  /** In the terminate hook (Terminating:Wait): out of service, its job may still finish. */
  terminating: boolean;
  /** The instance this replacement stands in for, until it passes EC2 health checks. */
  replaces?: Instance;
}

interface JobState {
  completedAt?: number;
  lost: boolean;
}

/** One point of the run's timeline (for charts). */
export interface Sample {
  readonly t: number;
  /** Visible + in-flight + delayed messages. */
  readonly backlog: number;
  /** Instances not yet terminated. */
  readonly instances: number;
  readonly busy: number;
  readonly costUsd: number;
}

export interface EngineResult {
  readonly policy: string;
  readonly costUsd: number;
  readonly waitsS: readonly number[];
  readonly waitsByPriority: Readonly<Record<string, readonly number[]>>;
  readonly jobsCompleted: number;
  readonly jobsUnfinished: number;
  readonly jobsLost: number;
  readonly duplicateCompletions: number;
  readonly interruptions: number;
  readonly wastedGpuSeconds: number;
  readonly billedSeconds: number;
  /** Instance-seconds running jobs that finished (duplicates included) or were still running at the end. */
  readonly busyGpuSeconds: number;
  /** Instance-seconds of runs thrown away: reclaimed, requeued at a notice or drain timeout, scaled in under. */
  readonly interruptedGpuSeconds: number;
  /** Instance-seconds from launch to ready (or to termination, for an instance that never got ready). */
  readonly bootGpuSeconds: number;
  /** Instance-seconds ready without a job, plus billing padding (60 s minimum, whole seconds). */
  readonly idleGpuSeconds: number;
  /** Running jobs at a spot notice that were kept running (expected to end before the reclaim). */
  readonly noticeKept: number;
  /** Of those, the ones that finished before the reclaim. */
  readonly noticeKeptFinished: number;
  /** Running jobs requeued because of a spot notice (at once, or kept and still running at the deadline). */
  readonly requeuedAtNotice: number;
  /** Running jobs requeued by the drainer when the drain timeout of a replaced instance ran out. */
  readonly requeuedAtDrainTimeout: number;
  /** Rebalance recommendations seen by a Capacity Rebalancing fleet, and the replacements launched for them. */
  readonly rebalanceRecommendations: number;
  readonly replacements: number;
  readonly launches: number;
  /** The policy's own counts (ai-burst: evaluations, busy-history tag writes). */
  readonly policyStats: Readonly<Record<string, number>>;
  /** Simulated time the run ended. */
  readonly endS: number;
  readonly timeline: readonly Sample[];
  /** Desired-capacity changes, with the policy's reason. */
  readonly decisions: readonly { readonly t: number; readonly desired: number; readonly reason: string }[];
}

export function runEngine(trace: Trace, policy: SimPolicy, o: ResolvedOptions): EngineResult {
  return new Engine(trace, policy, o).run();
}

class Engine {
  private readonly events = new EventQueue();
  private readonly sqs: SqsModel;
  private readonly cloudwatch: CloudWatchModel;
  private readonly boot: BootModel;
  private readonly spot?: SpotModel;
  private readonly rebalance?: RebalanceModel;
  private readonly hourly: number;
  private readonly jobs: JobState[];
  private readonly instances: Instance[] = [];
  private alive: Instance[] = [];
  private desired = 0;
  private launches = 0;
  private done = 0;
  private duplicates = 0;
  private interruptions = 0;
  private busyS = 0;
  private interruptedS = 0;
  private noticeKept = 0;
  private noticeKeptFinished = 0;
  private requeuedAtNotice = 0;
  private requeuedAtDrain = 0;
  private rebalances = 0;
  private replacements = 0;
  private closedCost = 0;
  private closedSeconds = 0;
  private tDone?: number;
  private stopAt = Infinity;
  private stopped = false;
  private readonly timeline: Sample[] = [];
  private readonly decisions: { t: number; desired: number; reason: string }[] = [];
  private readonly ctx: PolicyContext;
  private lastProgress = -1;

  constructor(
    private readonly trace: Trace,
    private readonly policy: SimPolicy,
    private readonly o: ResolvedOptions,
  ) {
    const queues = policy.priorityQueues ? tracePriorities(trace) : [SINGLE_QUEUE];
    this.sqs = new SqsModel(queues, o.maxReceiveCount, (m, now) => this.deadLetter(m, now));
    this.cloudwatch = new CloudWatchModel({ seed: o.seed, lagS: o.metricLagS });
    this.boot = new BootModel(o.seed, o.bootMedianS, o.bootP95S);
    if (policy.market === 'spot') this.spot = new SpotModel(o.seed, o.interruptionsPerHour, o.missedNoticeShare);
    if (policy.market === 'spot' && policy.capacityRebalance) this.rebalance = new RebalanceModel(o.seed, o.rebalancesPerHour);
    this.hourly = hourlyPrice(o.instanceType, o.region, policy.market, o.snapshot)!;
    this.jobs = trace.map(() => ({ lost: false }));
    const events = this.events;
    this.ctx = {
      get now() {
        return events.now;
      },
      options: o,
      trace,
      queues,
      queueCounts: (q) => (q === undefined ? this.sqs.totals() : this.sqs.queueCounts(q)),
      cloudwatch: this.cloudwatch,
      fleet: () => this.fleetView(),
      setDesired: (n, reason) => this.setDesired(n, reason),
      at: (t, fn) => this.events.at(t, () => !this.stopped && fn()),
    };
  }

  run(): EngineResult {
    const o = this.o;
    const lastArrival = this.trace.length ? this.trace[this.trace.length - 1].arrivalS : 0;
    this.stopAt = lastArrival + o.cutoffAfterLastArrivalS;
    this.events.at(this.stopAt, () => this.stop());

    for (let i = 0; i < this.policy.warmAtStart; i++) this.launch(0, true);
    this.desired = this.policy.warmAtStart;

    this.trace.forEach((job, i) => this.events.at(job.arrivalS, () => this.arrive(i)));
    this.scheduleMinute(0);
    const sampleStep = Math.max(10, Math.ceil((lastArrival + 3600) / 1500));
    this.scheduleSample(0, sampleStep);
    this.policy.start(this.ctx);
    if (this.trace.length === 0) this.markDone(0);

    while (!this.stopped && this.events.step()) {
      if (this.tDone !== undefined && this.alive.length <= this.policy.floor) this.stop();
    }
    const end = Math.min(this.events.now, this.stopAt);
    return this.result(end);
  }

  // ---- arrivals, dispatch, runs ----

  private queueOf(job: number): string {
    return this.policy.priorityQueues ? this.trace[job].priority : SINGLE_QUEUE;
  }

  private arrive(job: number): void {
    const now = this.events.now;
    const before = this.sqs.totals();
    const backlogBefore = before.visible + before.inflight + before.delayed;
    this.cloudwatch.noteSend(now, this.sqs.lastActivityAt, backlogBefore === 0);
    this.sqs.send(this.queueOf(job), job, now);
    this.policy.onSubmit?.(this.ctx, backlogBefore);
    this.dispatch();
  }

  /** Idle workers receive visible messages at once (long polling), oldest-idle worker first. */
  private dispatch(): void {
    const now = this.events.now;
    for (;;) {
      let worker: Instance | undefined;
      for (const inst of this.alive) {
        if (!inst.ready || inst.run || inst.draining) continue;
        if (!worker || (inst.idleSince ?? 0) < (worker.idleSince ?? 0)) worker = inst;
      }
      if (!worker) return;
      const msg = this.sqs.receive(now);
      if (!msg) return;
      const state = this.jobs[msg.job];
      if (state.completedAt !== undefined || state.lost) {
        // The worker finds the record finished and deletes the message without a model call.
        this.sqs.delete(msg, now);
        continue;
      }
      this.startRun(worker, msg);
    }
  }

  private startRun(inst: Instance, msg: Message): void {
    const now = this.events.now;
    const run: Run = { job: msg.job, msg, lease: msg.lease, startedAt: now, alive: true };
    this.closeIdle(inst, now);
    inst.run = run;
    inst.idleSince = undefined;
    this.events.at(now + this.trace[msg.job].gpuSeconds, () => this.finishRun(inst, run));
    if (!this.policy.heartbeat) {
      const V = this.policy.visibilityTimeoutS;
      this.events.at(now + V, () => this.expire(msg, run.lease));
    }
  }

  private finishRun(inst: Instance, run: Run): void {
    if (!run.alive) return;
    const now = this.events.now;
    run.alive = false;
    this.busyS += now - run.startedAt;
    if (run.kept) this.noticeKeptFinished++;
    const state = this.jobs[run.job];
    if (state.completedAt === undefined && !state.lost) {
      state.completedAt = now;
      this.markDone(now);
    } else if (state.completedAt !== undefined) {
      this.duplicates++;
    }
    if (run.msg.state === 'inflight' && run.msg.lease === run.lease) this.sqs.delete(run.msg, now);
    inst.run = undefined;
    inst.idleSince = now;
    inst.idleFrom = now;
    if (inst.terminating) {
      // The drainer sees nothing of ours left in flight and completes the lifecycle action.
      this.terminate(inst, false);
      return;
    }
    // Scale-in protection comes off: the group may now remove this instance if it is above desired.
    this.reconcile();
    this.dispatch();
  }

  /** The worker stops a run (its work so far is lost); the instance is idle from now. */
  private abortRun(inst: Instance, run: Run, now: number): void {
    run.alive = false;
    this.interruptedS += now - run.startedAt;
    if (inst.run === run) {
      inst.run = undefined;
      inst.idleSince = now;
      inst.idleFrom = now;
    }
  }

  /**
   * Requeue a running job (worker at a notice, or the drainer at the drain timeout): the run stops, a copy
   * with interruptions + 1 is published and the original deleted — the receive budget is untouched. A run
   * that already finished is left alone (a finished job is never also requeued).
   */
  private requeueRun(inst: Instance, run: Run, why: 'notice' | 'drain'): void {
    if (!run.alive || inst.terminatedAt !== undefined) return;
    const now = this.events.now;
    this.abortRun(inst, run, now);
    const msg = run.msg;
    const state = this.jobs[run.job];
    if (msg.state !== 'inflight' || msg.lease !== run.lease || state.completedAt !== undefined || state.lost) return;
    if (why === 'notice') this.requeuedAtNotice++;
    else this.requeuedAtDrain++;
    this.sqs.send(msg.queue, msg.job, now, { attempt: msg.attempt, interruptions: msg.interruptions + 1 });
    this.sqs.delete(msg, now);
    this.dispatch();
  }

  private closeIdle(inst: Instance, now: number): void {
    if (inst.idleFrom !== undefined) inst.idleS += now - inst.idleFrom;
    inst.idleFrom = undefined;
  }

  /** A visibility timeout ran out on a lease nobody renewed. */
  private expire(msg: Message, lease: number): void {
    if (msg.state !== 'inflight' || msg.lease !== lease) return;
    this.sqs.makeVisible(msg);
    this.dispatch();
  }

  private deadLetter(m: Message, now: number): void {
    const state = this.jobs[m.job];
    if (state.completedAt !== undefined || state.lost) return;
    if (this.policy.retryHandler && m.attempt < this.o.retryMaxAttempts) {
      // RetryHandler: exponential backoff with full jitter, attempt + 1, a fresh receive budget.
      const cap = Math.min(900, 30 * 2 ** (m.attempt - 1));
      const delay = 5 + cap * keyedUniform(this.o.seed, 'retry', m.job, m.attempt);
      const copy = this.sqs.send(m.queue, m.job, now, { delayed: true, attempt: m.attempt + 1, interruptions: m.interruptions });
      this.events.at(now + delay, () => {
        this.sqs.makeVisible(copy);
        this.dispatch();
      });
      return;
    }
    state.lost = true;
    this.markDone(now);
  }

  private markDone(now: number): void {
    this.done++;
    if (this.o.onProgress && this.trace.length > 0) {
      const share = Math.floor((100 * this.done) / this.trace.length);
      if (share !== this.lastProgress) {
        this.lastProgress = share;
        this.o.onProgress(this.done / this.trace.length);
      }
    }
    if (this.done >= this.trace.length && this.tDone === undefined) {
      this.tDone = now;
      const capAt = now + this.o.tailCapS;
      if (capAt < this.stopAt) {
        this.stopAt = capAt;
        this.events.at(capAt, () => this.stop());
      }
    }
  }

  private stop(): void {
    this.stopped = true;
  }

  // ---- the Auto Scaling group ----

  private setDesired(n: number, reason: string): void {
    const desired = Math.max(0, Math.min(this.o.maxInstances, Math.round(n)));
    if (desired !== this.desired) this.decisions.push({ t: this.events.now, desired, reason });
    this.desired = desired;
    this.reconcile();
  }

  /**
   * Launch up to desired; above it, terminate unprotected instances, newest first. Instances being
   * replaced or in the terminate hook are leaving: they count toward neither.
   */
  private reconcile(): void {
    const now = this.events.now;
    const counted = this.alive.filter((i) => !i.replaced && !i.terminating);
    if (counted.length < this.desired) {
      for (let i = counted.length; i < this.desired; i++) this.launch(now, false);
      return;
    }
    let excess = counted.length - this.desired;
    if (excess <= 0) return;
    const candidates = counted.filter((i) => !(this.policy.protectBusy && i.run)).sort((a, b) => b.launchedAt - a.launchedAt || b.id - a.id);
    for (const inst of candidates) {
      if (excess-- <= 0) break;
      this.terminate(inst, false);
    }
  }

  private launch(now: number, warm: boolean): Instance {
    const k = this.launches++;
    const readyAt = warm ? now : now + this.boot.bootSeconds(k);
    const inst: Instance = {
      id: k,
      launchedAt: now,
      readyAt,
      ready: warm,
      draining: false,
      idleSince: warm ? now : undefined,
      idleFrom: warm ? now : undefined,
      idleS: 0,
      replaced: false,
      terminating: false,
    };
    this.instances.push(inst);
    this.alive.push(inst);
    if (!warm) {
      this.events.at(readyAt, () => {
        if (inst.terminatedAt !== undefined) return;
        inst.ready = true;
        inst.idleSince = this.events.now;
        inst.idleFrom = this.events.now;
        // The worker publishes ColdStartSeconds{Stage=model-healthy} (what the learned boot time reads).
        this.cloudwatch.noteBoot(readyAt, readyAt - now);
        this.dispatch();
      });
    }
    if (this.spot) {
      const intr = this.spot.interruption(k);
      if (Number.isFinite(intr.noticeAfterS)) {
        const noticeAt = now + intr.noticeAfterS;
        if (!intr.missed) this.events.at(noticeAt, () => this.notice(inst));
        this.events.at(noticeAt + this.spot.noticeS, () => {
          if (inst.terminatedAt !== undefined) return;
          this.interruptions++;
          this.terminate(inst, true);
        });
      }
    }
    if (this.rebalance) {
      const after = this.rebalance.recommendationAfterS(k);
      if (Number.isFinite(after)) this.events.at(now + after, () => this.rebalanceRecommendation(inst));
    }
    return inst;
  }

  /** A spot notice the worker and drainer see: no new job; the running one is kept or requeued (notice.ts). */
  private notice(inst: Instance): void {
    if (inst.terminatedAt !== undefined || !this.policy.requeueAtNotice || !this.spot) return;
    inst.draining = true;
    const run = inst.run;
    if (!run) return;
    const now = this.events.now;
    const reclaimAt = now + this.spot.noticeS;
    const keep = this.o.noticeRule === 'finish-or-requeue' && finishesBeforeReclaim(this.timing(run), now * 1000, reclaimAt * 1000);
    if (!keep) {
      this.events.at(now + this.o.requeueLatencyS, () => this.requeueRun(inst, run, 'notice'));
      return;
    }
    run.kept = true;
    this.noticeKept++;
    // Still running at the deadline (it ran long): requeued then, before the reclaim takes it.
    const deadline = reclaimAt - LAST_CALL_BEFORE_RECLAIM_SECONDS;
    this.events.at(deadline + this.o.requeueLatencyS, () => this.requeueRun(inst, run, 'notice'));
  }

  /** What the notice rule knows of a run: its start, and the fleet's expected length or the job's own. */
  private timing(run: Run): RunningJobTiming {
    const startedAtMs = run.startedAt * 1000;
    if (this.o.noticeEstimate === 'job') return { startedAtMs, expectedDoneAtMs: (run.startedAt + this.trace[run.job].gpuSeconds) * 1000 };
    return { startedAtMs, expectedDurationSeconds: this.policy.expectedJobSeconds };
  }

  /**
   * Capacity Rebalancing: the worker takes no new job (the drainer's tag / IMDS), and the group launches
   * a replacement first — unless it is at its max, which stops the rebalancing. The old instance's
   * termination starts when the replacement passes EC2 health checks (or is gone before that).
   */
  private rebalanceRecommendation(inst: Instance): void {
    if (inst.terminatedAt !== undefined || inst.replaced || inst.terminating) return;
    this.rebalances++;
    inst.draining = true;
    if (this.alive.length >= this.o.maxInstances) return;
    const now = this.events.now;
    inst.replaced = true;
    this.replacements++;
    const replacement = this.launch(now, false);
    replacement.replaces = inst;
    this.events.at(now + this.o.replacementHealthyS, () => this.replacementDone(replacement));
  }

  private replacementDone(replacement: Instance): void {
    const old = replacement.replaces;
    if (!old) return;
    replacement.replaces = undefined;
    this.startTerminateHook(old);
  }

  /**
   * The terminate lifecycle hook of a replaced instance: not reclaimed, so its job finishes — up to the
   * drain timeout, when the drainer requeues it — then the drainer completes the action.
   */
  private startTerminateHook(inst: Instance): void {
    if (inst.terminatedAt !== undefined || inst.terminating) return;
    inst.terminating = true;
    inst.draining = true;
    if (!inst.run) {
      this.terminate(inst, false);
      return;
    }
    this.events.at(this.events.now + this.o.drainTimeoutS + this.o.requeueLatencyS, () => {
      if (inst.terminatedAt !== undefined) return;
      if (inst.run) this.requeueRun(inst, inst.run, 'drain');
      this.terminate(inst, false);
    });
  }

  private terminate(inst: Instance, reconcileAfter: boolean): void {
    const now = this.events.now;
    inst.terminatedAt = now;
    this.alive = this.alive.filter((i) => i !== inst);
    this.closedSeconds += billedSeconds(now - inst.launchedAt);
    this.closedCost += instanceCost(now - inst.launchedAt, this.hourly);
    const run = inst.run;
    if (run?.alive) {
      this.abortRun(inst, run, now);
      const msg = run.msg;
      if (msg.state === 'inflight' && msg.lease === run.lease && this.policy.heartbeat) {
        // The heartbeat stops: the lease runs out V after its last extension.
        const V = this.policy.visibilityTimeoutS;
        const beat = V / 3;
        const lastExtension = msg.receivedAt + Math.floor((now - msg.receivedAt) / beat) * beat;
        this.events.at(lastExtension + V, () => this.expire(msg, run.lease));
      }
    }
    inst.run = undefined;
    this.closeIdle(inst, now);
    const replaced = inst.replaces;
    if (replaced) {
      // A replacement removed before it passed health checks: the old instance goes anyway.
      inst.replaces = undefined;
      this.startTerminateHook(replaced);
    }
    if (reconcileAfter) this.reconcile();
  }

  private fleetView(): FleetView {
    // An instance in the terminate hook is neither InService nor Pending for DescribeAutoScalingGroups.
    const instances: InstanceView[] = this.alive
      .filter((i) => !i.terminating)
      .map((i) => ({
        id: i.id,
        launchedAt: i.launchedAt,
        readyAt: i.readyAt,
        state: !i.ready ? 'booting' : i.run ? 'busy' : 'idle',
        draining: i.draining,
        idleSince: i.idleSince,
        busySince: i.run?.startedAt,
      }));
    return { desired: this.desired, maxInstances: this.o.maxInstances, instances };
  }

  // ---- metrics, samples, result ----

  private scheduleMinute(minute: number): void {
    this.events.at(60 * (minute + 1), () => {
      const t = this.sqs.totals();
      this.cloudwatch.publish(minute, { visible: t.visible, inflight: t.inflight, inService: this.alive.length });
      this.scheduleMinute(minute + 1);
    });
  }

  private scheduleSample(t: number, step: number): void {
    this.events.at(t, () => {
      this.timeline.push(this.sample());
      this.scheduleSample(t + step, step);
    });
  }

  private sample(): Sample {
    const now = this.events.now;
    const q = this.sqs.totals();
    let cost = this.closedCost;
    for (const i of this.alive) cost += (Math.max(0, now - i.launchedAt) * this.hourly) / 3600;
    return {
      t: now,
      backlog: q.visible + q.inflight + q.delayed,
      instances: this.alive.length,
      busy: this.alive.filter((i) => i.run).length,
      costUsd: cost,
    };
  }

  private result(end: number): EngineResult {
    let cost = this.closedCost;
    let billed = this.closedSeconds;
    for (const inst of this.alive) {
      cost += instanceCost(end - inst.launchedAt, this.hourly);
      billed += billedSeconds(end - inst.launchedAt);
    }
    let busy = this.busyS;
    let boot = 0;
    let idle = 0;
    for (const inst of this.instances) {
      const life = Math.max(0, (inst.terminatedAt ?? end) - inst.launchedAt);
      boot += Math.min(life, inst.readyAt - inst.launchedAt);
      idle += inst.idleS + billedSeconds(life) - life;
      if (inst.terminatedAt === undefined) {
        if (inst.idleFrom !== undefined) idle += end - inst.idleFrom;
        if (inst.run?.alive) busy += end - inst.run.startedAt;
      }
    }
    const waits: number[] = [];
    const byPriority: Record<string, number[]> = {};
    let completed = 0;
    let lost = 0;
    let useful = 0;
    this.trace.forEach((job, i) => {
      const s = this.jobs[i];
      if (s.completedAt !== undefined) {
        completed++;
        useful += job.gpuSeconds;
        const wait = Math.max(0, s.completedAt - job.arrivalS - job.gpuSeconds);
        waits.push(wait);
        (byPriority[job.priority] ??= []).push(wait);
      } else if (s.lost) lost++;
    });
    if (this.timeline.length === 0 || this.timeline[this.timeline.length - 1].t < end) {
      this.timeline.push({ ...this.sample(), t: end, costUsd: cost });
    }
    return {
      policy: this.policy.name,
      costUsd: cost,
      waitsS: waits,
      waitsByPriority: byPriority,
      jobsCompleted: completed,
      jobsUnfinished: this.trace.length - completed - lost,
      jobsLost: lost,
      duplicateCompletions: this.duplicates,
      interruptions: this.interruptions,
      wastedGpuSeconds: Math.max(0, billed - useful),
      billedSeconds: billed,
      busyGpuSeconds: busy,
      interruptedGpuSeconds: this.interruptedS,
      bootGpuSeconds: boot,
      idleGpuSeconds: idle,
      noticeKept: this.noticeKept,
      noticeKeptFinished: this.noticeKeptFinished,
      requeuedAtNotice: this.requeuedAtNotice,
      requeuedAtDrainTimeout: this.requeuedAtDrain,
      rebalanceRecommendations: this.rebalances,
      replacements: this.replacements,
      policyStats: this.policy.stats?.() ?? {},
      launches: this.launches,
      endS: end,
      timeline: this.timeline,
      decisions: this.decisions,
    };
  }
}
