/**
 * The CostReporter's run against mocked EC2 and CloudWatch (aws-sdk-client-mock): instances of mixed types
 * and AZs over several pages, live spot prices over several pages, GPU-seconds shares, the snapshot fallback
 * when the price API fails, and an explicit zero when nothing runs.
 */
import {
  CloudWatchClient,
  GetMetricDataCommand,
  ListMetricsCommand,
  PutMetricDataCommand,
  PutMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, DescribeSpotPriceHistoryCommand, EC2Client, Instance, SpotPrice } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { EnvNames, PriceSources, UNATTRIBUTED_AGENT } from '../../lib/contracts';
import { hourlyPrice, PRICE_SNAPSHOT } from '../../lib/cost/pricing';
import { reportSpend, ReportDeps, SpotPriceCache } from '../../lambda/cost-reporter/aws';

const ec2Mock = mockClient(EC2Client);
const cwMock = mockClient(CloudWatchClient);

const END = new Date('2026-11-25T08:24:00Z');
const LONG_AGO = new Date('2026-11-25T06:00:00Z');
const NS = 'AiBurst';

function instance(id: string, type: string, az: string, workload: string, extra: Record<string, unknown> = {}): Instance {
  return {
    InstanceId: id,
    InstanceType: type,
    Placement: { AvailabilityZone: az },
    InstanceLifecycle: 'spot',
    LaunchTime: LONG_AGO,
    Tags: [
      { Key: 'ai-burst:workload', Value: workload },
      { Key: 'Name', Value: id },
    ],
    ...extra,
  } as Instance;
}

function spot(type: string, az: string, price: string, at = new Date('2026-11-25T07:00:00Z')): SpotPrice {
  return { InstanceType: type, AvailabilityZone: az, SpotPrice: price, Timestamp: at, ProductDescription: 'Linux/UNIX' } as SpotPrice;
}

function deps(overrides: Partial<ReportDeps> = {}): ReportDeps {
  return {
    ec2: new EC2Client({ region: 'us-east-1' }),
    cw: new CloudWatchClient({ region: 'us-east-1' }),
    cache: new SpotPriceCache(),
    region: 'us-east-1',
    namespace: NS,
    workloads: ['realtime', 'batch', 'quiet'],
    ...overrides,
  };
}

/** Every datum published, as `Workload[/Agent][/PriceSource] → value`. */
function published(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const call of cwMock.commandCalls(PutMetricDataCommand)) {
    const input = call.args[0].input as PutMetricDataCommandInput;
    expect(input.Namespace).toBe(NS);
    for (const d of input.MetricData ?? []) {
      expect(d.MetricName).toBe('SpendUsd');
      const key = (d.Dimensions ?? []).map((x) => (x.Name === 'Workload' ? x.Value : `${x.Name}=${x.Value}`)).join('/');
      out[key] = d.Value!;
    }
  }
  return out;
}

const perMinute = (usdPerHour: number) => usdPerHour / 60;

beforeEach(() => {
  ec2Mock.reset();
  cwMock.reset();
  cwMock.on(PutMetricDataCommand).resolves({});
  cwMock.on(ListMetricsCommand).resolves({ Metrics: [] });
  cwMock.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
});

describe('GIVEN running instances of mixed types and AZs over two pages', () => {
  beforeEach(() => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [instance('i-1', 'g5.xlarge', 'us-east-1a', 'realtime'), instance('i-2', 'g5.xlarge', 'us-east-1b', 'realtime')] }],
      NextToken: 'page-2',
    });
    ec2Mock.on(DescribeInstancesCommand, { NextToken: 'page-2' }).resolves({
      Reservations: [{ Instances: [instance('i-3', 'g6.xlarge', 'us-east-1a', 'batch')] }],
    });
    ec2Mock.on(DescribeSpotPriceHistoryCommand).resolves({
      SpotPriceHistory: [spot('g5.xlarge', 'us-east-1a', '0.4000'), spot('g5.xlarge', 'us-east-1a', '0.3900', new Date('2026-11-25T05:00:00Z'))],
      NextToken: 'prices-2',
    });
    ec2Mock.on(DescribeSpotPriceHistoryCommand, { NextToken: 'prices-2' }).resolves({
      SpotPriceHistory: [spot('g5.xlarge', 'us-east-1b', '0.4600'), spot('g6.xlarge', 'us-east-1a', '0.3000')],
    });
    cwMock.on(ListMetricsCommand, { Dimensions: [{ Name: 'Workload', Value: 'realtime' }] }).resolves({
      Metrics: [
        {
          MetricName: 'GpuSeconds',
          Dimensions: [
            { Name: 'Workload', Value: 'realtime' },
            { Name: 'Agent', Value: 'summarizer' },
          ],
        },
        {
          MetricName: 'GpuSeconds',
          Dimensions: [
            { Name: 'Workload', Value: 'realtime' },
            { Name: 'Model', Value: 'llama' },
          ],
        },
        { MetricName: 'GpuSeconds', Dimensions: [{ Name: 'Workload', Value: 'realtime' }] },
      ],
      NextToken: 'metrics-2',
    });
    cwMock.on(ListMetricsCommand, { Dimensions: [{ Name: 'Workload', Value: 'realtime' }], NextToken: 'metrics-2' }).resolves({
      Metrics: [
        {
          MetricName: 'GpuSeconds',
          Dimensions: [
            { Name: 'Workload', Value: 'realtime' },
            { Name: 'Agent', Value: 'triage' },
          ],
        },
      ],
    });
    cwMock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'q0', Values: [100, 50] },
        { Id: 'q1', Values: [50] },
      ],
    });
  });

  test('WHEN the minute is reported THEN each instance is priced at its own type and AZ, all pages read', async () => {
    const summary = await reportSpend(deps(), END);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(2);
    expect(ec2Mock.commandCalls(DescribeSpotPriceHistoryCommand)).toHaveLength(2);
    const values = published();
    // i-1 at the newest 1a price (0.40, not the older 0.39), i-2 at 1b (0.46); batch's g6 at 0.30.
    expect(values.realtime).toBeCloseTo(perMinute(0.4 + 0.46), 10);
    expect(values['realtime/PriceSource=live']).toBeCloseTo(perMinute(0.86), 10);
    expect(values.batch).toBeCloseTo(perMinute(0.3), 10);
    expect(summary.priceSource).toBe('live');
    expect(summary.priceApiError).toBeUndefined();
    expect(summary.instances).toBe(3);
  });

  test('WHEN the minute is reported THEN the filters select running instances of the covered workloads', async () => {
    await reportSpend(deps(), END);
    const input = ec2Mock.commandCalls(DescribeInstancesCommand)[0].args[0].input;
    expect(input.Filters).toEqual([
      { Name: 'tag:ai-burst:workload', Values: ['realtime', 'batch', 'quiet'] },
      { Name: 'instance-state-name', Values: ['running'] },
    ]);
    const prices = ec2Mock.commandCalls(DescribeSpotPriceHistoryCommand)[0].args[0].input;
    expect(prices.InstanceTypes).toEqual(['g5.xlarge', 'g6.xlarge']);
    expect(prices.StartTime).toEqual(END);
    expect(prices.EndTime).toEqual(END);
    expect(prices.Filters).toEqual(expect.arrayContaining([{ Name: 'availability-zone', Values: ['us-east-1a', 'us-east-1b'] }]));
  });

  test('WHEN agents reported GPU-seconds THEN spend is split by their share, only {Workload, Agent} series are read', async () => {
    await reportSpend(deps(), END);
    const values = published();
    const total = perMinute(0.86);
    expect(values['realtime/Agent=summarizer']).toBeCloseTo((total * 150) / 200, 10);
    expect(values['realtime/Agent=triage']).toBeCloseTo((total * 50) / 200, 10);
    // batch has instances but no agent reported GPU-seconds: all of it is unattributed.
    expect(values[`batch/Agent=${UNATTRIBUTED_AGENT}`]).toBeCloseTo(perMinute(0.3), 10);
    const queries = cwMock.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(queries.MetricDataQueries!.map((q) => q.MetricStat!.Metric!.Dimensions)).toEqual([
      [
        { Name: 'Workload', Value: 'realtime' },
        { Name: 'Agent', Value: 'summarizer' },
      ],
      [
        { Name: 'Workload', Value: 'realtime' },
        { Name: 'Agent', Value: 'triage' },
      ],
    ]);
    expect(queries.EndTime).toEqual(END);
    expect(queries.StartTime).toEqual(new Date(END.getTime() - 5 * 60_000));
  });

  test('WHEN a workload has no instance THEN it still gets an explicit 0', async () => {
    await reportSpend(deps(), END);
    expect(published().quiet).toBe(0);
  });

  test('WHEN a second run follows within five minutes THEN the warm cache answers, no price call', async () => {
    const d = deps();
    await reportSpend(d, END);
    await reportSpend(d, new Date(END.getTime() + 60_000));
    expect(ec2Mock.commandCalls(DescribeSpotPriceHistoryCommand)).toHaveLength(2); // the first run's two pages only
    await reportSpend(d, new Date(END.getTime() + 6 * 60_000));
    expect(ec2Mock.commandCalls(DescribeSpotPriceHistoryCommand)).toHaveLength(4);
  });

  test('WHEN the GPU-seconds read fails THEN the spend is still published, unattributed, and the error reported', async () => {
    cwMock.on(GetMetricDataCommand).rejects(new Error('Throttling'));
    const summary = await reportSpend(deps(), END);
    expect(summary.attributionError).toMatch(/Throttling/);
    const values = published();
    expect(values.realtime).toBeCloseTo(perMinute(0.86), 10);
    expect(values[`realtime/Agent=${UNATTRIBUTED_AGENT}`]).toBeCloseTo(perMinute(0.86), 10);
  });
});

describe('GIVEN the spot price API fails', () => {
  beforeEach(() => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [instance('i-1', 'g5.xlarge', 'us-east-1a', 'realtime'), instance('i-2', 'g6e.xlarge', 'us-east-1c', 'realtime')] },
      ],
    });
    ec2Mock.on(DescribeSpotPriceHistoryCommand).rejects(Object.assign(new Error('not authorized'), { name: 'UnauthorizedOperation' }));
  });

  test('THEN every instance is priced from the snapshot and the PriceSource dimension says so', async () => {
    const summary = await reportSpend(deps(), END);
    const expected = perMinute(hourlyPrice('g5.xlarge', 'us-east-1', 'spot')! + hourlyPrice('g6e.xlarge', 'us-east-1', 'spot')!);
    const values = published();
    expect(values.realtime).toBeCloseTo(expected, 10);
    expect(values[`realtime/PriceSource=${PriceSources.SNAPSHOT}`]).toBeCloseTo(expected, 10);
    expect(values[`realtime/PriceSource=${PriceSources.LIVE}`]).toBeUndefined();
    expect(summary.priceSource).toBe('snapshot');
    expect(summary.priceApiError).toBe('UnauthorizedOperation: not authorized');
    expect(summary.snapshotDate).toBe(PRICE_SNAPSHOT.date);
  });

  test('THEN a type the snapshot does not know is left out and named, not guessed', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [instance('i-1', 'g5.xlarge', 'us-east-1a', 'realtime'), instance('i-9', 'x9.mystery', 'us-east-1a', 'realtime')] },
      ],
    });
    const summary = await reportSpend(deps(), END);
    expect(summary.unpriced).toEqual(['i-9 (x9.mystery)']);
    expect(published().realtime).toBeCloseTo(perMinute(hourlyPrice('g5.xlarge', 'us-east-1', 'spot')!), 10);
  });
});

describe('GIVEN instances the price API answers only in part', () => {
  test('THEN the answered pair is live, the rest snapshot, and an on-demand instance uses the on-demand snapshot', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            instance('i-1', 'g5.xlarge', 'us-east-1a', 'realtime'),
            instance('i-2', 'g5.xlarge', 'us-east-1d', 'realtime'),
            instance('i-3', 'g5.xlarge', 'us-east-1a', 'realtime', { InstanceLifecycle: undefined }),
          ],
        },
      ],
    });
    ec2Mock.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [spot('g5.xlarge', 'us-east-1a', '0.41')] });
    const summary = await reportSpend(deps({ workloads: ['realtime'] }), END);
    const values = published();
    const snapshotPart = perMinute(hourlyPrice('g5.xlarge', 'us-east-1', 'spot')! + hourlyPrice('g5.xlarge', 'us-east-1', 'on-demand')!);
    expect(values['realtime/PriceSource=live']).toBeCloseTo(perMinute(0.41), 10);
    expect(values['realtime/PriceSource=snapshot']).toBeCloseTo(snapshotPart, 10);
    expect(values.realtime).toBeCloseTo(perMinute(0.41) + snapshotPart, 10);
    expect(summary.priceSource).toBe('mixed');
  });

  test('THEN an instance launched 15 s before the end of the minute pays for 15 s', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [instance('i-1', 'g5.xlarge', 'us-east-1a', 'realtime', { LaunchTime: new Date(END.getTime() - 15_000) })] }],
    });
    ec2Mock.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [spot('g5.xlarge', 'us-east-1a', '0.36')] });
    await reportSpend(deps({ workloads: ['realtime'] }), END);
    expect(published().realtime).toBeCloseTo((0.36 * 15) / 3600, 12);
  });
});

describe('GIVEN no instance runs', () => {
  test('THEN every workload gets SpendUsd 0 (not missing data), and neither prices nor shares are read', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const summary = await reportSpend(deps(), END);
    expect(published()).toEqual({ realtime: 0, batch: 0, quiet: 0 });
    const timestamps = cwMock.commandCalls(PutMetricDataCommand).flatMap((c) => c.args[0].input.MetricData!.map((d) => d.Timestamp));
    expect(timestamps).toEqual([END, END, END]);
    expect(ec2Mock.commandCalls(DescribeSpotPriceHistoryCommand)).toHaveLength(0);
    expect(cwMock.commandCalls(GetMetricDataCommand)).toHaveLength(0);
    expect(summary.priceSource).toBe('none');
    expect(summary.totalUsd).toBe(0);
  });
});

describe('GIVEN the Lambda entry point', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  test('WHEN the schedule fires THEN the minute ending at the event time is reported with the configured namespace', async () => {
    process.env.AWS_REGION = 'us-east-1';
    process.env[EnvNames.METRIC_NAMESPACE] = 'Custom/Ns';
    process.env[EnvNames.WORKLOADS] = JSON.stringify(['realtime']);
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const { handler } = await import('../../lambda/cost-reporter/index');
    const summary = await handler({ time: '2026-11-25T09:00:00Z' });
    expect(summary.windowEnd).toBe('2026-11-25T09:00:00.000Z');
    const input = cwMock.commandCalls(PutMetricDataCommand)[0].args[0].input;
    expect(input.Namespace).toBe('Custom/Ns');
    expect(input.MetricData).toEqual([expect.objectContaining({ Value: 0, Timestamp: new Date('2026-11-25T09:00:00Z') })]);
  });

  test('fails at cold start if the workloads variable is missing', async () => {
    process.env.AWS_REGION = 'us-east-1';
    process.env[EnvNames.METRIC_NAMESPACE] = NS;
    delete process.env[EnvNames.WORKLOADS];
    await jest.isolateModulesAsync(async () => {
      await expect(import('../../lambda/cost-reporter/index')).rejects.toThrow(/AI_BURST_WORKLOADS is not set/);
    });
  });
});
