/**
 * Markdown for a simulation: the runs table, the bounds, the settings and ai-burst's goals.
 */
import { checkGoals } from '../goals';
import { SimulationResult } from '../simulate';

const n = (x: number | null, d = 0): string => (x === null ? 'n/a' : x.toFixed(d));

/** The runs as a Markdown table (cost, ratio to static, waits, jobs, waste). */
export function runsTable(r: SimulationResult): string {
  const rows = [
    '| policy | cost USD | vs static | p50 wait s | p95 wait s | max wait s | done | unfinished | lost | dup | interruptions | waste GPU-s | instance-h |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const x of r.runs) {
    rows.push(
      `| ${x.policy} | ${x.costUsd.toFixed(2)} | ${x.costVsStaticOnDemand.toFixed(3)} | ${n(x.p50WaitS)} | ${n(x.p95WaitS)} | ${n(x.maxWaitS)} | ` +
        `${x.jobsCompleted} | ${x.jobsUnfinished} | ${x.jobsLost} | ${x.duplicateCompletions} | ${x.interruptions} | ${x.wastedGpuSeconds.toFixed(0)} | ${x.instanceHours.toFixed(2)} |`,
    );
  }
  return rows.join('\n');
}

export function settingsLine(r: SimulationResult): string {
  const o = r.options;
  return (
    `${r.setup.trace.length} jobs, ${o.instanceType} in ${o.region}, max ${o.maxInstances} instances, boot median ${o.bootMedianS} s / p95 ${o.bootP95S} s, ` +
    `${o.interruptionsPerHour} interruptions per instance-hour (${(o.missedNoticeShare * 100).toFixed(0)} % notices missed), ` +
    `wait SLO ${o.waitSloS} s, seed ${o.seed}, prices of ${r.snapshotDate}`
  );
}

export function summaryMarkdown(r: SimulationResult, title: string, charts: Readonly<Record<string, string>> = {}): string {
  const lines = [
    `# ${title}`,
    '',
    settingsLine(r),
    '',
    runsTable(r),
    '',
    `Bounds: cost floor $${r.bounds.costFloorUsd.toFixed(2)} (busy GPU-seconds at the cheapest spot price), ` +
      `p95 wait floor ${r.bounds.p95WaitFloorS.toFixed(1)} s (max-instances always warm, no boot).`,
    '',
  ];
  const goals = checkGoals(r, r.options.interruptionsPerHour >= 0.3);
  if (goals.length > 0) {
    lines.push('## ai-burst goals', '', '| goal | met | numbers |', '|---|---|---|');
    for (const g of goals) lines.push(`| ${g.goal} | ${g.met ? 'met' : '**not met**'} | ${g.detail} |`);
    lines.push('');
  }
  const names = Object.keys(charts);
  if (names.length > 0) {
    lines.push('## Charts', '');
    for (const p of names) lines.push(`### ${p}`, '', `![${p}](${charts[p]})`, '');
  }
  return lines.join('\n');
}
