/**
 * Demand traces: one job per row, `arrival_s,gpu_seconds,priority,agent`.
 * `gpu_seconds` is the time one instance of the simulated type works on the job.
 *
 * Lines starting with `#` are comments, before or after the header. One comment may carry the settings the
 * trace was made for, written as the flags `ai-burst simulate` takes, so they travel with the file:
 *   # ai-burst simulate --interruptions-per-hour 0.3 --missed-notice-share 0.05
 * Only the settings that describe the environment a trace stands for are allowed there; a flag on the
 * command line overrides them.
 */
import { AGENT_NAME_PATTERN, PRIORITY_NAME_PATTERN } from '../../../lib/contracts';
import { parseFlags } from '../cli-args';
import { InputError, parseDecimal, requireNumber } from '../errors';

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

/** Settings a trace file carries (its `# ai-burst simulate …` line). */
export interface TraceSettings {
  /** Spot interruptions per instance-hour the trace is meant to run at. */
  readonly interruptionsPerHour?: number;
  /** Share of spot notices nobody sees (0–1). */
  readonly missedNoticeShare?: number;
}

/** The comment that carries a trace's settings. */
export const TRACE_SETTINGS_PREFIX = '# ai-burst simulate';

const SETTINGS_FLAGS = { 'interruptions-per-hour': 'string', 'missed-notice-share': 'string' } as const;

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

/** The jobs of a trace CSV (see parseTraceFile; settings are validated, then dropped). */
export function parseTraceCsv(text: string, fileName = 'trace'): TraceJob[] {
  return parseTraceFile(text, fileName).jobs;
}

/**
 * Parses a trace CSV and its settings line. Throws an InputError naming the file and line on a bad header,
 * a missing, non-decimal or negative value, a bad priority or agent name, a bad settings line, or an
 * empty trace.
 */
export function parseTraceFile(text: string, fileName = 'trace'): { jobs: TraceJob[]; settings: TraceSettings } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let settings: TraceSettings = {};
  let headerAt = 0;
  const readComment = (line: string, i: number): void => {
    if (line !== TRACE_SETTINGS_PREFIX && !line.startsWith(`${TRACE_SETTINGS_PREFIX} `)) return;
    settings = parseSettings(line.slice(TRACE_SETTINGS_PREFIX.length), `${fileName} line ${i + 1}`);
  };
  while (headerAt < lines.length - 1 && (lines[headerAt].trim() === '' || lines[headerAt].trim().startsWith('#'))) {
    readComment(lines[headerAt].trim(), headerAt);
    headerAt++;
  }
  const header = (lines[headerAt] ?? '')
    .split(',')
    .map((c) => c.trim())
    .join(',');
  if (header !== TRACE_HEADER) {
    throw new InputError(`${fileName} line ${headerAt + 1}: expected header ${TRACE_HEADER}, got ${JSON.stringify(lines[headerAt] ?? '')}`);
  }
  const jobs: TraceJob[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.startsWith('#')) readComment(line, i);
    if (line === '' || line.startsWith('#')) continue;
    const where = `${fileName} line ${i + 1}`;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== 4) throw new InputError(`${where}: expected 4 columns (${TRACE_HEADER}), got ${cells.length}`);
    const [arrival, gpu, priority, agent] = cells;
    const arrivalS = parseDecimal(arrival) ?? NaN;
    if (!Number.isFinite(arrivalS) || arrivalS < 0) {
      throw new InputError(`${where}: arrival_s must be a number ≥ 0, got ${JSON.stringify(arrival)}`);
    }
    const gpuSeconds = parseDecimal(gpu) ?? NaN;
    if (!Number.isFinite(gpuSeconds) || gpuSeconds <= 0) {
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
  return { jobs: sortTrace(jobs), settings };
}

function parseSettings(flags: string, where: string): TraceSettings {
  try {
    const v = parseFlags(
      flags.split(/\s+/).filter((t) => t !== ''),
      SETTINGS_FLAGS,
    );
    if (v.help) throw new InputError('unknown flag --help');
    const rate = v['interruptions-per-hour'];
    const missed = v['missed-notice-share'];
    const missedNoticeShare = missed === undefined ? undefined : requireNumber(missed, '--missed-notice-share', 0);
    if (missedNoticeShare !== undefined && missedNoticeShare > 1) {
      throw new InputError(`--missed-notice-share: expected a share from 0 to 1, got ${missedNoticeShare}`);
    }
    return {
      ...(rate === undefined ? {} : { interruptionsPerHour: requireNumber(rate, '--interruptions-per-hour', 0) }),
      ...(missedNoticeShare === undefined ? {} : { missedNoticeShare }),
    };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    const known = Object.keys(SETTINGS_FLAGS)
      .map((f) => `--${f}`)
      .join(', ');
    const message = err.message.replace(/see --help\)$/, `a trace may set only ${known})`);
    throw new InputError(`${where}: ${message}`);
  }
}

/** The settings as the comment line parseTraceFile reads, or `undefined` when there are none. */
export function traceSettingsLine(settings: TraceSettings): string | undefined {
  const flags: string[] = [];
  if (settings.interruptionsPerHour !== undefined) flags.push(`--interruptions-per-hour ${settings.interruptionsPerHour}`);
  if (settings.missedNoticeShare !== undefined) flags.push(`--missed-notice-share ${settings.missedNoticeShare}`);
  return flags.length ? `${TRACE_SETTINGS_PREFIX} ${flags.join(' ')}` : undefined;
}

/** A copy sorted by arrival, stable. */
export function sortTrace(jobs: readonly TraceJob[]): TraceJob[] {
  return jobs
    .map((j, i) => ({ j, i }))
    .sort((a, b) => a.j.arrivalS - b.j.arrivalS || a.i - b.i)
    .map((x) => x.j);
}

/** The trace as CSV text: an optional `# description` line, the settings line (if any), the header, the rows. */
export function traceToCsv(trace: Trace, settings: TraceSettings = {}, description?: string): string {
  const rows = trace.map((j) => `${round3(j.arrivalS)},${round3(j.gpuSeconds)},${j.priority},${j.agent}`);
  const head = [description === undefined ? undefined : `# ${description.replace(/\s*\n\s*/g, ' ')}`, traceSettingsLine(settings), TRACE_HEADER];
  return `${head.filter((l) => l !== undefined).join('\n')}\n${rows.join('\n')}\n`;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
