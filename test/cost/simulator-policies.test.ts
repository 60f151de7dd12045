import { deriveTargetBacklog } from '../../lib/compute/scaling-policy';
import { targetTrackingPolicy } from '../../tools/cost/simulator/policies';
import { simulate } from '../../tools/cost/simulator/simulate';
import { TraceJob } from '../../tools/cost/simulator/trace';
import { hourlyPrice } from '../../lib/cost/pricing';

function jobs(n: number, at: number, gpuSeconds: number, priority = 'normal'): TraceJob[] {
  return Array.from({ length: n }, () => ({ arrivalS: at, gpuSeconds, priority, agent: 'test' }));
}

/** No spot interruptions: the hand-checked numbers below hold exactly. */
const CALM = { interruptionsPerHour: 0, seed: 1, maxInstances: 16 };

describe('ai-burst (the real decideCapacity, CapacityManager cadence, wake-on-submit)', () => {
  test('GIVEN 32 jobs on an empty fleet THEN the woken CapacityManager scales 0 → need in ONE decision, 2 s after the submit', () => {
    // Submitted at t = 3, between the scheduled evaluations at 0 and 10: only the wake-up can act at 5.
    const r = simulate(jobs(32, 3, 90), ['ai-burst'], { ...CALM, waitSloS: 300 });
    const need = Math.ceil(32 / deriveTargetBacklog(300, 90)); // 32 / (1 + floor(300/90)) = 8
    const first = r.details[0].decisions[0];
    expect(first).toMatchObject({ t: 5, desired: need });
    expect(first.reason).toMatch(/^wake: scale out 0→8/);
    expect(r.runs[0]).toMatchObject({ jobsCompleted: 32, jobsUnfinished: 0, jobsLost: 0 });
    // back to zero after the idle window
    expect(r.details[0].decisions[r.details[0].decisions.length - 1].desired).toBe(0);
  });

  test('GIVEN a job arriving while the fleet runs THEN no wake: the next 10 s evaluation acts', () => {
    const trace = [...jobs(1, 3, 600), ...jobs(3, 25, 600)];
    const r = simulate(trace, ['ai-burst'], { ...CALM, waitSloS: 60 });
    const d = r.details[0].decisions;
    expect(d[0]).toMatchObject({ t: 5, desired: 1 });
    expect(d[1]).toMatchObject({ t: 30, desired: 4 });
    expect(d[1].reason).toMatch(/^schedule: /);
  });

  test('GIVEN a business day THEN the busy-history tag is written at most once a minute, far less often than it changes', () => {
    const trace = Array.from({ length: 200 }, (_, i) => ({
      arrivalS: i * 97 + (i % 5) * 13,
      gpuSeconds: 60 + ((i * 53) % 400),
      priority: 'normal',
      agent: 't',
    }));
    const r = simulate(trace, ['ai-burst'], CALM);
    const { evaluations, historyTagWrites, historyChanges } = r.details[0].policyStats;
    expect(evaluations).toBeGreaterThan(1000);
    expect(historyTagWrites).toBeGreaterThan(0);
    expect(historyTagWrites).toBeLessThanOrEqual(r.details[0].endS / 60 + 1);
    expect(historyTagWrites * 3).toBeLessThan(historyChanges);
  });

  test('GIVEN spot notices with maxReceiveCount 1 and no retries THEN requeue-at-notice loses nothing while poll-lambda (visibility requeue) loses jobs', () => {
    const opts = { interruptionsPerHour: 3, missedNoticeShare: 0, maxReceiveCount: 1, retryMaxAttempts: 1, seed: 4, maxInstances: 6 };
    const r = simulate(jobs(6, 0, 1800), ['ai-burst', 'poll-lambda'], opts);
    const [ai, poll] = r.runs;
    expect(ai.interruptions).toBeGreaterThan(0);
    expect(ai).toMatchObject({ jobsCompleted: 6, jobsLost: 0, jobsUnfinished: 0 });
    expect(poll.interruptions).toBeGreaterThan(0);
    expect(poll.jobsLost).toBeGreaterThan(0);
  });
});

describe('target-tracking (backlog per instance, 1-min CloudWatch metrics)', () => {
  test('GIVEN no zero guard THEN the fleet never leaves zero and every job is left unfinished', () => {
    const r = simulate(jobs(20, 0, 60), [], CALM, [(s) => targetTrackingPolicy(s, { zeroGuard: false })]);
    const run = r.runs[0];
    expect(run.policy).toBe('target-tracking-unguarded');
    expect(run).toMatchObject({ jobsCompleted: 0, jobsUnfinished: 20, costUsd: 0, instanceHours: 0 });
    expect(r.details[0].decisions).toEqual([]);
    expect(r.details[0].endS).toBe(86400); // the run gives up 24 h after the last arrival
  });

  test('GIVEN the zero guard THEN the same trace starts the fleet and finishes, no earlier than 3 one-minute datapoints', () => {
    const r = simulate(jobs(20, 0, 60), ['target-tracking'], CALM);
    expect(r.runs[0]).toMatchObject({ jobsCompleted: 20, jobsUnfinished: 0 });
    expect(r.details[0].decisions[0].t).toBeGreaterThanOrEqual(3 * 60);
  });

  test('GIVEN a lone job below the target THEN even the guarded policy leaves it unfinished', () => {
    // target = 300 s SLO / 60 s job = 5 jobs per instance; 1 visible job never breaches it
    const r = simulate(jobs(1, 0, 60), ['target-tracking'], { ...CALM, waitSloS: 300 });
    expect(r.runs[0]).toMatchObject({ jobsCompleted: 0, jobsUnfinished: 1 });
  });
});

describe('ecs-steps (aws-ecs-patterns defaults)', () => {
  test('GIVEN a 50-job backlog THEN it never scales out; the one always-on task works through it', () => {
    const r = simulate(jobs(50, 0, 60), ['ecs-steps'], CALM);
    expect(r.details[0].decisions.every((d) => d.desired <= 1)).toBe(true);
    expect(r.runs[0]).toMatchObject({ jobsCompleted: 50, jobsUnfinished: 0 });
    expect(r.runs[0].maxWaitS).toBeCloseTo(49 * 60, 0);
  });

  test('GIVEN a 150-job backlog THEN it adds one task per cooldown (+1 at ≥ 100)', () => {
    const r = simulate(jobs(150, 0, 60), ['ecs-steps'], CALM);
    const ups = r.details[0].decisions.filter((d) => d.reason.includes('→ +1'));
    expect(ups.length).toBeGreaterThan(0);
    for (let i = 1; i < ups.length; i++) expect(ups[i].t - ups[i - 1].t).toBeGreaterThanOrEqual(300);
  });
});

describe('poll-lambda and static-on-demand', () => {
  test('GIVEN 5 jobs THEN poll-lambda sets desired = visible + in-flight = 5 at its first tick', () => {
    const r = simulate(jobs(5, 0, 60), ['poll-lambda'], CALM);
    expect(r.details[0].decisions[0]).toMatchObject({ t: 0, desired: 5, reason: 'visible 5 + in-flight 0' });
  });

  test('GIVEN three overlapping jobs THEN the static fleet is 3 warm on-demand instances billed to the last job', () => {
    const trace = [...jobs(2, 0, 100), ...jobs(1, 50, 100)];
    const r = simulate(trace, ['static-on-demand'], CALM);
    const run = r.runs[0];
    expect(run).toMatchObject({ p95WaitS: 0, jobsCompleted: 3, costVsStaticOnDemand: 1 });
    expect(run.costUsd).toBeCloseTo((3 * 150 * hourlyPrice('g5.xlarge', 'us-east-1', 'on-demand')!) / 3600, 4);
  });

  test('GIVEN any trace THEN the bounds are the busy GPU-seconds at the cheapest spot price and the warm-fleet p95', () => {
    const r = simulate(jobs(4, 0, 900), ['ai-burst'], { ...CALM, maxInstances: 2 });
    expect(r.bounds.costFloorUsd).toBeCloseTo((3600 * hourlyPrice('g5.xlarge', 'us-east-1', 'spot')!) / 3600, 4);
    expect(r.bounds.p95WaitFloorS).toBe(900); // 2 warm instances: two jobs wait one job length
  });
});
