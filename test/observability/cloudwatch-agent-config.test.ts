import { cloudWatchAgentConfig, cloudWatchAgentConfigJson, CW_AGENT_NAMESPACE, GPU_AGENT_DIMENSION_SETS, GpuAgentMetrics } from '../../lib';

describe('cloudWatchAgentConfig', () => {
  const config = cloudWatchAgentConfig({ workload: 'realtime' });
  const gpu = config.metrics.metrics_collected.nvidia_gpu;

  test('collects GPU utilization, memory utilization and memory used/total from nvidia-smi every minute', () => {
    expect(gpu.measurement).toEqual(['utilization_gpu', 'utilization_memory', 'memory_used', 'memory_total']);
    expect(gpu.metrics_collection_interval).toBe(60);
    expect(config.agent.metrics_collection_interval).toBe(60);
  });

  test('publishes to CWAgent under the names the dashboard reads (nvidia_smi_ + measurement)', () => {
    expect(config.metrics.namespace).toBe(CW_AGENT_NAMESPACE);
    expect(gpu.measurement.map((m) => `nvidia_smi_${m}`)).toEqual(Object.values(GpuAgentMetrics));
  });

  test('adds the Workload dimension on the GPU plugin and the group and instance from EC2 metadata', () => {
    expect(gpu.append_dimensions).toEqual({ Workload: 'realtime' });
    expect(config.metrics.append_dimensions).toEqual({ AutoScalingGroupName: '${aws:AutoScalingGroupName}', InstanceId: '${aws:InstanceId}' });
    // The agent accepts only these four keys in the top-level append_dimensions.
    for (const key of Object.keys(config.metrics.append_dimensions))
      expect(['ImageId', 'InstanceId', 'InstanceType', 'AutoScalingGroupName']).toContain(key);
  });

  test('rolls up per workload, per group and per instance, and drops the per-GPU originals', () => {
    expect(config.metrics.aggregation_dimensions).toEqual([['Workload'], ['AutoScalingGroupName'], ['AutoScalingGroupName', 'InstanceId']]);
    expect(config.metrics.aggregation_dimensions).toEqual(GPU_AGENT_DIMENSION_SETS);
    expect(gpu.drop_original_metrics).toEqual(gpu.measurement);
  });

  test('the JSON form is the same configuration, and an interval of 10 s makes high-resolution metrics', () => {
    expect(JSON.parse(cloudWatchAgentConfigJson({ workload: 'realtime' }))).toEqual(config);
    const fast = cloudWatchAgentConfig({ workload: 'realtime', intervalSeconds: 10 });
    expect(fast.metrics.metrics_collected.nvidia_gpu.metrics_collection_interval).toBe(10);
  });

  test.each<[string, Parameters<typeof cloudWatchAgentConfig>[0], RegExp]>([
    ['a workload with capitals', { workload: 'RealTime' }, /cloudWatchAgentConfig: workload "RealTime" is invalid/],
    ['an interval of 5 s', { workload: 'w', intervalSeconds: 5 }, /intervalSeconds must be an integer between 10 and 300 \(got 5\)/],
    ['a fractional interval', { workload: 'w', intervalSeconds: 30.5 }, /intervalSeconds must be an integer between 10 and 300 \(got 30.5\)/],
  ])('fails if %s', (_name, options, message) => {
    expect(() => cloudWatchAgentConfig(options)).toThrow(message);
  });
});
