import { hourlyPrice, isGpuInstanceType, knownInstanceTypes, knownRegions, PRICE_SNAPSHOT, PriceSnapshot } from '../../lib/cost/pricing';

describe('pricing snapshot', () => {
  test('GIVEN the snapshot THEN it covers the required families in at least 5 regions with a date and a source', () => {
    const types = knownInstanceTypes();
    for (const family of ['g4dn', 'g5', 'g6', 'g6e', 'p4d', 'p5']) {
      expect(types.some((t) => t.startsWith(`${family}.`))).toBe(true);
    }
    expect(knownRegions().length).toBeGreaterThanOrEqual(5);
    expect(PRICE_SNAPSHOT.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(PRICE_SNAPSHOT.source).toMatch(/spot/i);
  });

  test('GIVEN g5.xlarge in us-east-1 WHEN priced on every market THEN spot < 3y < 1y < on-demand', () => {
    const od = hourlyPrice('g5.xlarge', 'us-east-1', 'on-demand');
    expect(od).toBe(1.006);
    expect(hourlyPrice('g5.xlarge', 'us-east-1', 'spot')).toBeCloseTo(0.503, 4);
    expect(hourlyPrice('g5.xlarge', 'us-east-1', '1y')).toBeCloseTo(1.006 * 0.65, 4);
    expect(hourlyPrice('g5.xlarge', 'us-east-1', '3y')).toBeCloseTo(1.006 * 0.45, 4);
  });

  test('GIVEN an unknown type or region THEN the lookup is undefined', () => {
    expect(hourlyPrice('g5.nano', 'us-east-1', 'spot')).toBeUndefined();
    expect(hourlyPrice('g5.xlarge', 'mars-north-1', 'spot')).toBeUndefined();
  });

  test('GIVEN a custom snapshot THEN lookups use it', () => {
    const snap: PriceSnapshot = {
      date: '2000-01-01',
      source: 'test',
      commitmentDiscount: { oneYear: 0.1, threeYear: 0.2 },
      regions: { 'xx-1': { 'g5.xlarge': { onDemandHourly: 2, spotHourly: 0.5, gpus: 1, gpuModel: 'A10G' } } },
    };
    expect(hourlyPrice('g5.xlarge', 'xx-1', 'spot', snap)).toBe(0.5);
    expect(hourlyPrice('g5.xlarge', 'xx-1', '1y', snap)).toBe(1.8);
    expect(hourlyPrice('g5.xlarge', 'xx-1', '3y', snap)).toBe(1.6);
    expect(knownInstanceTypes(snap)).toEqual(['g5.xlarge']);
  });

  test('GIVEN a regional row THEN it is at least the us-east-1 price', () => {
    expect(hourlyPrice('g6.xlarge', 'eu-central-1', 'on-demand')!).toBeGreaterThan(hourlyPrice('g6.xlarge', 'us-east-1', 'on-demand')!);
  });

  test.each([
    ['g4dn.xlarge', true],
    ['g5g.2xlarge', true],
    ['g6e.48xlarge', true],
    ['gr6.4xlarge', true],
    ['p3.2xlarge', true],
    ['p4de.24xlarge', true],
    ['p5en.48xlarge', true],
    ['p6-b200.48xlarge', true],
    ['m7g.large', false],
    ['inf2.xlarge', false],
    ['trn1.32xlarge', false],
    ['g5', false],
    ['', false],
  ])('isGpuInstanceType(%p) is %p', (type, expected) => {
    expect(isGpuInstanceType(type)).toBe(expected);
  });
});
