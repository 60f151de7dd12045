/**
 * Cost benchmark: the standard trace set through every policy (one table), ai-burst's goals judged on
 * it (met / not met with the numbers), the same goals over 5 seeds, and a small sensitivity table of
 * ai-burst's ScalingPolicy settings. Pure simulation: no network, bounded (well under a minute).
 */
import { performance } from 'node:perf_hooks';
import { checkGoals, GoalCheck } from '../lib/cost/simulator/goals';
import { aiBurstPolicy, POLICY_NAMES } from '../lib/cost/simulator/policies';
import { simulate, SimulationResult } from '../lib/cost/simulator/simulate';
import { standardTraces, STRESS_SETTINGS, StandardTrace } from '../lib/cost/simulator/standard-traces';

const MAX_INSTANCES = 32;
const TRACE_SEED = 42;
const SEEDS = [1, 2, 3, 4, 5];

function run(t: StandardTrace, seed: number, custom: Parameters<typeof simulate>[3] = []): SimulationResult {
  return simulate(t.trace, POLICY_NAMES, { maxInstances: MAX_INSTANCES, seed, ...(t.stress ? STRESS_SETTINGS : {}) }, custom);
}

const n = (x: number | null, d = 0): string => (x === null ? 'n/a' : x.toFixed(d));

export default async function costBench(): Promise<string> {
  const t0 = performance.now();
  const traces = standardTraces(TRACE_SEED);
  const results = traces.map((t) => run(t, 1));

  const out: string[] = [
    '## Cost: scaling policies on the standard trace set',
    '',
    `Command: \`npm run bench -- cost\`. g5.xlarge, us-east-1, max ${MAX_INSTANCES} instances, boot lognormal median 180 s / p95 480 s, ` +
      `0.02 interruptions per instance-hour (stress: ${STRESS_SETTINGS.interruptionsPerHour}, ${STRESS_SETTINGS.missedNoticeShare * 100} % notices missed), ` +
      `wait SLO 300 s, simulation seed 1, trace seed ${TRACE_SEED}, prices of ${results[0].snapshotDate}. ` +
      'Waste = billed instance-seconds − GPU-seconds of completed jobs (boot, idle, lost and duplicate work).',
    '',
    '| trace | jobs | policy | cost USD | vs static | p95 wait s | lost | unfinished | waste GPU-s |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  traces.forEach((t, i) => {
    for (const r of results[i].runs) {
      out.push(
        `| ${t.name} | ${t.trace.length} | ${r.policy} | ${r.costUsd.toFixed(2)} | ${r.costVsStaticOnDemand.toFixed(3)} | ${n(r.p95WaitS)} | ` +
          `${r.jobsLost} | ${r.jobsUnfinished} | ${r.wastedGpuSeconds.toFixed(0)} |`,
      );
    }
  });
  out.push('', '| trace | cost floor USD | p95 wait floor s |', '|---|---:|---:|');
  traces.forEach((t, i) => out.push(`| ${t.name} | ${results[i].bounds.costFloorUsd.toFixed(2)} | ${results[i].bounds.p95WaitFloorS.toFixed(1)} |`));

  out.push('', '### ai-burst goals (seed 1)', '', '| trace | goal | met | numbers |', '|---|---|---|---|');
  const goalsBySeed: GoalCheck[][][] = traces.map((t, i) => [checkGoals(results[i], t.stress)]);
  traces.forEach((t, i) => {
    for (const g of goalsBySeed[i][0]) out.push(`| ${t.name} | ${g.goal} | ${g.met ? 'met' : '**not met**'} | ${g.detail} |`);
  });

  traces.forEach((t, i) => {
    for (const seed of SEEDS.slice(1)) goalsBySeed[i].push(checkGoals(run(t, seed), t.stress));
  });
  const goalNames = [...new Set(goalsBySeed.flatMap((x) => x[0].map((g) => g.goal)))];
  out.push('', `### ai-burst goals over seeds ${SEEDS.join(', ')} (seeds met / seeds)`, '', `| goal | ${traces.map((t) => t.name).join(' | ')} |`, `|---|${traces.map(() => '---:').join('|')}|`);
  for (const goal of goalNames) {
    const cells = goalsBySeed.map((bySeed) => {
      const checks = bySeed.map((gs) => gs.find((g) => g.goal === goal)).filter((g): g is GoalCheck => g !== undefined);
      return checks.length === 0 ? '–' : `${checks.filter((g) => g.met).length}/${checks.length}`;
    });
    out.push(`| ${goal} | ${cells.join(' | ')} |`);
  }

  const variants = [{ targetBacklogPerInstance: 1 }, { idleWindowSeconds: 90 }, { idleWindowSeconds: 600 }];
  out.push(
    '',
    '### Sensitivity: ai-burst with other ScalingPolicy settings (seed 1; not the defaults)',
    '',
    '| trace | policy | cost USD | cost ÷ floor | p95 wait s | waste GPU-s |',
    '|---|---|---:|---:|---:|---:|',
  );
  traces.forEach((t, i) => {
    const base = results[i].runs.find((r) => r.policy === 'ai-burst')!;
    const extra = simulate(t.trace, [], { maxInstances: MAX_INSTANCES, seed: 1, ...(t.stress ? STRESS_SETTINGS : {}) }, variants.map((v) => (s) => aiBurstPolicy(s, v)));
    for (const r of [base, ...extra.runs]) {
      out.push(`| ${t.name} | ${r.policy} | ${r.costUsd.toFixed(2)} | ${(r.costUsd / results[i].bounds.costFloorUsd).toFixed(2)} | ${n(r.p95WaitS)} | ${r.wastedGpuSeconds.toFixed(0)} |`);
    }
  });

  out.push('', `_${traces.length} traces × ${POLICY_NAMES.length} policies × ${SEEDS.length} seeds + sensitivity in ${((performance.now() - t0) / 1000).toFixed(1)} s_`);
  return out.join('\n');
}
