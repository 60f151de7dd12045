/**
 * The simulator's learned boot time: each boot's ColdStartSeconds reaches the CloudWatch model when the
 * instance turns ready (readable a minute later), ai-burst reads the window's count and p90 every 5 minutes
 * and decides with the same pure rule as the CapacityManager (lib/compute/learned-boot.ts).
 */
import { LEARNED_BOOT_REFRESH_SECONDS } from '../../lib/compute/learned-boot';
import { CloudWatchModel } from '../../tools/cost/simulator/cloudwatch';
import { aiBurstPolicy, AiBurstSimPolicy } from '../../tools/cost/simulator/policies/ai-burst';
import { simulate } from '../../tools/cost/simulator/simulate';
import { TraceJob } from '../../tools/cost/simulator/trace';

function jobs(n: number, at: number, gpuSeconds: number): TraceJob[] {
  return Array.from({ length: n }, () => ({ arrivalS: at, gpuSeconds, priority: 'normal', agent: 'test' }));
}

/** Every boot takes exactly 360 s; no interruptions; the configurer's prior is 180 s. */
const BOOT_360 = { bootMedianS: 360, bootP95S: 360, interruptionsPerHour: 0, seed: 3, maxInstances: 16, waitSloS: 300 };
const PRIOR = { expectedBootSeconds: 180 };

/** Runs the trace through ai-burst with the prior, learned and static; returns the policies (for their readings) and the runs. */
function learnedAndStatic(trace: TraceJob[], options: Parameters<typeof simulate>[2] = BOOT_360) {
  const policies: AiBurstSimPolicy[] = [];
  const r = simulate(
    trace,
    [],
    options,
    [true, false].map((learnedBoot) => (s) => {
      const p = aiBurstPolicy(s, PRIOR, { learnedBoot });
      policies.push(p);
      return p;
    }),
  );
  return {
    learned: { policy: policies[0], run: r.runs[0], detail: r.details[0] },
    static: { policy: policies[1], run: r.runs[1], detail: r.details[1] },
  };
}

describe('CloudWatchModel: boot samples as GetMetricData would return them', () => {
  test('only boots in the window and readable by now (lag) count; p90 is the nearest rank', () => {
    const cw = new CloudWatchModel({ seed: 1, lagS: 60 });
    [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000].forEach((s, i) => cw.noteBoot(1000 + i * 10, s));
    expect(cw.bootSamples(1000 + 59, 3600)).toEqual({ count: 0 });
    expect(cw.bootSamples(1000 + 60, 3600)).toEqual({ count: 1, p90Seconds: 100 });
    expect(cw.bootSamples(1090 + 60, 3600)).toEqual({ count: 10, p90Seconds: 900 });
    // The window: at 1000 + 3600 + 15 the first two boots (at 1000 and 1010) fell out.
    expect(cw.bootSamples(1000 + 3600 + 15, 3600)).toEqual({ count: 8, p90Seconds: 1000 });
  });
});

describe('ai-burst with the learned boot time', () => {
  test('GIVEN boots of 360 s and a prior of 180 s THEN the prior until 5 boots are readable, then 360 s; static stays 180 s', () => {
    // Five lone jobs an hour apart: one boot each (the fleet is back at 0 in between).
    const trace = [0, 1, 2, 3, 4, 5, 6].flatMap((h) => jobs(1, h * 3600 + 30, 60));
    const { learned, static: fixed } = learnedAndStatic(trace);
    const readings = learned.policy.bootReadings();
    expect(readings.length).toBeGreaterThan(20);
    // Reads every LEARNED_BOOT_REFRESH_SECONDS, not at every 10-s evaluation.
    expect(readings.map((r) => r.t).slice(0, 3)).toEqual([0, LEARNED_BOOT_REFRESH_SECONDS, 2 * LEARNED_BOOT_REFRESH_SECONDS]);
    const firstLearned = readings.findIndex((r) => r.source === 'learned');
    expect(firstLearned).toBeGreaterThan(0);
    for (const r of readings.slice(0, firstLearned)) expect(r).toMatchObject({ source: 'prior', bootSeconds: 180 });
    expect(readings[firstLearned - 1].samples).toBe(4);
    expect(readings[firstLearned]).toMatchObject({ source: 'learned', samples: 5, bootSeconds: 360 });
    // The 5th boot (job at 4 h + 30 s) is ready at 4 h + 30 + ~2 + 360 s, readable 60 s later: learned at the first read after.
    expect(readings[firstLearned].t).toBe(Math.ceil((4 * 3600 + 30 + 2 + 360 + 60) / LEARNED_BOOT_REFRESH_SECONDS) * LEARNED_BOOT_REFRESH_SECONDS);
    for (const r of readings.slice(firstLearned)) expect(r.bootSeconds).toBe(360);
    expect(learned.detail.policyStats.bootSecondsLast).toBe(360);

    // The decisions: the idle window followed the boot time. The 5th instance goes idle at ~14,852 s; with 180 s it
    // would be released at ~15,032 s, after the read at 15,000 s, so its release already waits 360 s.
    const scaleIns = (d: typeof learned.detail) =>
      d.decisions.filter((x) => x.reason.includes('scale in')).map((x) => x.reason.match(/idle for ≥ (\d+)s/)![1]);
    expect(scaleIns(learned.detail)).toEqual(['180', '180', '180', '180', '360', '360', '360']);
    expect(fixed.policy.bootReadings()).toEqual([]);
    expect(new Set(scaleIns(fixed.detail))).toEqual(new Set(['180']));
    expect(fixed.run.policy).toBe('ai-burst(expectedBootSeconds=180,static boot)');
    expect(learned.run.policy).toBe('ai-burst(expectedBootSeconds=180)');
  });

  test('GIVEN 8 boots at once THEN learned at the first read after they are readable; 25 h later they are out of the window: the prior again', () => {
    const trace = [...jobs(8, 10, 600), ...jobs(1, 25 * 3600, 60)];
    const { learned } = learnedAndStatic(trace);
    const readings = learned.policy.bootReadings();
    // 8 × 600-s jobs at SLO 300 s: target 1 per instance, 8 boots ready at ~372 s, readable at ~432 s → learned at the 600-s read.
    expect(readings.find((r) => r.t === 300)).toMatchObject({ source: 'prior', samples: 0 });
    expect(readings.find((r) => r.t === 600)).toMatchObject({ source: 'learned', samples: 8, bootSeconds: 360 });
    const late = readings.find((r) => r.t >= 25 * 3600)!;
    expect(late).toMatchObject({ source: 'prior', samples: 0, bootSeconds: 180 });
  });

  test('GIVEN an explicit idle window THEN learning changes no decision (the boot time is used nowhere else)', () => {
    const trace = [0, 1, 2, 3, 4, 5, 6].flatMap((h) => jobs(2, h * 3600 + 30, 60));
    const runs = simulate(trace, [], BOOT_360, [
      (s) => aiBurstPolicy(s, { ...PRIOR, idleWindowSeconds: 240 }, { learnedBoot: true }),
      (s) => aiBurstPolicy(s, { ...PRIOR, idleWindowSeconds: 240 }, { learnedBoot: false }),
    ]);
    expect(runs.details[0].decisions).toEqual(runs.details[1].decisions);
    expect(runs.runs[0].costUsd).toBe(runs.runs[1].costUsd);
  });

  test('the default ai-burst learns (as deployed); its prior is the boot median the configurer knows', () => {
    const r = simulate(
      [0, 1, 2, 3, 4, 5, 6].flatMap((h) => jobs(1, h * 3600, 60)),
      ['ai-burst'],
      BOOT_360,
    );
    expect(r.runs[0].policy).toBe('ai-burst');
    expect(r.details[0].policyStats.bootReads).toBeGreaterThan(0);
    expect(r.details[0].policyStats.bootSecondsLast).toBe(360);
  });
});

describe('determinism', () => {
  const trace = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((h) => jobs(3, h * 3600 + 17, 200));
  const lognormal = { interruptionsPerHour: 0.3, seed: 11, maxInstances: 8, bootMedianS: 300, bootP95S: 800 };

  test('GIVEN the same seed THEN the same readings and the same runs', () => {
    const a = learnedAndStatic(trace, lognormal);
    const b = learnedAndStatic(trace, lognormal);
    expect(b.learned.policy.bootReadings()).toEqual(a.learned.policy.bootReadings());
    expect(b.learned.run).toEqual(a.learned.run);
    expect(b.static.run).toEqual(a.static.run);
    expect(a.learned.policy.bootReadings().some((r) => r.source === 'learned')).toBe(true);
  });

  test('GIVEN another seed THEN other boot draws, so other learned boot times', () => {
    const a = learnedAndStatic(trace, lognormal).learned.policy.bootReadings();
    const b = learnedAndStatic(trace, { ...lognormal, seed: 12 }).learned.policy.bootReadings();
    expect(b.map((r) => r.bootSeconds)).not.toEqual(a.map((r) => r.bootSeconds));
  });
});
