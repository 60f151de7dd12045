/**
 * A dated snapshot of GPU instance prices, and lookups over it.
 *
 * Pure TypeScript: no AWS SDK, no aws-cdk-lib. The CostReporter Lambda imports it as its fallback when a
 * live spot price cannot be read, the cost model and the simulator read it for every estimate, and every
 * estimate prints `PRICE_SNAPSHOT.date` so a reader knows how old the numbers are.
 */
import { gpuFamilyOf } from '../compute/gpu-families';

/** How an instance-hour is bought. `1y` / `3y` are commitments (Savings Plan / Reserved Instance, no upfront). */
export type Market = 'spot' | 'on-demand' | '1y' | '3y';

/** Every market, in the order estimates list them when prices tie. */
export const MARKETS: readonly Market[] = ['spot', 'on-demand', '1y', '3y'];

export interface InstancePrice {
  /** USD per instance-hour, Linux, shared tenancy. */
  readonly onDemandHourly: number;
  /** USD per instance-hour, a typical spot price (see the snapshot's `source` for how it was obtained). */
  readonly spotHourly: number;
  /** GPUs per instance. */
  readonly gpus: number;
  /** NVIDIA part, e.g. `A10G`. */
  readonly gpuModel: string;
}

/** Fraction off on-demand for a 1-year and a 3-year commitment (0.35 = 35 % off). */
export interface CommitmentDiscount {
  readonly oneYear: number;
  readonly threeYear: number;
}

export interface PriceSnapshot {
  /** ISO date the snapshot describes (YYYY-MM-DD). */
  readonly date: string;
  /** Where the numbers come from and which of them are derived, in plain words. */
  readonly source: string;
  /** Fraction off on-demand for a 1-year and a 3-year commitment. */
  readonly commitmentDiscount: CommitmentDiscount;
  /** region → instance type → price. */
  readonly regions: Record<string, Record<string, InstancePrice>>;
}

/** Typical spot discount on GPU types (DESIGN: 30–70 %, ≈50 % typical). */
const TYPICAL_SPOT_DISCOUNT = 0.5;

/** [on-demand USD/h in us-east-1, GPUs, GPU model]. */
type BaseRow = readonly [number, number, string];

/** us-east-1 on-demand list prices, Linux, shared tenancy. */
const US_EAST_1: Readonly<Record<string, BaseRow>> = {
  'g4dn.xlarge': [0.526, 1, 'T4'],
  'g4dn.2xlarge': [0.752, 1, 'T4'],
  'g4dn.4xlarge': [1.204, 1, 'T4'],
  'g4dn.8xlarge': [2.176, 1, 'T4'],
  'g4dn.12xlarge': [3.912, 4, 'T4'],
  'g4dn.16xlarge': [4.352, 1, 'T4'],
  'g4dn.metal': [7.824, 8, 'T4'],
  'g5.xlarge': [1.006, 1, 'A10G'],
  'g5.2xlarge': [1.212, 1, 'A10G'],
  'g5.4xlarge': [1.624, 1, 'A10G'],
  'g5.8xlarge': [2.448, 1, 'A10G'],
  'g5.12xlarge': [5.672, 4, 'A10G'],
  'g5.16xlarge': [4.096, 1, 'A10G'],
  'g5.24xlarge': [8.144, 4, 'A10G'],
  'g5.48xlarge': [16.288, 8, 'A10G'],
  'g6.xlarge': [0.8048, 1, 'L4'],
  'g6.2xlarge': [0.9776, 1, 'L4'],
  'g6.4xlarge': [1.3232, 1, 'L4'],
  'g6.8xlarge': [2.0144, 1, 'L4'],
  'g6.12xlarge': [4.6016, 4, 'L4'],
  'g6.16xlarge': [3.3968, 1, 'L4'],
  'g6.24xlarge': [6.6752, 4, 'L4'],
  'g6.48xlarge': [13.3504, 8, 'L4'],
  'g6e.xlarge': [1.861, 1, 'L40S'],
  'g6e.2xlarge': [2.24208, 1, 'L40S'],
  'g6e.4xlarge': [3.00424, 1, 'L40S'],
  'g6e.8xlarge': [4.52856, 1, 'L40S'],
  'g6e.12xlarge': [10.49264, 4, 'L40S'],
  'g6e.16xlarge': [7.57719, 1, 'L40S'],
  'g6e.24xlarge': [15.06559, 4, 'L40S'],
  'g6e.48xlarge': [30.13118, 8, 'L40S'],
  'p4d.24xlarge': [21.96, 8, 'A100'],
  'p5.48xlarge': [55.04, 8, 'H100'],
};

/**
 * Regional on-demand multipliers against us-east-1 (approximate ratios of the public list prices of the
 * G families; applied to every type, so regional rows are derived, not read row by row).
 */
const REGION_MULTIPLIER: Readonly<Record<string, number>> = {
  'us-east-1': 1,
  'us-east-2': 1,
  'us-west-2': 1,
  'eu-west-1': 1.12,
  'eu-central-1': 1.25,
  'ap-northeast-1': 1.35,
};

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}

function buildRegions(): Record<string, Record<string, InstancePrice>> {
  const regions: Record<string, Record<string, InstancePrice>> = {};
  for (const [region, multiplier] of Object.entries(REGION_MULTIPLIER)) {
    const table: Record<string, InstancePrice> = {};
    for (const [type, [onDemand, gpus, gpuModel]] of Object.entries(US_EAST_1)) {
      const onDemandHourly = round4(onDemand * multiplier);
      table[type] = Object.freeze({
        onDemandHourly,
        spotHourly: round4(onDemandHourly * (1 - TYPICAL_SPOT_DISCOUNT)),
        gpus,
        gpuModel,
      });
    }
    regions[region] = Object.freeze(table);
  }
  return regions;
}

/**
 * The built-in snapshot. Read `source` before trusting a number: only the us-east-1 on-demand column is
 * a list price; everything else is derived as it says.
 */
export const PRICE_SNAPSHOT: PriceSnapshot = Object.freeze({
  date: '2026-06-17',
  source:
    'On-demand: AWS EC2 On-Demand price list, Linux, shared tenancy, us-east-1 (g5.xlarge $1.006/h cross-checked ' +
    'against a public June 2026 article citing the AWS rate card; p4d.24xlarge and p5.48xlarge after the June 2025 ' +
    'AWS price reduction for P4/P5). Other regions are DERIVED from us-east-1 with approximate regional multipliers ' +
    '(us-east-2 and us-west-2 ×1.00, eu-west-1 ×1.12, eu-central-1 ×1.25, ap-northeast-1 ×1.35); the availability ' +
    'of every type in every region was not checked. Spot is DERIVED as a typical 50 % discount on on-demand (GPU ' +
    'spot discounts range ~30–70 %); real spot prices move per Availability Zone — refresh from ' +
    'DescribeSpotPriceHistory when credentials exist. Commitments: typical no-upfront discounts for G/P families ' +
    '(1 year ≈35 %, 3 years ≈55 % off on-demand, EC2 Instance Savings Plan / Standard RI), billed for every hour ' +
    'of the term whether used or not.',
  commitmentDiscount: Object.freeze({ oneYear: 0.35, threeYear: 0.55 }),
  regions: Object.freeze(buildRegions()),
});

/**
 * USD per instance-hour of `instanceType` in `region` bought on `market`, or `undefined` when the snapshot
 * has no row for that type and region. Commitment markets return the effective hourly rate; the caller
 * pays it for every hour of the term.
 */
export function hourlyPrice(instanceType: string, region: string, market: Market, snapshot: PriceSnapshot = PRICE_SNAPSHOT): number | undefined {
  const row = snapshot.regions[region]?.[instanceType];
  if (!row) return undefined;
  switch (market) {
    case 'spot':
      return row.spotHourly;
    case 'on-demand':
      return row.onDemandHourly;
    case '1y':
      return round4(row.onDemandHourly * (1 - snapshot.commitmentDiscount.oneYear));
    case '3y':
      return round4(row.onDemandHourly * (1 - snapshot.commitmentDiscount.threeYear));
    default:
      return undefined;
  }
}

/** The row for a type and region, or `undefined`. */
export function instancePrice(instanceType: string, region: string, snapshot: PriceSnapshot = PRICE_SNAPSHOT): InstancePrice | undefined {
  return snapshot.regions[region]?.[instanceType];
}

/** Every instance type the snapshot prices in at least one region, sorted. */
export function knownInstanceTypes(snapshot: PriceSnapshot = PRICE_SNAPSHOT): string[] {
  const types = new Set<string>();
  for (const table of Object.values(snapshot.regions)) for (const type of Object.keys(table)) types.add(type);
  return [...types].sort();
}

/** Every region the snapshot prices, sorted. */
export function knownRegions(snapshot: PriceSnapshot = PRICE_SNAPSHOT): string[] {
  return Object.keys(snapshot.regions).sort();
}

/**
 * True when the instance type's family (the part before the first dot, e.g. `g5` of `g5.xlarge`) is a
 * GPU family (G or P; the table and the vendor/architecture of each live in compute/gpu-families).
 * Case-sensitive like EC2 instance type names.
 */
export function isGpuInstanceType(instanceType: string): boolean {
  return gpuFamilyOf(instanceType) !== undefined;
}
