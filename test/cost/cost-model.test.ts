import { DEFAULT_COST_INSTANCE_TYPES, estimateCost } from '../../tools/cost/cost-model';
import { InputError } from '../../tools/cost/errors';
import { hourlyPrice, PRICE_SNAPSHOT } from '../../lib/cost/pricing';

describe('estimateCost', () => {
  test("GIVEN the seed's example (100 docs/day at 2 GPU-hours per 10 docs) THEN 20 GPU-hours/day and 600/month exactly", () => {
    const e = estimateCost({ docsPerDay: 100, gpuHoursPerDoc: 2 / 10 });
    expect(e.gpuHoursPerDay).toBe(20);
    expect(e.gpuHoursPerMonth).toBe(600);
    expect(e.daysPerMonth).toBe(30);
    expect(e.snapshotDate).toBe(PRICE_SNAPSHOT.date);
  });

  test('GIVEN --days-per-month 31 THEN the month has 620 GPU-hours', () => {
    expect(estimateCost({ docsPerDay: 100, gpuHoursPerDoc: 0.2, daysPerMonth: 31 }).gpuHoursPerMonth).toBe(620);
  });

  test('THEN options cover every default type × region × market, cheapest first, and cheapest is the first', () => {
    const e = estimateCost({ docsPerDay: 100, gpuHoursPerDoc: 0.2 });
    expect(e.options).toHaveLength(DEFAULT_COST_INSTANCE_TYPES.length * Object.keys(PRICE_SNAPSHOT.regions).length * 4);
    for (let i = 1; i < e.options.length; i++) expect(e.options[i].monthlyUsd).toBeGreaterThanOrEqual(e.options[i - 1].monthlyUsd);
    expect(e.cheapest).toEqual(e.options[0]);
  });

  test('GIVEN one type and region THEN spot, on-demand and commitments follow the stated assumptions', () => {
    const e = estimateCost({
      docsPerDay: 100,
      gpuHoursPerDoc: 0.2,
      instanceTypes: ['g5.xlarge'],
      regions: ['us-east-1'],
      spotInterruptionOverhead: 0.05,
      idleOverhead: 0.1,
    });
    const by = Object.fromEntries(e.options.map((o) => [o.market, o]));
    // spot: 600 instance-hours × 1.05 × 1.1 at the spot price
    expect(by.spot.billedInstanceHoursPerMonth).toBeCloseTo(693, 6);
    expect(by.spot.monthlyUsd).toBeCloseTo(693 * hourlyPrice('g5.xlarge', 'us-east-1', 'spot')!, 2);
    // on-demand: 600 × 1.1
    expect(by['on-demand'].monthlyUsd).toBeCloseTo(660 * 1.006, 2);
    // commitments: one instance (20 h/day fits in 24) for every hour of the month
    expect(by['1y'].billedInstanceHoursPerMonth).toBe(720);
    expect(by['3y'].monthlyUsd).toBeCloseTo(720 * hourlyPrice('g5.xlarge', 'us-east-1', '3y')!, 2);
    expect(e.assumptions.join(' ')).toMatch(/30 days/);
    expect(e.assumptions.join(' ')).toMatch(new RegExp(PRICE_SNAPSHOT.date));
  });

  test('GIVEN a multi-GPU type THEN it needs fewer instance-hours for the same GPU-hours', () => {
    const e = estimateCost({
      docsPerDay: 100,
      gpuHoursPerDoc: 0.2,
      instanceTypes: ['g5.12xlarge'],
      regions: ['us-east-1'],
      markets: ['on-demand'],
      idleOverhead: 0,
    });
    expect(e.options[0].billedInstanceHoursPerMonth).toBe(150);
    expect(e.options[0].gpuHoursPerMonth).toBe(600);
  });

  test('GIVEN measured tokens/s per type THEN instance-hours = tokens ÷ (tps × 3600) and only measured types are priced', () => {
    const e = estimateCost({
      tokensPerDay: 36_000_000,
      tokensPerSecond: { 'g5.xlarge': 1000, 'g6e.xlarge': 2500 },
      regions: ['us-east-1'],
      markets: ['on-demand'],
      idleOverhead: 0,
    });
    const g5 = e.options.find((o) => o.instanceType === 'g5.xlarge')!;
    const g6e = e.options.find((o) => o.instanceType === 'g6e.xlarge')!;
    expect(g5.billedInstanceHoursPerMonth).toBe(300); // 10 h/day × 30
    expect(g6e.billedInstanceHoursPerMonth).toBe(120); // 4 h/day × 30
    expect(e.options).toHaveLength(2);
    expect(e.gpuHoursPerDay).toBe(e.cheapest.instanceType === 'g5.xlarge' ? 10 : 4);
  });

  test.each([
    [{}, /either --docs-per-day/],
    [{ docsPerDay: 100, gpuHoursPerDoc: 0.2, tokensPerDay: 5 }, /either --docs-per-day/],
    [{ docsPerDay: -1, gpuHoursPerDoc: 0.2 }, /--docs-per-day: expected a number > 0, got -1/],
    [{ docsPerDay: 100 }, /--gpu-hours-per-doc: required with --docs-per-day/],
    [{ tokensPerDay: 100 }, /--tokens-per-second: required with --tokens-per-day/],
    [{ docsPerDay: 100, gpuHoursPerDoc: 0.2, instanceTypes: ['g4dn.xlarge'] }, /--instance-types: no type the vLLM model server can run/],
    [{ docsPerDay: 100, gpuHoursPerDoc: 0.2, daysPerMonth: 0 }, /--days-per-month/],
    [{ docsPerDay: 100, gpuHoursPerDoc: 0.2, instanceTypes: ['m5.large'] }, /--instance-types: unknown instance type "m5.large"/],
    [{ docsPerDay: 100, gpuHoursPerDoc: 0.2, regions: ['mars-1'] }, /--regions: unknown region "mars-1"/],
    [{ tokensPerDay: 1000, tokensPerSecond: { 'g5.xlarge': 10 }, instanceTypes: ['g6.xlarge'] }, /--tokens-per-second: no measurement for g6.xlarge/],
  ])('fails if the input is bad (%p)', (input, message) => {
    expect(() => estimateCost(input)).toThrow(InputError);
    expect(() => estimateCost(input)).toThrow(message);
  });

  test('GIVEN the defaults THEN no type the default vLLM server cannot run (issue 3: no g4dn, T4 lacks vLLM V1 support)', () => {
    expect(DEFAULT_COST_INSTANCE_TYPES.filter((t) => t.startsWith('g4dn'))).toEqual([]);
    const e = estimateCost({ docsPerDay: 100, gpuHoursPerDoc: 0.2 });
    expect(e.options.every((o) => o.modelServerSupported)).toBe(true);
    expect(e.modelServer).toBe('vllm');
  });

  test('GIVEN g4dn asked for THEN its rows say the vLLM server cannot run on them and cheapest is the cheapest usable row', () => {
    const e = estimateCost({ docsPerDay: 100, gpuHoursPerDoc: 0.2, instanceTypes: ['g4dn.xlarge', 'g6.xlarge'], regions: ['us-east-1'] });
    expect(e.options[0]).toMatchObject({ instanceType: 'g4dn.xlarge', modelServerSupported: false });
    expect(e.cheapest).toEqual(e.options.find((o) => o.modelServerSupported));
    expect(e.assumptions.join(' ')).toMatch(/g4dn\.xlarge \(T4\).*vLLM/);
    const custom = estimateCost({
      docsPerDay: 100,
      gpuHoursPerDoc: 0.2,
      instanceTypes: ['g4dn.xlarge', 'g6.xlarge'],
      regions: ['us-east-1'],
      modelServer: 'custom',
    });
    expect(custom.cheapest.instanceType).toBe('g4dn.xlarge');
  });

  test('GIVEN the documents benchmark THEN every type has the same GPU-hours a day', () => {
    const e = estimateCost({ docsPerDay: 100, gpuHoursPerDoc: 0.2, instanceTypes: ['g5.xlarge', 'g6.xlarge'] });
    expect(e.benchmark).toBe('documents');
    expect(e.gpuHoursPerDayByType).toEqual({ 'g5.xlarge': 20, 'g6.xlarge': 20 });
  });
});
