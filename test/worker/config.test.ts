import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_LOST_SECONDS, MAX_BOOT_TIMEOUT_SECONDS, WORKER_CONFIG_VERSION, WorkerConfig, ModelServerKind } from '../../lib/contracts';
import { DEFAULT_BACKOFF } from '../../runtime/jobs/retry';
import { MAX_MODEL_LOST_SECONDS, loadWorkerConfig, settingsOf, validateWorkerConfig } from '../../worker/config';
import { costUsdOf, economics, gpuSecondsOf, maxSlots } from '../../worker/cost';
import { jobDeadline } from '../../worker/heartbeat';

const valid: WorkerConfig = {
  v: WORKER_CONFIG_VERSION,
  region: 'us-east-1',
  workload: 'chat',
  queues: [
    { priority: 'high', url: 'https://sqs.us-east-1.amazonaws.com/1/high' },
    { priority: 'normal', url: 'https://sqs.us-east-1.amazonaws.com/1/normal' },
  ],
  parkingQueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/parking',
  jobTable: 'jobs',
  resultBucket: 'data',
  inlineResultMaxBytes: 8192,
  autoScalingGroupName: 'fleet',
  metricNamespace: 'AiBurst',
  modelServer: { kind: ModelServerKind.OPENAI, baseUrl: 'http://127.0.0.1:8000', healthPath: '/health' },
  concurrency: 1,
  jobTimeoutSeconds: 3600,
  visibilityTimeoutSeconds: 900,
  maxAttempts: 5,
  hourlyPriceUsd: { 'g5.xlarge': 0.503 },
};

describe('worker config', () => {
  test('a valid file loads; optional knobs get their defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-config-'));
    const path = join(dir, 'worker.json');
    writeFileSync(path, JSON.stringify(valid));
    const config = loadWorkerConfig(path);
    expect(config).toEqual(valid);
    expect(settingsOf(config)).toEqual({
      pollWaitSeconds: 20,
      imdsPollMs: 5000,
      starvationLimit: 5,
      retryBackoff: DEFAULT_BACKOFF,
      shutdownGraceMs: 20000,
      metricsFlushMs: 30000,
      imdsEndpoint: 'http://169.254.169.254',
      modelLostMs: DEFAULT_MODEL_LOST_SECONDS * 1000,
    });
    // no boot deadline unless the fleet writes one
    expect(settingsOf(config).bootTimeoutMs).toBeUndefined();
  });

  test('bootTimeoutSeconds and modelLostSeconds become the boot deadline and the model-lost window', () => {
    const config = validateWorkerConfig({ ...valid, bootTimeoutSeconds: MAX_BOOT_TIMEOUT_SECONDS, modelLostSeconds: 1 });
    expect(settingsOf(config)).toMatchObject({ bootTimeoutMs: MAX_BOOT_TIMEOUT_SECONDS * 1000, modelLostMs: 1000 });
    expect(settingsOf(validateWorkerConfig({ ...valid, bootTimeoutSeconds: 1, modelLostSeconds: MAX_MODEL_LOST_SECONDS }))).toMatchObject({
      bootTimeoutMs: 1000,
      modelLostMs: MAX_MODEL_LOST_SECONDS * 1000,
    });
  });

  test.each([
    ['bootTimeoutSeconds', 0, /bootTimeoutSeconds must be an integer number of seconds from 1 to 1800 \(got 0\)/],
    ['bootTimeoutSeconds', 1801, /bootTimeoutSeconds must be an integer number of seconds from 1 to 1800 \(got 1801\)/],
    ['bootTimeoutSeconds', 600.5, /bootTimeoutSeconds must be an integer .* \(got 600.5\)/],
    ['bootTimeoutSeconds', '600', /bootTimeoutSeconds must be an integer .* \(got "600"\)/],
    ['modelLostSeconds', 0, /modelLostSeconds must be an integer number of seconds from 1 to 3600 \(got 0\)/],
    ['modelLostSeconds', -60, /modelLostSeconds must be an integer .* \(got -60\)/],
    ['modelLostSeconds', 1.5, /modelLostSeconds must be an integer .* \(got 1.5\)/],
    ['modelLostSeconds', 3601, /modelLostSeconds must be an integer number of seconds from 1 to 3600 \(got 3601\)/],
  ])('fails if %s is %p', (field, value, message) => {
    expect(() => validateWorkerConfig({ ...valid, [field]: value })).toThrow(message);
  });

  test('fails if the file is missing or not JSON', () => {
    expect(() => loadWorkerConfig('/nonexistent/worker.json')).toThrow(/worker config \/nonexistent\/worker.json cannot be read/);
    const dir = mkdtempSync(join(tmpdir(), 'worker-config-'));
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    expect(() => loadWorkerConfig(join(dir, 'bad.json'))).toThrow(/is not valid JSON/);
  });

  test('fails naming every bad field with its value and the allowed range', () => {
    const bad = {
      ...valid,
      v: 2,
      workload: 'Bad Name',
      queues: [],
      concurrency: -1,
      visibilityTimeoutSeconds: 50000,
      pollWaitSeconds: 30,
      modelServer: { kind: 'grpc', baseUrl: 'nope', healthPath: 'health' },
    };
    expect(() => validateWorkerConfig(bad)).toThrow(/v must be 1 \(got 2\)/);
    const message = (() => {
      try {
        validateWorkerConfig(bad);
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    })();
    for (const re of [
      /workload must match .* \(got "Bad Name"\)/,
      /queues must be a non-empty array/,
      /concurrency must be an integer from 0 \(one per GPU\) to 256 \(got -1\)/,
      /visibilityTimeoutSeconds must be an integer from 1 to 43200 \(got 50000\)/,
      /pollWaitSeconds must be an integer from 1 to 20 \(got 30\)/,
      /modelServer.kind must be "openai" or "invocations" \(got "grpc"\)/,
      /modelServer.baseUrl must be an http\(s\) URL/,
      /modelServer.healthPath must start with "\/"/,
    ]) {
      expect(message).toMatch(re);
    }
  });

  test('fails if a priority repeats or the inline limit would not fit a DynamoDB item', () => {
    expect(() => validateWorkerConfig({ ...valid, queues: [valid.queues[0], valid.queues[0]] })).toThrow(/must not repeat a priority/);
    expect(() => validateWorkerConfig({ ...valid, inlineResultMaxBytes: 400_000 })).toThrow(
      /inlineResultMaxBytes must be an integer from 0 to 307200 \(got 400000\)/,
    );
  });
});

describe('GPU accounting', () => {
  test('one-GPU instance: cost = GPU-seconds × hourly price / 3600', () => {
    const e = economics('g5.xlarge', 'us-east-1', 1, { 'g5.xlarge': 0.503 });
    expect(e).toMatchObject({ gpus: 1, concurrency: 1, gpusPerSlot: 1 });
    expect(gpuSecondsOf(3600, e)).toBe(3600);
    expect(costUsdOf(3600, e)).toBeCloseTo(0.503, 8);
  });

  test('concurrency 0 means one slot per GPU; a 4-GPU job slot costs a quarter of the instance', () => {
    const e = economics('g5.12xlarge', 'us-east-1', 0, { 'g5.12xlarge': 2.836 });
    expect(e).toMatchObject({ gpus: 4, concurrency: 4, gpusPerSlot: 1 });
    expect(costUsdOf(gpuSecondsOf(3600, e), e)).toBeCloseTo(2.836 / 4, 8);
  });

  test('two jobs sharing one GPU each get half its GPU-seconds; unknown types count one GPU and no cost', () => {
    const shared = economics('g5.xlarge', 'us-east-1', 2, { 'g5.xlarge': 1 });
    expect(gpuSecondsOf(100, shared)).toBe(50);
    expect(costUsdOf(50, shared)).toBeCloseTo(50 / 3600, 8);
    const unknown = economics('x9.huge', 'us-east-1', 0, {});
    expect(unknown).toMatchObject({ gpus: 1, concurrency: 1 });
    expect(costUsdOf(10, unknown)).toBeUndefined();
  });

  test("GIVEN a weighted fleet THEN an instance runs concurrency × its type's weight slots; a type without a weight, or no map, weighs 1", () => {
    const weights = { 'g5.xlarge': 1, 'g5.12xlarge': 4 };
    expect(economics('g5.12xlarge', 'us-east-1', 8, {}, weights)).toMatchObject({ gpus: 4, weight: 4, concurrency: 32, gpusPerSlot: 4 / 32 });
    expect(economics('g5.xlarge', 'us-east-1', 8, {}, weights)).toMatchObject({ weight: 1, concurrency: 8 });
    expect(economics('g6.xlarge', 'us-east-1', 8, {}, weights)).toMatchObject({ weight: 1, concurrency: 8 });
    expect(economics('g5.12xlarge', 'us-east-1', 8, {})).toMatchObject({ weight: 1, concurrency: 8 });
    // One slot per GPU already follows the instance: the weight does not multiply it.
    expect(economics('g5.12xlarge', 'us-east-1', 0, {}, weights)).toMatchObject({ concurrency: 4 });
    expect(maxSlots({ concurrency: 8, instanceWeights: weights })).toBe(32);
    expect(maxSlots({ concurrency: 8 })).toBe(8);
  });

  test('fails if a weight is not an integer from 1 to 999 or gives more than 256 slots', () => {
    expect(() => validateWorkerConfig({ ...valid, concurrency: 8, instanceWeights: { 'g5.12xlarge': 4 } })).not.toThrow();
    expect(() => validateWorkerConfig({ ...valid, instanceWeights: { 'g5.12xlarge': 0 } })).toThrow(
      /instanceWeights must map instance types to integer weights from 1 to 999/,
    );
    expect(() => validateWorkerConfig({ ...valid, concurrency: 64, instanceWeights: { 'g5.12xlarge': 8 } })).toThrow(/concurrency × weight ≤ 256/);
  });

  test('job deadline: the job timeout, never past the 12 h SQS cap counted from the receive', () => {
    expect(jobDeadline(1000, 0, 60)).toBe(61_000);
    expect(jobDeadline(11 * 3600_000, 0, 7200)).toBe((12 * 3600 - 60) * 1000);
  });
});
