/**
 * Contract test: every metric (namespace, name, dimension names) a widget or alarm of AiObservability reads
 * is emitted by a producer in this repo — the worker or a Lambda (scanned from source for the contract
 * constants they emit), the CloudWatch agent configuration, or AWS itself (AWS/SQS, AWS/AutoScaling,
 * AWS/Lambda) — and the check fails when a name or a dimension set drifts on either side.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AiObservability, CostReporter, JobQueue, METRIC_NAMESPACE } from '../../lib';
import { testStack } from '../support/stacks';
import { contractViolations, Producer, readMetrics, ReadMetric, scanProducers, violation } from './metric-contract';

const REPO = path.resolve(__dirname, '..', '..');

function platformTemplate(metricNamespace?: string): Template {
  const { stack } = testStack();
  const realtime = new JobQueue(stack, 'Realtime', { workload: 'realtime' });
  const batch = new JobQueue(stack, 'Batch', { workload: 'batch', priorities: ['urgent', 'normal', 'backfill'] });
  const costReporter = metricNamespace ? undefined : new CostReporter(stack, 'Cost', { workloads: ['realtime', 'batch'] });
  new AiObservability(stack, 'Obs', {
    workloads: [
      {
        queue: realtime,
        autoScalingGroupName: 'realtime-asg',
        dailyBudgetUsd: 50,
        agents: ['summarizer', 'triage'],
        capacityManagerFunction: lambda.Function.fromFunctionName(stack, 'Cm', 'realtime-capacity-manager'),
      },
      { queue: batch, autoScalingGroupName: 'batch-asg', oldestJobAgeSlo: Duration.hours(1) },
    ],
    costReporter,
    dailyBudgetUsd: 200,
    createAlarmTopic: true,
    metricNamespace,
  });
  return Template.fromStack(stack);
}

const template = platformTemplate();
const read = readMetrics(template);
const producers = scanProducers(REPO);
const key = (r: ReadMetric) => `${r.namespace} ${r.metricName} {${r.dimensions.join(',')}}`;
const unique = (rs: ReadMetric[]) => [...new Map(rs.map((r) => [key(r), r])).values()].sort((a, b) => key(a).localeCompare(key(b)));

describe('GIVEN the platform dashboard and alarms', () => {
  test('THEN they read library, agent and AWS metrics, including SEARCH schemas', () => {
    const namespaces = new Set(read.map((r) => r.namespace));
    expect([...namespaces].sort()).toEqual(['AWS/AutoScaling', 'AWS/Lambda', 'AWS/SQS', 'AiBurst', 'CWAgent']);
    expect(read).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ namespace: 'AiBurst', metricName: 'InferenceLatency', dimensions: ['Model', 'Workload'] }),
        expect.objectContaining({ namespace: 'AiBurst', metricName: 'SpendUsd', dimensions: ['Agent', 'Workload'] }),
        expect.objectContaining({ namespace: 'CWAgent', metricName: 'nvidia_smi_utilization_gpu', dimensions: ['Workload'] }),
      ]),
    );
  });

  test.each(unique(read.filter((r) => r.namespace !== METRIC_NAMESPACE)).map((r) => [key(r), r] as const))(
    'external or agent metric %s is published by its producer',
    (_k, r) => {
      expect(violation(r, producers)).toBeUndefined();
    },
  );

  // One test per library metric: red ones name the metric that has no producer yet.
  test.each(unique(read.filter((r) => r.namespace === METRIC_NAMESPACE)).map((r) => [key(r), r] as const))(
    'library metric %s is emitted by a producer in worker/ or lambda/',
    (_k, r) => {
      expect(violation(r, producers)).toBeUndefined();
    },
  );
});

describe('GIVEN the producers in the repo', () => {
  test('THEN the CostReporter is found emitting SpendUsd with every dimension of its contract sets', () => {
    const cost = producers.find((p) => p.component === 'lambda/cost-reporter')!;
    expect(cost.emits.get('SpendUsd')).toBe('lambda/cost-reporter/cost.ts');
    expect([...cost.dimensions].sort()).toEqual(['Agent', 'PriceSource', 'Workload']);
    expect(cost.namespaceFromContract).toBe(true);
  });
});

describe('GIVEN a drifted name or dimension set, the check fails', () => {
  test('WHEN a widget reads a metric name that is not in the contract', () => {
    const json = JSON.stringify(template.toJSON()).replace(/(?<=[\\"])TokensIn(?=[\\"])/g, 'TokenIn');
    const drifted = readMetrics(Template.fromJSON(JSON.parse(json)));
    const violations = contractViolations(drifted, producers).join('\n');
    expect(violations).toMatch(/reads AiBurst\/TokenIn \{Model, Workload\}: not a name in lib\/contracts\/metrics.ts MetricNames/);
    expect(violations).toMatch(/reads AiBurst\/TokenIn \{Workload\}: not a name/);
    expect(contractViolations(readMetrics(template), producers).join('\n')).not.toMatch(/TokenIn/);
  });

  test('WHEN a widget reads a dimension set the contract does not publish', () => {
    const r: ReadMetric = { namespace: 'AiBurst', metricName: 'TokensIn', dimensions: ['Agent', 'Model', 'Workload'], where: 'widget "x"' };
    expect(violation(r, producers)).toMatch(/METRIC_DIMENSION_SETS publishes TokensIn only with/);
  });

  test('WHEN the dashboard reads another namespace than the producers publish to', () => {
    const drifted = readMetrics(platformTemplate('Elsewhere'));
    expect(contractViolations(drifted, producers).join('\n')).toMatch(/reads Elsewhere\/TokensIn .*no producer publishes to namespace Elsewhere/);
  });

  test('WHEN the dashboard reads an AWS metric the resource does not publish', () => {
    const r: ReadMetric = {
      namespace: 'AWS/AutoScaling',
      metricName: 'GroupPendingInstances',
      dimensions: ['AutoScalingGroupName'],
      where: 'widget "x"',
    };
    expect(violation(r, producers)).toMatch(/AWS\/AutoScaling publishes no such metric/);
  });

  describe('WHEN producers drift (a scratch repo)', () => {
    let root: string;
    let scratch: Producer[];
    beforeAll(() => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'contract-'));
      const write = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        fs.writeFileSync(path.join(root, rel), text);
      };
      // Emits TokensIn with the Workload dimension only, through a shared helper it imports.
      write(
        'lambda/narrow/index.ts',
        [
          "import { EnvNames, MetricNames } from '../../lib/contracts';",
          "import { emit } from '../shared/emit';",
          'const ns = process.env[EnvNames.METRIC_NAMESPACE];',
          'export const handler = () => emit(MetricNames.TOKENS_IN, 12);',
        ].join('\n'),
      );
      write(
        'lambda/shared/emit.ts',
        [
          "import { Dimensions } from '../../lib/contracts';",
          'export function emit(name: string, value: number) { return { MetricName: name, Dimensions: [{ Name: Dimensions.WORKLOAD, Value: "w" }], Value: value }; }',
        ].join('\n'),
      );
      // Spells the name as a literal and only compares with the constant: neither counts as emitting.
      write(
        'worker/index.ts',
        [
          "import { EnvNames, MetricNames } from '../lib/contracts';",
          'const ns = process.env[EnvNames.METRIC_NAMESPACE];',
          "export function publish(put: (n: string) => void, name: string) { put('TokensOut'); if (name === MetricNames.JOBS_FAILED) return; }",
        ].join('\n'),
      );
      // Reads metrics (a budget check, a share lookup): reading is not emitting.
      write(
        'lambda/reader/index.ts',
        [
          "import { EnvNames, MetricNames, Dimensions } from '../../lib/contracts';",
          'const ns = process.env[EnvNames.METRIC_NAMESPACE];',
          "const q = { Id: 'a', MetricStat: { Metric: { MetricName: MetricNames.GPU_SECONDS, Dimensions: [{ Name: Dimensions.AGENT, Value: 'x' }] } } };",
          'export const run = (cw: any) => Promise.all([cw.send(new GetMetricDataCommand({ MetricDataQueries: [q] })), cw.send(new ListMetricsCommand({ MetricName: MetricNames.SPEND_USD }))]);',
        ].join('\n'),
      );
      scratch = scanProducers(root);
    });
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

    test('THEN a producer is the Lambda plus the shared files it imports', () => {
      const narrow = scratch.find((p) => p.component === 'lambda/narrow')!;
      expect(narrow.files).toEqual(['lambda/narrow/index.ts', 'lambda/shared/emit.ts']);
      expect([...narrow.emits.keys()]).toEqual(['TokensIn']);
      expect([...narrow.dimensions]).toEqual(['Workload']);
    });

    test('THEN reading the per-model set of a metric emitted with Workload only fails; the Workload set passes', () => {
      const perModel: ReadMetric = { namespace: 'AiBurst', metricName: 'TokensIn', dimensions: ['Model', 'Workload'], where: 'widget "tokens"' };
      expect(violation(perModel, scratch)).toMatch(/emitted by lambda\/narrow but not with dimensions Model, Workload/);
      expect(violation({ ...perModel, dimensions: ['Workload'] }, scratch)).toBeUndefined();
    });

    test('THEN a metric read through GetMetricData or ListMetrics is not an emission', () => {
      const reader = scratch.find((p) => p.component === 'lambda/reader')!;
      expect(reader.emits.size).toBe(0);
      expect(reader.dimensions.size).toBe(0);
    });

    test('THEN a literal name or a comparison with the constant is not an emission', () => {
      const worker = scratch.find((p) => p.component === 'worker')!;
      expect(worker.emits.size).toBe(0);
      for (const metricName of ['TokensOut', 'JobsFailed']) {
        expect(violation({ namespace: 'AiBurst', metricName, dimensions: ['Workload'], where: 'alarm A' }, scratch)).toMatch(
          new RegExp(`no producer in worker/ or lambda/ emits MetricNames for ${metricName}`),
        );
      }
    });
  });
});
