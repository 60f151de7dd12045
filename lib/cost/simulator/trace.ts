/**
 * Demand traces: one job per row, `arrival_s,gpu_seconds,priority,agent`.
 * `gpu_seconds` is the time one instance of the simulated type works on the job.
 */
import { AGENT_NAME_PATTERN, PRIORITY_NAME_PATTERN } from '../../contracts';
import { InputError } from '../errors';

export const TRACE_HEADER = 'arrival_s,gpu_seconds,priority,agent';

export interface TraceJob {
  /** Seconds from the start of the trace when the job is submitted. */
  readonly arrivalS: number;
  /** Seconds of work on one instance. */
  readonly gpuSeconds: number;
  readonly priority: string;
  readonly agent: string;
}

/** Jobs sorted by arrival (ties keep file order). */
export type Trace = readonly TraceJob[];

/** Well-known priority names, highest first; other names rank after them, alphabetically. */
const KNOWN_PRIORITIES = ['critical', 'high', 'normal', 'low', 'batch'];

/** Sort key of a priority name: lower is served first. */
export function priorityRank(priority: string): number {
  const i = KNOWN_PRIORITIES.indexOf(priority);
  return i >= 0 ? i : KNOWN_PRIORITIES.length;
}

/** Priorities of a trace, highest first. */
export function tracePriorities(trace: Trace): string[] {
  return [...new Set(trace.map((j) => j.priority))].sort((a, b) => priorityRank(a) - priorityRank(b) || a.localeCompare(b));
}

/**
 * Parses a trace CSV. Throws an InputError naming the file and line on a bad header, a missing or
 * non-numeric or negative value, a bad priority or agent name, or an empty trace.
 */
export function parseTraceCsv(text: string, fileName = 'trace'): TraceJob[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((c) => c.trim()).join(',');
  if (header !== TRACE_HEADER) {
    throw new InputError(`${fileName} line 1: expected header ${TRACE_HEADER}, got ${JSON.stringify(lines[0] ?? '')}`);
  }
  const jobs: TraceJob[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${fileName} line ${i + 1}`;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== 4) throw new InputError(`${where}: expected 4 columns (${TRACE_HEADER}), got ${cells.length}`);
    const [arrival, gpu, priority, agent] = cells;
    const arrivalS = Number(arrival);
    if (arrival === '' || !Number.isFinite(arrivalS) || arrivalS < 0) {
      throw new InputError(`${where}: arrival_s must be a number ≥ 0, got ${JSON.stringify(arrival)}`);
    }
    const gpuSeconds = Number(gpu);
    if (gpu === '' || !Number.isFinite(gpuSeconds) || gpuSeconds <= 0) {
      throw new InputError(`${where}: gpu_seconds must be a number > 0, got ${JSON.stringify(gpu)}`);
    }
    if (!PRIORITY_NAME_PATTERN.test(priority)) {
      throw new InputError(`${where}: priority must match ${PRIORITY_NAME_PATTERN}, got ${JSON.stringify(priority)}`);
    }
    if (!AGENT_NAME_PATTERN.test(agent)) {
      throw new InputError(`${where}: agent must match ${AGENT_NAME_PATTERN}, got ${JSON.stringify(agent)}`);
    }
    jobs.push({ arrivalS, gpuSeconds, priority, agent });
  }
  if (jobs.length === 0) throw new InputError(`${fileName}: no jobs after the header`);
  return sortTrace(jobs);
}

/** A copy sorted by arrival, stable. */
export function sortTrace(jobs: readonly TraceJob[]): TraceJob[] {
  return jobs.map((j, i) => ({ j, i })).sort((a, b) => a.j.arrivalS - b.j.arrivalS || a.i - b.i).map((x) => x.j);
}

/** The trace as CSV text (header included). */
export function traceToCsv(trace: Trace): string {
  const rows = trace.map((j) => `${round3(j.arrivalS)},${round3(j.gpuSeconds)},${j.priority},${j.agent}`);
  return `${TRACE_HEADER}\n${rows.join('\n')}\n`;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
