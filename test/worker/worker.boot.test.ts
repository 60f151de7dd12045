/**
 * The boot deadline: a model server not healthy by launch + bootTimeoutSeconds makes the worker give up on its
 * instance — SetInstanceHealth Unhealthy (bounded retries), one BootFailures, no receive ever — and stop. The real
 * worker code against the local servers; Auto Scaling and CloudWatch mocked; an injected clock, not real waits.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SetInstanceHealthCommand } from '@aws-sdk/client-auto-scaling';
import { MetricNames } from '../../lib/contracts';
import { Log } from '../../runtime/log';
import { SET_INSTANCE_HEALTH_ATTEMPTS } from '../../worker/instance-health';
import { ec2Time } from '../support/imds-stub';
import {
  Env,
  WORKLOAD,
  configFor,
  countingSqs,
  depth,
  finishedJob,
  makeQueues,
  metricSum,
  next,
  scratchDir,
  sentMetrics,
  sleep,
  start,
  startEnv,
  stopEnv,
  submit,
  testClock,
} from './harness';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await stopEnv(env);
});
beforeEach(() => {
  env.cloudwatch.resetHistory();
  env.autoscaling.resetHistory();
});
afterEach(() => {
  env.model.setHealthy(true);
  env.autoscaling.on(SetInstanceHealthCommand).resolves({});
});

type Line = { level: string; message: string; [k: string]: unknown };
function recording(): { logger: Log; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (message: string, ...fields: object[]) =>
      lines.push(Object.assign({ level, message }, ...fields));
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

const healthCalls = () => env.autoscaling.commandCalls(SetInstanceHealthCommand).map((c) => c.args[0].input);
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });

async function unhealthyAnswers(n: number): Promise<void> {
  const before = env.model.healthAnswers().unhealthy;
  while (env.model.healthAnswers().unhealthy < before + n) await sleep(5);
}

test('model never healthy by launch + bootTimeoutSeconds: reported Unhealthy once, one BootFailures, never a receive, stops', async () => {
  // GIVEN a queued job, a model server that never gets healthy, a boot script that reached docker-ready, a 600 s deadline
  const queues = await makeQueues(env);
  const { jobId } = await submit(env, queues);
  env.model.setHealthy(false);
  const dir = scratchDir();
  const launchedAt = Math.floor(Date.now() / 1000) * 1000;
  writeFileSync(join(dir, 'stages'), `user-data-start ${launchedAt / 1000 + 15}\ndocker-ready ${launchedAt / 1000 + 40}\n`);
  writeFileSync(join(dir, 'boot.log'), 'Pulling vllm/vllm-openai:v0.11.0\nerror pulling image: toomanyrequests\n');
  const clock = testClock();
  const sqs = countingSqs(env);
  const { logger, lines } = recording();
  const { worker, imds } = await start(
    env,
    configFor(env, queues, { bootTimeoutSeconds: 600 }),
    { sqs: sqs.client, now: clock.now, logger, bootStagesPath: join(dir, 'stages'), bootLogPath: join(dir, 'boot.log') },
    { pendingTime: ec2Time(launchedAt) },
  );
  const gaveUp = next(worker, 'gave-up');
  const ready = worker.ready.then(
    () => 'ready',
    (e: Error) => e.message,
  );

  // WHEN it keeps answering unhealthy and the clock passes the deadline
  await unhealthyAnswers(3);
  expect(healthCalls()).toEqual([]);
  clock.advance(600_000);
  const event = await gaveUp;
  await worker.done;

  // THEN SetInstanceHealth Unhealthy once for its own instance, without the grace period
  expect(healthCalls()).toEqual([{ InstanceId: imds.instanceId, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false }]);
  expect(event).toMatchObject({ reason: 'model-never-healthy', requeued: [], reportedUnhealthy: true, setInstanceHealthCalls: 1 });
  expect(worker.status()).toMatchObject({ phase: 'stopped', gaveUp: 'model-never-healthy', accepting: false });
  expect(await ready).toMatch(/not healthy by the boot deadline \(model-never-healthy\)/);
  // one BootFailures with exactly {Workload}, flushed; no ModelServerLost, no cold-start stage (it never got healthy)
  const failures = sentMetrics(env).filter((d) => d.MetricName === MetricNames.BOOT_FAILURES);
  expect(failures.map((d) => [d.Dimensions, d.Values, d.Counts])).toEqual([[[{ Name: 'Workload', Value: WORKLOAD }], [1], [1]]]);
  expect(metricSum(env, MetricNames.MODEL_SERVER_LOST, { Workload: WORKLOAD })).toBe(0);
  expect(sentMetrics(env).filter((d) => d.MetricName === MetricNames.COLD_START_SECONDS)).toEqual([]);
  // the GPU time of the failed boot is counted too: launch to giving up
  expect(metricSum(env, MetricNames.BOOT_GPU_SECONDS, { Workload: WORKLOAD })).toBeGreaterThanOrEqual(600);
  // never a receive: the job is untouched on its queue
  expect(sqs.receives()).toBe(0);
  expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED', attempt: 1, interruptions: 0 });
  expect(await depth(env, queues.high)).toEqual({ visible: 1, inFlight: 0, delayed: 0 });
  // the log names the reason, how long it waited, the last stage reached and the boot log's tail
  const line = lines.find((l) => l.message.startsWith('giving up on this instance'))!;
  expect(line).toMatchObject({
    level: 'error',
    reason: 'model-never-healthy',
    bootTimeoutSeconds: 600,
    lastStage: 'docker-ready',
    bootLogTail: ['Pulling vllm/vllm-openai:v0.11.0', 'error pulling image: toomanyrequests'],
  });
  expect(line.waitedSeconds).toBeGreaterThanOrEqual(600);
  expect(line.sinceBootBeganSeconds).toBeGreaterThanOrEqual(600);
  expect(line.workerStartedLate).toBeUndefined();
  sqs.client.destroy();
});

test('SetInstanceHealth throttled twice, then accepted: three calls, then the worker stops', async () => {
  env.autoscaling.on(SetInstanceHealthCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({});
  const queues = await makeQueues(env);
  env.model.setHealthy(false);
  const clock = testClock();
  const { worker, imds } = await start(env, configFor(env, queues, { bootTimeoutSeconds: 600 }), { now: clock.now });
  const gaveUp = next(worker, 'gave-up');
  await unhealthyAnswers(1);
  clock.advance(600_000);
  expect(await gaveUp).toMatchObject({ reportedUnhealthy: true, setInstanceHealthCalls: 3 });
  await worker.done;
  expect(healthCalls()).toEqual(Array(3).fill({ InstanceId: imds.instanceId, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false }));
  expect(metricSum(env, MetricNames.BOOT_FAILURES, { Workload: WORKLOAD })).toBe(1);
});

test('SetInstanceHealth denied every time: a bounded number of calls, logged, and the worker still stops without taking a job', async () => {
  env.autoscaling.on(SetInstanceHealthCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
  const queues = await makeQueues(env);
  const { jobId } = await submit(env, queues);
  env.model.setHealthy(false);
  const clock = testClock();
  const sqs = countingSqs(env);
  const { logger, lines } = recording();
  const { worker } = await start(env, configFor(env, queues, { bootTimeoutSeconds: 600 }), { now: clock.now, sqs: sqs.client, logger });
  const gaveUp = next(worker, 'gave-up');
  await unhealthyAnswers(1);
  clock.advance(600_000);
  expect(await gaveUp).toMatchObject({ reportedUnhealthy: false, setInstanceHealthCalls: SET_INSTANCE_HEALTH_ATTEMPTS });
  await worker.done;
  expect(worker.status().gaveUp).toBe('model-never-healthy');
  expect(healthCalls()).toHaveLength(SET_INSTANCE_HEALTH_ATTEMPTS);
  expect(lines.filter((l) => l.level === 'error').map((l) => l.message)).toContain(
    'could not report the instance Unhealthy: it stays in its group until someone terminates it',
  );
  // the model server comes up after all: too late, this worker is done
  env.model.setHealthy(true);
  await sleep(100);
  expect(sqs.receives()).toBe(0);
  expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED' });
  sqs.client.destroy();
});

test('healthy before the deadline: the worker runs as usual and reports nothing', async () => {
  const queues = await makeQueues(env);
  const { jobId } = await submit(env, queues);
  env.model.setHealthy(false);
  const clock = testClock();
  const { worker } = await start(env, configFor(env, queues, { bootTimeoutSeconds: 600 }), { now: clock.now });
  await unhealthyAnswers(2);
  clock.advance(599_000);
  env.model.setHealthy(true);
  await worker.ready;
  expect((await finishedJob(worker, jobId)).outcome).toBe('succeeded');
  await worker.shutdown();
  expect(healthCalls()).toEqual([]);
  expect(metricSum(env, MetricNames.BOOT_FAILURES, { Workload: WORKLOAD })).toBe(0);
  expect(worker.status().gaveUp).toBeUndefined();
});

test('a worker started after the deadline (restarted, or a slow boot script) gives the model server modelLostSeconds before it gives up', async () => {
  // GIVEN a launch 700 s ago and a 600 s boot timeout: the deadline is behind, but the worker only just started
  const queues = await makeQueues(env);
  env.model.setHealthy(false);
  const clock = testClock();
  const { logger, lines } = recording();
  const late = { bootTimeoutSeconds: 600, modelLostSeconds: 30 };
  const pendingTime = ec2Time(Date.now() - 700_000);
  const first = await start(env, configFor(env, queues, late), { now: clock.now, logger }, { pendingTime });
  // WHEN the model server is healthy within the grace: the worker runs
  await unhealthyAnswers(2);
  env.model.setHealthy(true);
  await first.worker.ready;
  await first.worker.shutdown();
  expect(healthCalls()).toEqual([]);

  // AND WHEN another one is not healthy within it: it gives up, saying it started late
  env.model.setHealthy(false);
  const second = await start(env, configFor(env, queues, late), { now: clock.now, logger }, { pendingTime });
  await unhealthyAnswers(2);
  expect(second.worker.status().phase).toBe('booting');
  clock.advance(30_000);
  await second.worker.done;
  expect(second.worker.status().gaveUp).toBe('model-never-healthy');
  expect(lines.find((l) => l.message.startsWith('giving up'))).toMatchObject({ workerStartedLate: true, waitedSeconds: 30 });
});

test('after giving up the worker waits to be terminated; SIGTERM meanwhile ends it at once', async () => {
  const queues = await makeQueues(env);
  env.model.setHealthy(false);
  const clock = testClock();
  const { worker } = await start(env, configFor(env, queues, { bootTimeoutSeconds: 600 }), { now: clock.now, timing: { giveUpLingerMs: 600_000 } });
  const gaveUp = next(worker, 'gave-up');
  await unhealthyAnswers(1);
  clock.advance(600_000);
  await gaveUp;
  let done = false;
  void worker.done.then(() => (done = true));
  await sleep(100);
  expect(done).toBe(false);
  expect(worker.status().phase).toBe('stopping');
  const t0 = Date.now();
  await worker.shutdown('SIGTERM');
  expect(Date.now() - t0).toBeLessThan(2000);
  expect(worker.status()).toMatchObject({ phase: 'stopped', gaveUp: 'model-never-healthy' });
  expect(healthCalls()).toHaveLength(1);
});
