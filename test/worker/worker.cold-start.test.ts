/**
 * Boot stages measured and published: ColdStartSeconds = stage time − pendingTime for the boot script's stages (the
 * stages file), `model-healthy` and `first-job`, each once per instance, with {Workload, Stage} and
 * {Workload, InstanceType, Stage}; nothing after a reboot; what can be read of a malformed file. The real worker
 * against the local servers, CloudWatch mocked.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { BOOT_STAGE_ORDER, BootStages, MetricNames } from '../../lib/contracts';
import { Log } from '../../runtime/log';
import { ec2Time } from '../support/imds-stub';
import { Env, WORKLOAD, configFor, finishedJob, launch, makeQueues, metricSum, scratchDir, sentMetrics, startEnv, stopEnv, submit } from './harness';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await stopEnv(env);
});
beforeEach(() => env.cloudwatch.resetHistory());

type Line = { level: string; message: string; [k: string]: unknown };
function recording(): { logger: Log; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (message: string, ...fields: object[]) =>
      lines.push(Object.assign({ level, message }, ...fields));
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

const coldStarts = (): MetricDatum[] => sentMetrics(env).filter((d) => d.MetricName === MetricNames.COLD_START_SECONDS);
const dims = (d: MetricDatum) => Object.fromEntries((d.Dimensions ?? []).map((x) => [x.Name, x.Value]));
/** Stage → its single published value, for one dimension set (fails on a second value or datum). */
function byStage(withType: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of coldStarts().filter((x) => 'InstanceType' in dims(x) === withType)) {
    const stage = dims(d).Stage!;
    expect([stage, out[stage], d.Values!.length, d.Counts]).toEqual([stage, undefined, 1, [1]]);
    out[stage] = d.Values![0];
  }
  return out;
}

/** A launch `agoSeconds` back (whole seconds, as EC2 writes pendingTime) and a stages file relative to it. */
function bootScript(agoSeconds: number, lines: (launch: number) => string[]): { pendingTime: string; launchedAt: number; stagesPath: string } {
  const launchedAt = Math.floor(Date.now() / 1000 - agoSeconds) * 1000;
  const stagesPath = join(scratchDir(), 'boot-stages');
  writeFileSync(stagesPath, lines(launchedAt / 1000).join('\n') + '\n');
  return { pendingTime: ec2Time(launchedAt), launchedAt, stagesPath };
}

test('each stage once, seconds from pendingTime, with {Workload, Stage} and {Workload, InstanceType, Stage}; BootGpuSeconds matches model-healthy', async () => {
  // GIVEN an instance launched 300 s ago whose boot script wrote four stages
  const boot = bootScript(300, (t) => [
    `user-data-start ${t + 20}`,
    `docker-ready ${t + 45}`,
    `image-ready ${t + 200}`,
    `weights-ready ${t + 262.5}`,
  ]);
  const queues = await makeQueues(env);
  const jobs = [await submit(env, queues), await submit(env, queues)];

  // WHEN the worker gets its model healthy and runs two jobs
  const { worker } = await launch(env, configFor(env, queues), { bootStagesPath: boot.stagesPath }, { pendingTime: boot.pendingTime });
  const healthyAt = Date.now();
  for (const j of jobs) expect((await finishedJob(worker, j.jobId)).outcome).toBe('succeeded');
  await worker.shutdown();

  // THEN per dimension set one value per stage: the file's exactly, model-healthy and first-job from the worker's clock
  for (const withType of [false, true]) {
    const values = byStage(withType);
    expect(Object.keys(values)).toEqual(expect.arrayContaining([...BOOT_STAGE_ORDER]));
    expect(Object.keys(values)).toHaveLength(BOOT_STAGE_ORDER.length);
    expect(values).toMatchObject({ 'user-data-start': 20, 'docker-ready': 45, 'image-ready': 200, 'weights-ready': 262.5 });
    expect(values['model-healthy']).toBeGreaterThanOrEqual(300);
    expect(values['model-healthy']).toBeLessThanOrEqual((healthyAt - boot.launchedAt) / 1000);
    expect(values['first-job']).toBeGreaterThanOrEqual(values['model-healthy']);
  }
  expect(coldStarts()).toHaveLength(2 * BOOT_STAGE_ORDER.length);
  expect(coldStarts().every((d) => d.Unit === 'Seconds')).toBe(true);
  const typed = coldStarts().find((d) => 'InstanceType' in dims(d))!;
  expect(dims(typed)).toEqual({ Workload: WORKLOAD, InstanceType: 'g5.xlarge', Stage: expect.any(String) });
  expect(Object.keys(dims(coldStarts().find((d) => !('InstanceType' in dims(d)))!)).sort()).toEqual(['Stage', 'Workload']);
  // boot GPU-seconds (one GPU) = the model-healthy cold start: both count from the launch
  expect(metricSum(env, MetricNames.BOOT_GPU_SECONDS, { Workload: WORKLOAD })).toBeCloseTo(byStage(false)['model-healthy'], 1);
});

test('a worker restarted in the same boot publishes no stage again; its boot GPU-seconds count from its own start', async () => {
  const boot = bootScript(120, (t) => [`user-data-start ${t + 10}`]);
  const queues = await makeQueues(env);
  const marks = join(scratchDir(), 'marks');
  const instance = { pendingTime: boot.pendingTime, instanceId: 'i-0c01d5a47a5e7a57a' };
  const deps = { bootStagesPath: boot.stagesPath, bootMarksDir: marks };
  const first = await launch(env, configFor(env, queues), deps, instance);
  await first.worker.shutdown();
  expect(Object.keys(byStage(false)).sort()).toEqual(['model-healthy', 'user-data-start']);

  env.cloudwatch.resetHistory();
  const { jobId } = await submit(env, queues);
  const second = await launch(env, configFor(env, queues), { ...deps, processStartedAt: Date.now() }, instance);
  await finishedJob(second.worker, jobId);
  await second.worker.shutdown();
  // first-job was not published before: it is now, and nothing else
  expect(Object.keys(byStage(false))).toEqual(['first-job']);
  expect(metricSum(env, MetricNames.BOOT_GPU_SECONDS, { Workload: WORKLOAD })).toBeLessThan(5);
});

test('after a reboot (kernel booted long after pendingTime) nothing is published, and the log says why', async () => {
  const boot = bootScript(7200, (t) => [`user-data-start ${t + 20}`, `user-data-start ${t + 7000}`]);
  const queues = await makeQueues(env);
  const { jobId } = await submit(env, queues);
  const { logger, lines } = recording();
  const { worker } = await launch(
    env,
    configFor(env, queues),
    { bootStagesPath: boot.stagesPath, kernelBootTime: () => Date.now() - 60_000, processStartedAt: Date.now(), logger },
    { pendingTime: boot.pendingTime },
  );
  expect((await finishedJob(worker, jobId)).outcome).toBe('succeeded');
  await worker.shutdown();
  expect(coldStarts()).toEqual([]);
  expect(lines).toContainEqual(
    expect.objectContaining({
      level: 'warn',
      message: 'the instance rebooted since its launch: seconds from launch mean nothing, no ColdStartSeconds is published',
      launchedAt: new Date(boot.launchedAt).toISOString(),
    }),
  );
  // boot GPU-seconds count this boot's wait, not two hours since the launch
  expect(metricSum(env, MetricNames.BOOT_GPU_SECONDS, { Workload: WORKLOAD })).toBeLessThan(5);
});

test('no reboot when the kernel booted shortly after pendingTime: stages are published', async () => {
  const boot = bootScript(600, (t) => [`user-data-start ${t + 20}`]);
  const queues = await makeQueues(env);
  const { worker } = await launch(
    env,
    configFor(env, queues),
    { bootStagesPath: boot.stagesPath, kernelBootTime: () => boot.launchedAt + 25_000 },
    { pendingTime: boot.pendingTime },
  );
  await worker.shutdown();
  expect(byStage(true)).toMatchObject({ 'user-data-start': 20 });
});

test('a malformed stages file: a warning naming the bad lines, and every stage that could be read is published', async () => {
  const boot = bootScript(400, (t) => [
    `user-data-start ${t + 20}`,
    'docker-ready',
    `image-ready later`,
    `gpu-ready ${t + 30}`,
    `image-ready ${t + 250}`,
  ]);
  const queues = await makeQueues(env);
  const { logger, lines } = recording();
  const { worker } = await launch(env, configFor(env, queues), { bootStagesPath: boot.stagesPath, logger }, { pendingTime: boot.pendingTime });
  await worker.shutdown();
  expect(Object.keys(byStage(false)).sort()).toEqual(['image-ready', 'model-healthy', 'user-data-start']);
  expect(byStage(true)).toMatchObject({ 'user-data-start': 20, 'image-ready': 250 });
  const warning = lines.find((l) => l.message === 'boot stages file: publishing what could be read')!;
  expect(warning).toMatchObject({ level: 'warn', path: boot.stagesPath });
  expect(warning.problems).toEqual([
    'line 2 is not "<stage> <epoch seconds>": docker-ready',
    'line 3 is not "<stage> <epoch seconds>": image-ready later',
    'line 4 names an unknown stage: gpu-ready',
  ]);
});

test('no stages file: a warning, and the worker’s own stages are still published', async () => {
  const queues = await makeQueues(env);
  const { logger, lines } = recording();
  const { worker } = await launch(env, configFor(env, queues), { bootStagesPath: '/nonexistent/boot-stages', logger });
  await worker.shutdown();
  expect(Object.keys(byStage(false))).toEqual([BootStages.MODEL_HEALTHY]);
  expect(lines.find((l) => l.message === 'boot stages file: publishing what could be read')!.problems).toEqual([
    expect.stringMatching(/^\/nonexistent\/boot-stages cannot be read/),
  ]);
});

test('no launch time (identity document unreadable): no ColdStartSeconds, a warning, jobs run', async () => {
  const queues = await makeQueues(env);
  const { jobId } = await submit(env, queues);
  const { logger, lines } = recording();
  const { worker } = await launch(env, configFor(env, queues), { logger }, { identityDocument: null });
  expect((await finishedJob(worker, jobId)).outcome).toBe('succeeded');
  await worker.shutdown();
  expect(coldStarts()).toEqual([]);
  expect(lines).toContainEqual(
    expect.objectContaining({
      level: 'warn',
      problem: 'dynamic/instance-identity/document is missing',
      message: expect.stringMatching(/^launch time unknown/),
    }),
  );
});
