/**
 * The simulator's going-away model (lib/contracts/notice.ts): at a spot notice a job expected to end
 * before the reclaim less the margin finishes, every other one is requeued at once; at a replacement
 * (Capacity Rebalancing) jobs finish up to the drain timeout. And where the billed seconds went.
 */
import { LAST_CALL_BEFORE_RECLAIM_SECONDS, SPOT_NOTICE_SECONDS } from '../../lib/contracts/notice';
import { BootModel } from '../../tools/cost/simulator/boot';
import { PolicySetup, SimPolicy } from '../../tools/cost/simulator/policy';
import { simulate, SimulationResult } from '../../tools/cost/simulator/simulate';
import { RebalanceModel, SpotModel } from '../../tools/cost/simulator/spot';
import { STRESS_SETTINGS } from '../../tools/cost/simulator/standard-traces';
import { TraceJob } from '../../tools/cost/simulator/trace';
import { SimulationOptions } from '../../tools/cost/simulator/options';

const SEED = 7;
const LATENCY = 2; // requeueLatencyS default

/** One warm spot instance that acts on notices like ai-burst's worker, configured with `expectedJobSeconds`. */
function oneWarmInstance(expectedJobSeconds: number | undefined, capacityRebalance = false) {
  return (_setup: PolicySetup): SimPolicy => ({
    name: 'one-warm',
    market: 'spot',
    priorityQueues: false,
    protectBusy: true,
    requeueAtNotice: true,
    expectedJobSeconds,
    capacityRebalance,
    heartbeat: true,
    retryHandler: true,
    visibilityTimeoutS: 900,
    warmAtStart: 1,
    floor: 1,
    start(ctx) {
      ctx.setDesired(1, 'fixed at 1');
    },
  });
}

function job(arrivalS: number, gpuSeconds: number): TraceJob {
  return { arrivalS, gpuSeconds, priority: 'normal', agent: 'test' };
}

function run(trace: TraceJob[], policy: (s: PolicySetup) => SimPolicy, options: SimulationOptions): SimulationResult {
  return simulate(trace, [], { seed: SEED, missedNoticeShare: 0, maxInstances: 4, ...options }, [policy]);
}

describe('spot notice: finish what ends before the reclaim, requeue the rest (no phantom duplicates)', () => {
  const spotRate = { interruptionsPerHour: 1 };
  // The warm instance (launch #0, ready at 0) gets its notice at N; a job arrives 30 s before it.
  const N = new SpotModel(SEED, 1, 0).interruption(0).noticeAfterS;
  const start = N - 30;
  beforeAll(() => expect(N).toBeGreaterThan(60));

  test('GIVEN a 60 s job 30 s in, fleet expects 60 s THEN it is kept and finishes once; nothing is requeued or lost', () => {
    const r = run([job(start, 60)], oneWarmInstance(60), spotRate);
    const d = r.details[0];
    expect(d).toMatchObject({ noticeKept: 1, noticeKeptFinished: 1, requeuedAtNotice: 0, jobsCompleted: 1, duplicateCompletions: 0 });
    expect(d.interruptedGpuSeconds).toBe(0);
    expect(r.runs[0].p50WaitS).toBe(0);
  });

  test('GIVEN the same job with noticeRule requeue-all (the old behaviour) THEN it is requeued at once and its 32 s are lost', () => {
    const r = run([job(start, 60)], oneWarmInstance(60), { ...spotRate, noticeRule: 'requeue-all' });
    const d = r.details[0];
    expect(d).toMatchObject({ noticeKept: 0, requeuedAtNotice: 1, jobsCompleted: 1, duplicateCompletions: 0 });
    expect(d.interruptedGpuSeconds).toBeCloseTo(30 + LATENCY, 6);
    // Only the copy ran to the end: busy = one job length.
    expect(d.busyGpuSeconds).toBeCloseTo(60, 6);
  });

  test('GIVEN a job expected to run past the reclaim less the margin THEN it is requeued at once (2 s after the notice)', () => {
    const r = run([job(start, 300)], oneWarmInstance(300), spotRate);
    const d = r.details[0];
    expect(d).toMatchObject({ noticeKept: 0, requeuedAtNotice: 1, jobsCompleted: 1, duplicateCompletions: 0 });
    expect(d.interruptedGpuSeconds).toBeCloseTo(30 + LATENCY, 6);
  });

  test('GIVEN a job kept on the fleet estimate that runs long THEN it is requeued at the deadline, before the reclaim, and finishes once', () => {
    const r = run([job(start, 300)], oneWarmInstance(60), spotRate);
    const d = r.details[0];
    expect(d).toMatchObject({ noticeKept: 1, noticeKeptFinished: 0, requeuedAtNotice: 1, jobsCompleted: 1, duplicateCompletions: 0, jobsLost: 0 });
    expect(d.interruptedGpuSeconds).toBeCloseTo(30 + SPOT_NOTICE_SECONDS - LAST_CALL_BEFORE_RECLAIM_SECONDS + LATENCY, 6);
    expect(d.busyGpuSeconds).toBeCloseTo(300, 6);
  });

  test("GIVEN the worker knows the job's own length (noticeEstimate job) THEN the long job is requeued at once instead", () => {
    const r = run([job(start, 300)], oneWarmInstance(60), { ...spotRate, noticeEstimate: 'job' });
    expect(r.details[0]).toMatchObject({ noticeKept: 0, requeuedAtNotice: 1, jobsCompleted: 1 });
    expect(r.details[0].interruptedGpuSeconds).toBeCloseTo(30 + LATENCY, 6);
  });

  test("GIVEN a job already past the fleet's expected length THEN it is requeued (the estimate says nothing about it)", () => {
    const r = run([job(N - 90, 100)], oneWarmInstance(60), spotRate);
    expect(r.details[0]).toMatchObject({ noticeKept: 0, requeuedAtNotice: 1, jobsCompleted: 1, duplicateCompletions: 0 });
  });

  test('GIVEN no expected job length configured THEN every running job is requeued', () => {
    const r = run([job(start, 40)], oneWarmInstance(undefined), spotRate);
    expect(r.details[0]).toMatchObject({ noticeKept: 0, requeuedAtNotice: 1, jobsCompleted: 1 });
  });
});

describe('rebalance recommendation with Capacity Rebalancing: replace, then finish up to the drain timeout', () => {
  const rate = { interruptionsPerHour: 0, rebalancesPerHour: 1 };
  const R = new RebalanceModel(SEED, 1).recommendationAfterS(0);
  const replacementBoot = new BootModel(SEED, 180, 480).bootSeconds(1);
  beforeAll(() => expect(R).toBeGreaterThan(30));

  test('GIVEN a job that ends 30 s after the replacement is healthy THEN it finishes on the old instance; nothing requeued', () => {
    const r = run([job(R - 10, 100)], oneWarmInstance(60, true), rate);
    const d = r.details[0];
    expect(d).toMatchObject({ rebalanceRecommendations: 1, replacements: 1, requeuedAtDrainTimeout: 0, jobsCompleted: 1, duplicateCompletions: 0 });
    expect(d.interruptedGpuSeconds).toBe(0);
    expect(d.interruptions).toBe(0);
  });

  test('GIVEN a job longer than health check + drain timeout THEN the drainer requeues it at the timeout and it runs once more', () => {
    const r = run([job(R - 10, 400)], oneWarmInstance(60, true), rate);
    const d = r.details[0];
    expect(d).toMatchObject({ requeuedAtDrainTimeout: 1, jobsCompleted: 1, duplicateCompletions: 0, jobsLost: 0 });
    expect(d.replacements).toBeGreaterThanOrEqual(1); // the replacement may get a recommendation of its own later
    // healthy after 60 s, then the 120 s drain timeout and the 2 s requeue
    expect(d.interruptedGpuSeconds).toBeCloseTo(10 + 60 + 120 + LATENCY, 6);
  });

  test('GIVEN a job submitted after the recommendation THEN the draining instance does not take it: it waits for the replacement', () => {
    const r = run([job(R + 5, 30)], oneWarmInstance(60, true), rate);
    expect(r.runs[0].jobsCompleted).toBe(1);
    expect(r.runs[0].maxWaitS!).toBeCloseTo(replacementBoot - 5, 1);
  });

  test('GIVEN the group at its max THEN Auto Scaling cannot launch first: no replacement, the instance only drains', () => {
    const r = run([job(R - 10, 100)], oneWarmInstance(60, true), { ...rate, maxInstances: 1 });
    expect(r.details[0]).toMatchObject({ rebalanceRecommendations: 1, replacements: 0, jobsCompleted: 1, interruptedGpuSeconds: 0 });
  });

  test('GIVEN a baseline fleet (no Capacity Rebalancing) THEN recommendations change nothing', () => {
    const trace = Array.from({ length: 30 }, (_, i) => job(i * 120, 200));
    const a = simulate(trace, ['poll-lambda'], { seed: 3, rebalancesPerHour: 3 });
    const b = simulate(trace, ['poll-lambda'], { seed: 3, rebalancesPerHour: 0 });
    expect(a.runs[0]).toEqual(b.runs[0]);
    expect(a.details[0].rebalanceRecommendations).toBe(0);
  });
});

describe('where the billed GPU-seconds went', () => {
  test('GIVEN one 100 s job on an empty ai-burst fleet THEN boot = the boot draw, busy = 100, nothing interrupted, the rest idle', () => {
    const r = simulate([job(0, 100)], ['ai-burst'], { seed: SEED, interruptionsPerHour: 0 });
    const d = r.details[0];
    expect(d.bootGpuSeconds).toBeCloseTo(new BootModel(SEED, 180, 480).bootSeconds(0), 6);
    expect(d.busyGpuSeconds).toBeCloseTo(100, 6);
    expect(d.interruptedGpuSeconds).toBe(0);
    expect(d.idleGpuSeconds).toBeGreaterThan(0);
    expect(d.busyGpuSeconds + d.bootGpuSeconds + d.idleGpuSeconds).toBeCloseTo(d.billedSeconds, 6);
  });

  const cases = [
    { name: 'stress settings', opts: { ...STRESS_SETTINGS } },
    { name: 'stress + rebalances', opts: { ...STRESS_SETTINGS, rebalancesPerHour: 1 } },
    { name: 'harsh, half the notices missed', opts: { interruptionsPerHour: 3, missedNoticeShare: 0.5, maxInstances: 4 } },
    { name: 'old notice behaviour', opts: { ...STRESS_SETTINGS, noticeRule: 'requeue-all' as const } },
  ];
  test.each(cases)('GIVEN $name THEN busy + interrupted + boot + idle = billed for every policy, each ≥ 0', ({ opts }) => {
    const trace = Array.from({ length: 60 }, (_, i) => job((i % 20) * 400 + (i % 3), 60 + ((i * 37) % 500)));
    trace.sort((a, b) => a.arrivalS - b.arrivalS);
    const r = simulate(trace, undefined, { seed: 11, ...opts });
    r.details.forEach((d, i) => {
      const parts = [d.busyGpuSeconds, d.interruptedGpuSeconds, d.bootGpuSeconds, d.idleGpuSeconds];
      for (const p of parts) expect(p).toBeGreaterThanOrEqual(0);
      expect(parts.reduce((a, b) => a + b, 0)).toBeCloseTo(d.billedSeconds, 6);
      const run = r.runs[i];
      const reported = run.busyGpuSeconds + run.interruptedGpuSeconds + run.bootGpuSeconds + run.idleGpuSeconds;
      expect(Math.abs(reported - run.billedGpuSeconds)).toBeLessThanOrEqual(0.2 + 1e-9);
      expect(run.billedGpuSeconds / 3600).toBeCloseTo(run.instanceHours, 3);
    });
    const interrupted = r.details.reduce((s, d) => s + d.interruptedGpuSeconds, 0);
    expect(interrupted).toBeGreaterThan(0);
  });
});

describe('options', () => {
  test.each([
    [{ noticeRule: 'later' }, /noticeRule: expected one of finish-or-requeue, requeue-all, got "later"/],
    [{ noticeEstimate: 'oracle' }, /noticeEstimate: expected one of fleet, job/],
    [{ rebalancesPerHour: -1 }, /rebalancesPerHour: expected a number ≥ 0, got -1/],
    [{ drainTimeoutS: 'x' }, /drainTimeoutS: expected a (decimal )?number/],
  ])('fails if %j', (opts, message) => {
    expect(() => simulate([job(0, 10)], ['ai-burst'], opts as unknown as SimulationOptions)).toThrow(message);
  });
});
