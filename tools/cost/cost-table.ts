/**
 * The text `ai-burst cost` prints: what the benchmark comes to in GPU-hours, the options cheapest first
 * (types the model server cannot run marked ✗), the cheapest usable one, and every assumption.
 */
import { CostEstimate } from './cost-model';

function workLine(e: CostEstimate): string {
  const prices = `(prices: snapshot of ${e.snapshotDate})`;
  if (e.benchmark === 'documents') {
    return `GPU-hours: ${e.gpuHoursPerDay} per day, ${e.gpuHoursPerMonth} per ${e.daysPerMonth}-day month   ${prices}`;
  }
  // Tokens: each type needs its own GPU-hours for the same tokens, so no single total is true.
  const byType = Object.entries(e.gpuHoursPerDayByType)
    .map(([t, h]) => `${t} ${h}`)
    .join(', ');
  return `GPU-hours per day by instance type: ${byType} (× ${e.daysPerMonth} for the month)   ${prices}`;
}

export function costTable(e: CostEstimate, top: number): string {
  const lines = [
    workLine(e),
    '',
    `${'instance type'.padEnd(16)}${'region'.padEnd(16)}${'market'.padEnd(11)}` +
      `${'USD/h'.padStart(9)}${'inst-h/month'.padStart(14)}${'USD/month'.padStart(13)}`,
  ];
  const shown = e.options.slice(0, top);
  for (const o of shown) {
    lines.push(
      `${o.instanceType.padEnd(16)}${o.region.padEnd(16)}${o.market.padEnd(11)}${o.hourlyUsd.toFixed(4).padStart(9)}` +
        `${o.billedInstanceHoursPerMonth.toFixed(1).padStart(14)}${o.monthlyUsd.toFixed(2).padStart(13)}${o.modelServerSupported ? '' : '  ✗'}`,
    );
  }
  if (e.options.length > top) lines.push(`… ${e.options.length - top} more (--top N, or --json for all)`);
  const unusable = [...new Set(e.options.filter((o) => !o.modelServerSupported).map((o) => `${o.instanceType} (${o.gpuModel})`))];
  if (unusable.length > 0) {
    lines.push(`✗ vLLM cannot run on ${unusable.join(', ')}: never "Cheapest" (--model-server custom if your own server runs on it)`);
  }
  const c = e.cheapest;
  lines.push('', `Cheapest: ${c.instanceType} ${c.region} ${c.market} at $${c.monthlyUsd.toFixed(2)}/month`, '', 'Assumptions:');
  for (const a of e.assumptions) lines.push(`  - ${a}`);
  return `${lines.join('\n')}\n`;
}
