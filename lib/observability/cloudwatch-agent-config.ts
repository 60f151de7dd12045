/**
 * The CloudWatch agent configuration the GPU fleet installs on every instance, so the dashboard's GPU
 * widgets have data. Pure (no aws-cdk-lib, no AWS SDK): GpuFleet writes its JSON into the user data, the
 * dashboard reads the metric names below, and a test checks both against each other.
 *
 * Facts it relies on (CloudWatch agent, "Collect NVIDIA GPU metrics"): the `nvidia_gpu` section under
 * `metrics_collected` reads `nvidia-smi`; each measurement `x` is published as `nvidia_smi_x` in the agent's
 * namespace; the top-level `append_dimensions` only supports the four EC2 keys (`ImageId`, `InstanceId`,
 * `InstanceType`, `AutoScalingGroupName`), while a plugin's own `append_dimensions` may add any key — which is
 * how the `Workload` dimension gets on the GPU metrics; `aggregation_dimensions` publishes roll-ups on the
 * listed dimension sets; `drop_original_metrics` stops the per-GPU originals (dimensions `index`, `name`,
 * `host`, …) from being published, so only the roll-ups below cost custom-metric fees.
 *
 * The instance role needs `cloudwatch:PutMetricData` (condition `cloudwatch:namespace` = {@link CW_AGENT_NAMESPACE})
 * and `ec2:DescribeTags` (how the agent resolves `${aws:AutoScalingGroupName}`); the NVIDIA driver must be
 * installed (the GPU AMIs have it).
 */
import { Dimensions, WORKLOAD_NAME_PATTERN } from '../contracts';

/** Namespace the CloudWatch agent publishes to. */
export const CW_AGENT_NAMESPACE = 'CWAgent';

/** The `nvidia_gpu` measurements the config collects, as `measurement → CloudWatch metric name`. */
export const GpuAgentMetrics = {
  /** Percent of time one or more kernels ran on the GPU during the sample period. */
  UTILIZATION_GPU: 'nvidia_smi_utilization_gpu',
  /** Percent of time device memory was read or written during the sample period. */
  UTILIZATION_MEMORY: 'nvidia_smi_utilization_memory',
  /** Device memory in use, MiB. */
  MEMORY_USED: 'nvidia_smi_memory_used',
  /** Device memory installed, MiB. */
  MEMORY_TOTAL: 'nvidia_smi_memory_total',
} as const;
export type GpuAgentMetricName = (typeof GpuAgentMetrics)[keyof typeof GpuAgentMetrics];

/** The agent's measurement names (the metric names without the `nvidia_smi_` prefix). */
const MEASUREMENTS = Object.values(GpuAgentMetrics).map((name) => name.replace(/^nvidia_smi_/, ''));

/** EC2 dimension names the agent resolves from instance metadata. */
export const AgentDimensions = {
  AUTO_SCALING_GROUP_NAME: 'AutoScalingGroupName',
  INSTANCE_ID: 'InstanceId',
} as const;

/**
 * The dimension sets the GPU metrics are published with (the agent's `aggregation_dimensions`): per workload
 * (the dashboard's section line), per Auto Scaling group, and per instance within a group (which instance idles).
 */
export const GPU_AGENT_DIMENSION_SETS: readonly (readonly string[])[] = [
  [Dimensions.WORKLOAD],
  [AgentDimensions.AUTO_SCALING_GROUP_NAME],
  [AgentDimensions.AUTO_SCALING_GROUP_NAME, AgentDimensions.INSTANCE_ID],
];

export interface CloudWatchAgentConfigOptions {
  /** Workload the instance serves; becomes the `Workload` dimension. */
  readonly workload: string;
  /**
   * Seconds between samples: 60 gives standard-resolution metrics; 10 to 59 publish high-resolution
   * metrics (more expensive). 10 to 300.
   * @default 60
   */
  readonly intervalSeconds?: number;
}

/**
 * The agent's JSON configuration, as an object (serialize with `JSON.stringify`). A type alias, not an
 * interface: its keys are the agent's snake_case names, which jsii structs cannot carry (TypeScript only;
 * other languages use `CloudWatchAgent.configJson`).
 */
export type CloudWatchAgentConfig = {
  readonly agent: { readonly metrics_collection_interval: number };
  readonly metrics: {
    readonly namespace: string;
    readonly append_dimensions: Readonly<Record<string, string>>;
    readonly aggregation_dimensions: readonly (readonly string[])[];
    readonly metrics_collected: {
      readonly nvidia_gpu: {
        readonly measurement: readonly string[];
        readonly metrics_collection_interval: number;
        readonly append_dimensions: Readonly<Record<string, string>>;
        readonly drop_original_metrics: readonly string[];
      };
    };
  };
};

/**
 * The CloudWatch agent configuration for one workload's GPU instances.
 *
 * The result contains the agent's own placeholders `${aws:AutoScalingGroupName}` and `${aws:InstanceId}`:
 * write it to the instance verbatim (e.g. a heredoc with a quoted delimiter); if the user data goes through
 * `Fn::Sub`, escape them as `${!aws:...}`.
 */
export function cloudWatchAgentConfig(options: CloudWatchAgentConfigOptions): CloudWatchAgentConfig {
  const { workload } = options;
  if (typeof workload !== 'string' || !WORKLOAD_NAME_PATTERN.test(workload)) {
    throw new Error(
      `cloudWatchAgentConfig: workload ${JSON.stringify(workload)} is invalid: use lower-case letters, ` +
        'digits and dashes, starting with a letter, up to 32 characters',
    );
  }
  const interval = options.intervalSeconds ?? 60;
  if (!Number.isInteger(interval) || interval < 10 || interval > 300) {
    throw new Error(`cloudWatchAgentConfig: intervalSeconds must be an integer between 10 and 300 (got ${interval})`);
  }
  return {
    agent: { metrics_collection_interval: interval },
    metrics: {
      namespace: CW_AGENT_NAMESPACE,
      append_dimensions: {
        [AgentDimensions.AUTO_SCALING_GROUP_NAME]: '${aws:AutoScalingGroupName}',
        [AgentDimensions.INSTANCE_ID]: '${aws:InstanceId}',
      },
      aggregation_dimensions: GPU_AGENT_DIMENSION_SETS.map((set) => [...set]),
      metrics_collected: {
        nvidia_gpu: {
          measurement: [...MEASUREMENTS],
          metrics_collection_interval: interval,
          append_dimensions: { [Dimensions.WORKLOAD]: workload },
          drop_original_metrics: [...MEASUREMENTS],
        },
      },
    },
  };
}

/** {@link cloudWatchAgentConfig} as the JSON text the agent reads (`amazon-cloudwatch-agent-ctl -a fetch-config -c file:…`). */
export function cloudWatchAgentConfigJson(options: CloudWatchAgentConfigOptions): string {
  return JSON.stringify(cloudWatchAgentConfig(options), null, 2);
}

/** The CloudWatch agent configuration GpuFleet installs (`gpuMetrics`), for instances you run yourself. */
export class CloudWatchAgent {
  /**
   * The configuration for one workload's GPU instances as the JSON text the agent reads
   * (`amazon-cloudwatch-agent-ctl -a fetch-config -c file:…`); same as `cloudWatchAgentConfigJson()`.
   */
  public static configJson(options: CloudWatchAgentConfigOptions): string {
    return cloudWatchAgentConfigJson(options);
  }

  private constructor() {}
}
