/**
 * One SVG chart per policy run: queue backlog, instances (and busy ones), and cumulative cost over time,
 * as three panels sharing the time axis. Plain SVG text, no dependencies.
 */
import { EngineResult, Sample } from '../engine';

const W = 900;
const PANEL_H = 120;
const GAP = 34;
const LEFT = 70;
const RIGHT = 20;
const TOP = 40;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmtNum(v: number): string {
  return Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1);
}

function downsample(samples: readonly Sample[], max: number): Sample[] {
  if (samples.length <= max) return [...samples];
  const step = samples.length / max;
  const out: Sample[] = [];
  for (let i = 0; i < max; i++) out.push(samples[Math.floor(i * step)]);
  out.push(samples[samples.length - 1]);
  return out;
}

export function chartSvg(run: EngineResult, title: string): string {
  const samples = downsample(run.timeline, 800);
  const tEnd = Math.max(1, run.endS, ...samples.map((s) => s.t));
  const hours = tEnd >= 3 * 3600;
  const unit = hours ? 3600 : 60;
  const plotW = W - LEFT - RIGHT;
  const x = (t: number): number => LEFT + (t / tEnd) * plotW;
  const panels: { label: string; series: { pick: (s: Sample) => number; color: string; name: string }[] }[] = [
    { label: 'queue backlog (jobs)', series: [{ pick: (s) => s.backlog, color: '#1f77b4', name: 'backlog' }] },
    {
      label: 'instances',
      series: [
        { pick: (s) => s.instances, color: '#2ca02c', name: 'running' },
        { pick: (s) => s.busy, color: '#ff7f0e', name: 'busy' },
      ],
    },
    { label: 'cumulative cost (USD)', series: [{ pick: (s) => s.costUsd, color: '#d62728', name: 'cost' }] },
  ];
  const H = TOP + panels.length * (PANEL_H + GAP) + 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${LEFT}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const top = TOP + i * (PANEL_H + GAP);
    const vmax = niceMax(Math.max(...samples.flatMap((s) => panel.series.map((se) => se.pick(s)))));
    const y = (v: number): number => top + PANEL_H - (v / vmax) * PANEL_H;
    parts.push(`<text x="${LEFT}" y="${top - 6}" font-weight="bold">${esc(panel.label)}</text>`);
    parts.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" stroke="#999"/>`);
    for (const frac of [0, 0.5, 1]) {
      const v = vmax * frac;
      parts.push(`<text x="${LEFT - 6}" y="${y(v) + 4}" text-anchor="end">${fmtNum(v)}</text>`);
      if (frac > 0 && frac < 1) parts.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    }
    panel.series.forEach((se, j) => {
      // Step lines: each value holds until the next sample.
      let d = '';
      samples.forEach((s, k) => {
        const px = x(s.t).toFixed(1);
        const py = y(se.pick(s)).toFixed(1);
        d += k === 0 ? `M${px},${py}` : `H${px}V${py}`;
      });
      d += `H${x(tEnd).toFixed(1)}`;
      parts.push(`<path d="${d}" fill="none" stroke="${se.color}" stroke-width="1.5"/>`);
      if (panel.series.length > 1) {
        parts.push(`<text x="${LEFT + plotW - 90 + j * 50}" y="${top - 6}" fill="${se.color}">${esc(se.name)}</text>`);
      }
    });
  });
  const axisY = TOP + panels.length * (PANEL_H + GAP) - GAP + 14;
  for (let k = 0; k <= 6; k++) {
    const t = (tEnd * k) / 6;
    parts.push(`<text x="${x(t)}" y="${axisY}" text-anchor="middle">${fmtNum(t / unit)}${hours ? ' h' : ' min'}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
