/**
 * The standard trace set of the benchmark, built from the seed's shapes and generated deterministically
 * from a seed (no large CSVs in the repository; `ai-burst traces --out DIR` writes them):
 * - `agent-bursts`: 32 jobs × 90 s at once, an hour of nothing, then 8 jobs × 5 min;
 * - `doc-batches`: document batches of 100, 1,000 and 10,000 (per-document GPU time lognormal, median 20 s);
 * - `business-hours`: a day of Poisson arrivals peaking 09:00–17:00 (≈60 jobs/h) with a quiet night;
 * - `steady-trickle`: a day of one job about every 10 minutes;
 * - `stress`: business hours plus a 1,000-document batch at noon, meant to run at 0.3 interruptions per
 *   instance-hour with 5 % missed notices. Those settings travel with it: `traces --out` writes them as the
 *   CSV's `# ai-burst simulate …` line, which `simulate --trace` reads (trace.ts).
 */
import { lognormalFromMedianP95, mulberry32, hashSeed } from './rng';
import { sortTrace, TraceJob, TraceSettings } from './trace';

export interface StandardTrace {
  readonly name: string;
  readonly description: string;
  readonly trace: TraceJob[];
  /** Run it with the stress settings (0.3 interruptions per instance-hour, 5 % missed notices). */
  readonly stress: boolean;
  /** The settings it is meant to run at, written into its CSV (empty: the simulator's defaults). */
  readonly settings: TraceSettings;
}

export const STRESS_SETTINGS = { interruptionsPerHour: 0.3, missedNoticeShare: 0.05 } as const;

function uniforms(seed: number, name: string): () => number {
  const next = mulberry32(hashSeed(seed, 'trace', name));
  return () => {
    let u = next();
    while (u === 0) u = next();
    return u;
  };
}

export function agentBursts(): TraceJob[] {
  const jobs: TraceJob[] = [];
  for (let i = 0; i < 32; i++) jobs.push({ arrivalS: 0, gpuSeconds: 90, priority: 'high', agent: 'research-agent' });
  for (let i = 0; i < 8; i++) jobs.push({ arrivalS: 90 + 3600, gpuSeconds: 300, priority: 'normal', agent: 'report-agent' });
  return jobs;
}

export function docBatches(
  seed: number,
  batches: readonly [number, number][] = [
    [0, 100],
    [3 * 3600, 1000],
    [8 * 3600, 10000],
  ],
): TraceJob[] {
  const u = uniforms(seed, 'doc-batches');
  const jobs: TraceJob[] = [];
  for (const [at, count] of batches) {
    for (let i = 0; i < count; i++) {
      // A batch is submitted over a minute by the uploader, not in one instant.
      jobs.push({ arrivalS: at + 60 * u(), gpuSeconds: lognormalFromMedianP95(u(), 20, 60), priority: 'normal', agent: 'doc-pipeline' });
    }
  }
  return sortTrace(jobs);
}

/** Jobs per hour at time-of-day `h` (0–24): ≈60 from 09:00 to 17:00, ≈2 at night, smooth ramps. */
function diurnalRate(h: number): number {
  const ramp = (x: number): number => 1 / (1 + Math.exp(-x));
  return 2 + 58 * ramp((h - 8.5) * 3) * ramp((17.5 - h) * 3);
}

export function businessHours(seed: number, name = 'business-hours', days = 1): TraceJob[] {
  const u = uniforms(seed, name);
  const jobs: TraceJob[] = [];
  const maxRate = 60 / 3600;
  // Thinning: candidate arrivals at the peak rate, kept with probability rate(t) / peak.
  for (let t = -Math.log(u()) / maxRate; t < days * 86400; t += -Math.log(u()) / maxRate) {
    const keep = u() < diurnalRate((t % 86400) / 3600) / 3600 / maxRate;
    const gpu = lognormalFromMedianP95(u(), 120, 600);
    const high = u() < 0.2;
    if (keep) jobs.push({ arrivalS: t, gpuSeconds: gpu, priority: high ? 'high' : 'normal', agent: high ? 'chat-agent' : 'batch-agent' });
  }
  return jobs;
}

export function steadyTrickle(seed: number): TraceJob[] {
  const u = uniforms(seed, 'steady-trickle');
  const jobs: TraceJob[] = [];
  for (let t = -Math.log(u()) * 600; t < 86400; t += -Math.log(u()) * 600) {
    jobs.push({ arrivalS: t, gpuSeconds: 120, priority: 'normal', agent: 'trickle-agent' });
  }
  return jobs;
}

export function stressTrace(seed: number): TraceJob[] {
  return sortTrace([...businessHours(seed, 'stress'), ...docBatches(seed + 1, [[12 * 3600, 1000]])]);
}

function entry(name: string, description: string, trace: TraceJob[], settings: TraceSettings = {}): StandardTrace {
  return { name, description, trace, stress: settings === STRESS_SETTINGS, settings };
}

export function standardTraces(seed = 42): StandardTrace[] {
  return [
    entry('agent-bursts', '32 × 90 s at once, 1 h quiet, 8 × 5 min', agentBursts()),
    entry('doc-batches', 'batches of 100, 1,000, 10,000 documents (median 20 s each)', docBatches(seed)),
    entry('business-hours', 'a day, ≈60 jobs/h 09–17, ≈2 jobs/h at night, median 120 s', businessHours(seed)),
    entry('steady-trickle', 'a day, one 120 s job every ~10 min', steadyTrickle(seed)),
    entry('stress', 'business hours + 1,000 documents at noon; 0.3 interruptions/instance-h, 5 % notices missed', stressTrace(seed), STRESS_SETTINGS),
  ];
}
