/** One workload's dashboard section, one method per widget (not exported from the package). */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Dimensions, MetricName, MetricNames, PriceSources } from '../../contracts';
import { IJobQueue } from '../../queue/job-queue';
import { GpuAgentMetrics } from '../cloudwatch-agent-config';
import { Axes, FULL_WIDTH } from './dashboard-axes';
import { WorkloadMetrics } from './workload-metrics';

const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);
const HOUR = Duration.hours(1);

export interface WorkloadSectionProps {
  readonly metrics: WorkloadMetrics;
  readonly queue: IJobQueue;
  readonly oldestJobAgeSlo: Duration;
  readonly idleFleetAlarmAfter: Duration;
  readonly failureRatioThreshold: number;
  readonly dailyBudgetUsd?: number;
  readonly agents: readonly string[];
  /** The workload's alarms, for its alarm status widget. */
  readonly alarms: readonly cloudwatch.IAlarm[];
}

export class WorkloadSection {
  private readonly m: WorkloadMetrics;

  constructor(private readonly props: WorkloadSectionProps) {
    this.m = props.metrics;
  }

  /** The section's rows, top to bottom: tokens and cost · latency · queue and fleet · reliability · agents · GPUs · cold starts. */
  public rows(): cloudwatch.IWidget[][] {
    return [
      [this.header()],
      [this.tokens(), this.costPerMillionTokens(), this.spendRate()],
      [this.latency('inference latency', MetricNames.INFERENCE_LATENCY), this.latency('time to first token', MetricNames.TIME_TO_FIRST_TOKEN)],
      [this.queueDepth(), this.oldestJob(), this.fleet(), this.backlogPerInstance()],
      [this.reliability(), this.jobs(), this.alarmStatus()],
      [this.topAgentsBySpend(), this.topAgentsByGpuHours(), this.costPerSuccessfulJob()],
      [this.gpuUtilization(), this.interruptionTax()],
      [this.coldStart(), this.bootHealth()],
    ];
  }

  private title(text: string): string {
    return `${this.m.workload} · ${text}`;
  }

  private header(): cloudwatch.IWidget {
    const region = this.m.fleetRegion;
    return new cloudwatch.TextWidget({
      markdown:
        `## Workload \`${this.m.workload}\`\nTokens and cost · latency · queue and fleet · reliability · agents · GPUs, the ` +
        `interruption tax and cold starts. Oldest-job SLO ${this.props.oldestJobAgeSlo.toHumanString()}; ` +
        (region === undefined
          ? `fleet-idle alarm after ${this.props.idleFleetAlarmAfter.toHumanString()}.`
          : `the GPU layer runs in ${region}: its fleet metrics are read there, its fleet alarms live there.`),
      width: FULL_WIDTH,
      height: 2,
    });
  }

  private budgetLine(): Partial<cloudwatch.GraphWidgetProps> {
    const budget = this.props.dailyBudgetUsd;
    return budget !== undefined ? { leftAnnotations: [{ value: budget / 24, label: 'daily budget ÷ 24' }] } : {};
  }

  // Tokens and cost

  private tokens(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('tokens in/out per model'),
      left: [
        this.m.expression(this.m.search(MetricNames.TOKENS_IN, Dimensions.MODEL, 'Sum', 60), 'in', MINUTE),
        this.m.expression(this.m.search(MetricNames.TOKENS_OUT, Dimensions.MODEL, 'Sum', 60), 'out', MINUTE),
      ],
      leftYAxis: Axes.TOKENS_PER_MINUTE,
      width: 8,
    });
  }

  private costPerMillionTokens(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('cost per 1M tokens (USD)'),
      left: [this.m.costPerMillionTokens()],
      leftYAxis: Axes.USD,
      width: 8,
    });
  }

  private spendRate(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('spend rate (USD/h)'),
      left: [this.m.spendRatePerHour(), this.m.spendRatePerHour(FIVE_MINUTES, PriceSources.SNAPSHOT)],
      leftYAxis: Axes.USD_PER_HOUR,
      ...this.budgetLine(),
      width: 8,
    });
  }

  // Latency

  private latency(what: string, metricName: MetricName): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title(`${what} p50/p90/p99 per model`),
      left: ['p50', 'p90', 'p99'].map((p) => this.m.expression(this.m.search(metricName, Dimensions.MODEL, p, 60), p, MINUTE)),
      leftYAxis: Axes.MILLISECONDS,
      width: 12,
    });
  }

  // Queue and fleet

  private queueDepth(): cloudwatch.IWidget {
    const queue = this.props.queue;
    return new cloudwatch.GraphWidget({
      title: this.title('queue depth per priority (waiting + running)'),
      left: queue.priorities.map((priority) => queue.metricBacklog({ priority, label: priority })),
      stacked: true,
      leftYAxis: Axes.JOBS,
      width: 6,
    });
  }

  private oldestJob(): cloudwatch.IWidget {
    const queue = this.props.queue;
    return new cloudwatch.GraphWidget({
      title: this.title('oldest waiting job (s)'),
      left: queue.priorities.map((priority) => queue.metricOldestJobAge({ priority, label: priority })),
      leftAnnotations: [{ value: this.props.oldestJobAgeSlo.toSeconds(), label: 'SLO', color: cloudwatch.Color.RED }],
      leftYAxis: Axes.SECONDS,
      width: 6,
    });
  }

  private fleet(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('fleet desired / in service vs backlog'),
      left: [
        this.m.group('GroupDesiredCapacity', 'desired (group)'),
        this.m.group('GroupInServiceInstances', 'in service'),
        this.m.metric(MetricNames.DESIRED_CAPACITY, { statistic: 'Maximum', label: 'desired (CapacityManager)' }),
      ],
      right: [this.props.queue.metricBacklog({ label: 'backlog' })],
      leftYAxis: Axes.INSTANCES,
      rightYAxis: Axes.JOBS,
      width: 6,
    });
  }

  private backlogPerInstance(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('backlog per instance'),
      left: [this.m.metric(MetricNames.BACKLOG_PER_INSTANCE, { statistic: 'Average', label: 'BacklogPerInstance' })],
      leftYAxis: Axes.JOBS_PER_INSTANCE,
      width: 6,
    });
  }

  // Reliability

  private reliability(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('interruptions, requeues, retries, parked'),
      left: [
        this.m.metric(MetricNames.JOBS_INTERRUPTED, { label: 'interrupted' }),
        this.m.metric(MetricNames.JOBS_REQUEUED, { label: 'requeued' }),
        this.m.metric(MetricNames.JOBS_RETRIED, { label: 'retried' }),
        this.m.metric(MetricNames.JOBS_PARKED, { label: 'parked' }),
      ],
      right: [this.props.queue.metricDeadLetters({ label: 'on DLQ' }), this.props.queue.metricParkedJobs({ label: 'on parking queue' })],
      leftYAxis: Axes.JOBS_PER_MINUTE,
      rightYAxis: Axes.JOBS,
      width: 8,
    });
  }

  private jobs(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('jobs submitted / succeeded / failed'),
      left: [
        this.m.metric(MetricNames.JOBS_SUBMITTED, { label: 'submitted' }),
        this.m.metric(MetricNames.JOBS_SUCCEEDED, { label: 'succeeded' }),
        this.m.metric(MetricNames.JOBS_FAILED, { label: 'failed' }),
      ],
      right: [this.m.failureRatio().with({ label: 'failure ratio' })],
      rightAnnotations: [{ value: this.props.failureRatioThreshold, label: 'alarm', color: cloudwatch.Color.RED }],
      leftYAxis: Axes.JOBS_PER_MINUTE,
      rightYAxis: Axes.RATIO,
      width: 8,
    });
  }

  private alarmStatus(): cloudwatch.IWidget {
    return new cloudwatch.AlarmStatusWidget({ title: this.title('alarms'), alarms: [...this.props.alarms], width: 8, height: 6 });
  }

  // Agents

  private topAgentsBySpend(): cloudwatch.IWidget {
    return this.topAgents(
      'top agents by spend (USD, time range)',
      `SORT(${this.m.search(MetricNames.SPEND_USD, Dimensions.AGENT, 'Sum')}, SUM, DESC, 10)`,
      'USD',
    );
  }

  private topAgentsByGpuHours(): cloudwatch.IWidget {
    const search = this.m.search(MetricNames.GPU_SECONDS, Dimensions.AGENT, 'Sum');
    return this.topAgents('top agents by GPU-hours (time range)', `SORT(${search}, SUM, DESC, 10) / 3600`, 'GPU-h');
  }

  private topAgents(title: string, expression: string, label: string): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title(title),
      left: [this.m.expression(expression, label, HOUR)],
      view: cloudwatch.GraphWidgetView.BAR,
      setPeriodToTimeRange: true,
      width: 8,
    });
  }

  private costPerSuccessfulJob(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('cost per successful job (USD)'),
      left: [
        this.m.costPerSuccessfulJob(`${this.m.workload} (all agents)`),
        ...this.props.agents.map((name, index) => this.m.costPerSuccessfulJob(name, { name, index })),
      ],
      leftYAxis: Axes.USD_PER_JOB,
      width: 8,
    });
  }

  // GPUs and the interruption tax

  private gpuUtilization(): cloudwatch.IWidget {
    const used = this.m.gpu(GpuAgentMetrics.MEMORY_USED, 'used');
    const total = this.m.gpu(GpuAgentMetrics.MEMORY_TOTAL, 'total');
    return new cloudwatch.GraphWidget({
      title: this.title('GPU utilization and memory (%)'),
      left: [
        this.m.gpu(GpuAgentMetrics.UTILIZATION_GPU, 'GPU busy (avg)'),
        this.m.gpu(GpuAgentMetrics.UTILIZATION_MEMORY, 'memory bandwidth busy (avg)'),
        new cloudwatch.MathExpression({
          expression: '100 * used / total',
          usingMetrics: { used, total },
          period: MINUTE,
          label: 'memory used',
          ...this.m.evaluatedIn(),
        }),
        this.m.expression(this.m.searchGpuPerInstance(GpuAgentMetrics.UTILIZATION_GPU), 'GPU busy per instance', MINUTE),
      ],
      leftYAxis: Axes.PERCENT,
      width: 12,
    });
  }

  private interruptionTax(): cloudwatch.IWidget {
    const fiveMinutes = (name: MetricName) => this.m.metric(name, { period: FIVE_MINUTES });
    const hours = (id: string, name: MetricName, label: string) =>
      new cloudwatch.MathExpression({
        expression: `${id} / 3600`,
        usingMetrics: { [id]: fiveMinutes(name) },
        period: FIVE_MINUTES,
        label,
        ...this.m.evaluatedIn(),
      });
    const tax = '(FILL(i2, 0) + FILL(b2, 0) + FILL(d2, 0))';
    return new cloudwatch.GraphWidget({
      title: this.title('interruption tax (GPU-hours per 5 min)'),
      left: [
        hours('i', MetricNames.INTERRUPTED_GPU_SECONDS, 'lost to interruptions'),
        hours('b', MetricNames.BOOT_GPU_SECONDS, 'booting'),
        hours('d', MetricNames.IDLE_GPU_SECONDS, 'idle'),
      ],
      stacked: true,
      right: [
        new cloudwatch.MathExpression({
          expression: `100 * ${tax} / (FILL(i2, 0) + FILL(b2, 0) + FILL(d2, 0) + FILL(g2, 0))`,
          usingMetrics: {
            i2: fiveMinutes(MetricNames.INTERRUPTED_GPU_SECONDS),
            b2: fiveMinutes(MetricNames.BOOT_GPU_SECONDS),
            d2: fiveMinutes(MetricNames.IDLE_GPU_SECONDS),
            g2: fiveMinutes(MetricNames.GPU_SECONDS),
          },
          period: FIVE_MINUTES,
          label: 'tax share of GPU time (%)',
          ...this.m.evaluatedIn(),
        }),
      ],
      leftYAxis: Axes.GPU_HOURS,
      rightYAxis: Axes.PERCENT,
      width: 12,
    });
  }

  // Cold starts

  /** Seconds from launch to the end of each boot stage, p50 and p90 over the instances launched in each hour. */
  private coldStart(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('cold start by stage (s from launch, p50/p90)'),
      left: ['p50', 'p90'].map((p) =>
        this.m.expression(this.m.search(MetricNames.COLD_START_SECONDS, Dimensions.STAGE, p, 3600), `${p} \${PROP('Dim.${Dimensions.STAGE}')}`, HOUR),
      ),
      leftYAxis: Axes.SECONDS,
      width: 16,
    });
  }

  private bootHealth(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: this.title('boot failures and lost model servers (per hour)'),
      left: [
        this.m.metric(MetricNames.BOOT_FAILURES, { period: HOUR, label: 'boot failures (replaced)' }),
        this.m.metric(MetricNames.MODEL_SERVER_LOST, { period: HOUR, label: 'model server lost (replaced)' }),
      ],
      leftYAxis: Axes.INSTANCES,
      width: 8,
    });
  }
}
