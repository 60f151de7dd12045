import { UNATTRIBUTED_AGENT } from '../../lib/contracts';
import { attribute, computeSpend, priceInstances, RunningInstance, toMetricData } from '../../lambda/cost-reporter/cost';

const END = new Date('2026-11-25T08:24:00Z');

function inst(id: string, workload: string, extra: Partial<RunningInstance> = {}): RunningInstance {
  return { instanceId: id, instanceType: 'g5.xlarge', availabilityZone: 'us-east-1a', workload, spot: true, ...extra };
}

describe('attribute', () => {
  test('splits by GPU-seconds share and the parts add up to the whole', () => {
    const parts = attribute(
      3,
      new Map([
        ['a', 10],
        ['b', 20],
      ]),
    );
    expect(parts).toEqual({ a: 1, b: 2 });
  });
  test('gives everything to the unattributed agent when no agent reported GPU-seconds', () => {
    expect(attribute(2, new Map([['a', 0]]))).toEqual({ [UNATTRIBUTED_AGENT]: 2 });
    expect(attribute(2, undefined)).toEqual({ [UNATTRIBUTED_AGENT]: 2 });
  });
  test('ignores negative and non-finite GPU-seconds', () => {
    expect(
      attribute(
        4,
        new Map([
          ['a', 1],
          ['b', -5],
          ['c', Number.NaN],
        ]),
      ),
    ).toEqual({ a: 4 });
  });
  test('has nothing to split when nothing was spent', () => {
    expect(attribute(0, new Map([['a', 1]]))).toEqual({});
  });
});

describe('computeSpend', () => {
  const prices = priceInstances([inst('i-1', 'w'), inst('i-2', 'other')], new Map([['g5.xlarge|us-east-1a', 0.6]]), 'us-east-1');

  test('ignores instances of workloads the reporter does not cover', () => {
    const report = computeSpend({
      workloads: ['w'],
      instances: [inst('i-1', 'w'), inst('i-2', 'other')],
      prices,
      gpuSecondsByAgent: new Map(),
      windowEnd: END,
    });
    expect(report.workloads).toEqual([expect.objectContaining({ workload: 'w', instances: 1, usd: 0.01 })]);
  });

  test('an instance without a launch time pays the whole interval; one launched after the end pays nothing', () => {
    const report = computeSpend({
      workloads: ['w'],
      instances: [inst('i-1', 'w'), inst('i-2', 'w', { launchTime: new Date(END.getTime() + 1000) })],
      prices: priceInstances([inst('i-1', 'w'), inst('i-2', 'w')], new Map([['g5.xlarge|us-east-1a', 0.6]]), 'us-east-1'),
      gpuSecondsByAgent: new Map(),
      windowEnd: END,
    });
    expect(report.workloads[0].usd).toBeCloseTo(0.01, 12);
  });
});

describe('toMetricData', () => {
  test('one datum per dimension set of the metrics contract, with Workload first', () => {
    const data = toMetricData(
      [
        { workload: 'w', usd: 1 },
        { workload: 'w', agent: 'a', usd: 0.5 },
        { workload: 'w', priceSource: 'live', usd: 1 },
      ],
      END,
    );
    expect(data.map((d) => d.Dimensions.map((x) => x.Name))).toEqual([['Workload'], ['Workload', 'Agent'], ['Workload', 'PriceSource']]);
    expect(data.every((d) => d.MetricName === 'SpendUsd' && d.Timestamp === END && d.Unit === 'None')).toBe(true);
  });
});
