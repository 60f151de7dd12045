/**
 * One SVG chart per policy run: queue backlog, instances (and busy ones), and cumulative cost over time,
 * as three panels sharing the time axis. Plain SVG text, no dependencies.
 *
 * Charts of one simulation share one time axis (`sharedTimeAxis`), so policies line up when compared side by
 * side; ticks fall on round values (1-2-5 steps; whole hours, minutes or seconds) and every axis has a title.
 */
import { EngineResult, Sample } from '../engine';

const W = 900;
const PANEL_H = 120;
const GAP = 40;
const LEFT = 84;
const RIGHT = 20;
const TOP = 52;
const BOTTOM = 48;

/** The time span every chart of a simulation draws. */
export interface TimeAxis {
  /** Seconds from the trace start to the right edge. */
  readonly endS: number;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function runEnd(run: EngineResult): number {
  return Math.max(run.endS, ...run.timeline.map((s) => s.t));
}

/** One time axis for all runs: from the trace start to the end of the longest run. */
export function sharedTimeAxis(runs: readonly EngineResult[]): TimeAxis {
  return { endS: Math.max(1, ...runs.map(runEnd)) };
}

const MAX_TIME_TICKS = 8;
const STEPS: Readonly<Record<'h' | 'min' | 's', readonly number[]>> = {
  h: [1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 168, 336, 720],
  min: [1, 2, 5, 10, 15, 20, 30, 60],
  s: [1, 2, 5, 10, 15, 20, 30, 60],
};

/** Round time ticks from 0 to at most `endS`, in hours (≥ 3 h), minutes (≥ 3 min) or seconds. */
export function timeTicks(endS: number): { unit: 'h' | 'min' | 's'; unitS: number; values: number[] } {
  const unit = endS >= 3 * 3600 ? 'h' : endS >= 180 ? 'min' : 's';
  const unitS = { h: 3600, min: 60, s: 1 }[unit];
  const end = endS / unitS;
  const step = STEPS[unit].find((s) => Math.floor(end / s + 1e-9) + 1 <= MAX_TIME_TICKS) ?? Math.ceil(end / (MAX_TIME_TICKS - 1));
  const values: number[] = [];
  for (let v = 0; v <= end + 1e-9; v += step) values.push(v);
  return { unit, unitS, values };
}

/** Round value ticks from 0 covering `max`: a 1-2-5 step, at most 5 intervals. */
export function valueTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw - 1e-12)!;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, k) => Number((k * step).toPrecision(12)));
}

function downsample(samples: readonly Sample[], max: number): Sample[] {
  if (samples.length <= max) return [...samples];
  const step = samples.length / max;
  const out: Sample[] = [];
  for (let i = 0; i < max; i++) out.push(samples[Math.floor(i * step)]);
  out.push(samples[samples.length - 1]);
  return out;
}

interface Panel {
  readonly label: string;
  readonly axisTitle: string;
  readonly series: readonly { pick: (s: Sample) => number; color: string; name: string }[];
}

const PANELS: readonly Panel[] = [
  { label: 'queue backlog', axisTitle: 'jobs', series: [{ pick: (s) => s.backlog, color: '#1f77b4', name: 'backlog' }] },
  {
    label: 'instances',
    axisTitle: 'instances',
    series: [
      { pick: (s) => s.instances, color: '#2ca02c', name: 'running' },
      { pick: (s) => s.busy, color: '#ff7f0e', name: 'busy' },
    ],
  },
  { label: 'cumulative cost', axisTitle: 'USD', series: [{ pick: (s) => s.costUsd, color: '#d62728', name: 'cost' }] },
];

/** The chart of one run; pass the simulation's `sharedTimeAxis` so all its charts line up. */
export function chartSvg(run: EngineResult, title: string, axis: TimeAxis = sharedTimeAxis([run])): string {
  const samples = downsample(run.timeline, 800);
  const tEnd = Math.max(axis.endS, 1);
  const plotW = W - LEFT - RIGHT;
  const x = (t: number): number => LEFT + (Math.min(t, tEnd) / tEnd) * plotW;
  const H = TOP + PANELS.length * PANEL_H + (PANELS.length - 1) * GAP + BOTTOM;
  const ticks = timeTicks(tEnd);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  PANELS.forEach((panel, i) => {
    const top = TOP + i * (PANEL_H + GAP);
    const yTicks = valueTicks(Math.max(0, ...samples.flatMap((s) => panel.series.map((se) => se.pick(s)))));
    const vmax = yTicks[yTicks.length - 1];
    const y = (v: number): number => top + PANEL_H - (v / vmax) * PANEL_H;
    const decimals = Math.max(0, ...yTicks.map((v) => (String(v).split('.')[1] ?? '').length));
    parts.push(`<text x="${LEFT}" y="${top - 8}" font-weight="bold">${esc(panel.label)}</text>`);
    for (const v of yTicks) {
      parts.push(`<text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" class="y-tick" text-anchor="end">${v.toFixed(decimals)}</text>`);
      if (v > 0 && v < vmax) parts.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`);
    }
    for (const t of ticks.values.slice(1)) {
      const px = x(t * ticks.unitS).toFixed(1);
      parts.push(`<line x1="${px}" x2="${px}" y1="${top}" y2="${top + PANEL_H}" stroke="#f2f2f2"/>`);
    }
    parts.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" stroke="#999"/>`);
    const titleX = 18;
    const titleY = top + PANEL_H / 2;
    parts.push(
      `<text x="${titleX}" y="${titleY}" class="axis-title" text-anchor="middle" transform="rotate(-90 ${titleX} ${titleY})">${esc(panel.axisTitle)}</text>`,
    );
    panel.series.forEach((se, j) => {
      // Step lines: each value holds until the next sample.
      let d = '';
      samples.forEach((s, k) => {
        const px = x(s.t).toFixed(1);
        const py = y(se.pick(s)).toFixed(1);
        d += k === 0 ? `M${px},${py}` : `H${px}V${py}`;
      });
      d += `H${x(runEnd(run)).toFixed(1)}`;
      parts.push(`<path d="${d}" fill="none" stroke="${se.color}" stroke-width="1.5"/>`);
      if (panel.series.length > 1) {
        parts.push(`<text x="${LEFT + plotW - 110 + j * 60}" y="${top - 8}" fill="${se.color}">${esc(se.name)}</text>`);
      }
    });
  });
  const bottom = TOP + PANELS.length * PANEL_H + (PANELS.length - 1) * GAP;
  for (const t of ticks.values) {
    const px = x(t * ticks.unitS).toFixed(1);
    parts.push(`<line x1="${px}" x2="${px}" y1="${bottom}" y2="${bottom + 4}" stroke="#999"/>`);
    parts.push(`<text x="${px}" y="${bottom + 16}" class="x-tick" text-anchor="middle">${t}</text>`);
  }
  parts.push(
    `<text x="${LEFT + plotW / 2}" y="${bottom + 36}" class="axis-title" text-anchor="middle">time from the trace start (${ticks.unit})</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
