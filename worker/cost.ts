/**
 * GPU accounting. A job slot holds `gpus / concurrency` of the instance's GPUs, so a job's GPU-seconds are
 * its wall time × that share, and its cost is GPU-seconds × the instance's hourly price per GPU / 3600
 * (on a one-GPU instance: GPU-seconds × hourly price / 3600). Boot and idle time are counted the same way,
 * so useful + interrupted + boot + idle GPU-seconds add up to the instance's GPU time.
 */
import { instancePrice } from '../lib/cost/pricing';

export interface GpuEconomics {
  readonly gpus: number;
  /** Job slots of this instance: the configured concurrency × the instance type's weight (or one per GPU). */
  readonly concurrency: number;
  /** The instance type's weight in a weighted fleet (its capacity units); 1 when unweighted. */
  readonly weight: number;
  readonly gpusPerSlot: number;
  /** USD per instance-hour from the config, undefined when the type is not priced there. */
  readonly hourlyPriceUsd?: number;
}

/** GPUs of an instance type from the pricing snapshot (any region); 1 when the type is unknown. */
export function gpusOf(instanceType: string, region: string): number {
  return (instancePrice(instanceType, region) ?? instancePrice(instanceType, 'us-east-1'))?.gpus ?? 1;
}

/** The weight of an instance type in the fleet's weight map; 1 when the fleet is unweighted or the type is not in it. */
export function weightOf(instanceType: string, weights: Readonly<Record<string, number>> | undefined): number {
  const w = weights?.[instanceType];
  return w !== undefined && Number.isInteger(w) && w >= 1 ? w : 1;
}

/**
 * The instance's slots and GPU shares. In a weighted fleet the configured concurrency is per weight unit
 * (what the scaling policy counts), so an instance of weight w runs `concurrency × w` jobs; concurrency 0
 * (one slot per GPU) already scales with the instance and is not multiplied.
 */
export function economics(
  instanceType: string,
  region: string,
  configuredConcurrency: number,
  prices: Readonly<Record<string, number>>,
  weights?: Readonly<Record<string, number>>,
): GpuEconomics {
  const gpus = gpusOf(instanceType, region);
  const weight = weightOf(instanceType, weights);
  const concurrency = configuredConcurrency > 0 ? configuredConcurrency * weight : gpus;
  return { gpus, concurrency, weight, gpusPerSlot: gpus / concurrency, hourlyPriceUsd: prices[instanceType] };
}

/** Most job slots any instance of the fleet runs (sizes the SDK socket pools before the instance type is known). */
export function maxSlots(config: { readonly concurrency: number; readonly instanceWeights?: Readonly<Record<string, number>> }): number {
  const heaviest = Math.max(1, ...Object.values(config.instanceWeights ?? {}).filter((w) => Number.isInteger(w) && w >= 1));
  return config.concurrency * heaviest;
}

export function gpuSecondsOf(wallSeconds: number, e: GpuEconomics): number {
  return round(wallSeconds * e.gpusPerSlot, 3);
}

export function costUsdOf(gpuSeconds: number, e: GpuEconomics): number | undefined {
  if (e.hourlyPriceUsd === undefined) return undefined;
  return round((gpuSeconds * e.hourlyPriceUsd) / e.gpus / 3600, 8);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
