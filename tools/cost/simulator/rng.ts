/**
 * Deterministic random numbers for the simulator.
 *
 * Common random numbers: every draw a policy can influence the count of (boot times, interruption times,
 * missed notices) comes from a named stream indexed by the k-th launch, so the k-th instance any policy
 * launches boots as long and is reclaimed as soon as the k-th instance of every other policy.
 */

/** FNV-1a over the parts' text: a 32-bit seed for a stream. */
export function hashSeed(...parts: readonly (string | number)[]): number {
  let h = 0x811c9dc5;
  const text = parts.join('\u0000');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small, fast 32-bit generator; returns uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A named stream of uniforms in (0, 1) with random access by index (drawn in order, cached). */
export class RandomStream {
  private readonly next: () => number;
  private readonly values: number[] = [];

  constructor(seed: number, name: string) {
    this.next = mulberry32(hashSeed(seed, name));
  }

  /** The k-th uniform of the stream, strictly inside (0, 1). */
  at(k: number): number {
    while (this.values.length <= k) {
      let u = this.next();
      while (u === 0) u = this.next();
      this.values.push(u);
    }
    return this.values[k];
  }
}

/** One uniform in (0, 1) keyed by its parts, for draws that are not indexed by a launch. */
export function keyedUniform(...parts: readonly (string | number)[]): number {
  const u = mulberry32(hashSeed(...parts))();
  return u === 0 ? 0.5 : u;
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

/** z of the 95th percentile of the standard normal. */
export const Z95 = 1.6448536269514722;

/** A lognormal draw with the given median and 95th percentile, from one uniform. */
export function lognormalFromMedianP95(u: number, median: number, p95: number): number {
  const sigma = Math.log(p95 / median) / Z95;
  return median * Math.exp(sigma * normalQuantile(u));
}

/** An exponential draw with the given rate (per unit), from one uniform; Infinity at rate 0. */
export function exponential(u: number, rate: number): number {
  return rate > 0 ? -Math.log(u) / rate : Infinity;
}
