/**
 * A model server that dies after it was healthy: no healthy answer for modelLostSeconds and the worker stops
 * receiving, hands its jobs back as interruptions (attempt unchanged), counts one ModelServerLost, reports the
 * instance Unhealthy and stops. A shorter blip changes nothing: jobs cut off by it wait for the server and are called
 * again without spending an attempt; a model *answer* (5xx) still spends one. The real worker against the local
 * servers and the fake model server (which crashes and comes back on its port); an injected clock.
 */
import { SetInstanceHealthCommand } from '@aws-sdk/client-auto-scaling';
import { MetricNames, parseJobMessage } from '../../lib/contracts';
import { Log } from '../../runtime/log';
import { MAX_CONNECTION_WAITS } from '../../worker/job-runner';
import {
  Env,
  WORKLOAD,
  configFor,
  countingSqs,
  depth,
  finishedJob,
  launch,
  makeQueues,
  metricSum,
  modelCalled,
  next,
  receiveAll,
  sleep,
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
afterEach(async () => {
  env.model.script(undefined);
  env.model.setHealthy(true);
  await env.model.restart();
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
const waiting = (lines: Line[]) => lines.filter((l) => l.message === 'model server unreachable: the job waits for it (no attempt spent)');

test('the model server dies mid-job: both running jobs go back as interruptions, ModelServerLost, Unhealthy, no further receive', async () => {
  // GIVEN one job already finished and two running (their model calls held), with a 60 s lost window
  const queues = await makeQueues(env);
  const finished = await submit(env, queues, { agent: 'done-before' });
  const clock = testClock();
  const sqs = countingSqs(env);
  const { logger, lines } = recording();
  const { worker, imds } = await launch(env, configFor(env, queues, { concurrency: 2, modelLostSeconds: 60 }), {
    now: clock.now,
    sqs: sqs.client,
    logger,
  });
  expect((await finishedJob(worker, finished.jobId)).outcome).toBe('succeeded');
  const running = [await submit(env, queues, { agent: 'lost-agent' }), await submit(env, queues, { agent: 'lost-agent' })];
  const gate = env.model.gate();
  env.model.script((call) => (running.some((j) => call.raw.includes(j.marker)) ? { until: gate.until } : undefined));
  for (const j of running) await modelCalled(env, j.marker);
  const givingUp = next(worker, 'giving-up');
  const gaveUp = next(worker, 'gave-up');

  // WHEN the server process dies (its calls are cut off, its port refuses) and stays down past the window
  await env.model.crash();
  while (waiting(lines).length < 2) await sleep(5);
  clock.advance(60_000);
  await givingUp;
  const receivesAtLoss = sqs.receives();
  const event = await gaveUp;
  await worker.done;

  // THEN each running job is QUEUED again with interruptions + 1 and its attempt unchanged, one fresh copy each
  expect(event.requeued.map((r) => [r.jobId, r.result]).sort()).toEqual(running.map((j) => [j.jobId, 'requeued']).sort());
  for (const j of running) {
    expect(await env.records.get(j.jobId)).toMatchObject({ status: 'QUEUED', attempt: 1, interruptions: 1, interruptedOn: imds.instanceId });
  }
  // the finished job is left alone
  expect(await env.records.get(finished.jobId)).toMatchObject({ status: 'SUCCEEDED', interruptions: 0 });
  const copies = await receiveAll(env, queues.high);
  expect(copies.map((m) => (parseJobMessage(m.Body) as { value: { jobId: string } }).value.jobId).sort()).toEqual(running.map((j) => j.jobId).sort());
  expect(copies.map((m) => m.Attributes!.ApproximateReceiveCount)).toEqual(['1', '1']);
  expect(copies.map((m) => parseJobMessage(m.Body))).toEqual(
    Array(2).fill(expect.objectContaining({ value: expect.objectContaining({ attempt: 1, interruptions: 1 }) })),
  );
  // no attempt was spent: no failure, no retry; the interruption tax is counted
  expect(metricSum(env, MetricNames.JOBS_FAILED, { Workload: WORKLOAD })).toBe(0);
  expect(metricSum(env, MetricNames.JOBS_RETRIED, { Workload: WORKLOAD })).toBe(0);
  expect(metricSum(env, MetricNames.JOBS_INTERRUPTED, { Workload: WORKLOAD })).toBe(2);
  // one ModelServerLost ({Workload}), no BootFailures; the instance reported Unhealthy once
  expect(metricSum(env, MetricNames.MODEL_SERVER_LOST, { Workload: WORKLOAD })).toBe(1);
  expect(metricSum(env, MetricNames.BOOT_FAILURES, { Workload: WORKLOAD })).toBe(0);
  expect(healthCalls()).toEqual([{ InstanceId: imds.instanceId, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false }]);
  expect(worker.status()).toMatchObject({ phase: 'stopped', gaveUp: 'model-server-lost', inFlight: [] });
  const line = lines.find((l) => l.message.startsWith('giving up on this instance'))!;
  expect(line).toMatchObject({ level: 'error', reason: 'model-server-lost', modelLostSeconds: 60 });
  expect((line.jobs as string[]).sort()).toEqual(running.map((j) => j.jobId).sort());
  expect(line.downSeconds).toBeGreaterThanOrEqual(60);
  // no receive after the loss, even with work waiting and the server back
  await env.model.restart();
  const later = await submit(env, queues);
  await sleep(300);
  expect(sqs.receives()).toBe(receivesAtLoss);
  expect(await env.records.get(later.jobId)).toMatchObject({ status: 'QUEUED' });
  gate.release();
  sqs.client.destroy();
});

test('a blip shorter than modelLostSeconds: nothing is handed back, the cut-off job is called again with the same attempt and finishes', async () => {
  const queues = await makeQueues(env);
  const { jobId, marker } = await submit(env, queues);
  const gate = env.model.gate();
  env.model.script((call) => (call.raw.includes(marker) && env.model.callsWith(marker).length === 1 ? { until: gate.until } : undefined));
  const clock = testClock();
  const { logger, lines } = recording();
  const { worker } = await launch(env, configFor(env, queues, { modelLostSeconds: 60 }), { now: clock.now, logger });
  await modelCalled(env, marker);

  // WHEN the server dies for 59 s (on the worker's clock) and comes back
  await env.model.crash();
  while (waiting(lines).length < 1) await sleep(5);
  clock.advance(59_000);
  await sleep(100);
  await env.model.restart();
  const done = await finishedJob(worker, jobId);

  // THEN the job succeeded on its first attempt, after a second call; nothing was reported
  expect(done.outcome).toBe('succeeded');
  expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED', attempt: 1, interruptions: 0 });
  expect(env.model.callsWith(marker).map((c) => c.answered)).toEqual([false, true]);
  expect(healthCalls()).toEqual([]);
  expect(worker.status()).toMatchObject({ accepting: true, phase: 'running' });
  expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining(['model server healthy again', 'model server answers again: calling it again']));
  // and it keeps working
  const after = await submit(env, queues);
  expect((await finishedJob(worker, after.jobId)).outcome).toBe('succeeded');
  await worker.shutdown();
  expect(metricSum(env, MetricNames.MODEL_SERVER_LOST, { Workload: WORKLOAD })).toBe(0);
  expect(metricSum(env, MetricNames.JOBS_FAILED, { Workload: WORKLOAD })).toBe(0);
  expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  gate.release();
});

test('the rule made explicit: a connection error spends no attempt, a 5xx answer does', async () => {
  // GIVEN a job whose first call is cut off (connection reset), whose second gets a 503, whose third succeeds
  const queues = await makeQueues(env);
  const { jobId, marker } = await submit(env, queues);
  env.model.script((call) => {
    if (!call.raw.includes(marker)) return undefined;
    const n = env.model.callsWith(marker).length;
    return n === 1 ? { reset: true } : n === 2 ? { status: 503, errorMessage: 'engine overloaded' } : undefined;
  });
  const { worker } = await launch(env, configFor(env, queues, { retryBackoff: { baseSeconds: 0, maxSeconds: 0 } }));
  const outcomes: string[] = [];
  const attempts: number[] = [];
  worker.events.on('job-finished', (e) => e.jobId === jobId && outcomes.push(e.outcome));
  worker.events.on('job-started', (e) => e.jobId === jobId && attempts.push(e.attempt));
  const succeeded = next(worker, 'job-finished', (e) => e.jobId === jobId && e.outcome === 'succeeded');
  await succeeded;
  await worker.shutdown();
  expect(outcomes).toEqual(['retried', 'succeeded']);
  expect(attempts).toEqual([1, 2]);
  expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED', attempt: 2, interruptions: 0 });
  expect(env.model.callsWith(marker)).toHaveLength(3);
  expect(metricSum(env, MetricNames.JOBS_FAILED, { Workload: WORKLOAD })).toBe(1);
});

test(`a job that cuts the connection every time waits ${MAX_CONNECTION_WAITS} times per attempt, then spends it (no endless loop)`, async () => {
  const queues = await makeQueues(env);
  const { jobId, marker } = await submit(env, queues);
  env.model.script((call) => (call.raw.includes(marker) ? { reset: true } : undefined));
  const { worker } = await launch(env, configFor(env, queues, { maxAttempts: 2, retryBackoff: { baseSeconds: 0, maxSeconds: 0 } }));
  const parked = next(worker, 'job-finished', (e) => e.jobId === jobId && e.outcome === 'parked');
  await parked;
  await worker.shutdown();
  expect(env.model.callsWith(marker)).toHaveLength(2 * (MAX_CONNECTION_WAITS + 1));
  expect(await env.records.get(jobId)).toMatchObject({
    status: 'FAILED',
    attempt: 2,
    error: expect.stringMatching(/budget spent after 2 attempts: model server unreachable/),
  });
  // the server itself stayed healthy: no give-up
  expect(healthCalls()).toEqual([]);
});
