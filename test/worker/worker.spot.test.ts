/**
 * Spot and lifecycle: interruption notice (requeue at once without spending the retry budget, race-safe
 * with the InterruptionDrainer), rebalance and the draining tag (finish, take nothing new), SIGTERM, and a
 * worker that dies without cleanup. The real worker code against the local servers and an IMDS stub.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SetInstanceProtectionCommand } from '@aws-sdk/client-auto-scaling';
import { MetricNames, Tags, parseJobMessage } from '../../lib/contracts';
import { requeueInterrupted } from '../../runtime/jobs/requeue';
import {
  Env,
  RESULT_BUCKET,
  WORKLOAD,
  configFor,
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
} from './harness';

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

async function resultObjects(jobId: string): Promise<number> {
  const r = await env.s3.client.send(new ListObjectsV2Command({ Bucket: RESULT_BUCKET, Prefix: `results/${WORKLOAD}/${jobId}` }));
  return r.Contents?.length ?? 0;
}

describe('spot interruption notice', () => {
  test('the in-flight job is back on its queue as soon as the worker reacts, and a second worker completes it exactly once with its retry budget untouched', async () => {
    // GIVEN worker A running a job whose model call hangs
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues, { agent: 'spot-agent' });
    const gate = env.model.gate();
    env.model.script((call) => (call.raw.includes(marker) && env.model.callsWith(marker).length === 1 ? { until: gate.until } : undefined));
    env.cloudwatch.resetHistory();
    const config = configFor(env, queues, { inlineResultMaxBytes: 0 });
    const a = await launch(env, config);
    await modelCalled(env, marker);
    expect(await env.records.get(jobId)).toMatchObject({ status: 'RUNNING', instanceId: a.imds.instanceId });

    // WHEN IMDS posts the two-minute notice
    const interrupted = next(a.worker, 'interrupted');
    a.imds.setInterruption();
    const event = await interrupted;

    // THEN right after the worker reacts: the original is deleted, one fresh copy is on the queue,
    // the record is QUEUED with interruptions + 1 and the same attempt, and the model call was aborted
    expect(event.requeued).toEqual([{ jobId, result: 'requeued' }]);
    expect(await depth(env, queues.high)).toEqual({ visible: 1, inFlight: 0, delayed: 0 });
    expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED', attempt: 1, interruptions: 1 });
    expect((await env.records.get(jobId))!.instanceId).toBeUndefined();
    while (!env.model.callsWith(marker)[0].aborted) await sleep(10);
    expect(a.worker.status()).toMatchObject({ accepting: false, interrupted: true, inFlight: [] });

    // AND a second worker takes the copy as a fresh message (receive count 1) and completes it once
    const b = await launch(env, config);
    const started = next(b.worker, 'job-started', (e) => e.jobId === jobId);
    const done = finishedJob(b.worker, jobId);
    expect(await started).toMatchObject({ receiveCount: 1, attempt: 1, interruptions: 1 });
    expect((await done).outcome).toBe('succeeded');
    await Promise.all([a.worker.shutdown(), b.worker.shutdown()]);

    expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED', attempt: 1, interruptions: 1 });
    expect(await resultObjects(jobId)).toBe(1);
    expect(env.model.callsWith(marker).map((c) => c.aborted)).toEqual([true, false]);
    expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    // the interruption tax is reported
    expect(metricSum(env, MetricNames.JOBS_INTERRUPTED, { Workload: WORKLOAD })).toBe(1);
    expect(metricSum(env, MetricNames.JOBS_REQUEUED, { Workload: WORKLOAD })).toBe(1);
    expect(metricSum(env, MetricNames.INTERRUPTED_GPU_SECONDS, { Workload: WORKLOAD, Agent: 'spot-agent' })).toBeGreaterThan(0);
    expect(metricSum(env, MetricNames.JOBS_SUCCEEDED, { Workload: WORKLOAD, Agent: 'spot-agent' })).toBe(1);
  });

  test('every in-flight job goes back at once; racing the InterruptionDrainer publishes exactly one copy per job', async () => {
    const queues = await makeQueues(env);
    const jobs = await Promise.all([1, 2, 3].map(() => submit(env, queues)));
    const gate = env.model.gate();
    const markers = jobs.map((j) => j.marker);
    env.model.script((call) => (markers.some((m) => call.raw.includes(m)) ? { until: gate.until } : undefined));
    const a = await launch(env, configFor(env, queues, { concurrency: 3 }));
    for (const m of markers) await modelCalled(env, m);

    // WHEN the notice arrives and the drainer (which reads the records) requeues the same jobs at the same time
    const held = await env.records.runningOn(a.imds.instanceId);
    expect(held).toHaveLength(3);
    const interrupted = next(a.worker, 'interrupted');
    a.imds.setInterruption();
    const drainer = Promise.all(
      held.map((r) =>
        requeueInterrupted(env.sqs.client, env.records, {
          jobId: r.jobId,
          queueUrl: r.queueUrl!,
          receiptHandle: r.receiptHandle!,
          holder: r.leaseHolder!,
        }),
      ),
    );
    const [event, drained] = await Promise.all([interrupted, drainer]);
    gate.release();
    await a.worker.shutdown();

    // THEN per job exactly one of them requeued, and the queue holds exactly one copy per job
    for (const job of jobs) {
      const byWorker = event.requeued.find((r) => r.jobId === job.jobId)!.result;
      const byDrainer = drained[held.findIndex((r) => r.jobId === job.jobId)];
      expect([byWorker, byDrainer].sort()).toEqual(['already-handled', 'requeued']);
      expect(await env.records.get(job.jobId)).toMatchObject({ status: 'QUEUED', interruptions: 1, attempt: 1 });
    }
    const copies = await receiveAll(env, queues.high);
    expect(copies.map((m) => (parseJobMessage(m.Body) as { value: { jobId: string } }).value.jobId).sort()).toEqual(jobs.map((j) => j.jobId).sort());
    expect(copies.every((m) => m.Attributes!.ApproximateReceiveCount === '1')).toBe(true);
  });
});

describe('drain', () => {
  test('rebalance recommendation: no new job is taken, the running one finishes', async () => {
    const queues = await makeQueues(env);
    const running = await submit(env, queues);
    const gate = env.model.gate();
    env.model.script((call) => (call.raw.includes(running.marker) ? { until: gate.until } : undefined));
    const { worker, imds } = await launch(env, configFor(env, queues, { concurrency: 2 }));
    await modelCalled(env, running.marker);

    // WHEN EC2 recommends a rebalance, then a new job arrives while the first still runs
    const draining = next(worker, 'draining');
    imds.setRebalance();
    expect(await draining).toEqual({ reason: 'rebalance' });
    const waiting = await submit(env, queues);
    // a worker that still polled would take it within one receive round (pollWaitSeconds 1, a free slot)
    await sleep(1000);
    gate.release();
    expect((await finishedJob(worker, running.jobId)).outcome).toBe('succeeded');
    await sleep(500);

    // THEN the running job succeeded, the new one was never received (receive count 1 on our first receive)
    expect(worker.status()).toMatchObject({ accepting: false, draining: ['rebalance'], inFlight: [] });
    expect(await env.records.get(running.jobId)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await env.records.get(waiting.jobId)).toMatchObject({ status: 'QUEUED' });
    expect(env.model.callsWith(waiting.marker)).toHaveLength(0);
    const [m] = await receiveAll(env, queues.high);
    expect(m.Attributes!.ApproximateReceiveCount).toBe('1');
    await worker.shutdown();
  });

  test(`the ${Tags.DRAINING} instance tag stops new work while it is set and work resumes when it is removed`, async () => {
    const queues = await makeQueues(env);
    const { worker, imds } = await launch(env, configFor(env, queues));
    const draining = next(worker, 'draining');
    imds.setTag(Tags.DRAINING, 'true');
    expect(await draining).toEqual({ reason: 'tag' });
    const job = await submit(env, queues);
    await sleep(1000);
    expect(await env.records.get(job.jobId)).toMatchObject({ status: 'QUEUED' });

    const resumed = next(worker, 'resumed');
    imds.setTag(Tags.DRAINING, undefined);
    await resumed;
    expect((await finishedJob(worker, job.jobId)).outcome).toBe('succeeded');
    await worker.shutdown();
  });
});

describe('shutdown (SIGTERM)', () => {
  test('stops pulling, requeues a job that cannot finish within the grace period, turns protection off and stops', async () => {
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues);
    env.model.script((call) => (call.raw.includes(marker) ? { until: new Promise(() => undefined) } : undefined));
    env.autoscaling.resetHistory();
    const { worker } = await launch(env, configFor(env, queues, { shutdownGraceSeconds: 0 }));
    await modelCalled(env, marker);

    await worker.shutdown('SIGTERM');

    expect(worker.status().phase).toBe('stopped');
    expect(await env.records.get(jobId)).toMatchObject({ status: 'QUEUED', attempt: 1, interruptions: 1 });
    const copies = await receiveAll(env, queues.high);
    expect(copies).toHaveLength(1);
    expect(copies[0].Attributes!.ApproximateReceiveCount).toBe('1');
    const protection = env.autoscaling.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input.ProtectedFromScaleIn);
    expect(protection).toEqual([true, false]);
    await expect(worker.done).resolves.toBeUndefined();
  });

  test('a job that finishes within the grace period is completed, not requeued', async () => {
    const queues = await makeQueues(env);
    const { jobId, marker } = await submit(env, queues);
    const gate = env.model.gate();
    env.model.script((call) => (call.raw.includes(marker) ? { until: gate.until } : undefined));
    const { worker } = await launch(env, configFor(env, queues, { shutdownGraceSeconds: 30 }));
    await modelCalled(env, marker);

    const stopping = worker.shutdown('SIGTERM');
    gate.release();
    await stopping;

    expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED', interruptions: 0 });
    expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });
});

test('agent killed without cleanup: the job is redelivered after its visibility timeout and finished once by another worker', async () => {
  // GIVEN a short lease (2 s) and worker A holding the job
  const queues = await makeQueues(env, 2);
  const { jobId, marker } = await submit(env, queues);
  env.model.script((call) =>
    call.raw.includes(marker) && env.model.callsWith(marker).length === 1 ? { until: new Promise(() => undefined) } : undefined,
  );
  const config = configFor(env, queues, { visibilityTimeoutSeconds: 2, inlineResultMaxBytes: 0 });
  const a = await launch(env, config);
  await modelCalled(env, marker);
  let aFinished = 0;
  a.worker.events.on('job-finished', () => {
    aFinished += 1;
  });

  // WHEN A dies (no requeue, no delete, no record change) and B is running
  await a.worker.kill();
  expect(await env.records.get(jobId)).toMatchObject({ status: 'RUNNING', instanceId: a.imds.instanceId });
  const b = await launch(env, config);
  const started = next(b.worker, 'job-started', (e) => e.jobId === jobId);

  // THEN B gets the same message back after the lease (a redelivery: receive count > 1), takes over the expired
  // lease (a crash spends one attempt: a job that crashes its worker must not loop forever) and finishes it once
  const taken = await started;
  expect(taken.receiveCount).toBeGreaterThan(1);
  expect(taken).toMatchObject({ takeover: true, attempt: 2 });
  expect((await finishedJob(b.worker, jobId)).outcome).toBe('succeeded');
  await b.worker.shutdown();
  expect(aFinished).toBe(0);
  expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED', attempt: 2, interruptions: 0 });
  expect(await resultObjects(jobId)).toBe(1);
  expect(env.model.callsWith(marker).filter((c) => c.answered)).toHaveLength(1);
  expect(await depth(env, queues.high)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
});

describe('lease', () => {
  test('the heartbeat keeps a job longer than its visibility timeout invisible: a second worker on the queue never gets it', async () => {
    // GIVEN a 2 s lease and a job that runs about 3.5 s, with worker B polling the same queue
    const queues = await makeQueues(env, 2);
    const { jobId, marker } = await submit(env, queues);
    const gate = env.model.gate();
    env.model.script((call) => (call.raw.includes(marker) ? { until: gate.until } : undefined));
    const config = configFor(env, queues, { visibilityTimeoutSeconds: 2 });
    const a = await launch(env, config);
    await modelCalled(env, marker);
    const b = await launch(env, config);
    let bTouched = 0;
    b.worker.events.on('job-finished', (e) => {
      if (e.jobId === jobId) bTouched += 1;
    });
    b.worker.events.on('job-started', (e) => {
      if (e.jobId === jobId) bTouched += 1;
    });

    // WHEN the job outlives its lease twice over before finishing
    await sleep(3500);
    gate.release();
    expect((await finishedJob(a.worker, jobId)).outcome).toBe('succeeded');
    await Promise.all([a.worker.shutdown(), b.worker.shutdown()]);

    // THEN only A ever handled it
    expect(bTouched).toBe(0);
    expect(env.model.callsWith(marker)).toHaveLength(1);
    expect(await env.records.get(jobId)).toMatchObject({ status: 'SUCCEEDED' });
  });
});
