/** The simulator's seeded PRNG (mulberry32): the suite's fault plan is a pure function of the seed. */
import { mulberry32 } from '../../tools/cost/simulator/rng';

export type Rng = () => number;

export const rng: (seed: number) => Rng = mulberry32;

/** A PRNG for one item of a seed's plan (job n, call k), independent of how many draws other items made. */
export function rngFor(seed: number, ...keys: number[]): Rng {
  // murmur3-style mixing after each key, so (seed, n) pairs never collide by a plain XOR
  const mix = (x: number) => {
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    return (x ^ (x >>> 16)) >>> 0;
  };
  let h = mix(seed ^ 0x9e3779b9);
  for (const k of keys) h = mix(h ^ mix(k + 0x632be5ab));
  return rng(h);
}

export function pick<T>(r: Rng, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)];
}

/** A UUID v4-shaped id from the PRNG (JobClient's `newId`, so job ids are known before they are submitted). */
export function uuidFrom(r: Rng): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
