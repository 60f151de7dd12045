/**
 * Cost benchmark: the standard trace set through every policy (one table, with where the billed
 * GPU-seconds went: busy, lost to interruptions, boot, idle), ai-burst's goals judged on it (met / not met
 * with the numbers), the same goals over 5 seeds, the notice rule against the old requeue-everything on
 * the stress trace, rebalance recommendations, a small sensitivity table of ai-burst's ScalingPolicy
 * settings, and what the boot time costs: boot medians of 90 / 180 / 360 s with the learned boot time
 * against the static prior. Pure simulation: no network, bounded (well under a minute).
 */
import { performance } from 'node:perf_hooks';
import { checkGoals, GoalCheck } from '../tools/cost/simulator/goals';
import { aiBurstPolicy, POLICY_NAMES } from '../tools/cost/simulator/policies';
import { SimulationOptions } from '../tools/cost/simulator/options';
import { simulate, SimulationResult } from '../tools/cost/simulator/simulate';
import { standardTraces, STRESS_SETTINGS, StandardTrace } from '../tools/cost/simulator/standard-traces';

const MAX_INSTANCES = 32;
const TRACE_SEED = 42;
const SEEDS = [1, 2, 3, 4, 5];
/** Seeds of the notice and rebalance comparisons (interruptions are rare events: one seed is noise). */
const NOTICE_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const REBALANCES_PER_HOUR = 0.3;

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
      'Waste = billed instance-seconds − GPU-seconds of completed jobs (boot, idle, lost and duplicate work). ' +
      'Billed = busy + interrupted (partial runs thrown away: reclaimed, requeued at a notice or drain timeout, scaled in under) + ' +
      'boot (launch → ready) + idle (ready without a job, and billing padding).',
    '',
    '| trace | jobs | policy | cost USD | vs static | p95 wait s | lost | unfinished | waste GPU-s | interrupted GPU-s | boot GPU-s | idle GPU-s |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  traces.forEach((t, i) => {
    for (const r of results[i].runs) {
      out.push(
        `| ${t.name} | ${t.trace.length} | ${r.policy} | ${r.costUsd.toFixed(2)} | ${r.costVsStaticOnDemand.toFixed(3)} | ${n(r.p95WaitS)} | ` +
          `${r.jobsLost} | ${r.jobsUnfinished} | ${r.wastedGpuSeconds.toFixed(0)} | ${r.interruptedGpuSeconds.toFixed(0)} | ` +
          `${r.bootGpuSeconds.toFixed(0)} | ${r.idleGpuSeconds.toFixed(0)} |`,
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
  out.push(
    '',
    `### ai-burst goals over seeds ${SEEDS.join(', ')} (seeds met / seeds)`,
    '',
    `| goal | ${traces.map((t) => t.name).join(' | ')} |`,
    `|---|${traces.map(() => '---:').join('|')}|`,
  );
  for (const goal of goalNames) {
    const cells = goalsBySeed.map((bySeed) => {
      const checks = bySeed.map((gs) => gs.find((g) => g.goal === goal)).filter((g): g is GoalCheck => g !== undefined);
      return checks.length === 0 ? '–' : `${checks.filter((g) => g.met).length}/${checks.length}`;
    });
    out.push(`| ${goal} | ${cells.join(' | ')} |`);
  }

  out.push('', ...noticeSection(traces.find((t) => t.stress)!));

  out.push(
    '',
    '### CapacityManager busy-history tag writes (ai-burst, seed 1)',
    '',
    'Old: the tag was written whenever the history changed. Now: only on a material change (a level added or expired, or a ' +
      "level's time moved ≥ 30 s), at most once per 60 s; decisions come from the history carried between evaluations, so " +
      'they are the same.',
    '',
    '| trace | evaluations | simulated h | tag writes before (every change) | tag writes now | writes per simulated h |',
    '|---|---:|---:|---:|---:|---:|',
  );
  traces.forEach((t, i) => {
    const d = results[i].details[results[i].runs.findIndex((r) => r.policy === 'ai-burst')];
    const st = d.policyStats;
    const hours = d.endS / 3600;
    const perHour = (st.historyTagWrites / hours).toFixed(1);
    out.push(`| ${t.name} | ${st.evaluations} | ${hours.toFixed(1)} | ${st.historyChanges} | ${st.historyTagWrites} | ${perHour} |`);
  });

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
    const extra = simulate(
      t.trace,
      [],
      { maxInstances: MAX_INSTANCES, seed: 1, ...(t.stress ? STRESS_SETTINGS : {}) },
      variants.map((v) => (s) => aiBurstPolicy(s, v)),
    );
    for (const r of [base, ...extra.runs]) {
      out.push(
        `| ${t.name} | ${r.policy} | ${r.costUsd.toFixed(2)} | ${(r.costUsd / results[i].bounds.costFloorUsd).toFixed(2)} | ${n(r.p95WaitS)} | ${r.wastedGpuSeconds.toFixed(0)} |`,
      );
    }
  });

  out.push('', ...bootSection(traces));

  out.push(
    '',
    `_${traces.length} traces × ${POLICY_NAMES.length} policies × ${SEEDS.length} seeds + sensitivity + boot time in ${((performance.now() - t0) / 1000).toFixed(1)} s_`,
  );
  return out.join('\n');
}

/** ai-burst on one trace over NOTICE_SEEDS with extra options: sums of the engine's counts. */
function aiBurstOverSeeds(t: StandardTrace, extra: SimulationOptions) {
  const sum = {
    cost: 0,
    p95: 0,
    interruptions: 0,
    requeued: 0,
    kept: 0,
    keptFinished: 0,
    drainRequeued: 0,
    replacements: 0,
    interrupted: 0,
    boot: 0,
    idle: 0,
    lost: 0,
    dup: 0,
  };
  for (const seed of NOTICE_SEEDS) {
    const r = simulate(t.trace, ['ai-burst'], { maxInstances: MAX_INSTANCES, seed, ...(t.stress ? STRESS_SETTINGS : {}), ...extra });
    const d = r.details[0];
    const run = r.runs[0];
    sum.cost += d.costUsd;
    sum.p95 += run.p95WaitS ?? 0;
    sum.interruptions += d.interruptions;
    sum.requeued += d.requeuedAtNotice;
    sum.kept += d.noticeKept;
    sum.keptFinished += d.noticeKeptFinished;
    sum.drainRequeued += d.requeuedAtDrainTimeout;
    sum.replacements += d.replacements;
    sum.interrupted += d.interruptedGpuSeconds;
    sum.boot += d.bootGpuSeconds;
    sum.idle += d.idleGpuSeconds;
    sum.lost += d.jobsLost;
    sum.dup += d.duplicateCompletions;
  }
  return sum;
}

/** The notice rule (lib/contracts/notice.ts) against the old requeue-everything, and rebalance recommendations. */
function noticeSection(t: StandardTrace): string[] {
  const k = NOTICE_SEEDS.length;
  const out = [
    `### Spot notices on \`${t.name}\`: requeue everything (old) vs the notice rule ` +
      `(ai-burst, sums over seeds ${NOTICE_SEEDS[0]}–${NOTICE_SEEDS[k - 1]})`,
    '',
    'Old: every running job is requeued at the notice. Rule: a job expected to end before the reclaim less ' +
      'NOTICE_FINISH_MARGIN_SECONDS keeps running, every other one is requeued at once; a kept job still running at that ' +
      'deadline is requeued then. "fleet estimate" = the worker knows only the fleet\'s expected job duration (the trace\'s ' +
      'mean, the default); "job\'s own length" = a worker that knows each job\'s length (streaming progress), the best any rule can do.',
    '',
    '| notice behaviour | cost USD | mean p95 wait s | interruptions | requeued at notice | kept / kept & finished | ' +
      'interrupted GPU-s | boot GPU-s | idle GPU-s | lost | duplicates |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const rows: [string, SimulationOptions][] = [
    ['requeue everything (old)', { noticeRule: 'requeue-all' }],
    ['rule, fleet estimate (default)', {}],
    ["rule, job's own length", { noticeEstimate: 'job' }],
  ];
  for (const [label, extra] of rows) {
    const s = aiBurstOverSeeds(t, extra);
    out.push(
      `| ${label} | ${s.cost.toFixed(2)} | ${(s.p95 / k).toFixed(0)} | ${s.interruptions} | ${s.requeued} | ${s.kept} / ${s.keptFinished} | ` +
        `${s.interrupted.toFixed(0)} | ${s.boot.toFixed(0)} | ${s.idle.toFixed(0)} | ${s.lost} | ${s.dup} |`,
    );
  }
  out.push(
    '',
    `### Rebalance recommendations on \`${t.name}\` (ai-burst, Capacity Rebalancing, drain timeout 120 s, sums over the same seeds)`,
    '',
    '| rebalances per instance-hour | cost USD | mean p95 wait s | replacements | requeued at drain timeout | ' +
      'interrupted GPU-s | boot GPU-s | idle GPU-s | lost |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const rate of [0, REBALANCES_PER_HOUR]) {
    const s = aiBurstOverSeeds(t, { rebalancesPerHour: rate });
    out.push(
      `| ${rate} | ${s.cost.toFixed(2)} | ${(s.p95 / k).toFixed(0)} | ${s.replacements} | ${s.drainRequeued} | ${s.interrupted.toFixed(0)} | ` +
        `${s.boot.toFixed(0)} | ${s.idle.toFixed(0)} | ${s.lost} |`,
    );
  }
  return out;
}

/** Boot medians of the boot-time tables; p95 keeps the main table's shape (480 / 180). */
const BOOT_MEDIANS = [90, 180, 360];
const BOOT_P95_PER_MEDIAN = 480 / 180;
const BOOT_PRIOR_S = 180;

interface BootVariant {
  readonly label: string;
  readonly prior: number;
  readonly learnedBoot: boolean;
}

interface BootSums {
  cost: number;
  p95: number;
  lost: number;
  launches: number;
  boot: number;
  idle: number;
  used: number;
}

/** ai-burst over SEEDS with each variant (one simulate per seed: common random numbers across the variants). */
function bootRuns(trace: StandardTrace['trace'], extra: SimulationOptions, variants: readonly BootVariant[]): BootSums[] {
  const sums = variants.map(() => ({ cost: 0, p95: 0, lost: 0, launches: 0, boot: 0, idle: 0, used: 0 }));
  for (const seed of SEEDS) {
    const r = simulate(
      trace,
      [],
      { maxInstances: MAX_INSTANCES, seed, ...extra },
      variants.map((v) => (s) => aiBurstPolicy(s, { expectedBootSeconds: v.prior }, { learnedBoot: v.learnedBoot })),
    );
    r.runs.forEach((run, i) => {
      const d = r.details[i];
      sums[i].cost += run.costUsd;
      sums[i].p95 += run.p95WaitS ?? 0;
      sums[i].lost += run.jobsLost;
      sums[i].launches += d.launches;
      sums[i].boot += run.bootGpuSeconds;
      sums[i].idle += run.idleGpuSeconds;
      sums[i].used += d.policyStats.bootSecondsLast;
    });
  }
  return sums;
}

function bootRow(cells: string[], v: BootVariant, x: BootSums): string {
  const k = SEEDS.length;
  return (
    `| ${cells.join(' | ')} | ${v.label} | ${(x.cost / k).toFixed(2)} | ${(x.p95 / k).toFixed(0)} | ${x.lost} | ` +
    `${(x.launches / k).toFixed(1)} | ${(x.boot / k).toFixed(0)} | ${(x.idle / k).toFixed(0)} | ${(x.used / k).toFixed(0)} |`
  );
}

/**
 * Two pairs of jobs a day for five days (a job, and a follow-up 6 to 16 minutes after it): at most 4 boots in
 * any 24 h, so the learned boot time never replaces the prior — the case where the prior alone decides.
 */
function sparsePairs(): StandardTrace['trace'] {
  const jobs: StandardTrace['trace'] = [];
  for (let i = 0; i < 10; i++) {
    const t = i * 12 * 3600 + 600;
    jobs.push({ arrivalS: t, gpuSeconds: 120, priority: 'normal', agent: 'sparse-agent' });
    jobs.push({ arrivalS: t + 360 + (i % 6) * 120, gpuSeconds: 120, priority: 'normal', agent: 'sparse-agent' });
  }
  return jobs;
}

/**
 * What the boot time costs: ai-burst on every standard trace with boot medians of 90 / 180 / 360 s, with the
 * static prior (180 s), the learned boot time from that prior, the learned one from a 360-s prior (what the
 * prior still decides), and a static boot time at the true median (what a median rule instead of the p90 would
 * give). Then the prior alone, on a fleet that boots fewer than 5 times a day. Means over SEEDS.
 */
function bootSection(traces: StandardTrace[]): string[] {
  const header = [
    '| trace | boot median / p95 s | boot time | cost USD | p95 wait s | lost | launches | boot GPU-s | idle GPU-s | boot s used at the end |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const out = [
    `### Boot time: learned vs static (ai-burst, means over seeds ${SEEDS.join(', ')})`,
    '',
    `Boot lognormal with median 90 / 180 / 360 s and p95 = ${BOOT_P95_PER_MEDIAN.toFixed(2)} × median (the main table's 180 / 480 shape). ` +
      '"static": the configured `expectedBootTime` throughout; "learned": the CapacityManager\'s rule (the prior until 5 boots ' +
      'in the last 24 h are readable, then their p90, read every 5 min). The boot time is the default idle window, its only use. ' +
      '"static at the true median" is what a median rule would learn. Lost jobs are summed over the seeds.',
    '',
    ...header,
  ];
  for (const t of traces) {
    for (const median of BOOT_MEDIANS) {
      const p95 = Math.round(median * BOOT_P95_PER_MEDIAN);
      const variants: BootVariant[] = [
        { label: `static ${BOOT_PRIOR_S} s`, prior: BOOT_PRIOR_S, learnedBoot: false },
        { label: `learned, prior ${BOOT_PRIOR_S} s`, prior: BOOT_PRIOR_S, learnedBoot: true },
        { label: 'learned, prior 360 s', prior: 360, learnedBoot: true },
        ...(median !== BOOT_PRIOR_S ? [{ label: `static at the true median (${median} s)`, prior: median, learnedBoot: false }] : []),
      ];
      const sums = bootRuns(t.trace, { bootMedianS: median, bootP95S: p95, ...(t.stress ? STRESS_SETTINGS : {}) }, variants);
      variants.forEach((v, i) => out.push(bootRow([t.name, `${median} / ${p95}`], v, sums[i])));
    }
  }
  const sparse = sparsePairs();
  out.push(
    '',
    `### The prior alone: a fleet that boots fewer than 5 times a day (ai-burst, means over seeds ${SEEDS.join(', ')})`,
    '',
    `${sparse.length} jobs of 120 s over five days: every 12 h a job and a follow-up 6 to 16 min later, so never 5 boots in 24 h ` +
      'and the prior is the boot time throughout (learning on, as deployed).',
    '',
    ...header,
  );
  const priors: BootVariant[] = [180, 360].map((prior) => ({ label: `prior ${prior} s`, prior, learnedBoot: true }));
  for (const median of [...BOOT_MEDIANS, 540]) {
    const p95 = Math.round(median * BOOT_P95_PER_MEDIAN);
    const sums = bootRuns(sparse, { bootMedianS: median, bootP95S: p95 }, priors);
    priors.forEach((v, i) => out.push(bootRow(['sparse pairs', `${median} / ${p95}`], v, sums[i])));
  }
  return out;
}
