import { mulberry32, hashSeed, lognormalFromMedianP95 } from '../../tools/cost/simulator/rng';
import { simulate, toReport } from '../../tools/cost/simulator/simulate';
import { STRESS_SETTINGS } from '../../tools/cost/simulator/standard-traces';
import { priorityRank, sortTrace, TraceJob } from '../../tools/cost/simulator/trace';

/** A random small trace: 3–40 jobs within 3 h, lognormal lengths (median 120 s, p95 1,200 s), mixed priorities. */
function randomTrace(caseSeed: number): TraceJob[] {
  const u = mulberry32(hashSeed('property-trace', caseSeed));
  const next = (): number => Math.max(1e-9, u());
  const n = 3 + Math.floor(next() * 38);
  const bursty = next() < 0.5;
  const jobs: TraceJob[] = [];
  for (let i = 0; i < n; i++) {
    const arrivalS = bursty ? Math.floor(next() * 3) * 3600 + next() * 60 : next() * 3 * 3600;
    jobs.push({
      arrivalS,
      gpuSeconds: lognormalFromMedianP95(next(), 120, 1200),
      priority: ['high', 'normal', 'low'][Math.floor(next() * 3)],
      agent: `agent-${Math.floor(next() * 4)}`,
    });
  }
  return sortTrace(jobs);
}

const trace = randomTrace(99);

describe('determinism (common random numbers)', () => {
  test('GIVEN the same trace and seed THEN the JSON is identical', () => {
    const opts = { seed: 12, ...STRESS_SETTINGS, maxInstances: 8 };
    const a = JSON.stringify(toReport(simulate(trace, undefined, opts)));
    const b = JSON.stringify(toReport(simulate(trace, undefined, opts)));
    expect(a).toBe(b);
  });

  test('GIVEN another seed THEN boot times and interruptions differ, so the runs do', () => {
    const a = simulate(trace, ['ai-burst', 'poll-lambda'], { seed: 1, ...STRESS_SETTINGS, maxInstances: 8 });
    const b = simulate(trace, ['ai-burst', 'poll-lambda'], { seed: 2, ...STRESS_SETTINGS, maxInstances: 8 });
    expect(JSON.stringify(toReport(a))).not.toBe(JSON.stringify(toReport(b)));
  });

  test('GIVEN a policy list in another order THEN each policy gets the same result (no shared random state)', () => {
    const a = simulate(trace, ['ai-burst', 'target-tracking'], { seed: 5, ...STRESS_SETTINGS });
    const b = simulate(trace, ['target-tracking', 'ai-burst'], { seed: 5, ...STRESS_SETTINGS });
    expect(b.runs[1]).toEqual(a.runs[0]);
    expect(b.runs[0]).toEqual(a.runs[1]);
  });
});

describe('property: ai-burst never loses a job under the stress settings', () => {
  const cases = Array.from({ length: 40 }, (_, i) => i);
  test.each(cases)('random trace #%i (0.3 interruptions per instance-hour, 5 %% notices missed)', (i) => {
    const t = randomTrace(i);
    const r = simulate(t, ['ai-burst'], { seed: 1000 + i, ...STRESS_SETTINGS, maxInstances: 1 + (i % 8) });
    const run = r.runs[0];
    expect(run.jobsLost).toBe(0);
    expect(run.jobsUnfinished).toBe(0);
    expect(run.jobsCompleted).toBe(t.length);
    // Completed jobs are never faster than physics: p95 wait ≥ 0 and at least one job waited for a boot.
    expect(run.maxWaitS!).toBeGreaterThan(0);
  });

  test('GIVEN much harsher settings (3 interruptions per hour, half the notices missed) THEN the RetryHandler still parks nothing on these traces', () => {
    let interruptions = 0;
    let completed = 0;
    let jobs = 0;
    for (let i = 0; i < 10; i++) {
      const t = randomTrace(200 + i);
      const run = simulate(t, ['ai-burst'], { seed: i, interruptionsPerHour: 3, missedNoticeShare: 0.5, maxInstances: 4 }).runs[0];
      interruptions += run.interruptions;
      expect(run.jobsLost).toBe(0);
      // A job longer than an hour survives one attempt at 3 interruptions per hour with e^-3 ≈ 5 % or less: whether it
      // finishes within the day's cutoff is the draw of interruptions, not the policy. Every shorter job completes.
      const hopeless = t.filter((j) => j.gpuSeconds > 3600).length;
      expect(run.jobsUnfinished).toBeLessThanOrEqual(hopeless);
      expect(run.jobsCompleted).toBeGreaterThanOrEqual(t.length - hopeless);
      completed += run.jobsCompleted;
      jobs += t.length;
    }
    expect(interruptions).toBeGreaterThan(10);
    expect(completed).toBeGreaterThanOrEqual(jobs - 1);
  });

  test('the generator covers all priorities', () => {
    const ranks = new Set(cases.flatMap((i) => randomTrace(i).map((j) => priorityRank(j.priority))));
    expect(ranks.size).toBe(3);
  });
});
