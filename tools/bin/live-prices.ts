/**
 * Fetch current spot prices with the caller's credentials (`ai-burst cost --live`): one
 * DescribeSpotPriceHistory per region, all pages, StartTime = now (EC2 answers the price in effect per
 * type and zone). Needs ec2:DescribeSpotPriceHistory.
 */
import { _InstanceType, DescribeSpotPriceHistoryCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SpotObservation } from '../cost/live-prices';

export async function fetchSpotPrices(
  regions: readonly string[],
  instanceTypes: readonly string[],
  clientFor: (region: string) => EC2Client = (region) => new EC2Client({ region }),
  now: Date = new Date(),
): Promise<SpotObservation[]> {
  const perRegion = await Promise.all(
    regions.map(async (region) => {
      const ec2 = clientFor(region);
      const found: SpotObservation[] = [];
      let token: string | undefined;
      do {
        const page = await ec2.send(
          new DescribeSpotPriceHistoryCommand({
            InstanceTypes: instanceTypes as _InstanceType[],
            ProductDescriptions: ['Linux/UNIX'],
            StartTime: now,
            EndTime: now,
            NextToken: token,
          }),
        );
        for (const p of page.SpotPriceHistory ?? []) {
          const price = Number(p.SpotPrice);
          if (p.InstanceType && p.AvailabilityZone && Number.isFinite(price)) {
            found.push({ region, instanceType: p.InstanceType, availabilityZone: p.AvailabilityZone, priceUsdPerHour: price });
          }
        }
        token = page.NextToken || undefined;
      } while (token);
      return found;
    }),
  );
  return perRegion.flat();
}
