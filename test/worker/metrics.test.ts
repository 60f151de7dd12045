import { CloudWatchClient, MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { METRIC_DIMENSION_SETS, MetricNames } from '../../lib/contracts';
import { silentLogger } from '../../runtime/log';
import { MAX_DATUMS_PER_CALL, MetricsBatcher, batches } from '../../worker/metrics';

const cw = mockClient(CloudWatchClient);
afterAll(() => cw.restore());
beforeEach(() => cw.reset());

function datums(): MetricDatum[] {
  return cw.commandCalls(PutMetricDataCommand).flatMap((c) => c.args[0].input.MetricData ?? []);
}

describe('MetricsBatcher', () => {
  test('publishes each value once per dimension set of the contract, raw values as Values/Counts', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const m = new MetricsBatcher(new CloudWatchClient({ region: 'us-east-1' }), 'AiBurst', silentLogger, () => 0);
    const dims = { workload: 'chat', agent: 'a', model: 'm' };
    m.record(MetricNames.TOKENS_IN, 10, dims);
    m.record(MetricNames.TOKENS_IN, 10, dims);
    m.record(MetricNames.TOKENS_IN, 7, dims);
    m.record(MetricNames.JOBS_REQUEUED, 1, dims);
    await m.flush();

    const calls = cw.commandCalls(PutMetricDataCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input.Namespace).toBe('AiBurst');
    const tokens = datums().filter((d) => d.MetricName === MetricNames.TOKENS_IN);
    expect(tokens.map((d) => d.Dimensions!.map((x) => `${x.Name}=${x.Value}`).join(','))).toEqual(
      METRIC_DIMENSION_SETS[MetricNames.TOKENS_IN].map((set) =>
        set.map((n) => `${n}=${({ Workload: 'chat', Agent: 'a', Model: 'm' } as Record<string, string>)[n]}`).join(','),
      ),
    );
    expect(tokens[0]).toMatchObject({ Values: [10, 7], Counts: [2, 1], Unit: 'Count' });
    // JobsRequeued is a Workload-only metric
    expect(
      datums()
        .filter((d) => d.MetricName === MetricNames.JOBS_REQUEUED)
        .map((d) => d.Dimensions),
    ).toEqual([[{ Name: 'Workload', Value: 'chat' }]]);
  });

  test('skips dimension sets whose value is missing, and non-finite values', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const m = new MetricsBatcher(new CloudWatchClient({ region: 'us-east-1' }), 'AiBurst', silentLogger);
    m.record(MetricNames.GPU_SECONDS, 3, { workload: 'chat', agent: 'a' });
    m.record(MetricNames.GPU_SECONDS, Number.NaN, { workload: 'chat', agent: 'a' });
    await m.flush();
    expect(datums().map((d) => d.Dimensions!.map((x) => x.Name).join('+'))).toEqual(['Workload', 'Workload+Agent']);
  });

  test('more than 150 distinct values split into several datums; more than 1,000 datums into several calls', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const m = new MetricsBatcher(new CloudWatchClient({ region: 'us-east-1' }), 'AiBurst', silentLogger);
    for (let i = 0; i < 400; i++) m.record(MetricNames.BOOT_GPU_SECONDS, i, { workload: 'chat' });
    for (let i = 0; i < 1200; i++) m.record(MetricNames.JOBS_PARKED, 1, { workload: `w${i}` });
    await m.flush();
    const boot = datums().filter((d) => d.MetricName === MetricNames.BOOT_GPU_SECONDS);
    expect(boot.map((d) => d.Values!.length)).toEqual([150, 150, 100]);
    const calls = cw.commandCalls(PutMetricDataCommand);
    expect(calls.length).toBe(2);
    expect(calls.every((c) => c.args[0].input.MetricData!.length <= MAX_DATUMS_PER_CALL)).toBe(true);
    expect(datums()).toHaveLength(1203);
  });

  test('batches also respect the request size budget', () => {
    const big: MetricDatum = { MetricName: 'X', Values: Array.from({ length: 150 }, (_, i) => i), Counts: Array(150).fill(1) };
    const out = batches(Array(200).fill(big));
    expect(out.length).toBeGreaterThan(1);
    expect(out.flat()).toHaveLength(200);
  });

  test('a refused call keeps its data for the next flush', async () => {
    cw.on(PutMetricDataCommand).rejectsOnce(new Error('throttled')).resolves({});
    const m = new MetricsBatcher(new CloudWatchClient({ region: 'us-east-1' }), 'AiBurst', silentLogger);
    m.record(MetricNames.JOBS_PARKED, 1, { workload: 'chat' });
    await m.flush();
    await m.flush();
    const calls = cw.commandCalls(PutMetricDataCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1].args[0].input.MetricData).toEqual(calls[0].args[0].input.MetricData);
  });
});
