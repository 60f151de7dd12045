import { DescribeSpotPriceHistoryCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { costCommand } from '../../tools/bin/ai-burst';
import { fetchSpotPrices } from '../../tools/bin/live-prices';
import { hourlyPrice, PRICE_SNAPSHOT } from '../../lib/cost/pricing';
import { withLiveSpotPrices } from '../../tools/cost/live-prices';

const ec2 = mockClient(EC2Client);
afterEach(() => ec2.reset());
const AT = new Date('2026-11-25T12:00:00Z');

describe('withLiveSpotPrices', () => {
  test('replaces spot with the median over zones, keeps on-demand and unobserved pairs, and says so', () => {
    const live = withLiveSpotPrices(
      PRICE_SNAPSHOT,
      [
        { region: 'us-east-1', instanceType: 'g5.xlarge', availabilityZone: 'us-east-1a', priceUsdPerHour: 0.4 },
        { region: 'us-east-1', instanceType: 'g5.xlarge', availabilityZone: 'us-east-1b', priceUsdPerHour: 0.3 },
        { region: 'us-east-1', instanceType: 'g5.xlarge', availabilityZone: 'us-east-1c', priceUsdPerHour: 0.9 },
        { region: 'us-east-1', instanceType: 'g6.xlarge', availabilityZone: 'us-east-1a', priceUsdPerHour: 0 }, // ignored
      ],
      AT,
    );
    expect(hourlyPrice('g5.xlarge', 'us-east-1', 'spot', live)).toBe(0.4);
    expect(hourlyPrice('g5.xlarge', 'us-east-1', 'on-demand', live)).toBe(hourlyPrice('g5.xlarge', 'us-east-1', 'on-demand'));
    expect(hourlyPrice('g6.xlarge', 'us-east-1', 'spot', live)).toBe(hourlyPrice('g6.xlarge', 'us-east-1', 'spot'));
    expect(hourlyPrice('g5.xlarge', 'eu-west-1', 'spot', live)).toBe(hourlyPrice('g5.xlarge', 'eu-west-1', 'spot'));
    expect(live.source).toMatch(/LIVE: spot prices of 1 type\/region pairs replaced .* at 2026-11-25T12:00:00.000Z/);
    expect(live.date).toBe(PRICE_SNAPSHOT.date);
  });

  test('an even number of zones takes the mean of the middle two', () => {
    const live = withLiveSpotPrices(
      PRICE_SNAPSHOT,
      [
        { region: 'us-west-2', instanceType: 'g6.xlarge', availabilityZone: 'a', priceUsdPerHour: 0.2 },
        { region: 'us-west-2', instanceType: 'g6.xlarge', availabilityZone: 'b', priceUsdPerHour: 0.4 },
      ],
      AT,
    );
    expect(hourlyPrice('g6.xlarge', 'us-west-2', 'spot', live)).toBeCloseTo(0.3, 10);
  });
});

test('fetchSpotPrices asks each region for the price now, Linux only, all pages', async () => {
  ec2
    .on(DescribeSpotPriceHistoryCommand)
    .resolvesOnce({ SpotPriceHistory: [{ InstanceType: 'g5.xlarge', AvailabilityZone: 'us-east-1a', SpotPrice: '0.41' }], NextToken: 'p2' })
    .resolvesOnce({ SpotPriceHistory: [{ InstanceType: 'g5.xlarge', AvailabilityZone: 'us-east-1b', SpotPrice: '0.43' }], NextToken: '' });
  const found = await fetchSpotPrices(['us-east-1'], ['g5.xlarge'], () => new EC2Client({ region: 'us-east-1' }), AT);
  expect(found).toEqual([
    { region: 'us-east-1', instanceType: 'g5.xlarge', availabilityZone: 'us-east-1a', priceUsdPerHour: 0.41 },
    { region: 'us-east-1', instanceType: 'g5.xlarge', availabilityZone: 'us-east-1b', priceUsdPerHour: 0.43 },
  ]);
  const calls = ec2.commandCalls(DescribeSpotPriceHistoryCommand).map((c) => c.args[0].input);
  expect(calls).toHaveLength(2);
  expect(calls[0]).toMatchObject({ InstanceTypes: ['g5.xlarge'], ProductDescriptions: ['Linux/UNIX'], StartTime: AT, EndTime: AT });
  expect(calls[1].NextToken).toBe('p2');
});

describe('ai-burst cost --live', () => {
  let out: jest.SpyInstance;
  let err: jest.SpyInstance;
  beforeEach(() => {
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    out.mockRestore();
    err.mockRestore();
  });
  const args = [
    '--docs-per-day',
    '100',
    '--gpu-hours-per-doc',
    '0.2',
    '--instance-types',
    'g5.xlarge',
    '--regions',
    'us-east-1',
    '--markets',
    'spot',
    '--json',
  ];

  test('prices spot from the live answer', async () => {
    await costCommand([...args, '--live'], async (regions, types) => {
      expect(regions).toEqual(['us-east-1']);
      expect(types).toEqual(['g5.xlarge']);
      return [{ region: 'us-east-1', instanceType: 'g5.xlarge', availabilityZone: 'us-east-1a', priceUsdPerHour: 0.5 }];
    });
    const estimate = JSON.parse(String(out.mock.calls.map((c) => c[0]).join('')));
    expect(estimate.snapshotSource).toMatch(/LIVE/);
    const [option] = estimate.options;
    expect(option.monthlyUsd / estimate.gpuHoursPerMonth).toBeGreaterThan(0.5); // ≥ the live hourly rate (plus overheads)
    expect(option.monthlyUsd / estimate.gpuHoursPerMonth).toBeLessThan(0.5 * 1.2);
  });

  test('without credentials it falls back to the snapshot and says so on stderr', async () => {
    await costCommand([...args, '--live'], async () => {
      throw Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' });
    });
    expect(String(err.mock.calls[0][0])).toMatch(
      /--live: could not read spot prices \(no AWS credentials found: set AWS_PROFILE .*\); using the snapshot of 2026-/,
    );
    const estimate = JSON.parse(String(out.mock.calls.map((c) => c[0]).join('')));
    expect(estimate.snapshotSource).not.toMatch(/LIVE/);
  });
});
