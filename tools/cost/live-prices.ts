/**
 * Live spot prices over the dated snapshot: the pure half of `ai-burst cost --live` (the CLI fetches
 * DescribeSpotPriceHistory with the caller's credentials and passes the observations here).
 */
import { PriceSnapshot } from '../../lib/cost/pricing';

/** One spot price EC2 reported: a type in an availability zone of a region, USD per hour. */
export interface SpotObservation {
  readonly region: string;
  readonly instanceType: string;
  readonly availabilityZone: string;
  readonly priceUsdPerHour: number;
}

/**
 * The snapshot with `spotHourly` replaced by the median price over the availability zones EC2 reported
 * for that type and region now (a fleet spans several zones; the median is neither the luckiest nor the
 * worst pool). Types and regions without observations keep the snapshot's price; the source says which.
 */
export function withLiveSpotPrices(snapshot: PriceSnapshot, observations: readonly SpotObservation[], fetchedAt: Date): PriceSnapshot {
  const byKey = new Map<string, number[]>();
  for (const o of observations) {
    if (!(o.priceUsdPerHour > 0)) continue;
    const key = `${o.region}|${o.instanceType}`;
    byKey.set(key, [...(byKey.get(key) ?? []), o.priceUsdPerHour]);
  }
  let replaced = 0;
  const regions: Record<string, Record<string, PriceSnapshot['regions'][string][string]>> = {};
  for (const [region, types] of Object.entries(snapshot.regions)) {
    regions[region] = {};
    for (const [type, price] of Object.entries(types)) {
      const live = byKey.get(`${region}|${type}`);
      if (live) replaced++;
      regions[region][type] = live ? { ...price, spotHourly: median(live) } : price;
    }
  }
  return {
    ...snapshot,
    regions,
    source:
      `${snapshot.source} LIVE: spot prices of ${replaced} type/region pairs replaced by the median over availability ` +
      `zones of DescribeSpotPriceHistory at ${fetchedAt.toISOString()}; on-demand, commitments and any pair without a live ` +
      `price remain the snapshot's.`,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
