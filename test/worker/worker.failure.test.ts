/**
 * Failures: model errors and timeouts are transient (retried with backoff, parked after the budget);
 * a refused request is permanent (parked at once). The real worker code against the local servers.
 */
import { MetricNames, parseJobMessage } from '../../lib/contracts';
import { Env, WORKLOAD, configFor, depth, finishedJob, launch, makeQueues, metricSum, next, receiveAll, startEnv, stopEnv, submit } from './harness';
import { JobFinishedEvent } from '../../worker/job-runner';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await stopEnv(env);
});
afterEach(() => {
  env.model.script(undefined);
});

test('a failing model is retried with backoff (attempt + 1 each time), then parked after the budget with the record FAILED', async () => {
  // GIVEN a model server that answers 500 for this job, a budget of 3 attempts, backoff base 1 s (jitter pinned to its ceiling)
  const queues = await makeQueues(env);
  const { jobId, marker } = await submit(env, queues, { agent: 'flaky' });
  env.model.script((call) => (call.raw.includes(marker) ? { status: 500, errorMessage: 'CUDA out of memory' } : undefined));
  env.cloudwatch.resetHistory();
  const { worker } = await launch(env, configFor(env, queues, { maxAttempts: 3, retryBackoff: { baseSeconds: 1, maxSeconds: 4 } }));
  const outcomes: JobFinishedEvent[] = [];
  const attempts: number[] = [];
  worker.events.on('job-started', (e) => {
    if (e.jobId === jobId) attempts.push(e.attempt);
  });
  const parked = next(worker, 'job-finished', (e) => e.jobId === jobId && e.outcome === 'parked');
  worker.events.on('job-finished', (e) => {
    if (e.jobId === jobId) outcomes.push(e);
  });

  // WHEN it runs to the end of its budget
  await parked;
  await worker.shutdown();

  // THEN two retries with growing delays (1 s, 2 s), then parked
  expect(outcomes.map((o) => [o.outcome, o.delaySeconds])).toEqual([
    ['retried', 1],
    ['retried', 2],
    ['parked', undefined],
  ]);
  expect(attempts).toEqual([1, 2, 3]);
  expect(env.model.callsWith(marker)).toHaveLength(3);
  const record = (await env.records.get(jobId))!;
  expect(record).toMatchObject({ status: 'FAILED', attempt: 3, interruptions: 0 });
  expect(record.error).toMatch(/retry budget spent after 3 attempts: model server answered 500: .*CUDA out of memory/);
  const [p] = await receiveAll(env, queues.parking);
  expect((parseJobMessage(p.Body) as { value: { jobId: string; lastError: string } }).value).toMatchObject({
    jobId,
    lastError: expect.stringMatching(/budget spent/),
  });
  expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  expect(metricSum(env, MetricNames.JOBS_FAILED, { Workload: WORKLOAD, Agent: 'flaky' })).toBe(3);
  expect(metricSum(env, MetricNames.JOBS_RETRIED, { Workload: WORKLOAD })).toBe(2);
  expect(metricSum(env, MetricNames.JOBS_PARKED, { Workload: WORKLOAD })).toBe(1);
});

test('a job that passes its jobTimeout is stopped and failed as timed out (transient: retried, then parked)', async () => {
  const queues = await makeQueues(env);
  const { jobId, marker } = await submit(env, queues);
  env.model.script((call) => (call.raw.includes(marker) ? { until: new Promise(() => undefined) } : undefined));
  const { worker } = await launch(
    env,
    configFor(env, queues, { jobTimeoutSeconds: 1, maxAttempts: 2, retryBackoff: { baseSeconds: 0, maxSeconds: 0 } }),
  );
  const first = await next(worker, 'job-finished', (e) => e.jobId === jobId);
  const second = await next(worker, 'job-finished', (e) => e.jobId === jobId);
  await worker.shutdown();

  expect(first).toMatchObject({ outcome: 'retried', detail: expect.stringMatching(/^timed out after 1 s \(jobTimeoutSeconds 1\)/) });
  expect(second).toMatchObject({ outcome: 'parked' });
  expect(await env.records.get(jobId)).toMatchObject({
    status: 'FAILED',
    attempt: 2,
    error: expect.stringMatching(/budget spent after 2 attempts: timed out/),
  });
  // both model calls were cut off by the worker
  expect(env.model.callsWith(marker).map((c) => c.aborted)).toEqual([true, true]);
});

test('a request the model server refuses (400) is permanent: parked at once, no retry', async () => {
  const queues = await makeQueues(env);
  const { jobId, marker } = await submit(env, queues);
  env.model.script((call) => (call.raw.includes(marker) ? { status: 400, errorMessage: 'context length exceeded' } : undefined));
  const { worker } = await launch(env, configFor(env, queues, { maxAttempts: 5 }));
  expect(await finishedJob(worker, jobId)).toMatchObject({ outcome: 'parked' });
  await worker.shutdown();
  expect(await env.records.get(jobId)).toMatchObject({
    status: 'FAILED',
    attempt: 1,
    error: expect.stringMatching(/permanent error: model server answered 400: .*context length exceeded/),
  });
  expect(env.model.callsWith(marker)).toHaveLength(1);
});

test('a payload the adapter cannot send (neither messages nor prompt) is permanent', async () => {
  const queues = await makeQueues(env);
  const { jobId } = await submit(env, queues, { payload: { text: 'no messages here' } });
  const { worker } = await launch(env, configFor(env, queues));
  expect(await finishedJob(worker, jobId)).toMatchObject({ outcome: 'parked' });
  await worker.shutdown();
  expect(await env.records.get(jobId)).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/neither "messages".*nor "prompt"/) });
});
