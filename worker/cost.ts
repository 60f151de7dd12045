/**
 * GPU accounting. A job slot holds `gpus / concurrency` of the instance's GPUs, so a job's GPU-seconds are
 * its wall time × that share, and its cost is GPU-seconds × the instance's hourly price per GPU / 3600
 * (on a one-GPU instance: GPU-seconds × hourly price / 3600). Boot and idle time are counted the same way,
 * so useful + interrupted + boot + idle GPU-seconds add up to the instance's GPU time.
 */
import { instancePrice } from '../lib/cost/pricing';

export interface GpuEconomics {
  readonly gpus: number;
  readonly concurrency: number;
  readonly gpusPerSlot: number;
  /** USD per instance-hour from the config, undefined when the type is not priced there. */
  readonly hourlyPriceUsd?: number;
}

/** GPUs of an instance type from the pricing snapshot (any region); 1 when the type is unknown. */
export function gpusOf(instanceType: string, region: string): number {
  return (instancePrice(instanceType, region) ?? instancePrice(instanceType, 'us-east-1'))?.gpus ?? 1;
}

export function economics(instanceType: string, region: string, configuredConcurrency: number, prices: Readonly<Record<string, number>>): GpuEconomics {
  const gpus = gpusOf(instanceType, region);
  const concurrency = configuredConcurrency > 0 ? configuredConcurrency : gpus;
  return { gpus, concurrency, gpusPerSlot: gpus / concurrency, hourlyPriceUsd: prices[instanceType] };
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
