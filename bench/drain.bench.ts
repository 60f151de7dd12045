/**
 * Drainer benchmark: how long the InterruptionDrainer's handler takes to put an instance's in-flight jobs
 * back on their queue after a spot interruption warning (goal: 1,000 jobs in under 2 s; the notice gives
 * 120 s). Real SDK clients against local-aws-sqs and dynalite on 127.0.0.1, in this process — the local
 * servers share the CPU with the drainer, so the numbers are pessimistic for Lambda against AWS.
 * Baseline in the same run: the same requeues one at a time.
 */
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DRAIN_CLIENT_OPTIONS, DRAIN_MAX_SOCKETS } from '../lambda/drain/clients';
import { DrainDeps, handleDrainEvent } from '../lambda/drain/drain';
import { JobRecords } from '../lambda/shared/job-records';
import { requeueInterrupted } from '../lambda/shared/requeue';
import { createJobTable, documentClient } from '../test/support/job-table';
import { clientConfig, startDynamo, startSqs } from '../test/support/local-aws';
import { createQueue, fixture, runningJobs } from '../test/orchestration/helpers';

const GOAL_MS = 2000;
const RUNS = 3;
const silent = { info: () => undefined, warn: () => undefined };

export default async function drainBench(): Promise<string> {
  const [sqsServer, ddbServer] = await Promise.all([startSqs(), startDynamo()]);
  const setupSqs = sqsServer.client;
  const table = await createJobTable(ddbServer.client);
  const setupRecords = new JobRecords(documentClient(ddbServer.client), table);
  const clients = (options: object) => {
    const sqs = new SQSClient({ ...clientConfig(sqsServer.endpoint), ...options });
    const ddb = new DynamoDBClient({ ...clientConfig(ddbServer.endpoint), ...options });
    return { sqs, ddb, records: new JobRecords(documentClient(ddb), table), destroy: () => { sqs.destroy(); ddb.destroy(); } };
  };
  let instance = 0;

  /** `count` jobs in flight on a fresh instance; returns the instance id and the queue. */
  async function prepare(count: number) {
    const instanceId = `i-${(0xb0000000 + ++instance).toString(16)}0000000`;
    const queueUrl = await createQueue(setupSqs);
    const held = await runningJobs(setupSqs, setupRecords, queueUrl, instanceId, count);
    return { instanceId, queueUrl, held };
  }

  /**
   * Drain `count` in-flight jobs with fresh clients (`options`): the local servers close idle keep-alive
   * sockets after 5 s, and setting up 1,000 jobs takes longer than that.
   */
  async function drainOnce(count: number, options: object): Promise<number> {
    const { instanceId } = await prepare(count);
    const c = clients(options);
    const deps: DrainDeps = {
      sqs: c.sqs, records: c.records, autoScaling: new AutoScalingClient({ region: 'us-east-1' }), ec2: new EC2Client({ region: 'us-east-1' }),
      workload: 'agents', groupName: 'gpu-fleet', hookName: 'drain-on-terminate', drainTimeoutSeconds: 110, heartbeatTimeoutSeconds: 180, log: silent,
    };
    const event = fixture('spot-interruption-warning');
    event.detail['instance-id'] = instanceId;
    const t0 = performance.now();
    const summary = await handleDrainEvent(deps, event);
    const ms = performance.now() - t0;
    c.destroy();
    if (summary.requeued !== count || summary.leftInFlight !== 0) throw new Error(`drained ${summary.requeued} of ${count}, ${summary.leftInFlight} left`);
    return ms;
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const load = os.loadavg()[0];
  try {
    // Warm up connections and code paths.
    await drainOnce(200, DRAIN_CLIENT_OPTIONS);

    // Baseline: one requeue at a time.
    const sequentialJobs = 100;
    const { held } = await prepare(sequentialJobs);
    const one = clients(DRAIN_CLIENT_OPTIONS);
    const s0 = performance.now();
    for (const h of held) await requeueInterrupted(one.sqs, one.records, h);
    const sequentialPerJob = (performance.now() - s0) / sequentialJobs;
    one.destroy();

    const rows: Array<{ label: string; jobs: number; ms: number }> = [];
    for (const jobs of [10, 100, 1000]) {
      const runs: number[] = [];
      for (let i = 0; i < (jobs === 1000 ? RUNS : 1); i++) runs.push(await drainOnce(jobs, DRAIN_CLIENT_OPTIONS));
      rows.push({ label: `drainer, all in parallel (${DRAIN_MAX_SOCKETS} sockets per client)`, jobs, ms: median(runs) });
    }
    rows.push({ label: 'drainer with the SDK\'s default 50 sockets per client', jobs: 1000, ms: await drainOnce(1000, {}) });

    const thousand = rows.find((r) => r.jobs === 1000)!.ms;
    const out = [
      '## Drainer: time to requeue an instance\'s in-flight jobs',
      '',
      'Command: `npm run bench -- drain`. Spot interruption warning fixture → `handleDrainEvent` (byInstance query, then ' +
        '`requeueInterrupted` per job: conditional UpdateItem, SendMessage of the copy, DeleteMessage of the original), real SDK ' +
        `clients against local-aws-sqs + dynalite on 127.0.0.1 in the same process. 1,000-job rows: median of ${RUNS} runs. ` +
        `${os.cpus().length} CPUs, load average ${load.toFixed(1)} at the start (other processes share the machine).`,
      '',
      '| case | jobs | time ms | ms per job | vs one at a time |',
      '|---|---:|---:|---:|---:|',
      `| baseline: one requeue at a time | ${sequentialJobs} | ${(sequentialPerJob * sequentialJobs).toFixed(0)} | ${sequentialPerJob.toFixed(2)} | 1.0× |`,
      ...rows.map((r) => `| ${r.label} | ${r.jobs} | ${r.ms.toFixed(0)} | ${(r.ms / r.jobs).toFixed(2)} | ${(sequentialPerJob / (r.ms / r.jobs)).toFixed(1)}× |`),
      '',
      `Goal: 1,000 in-flight jobs requeued in under ${GOAL_MS} ms — ${thousand < GOAL_MS ? '**met**' : '**not met**'} (${thousand.toFixed(0)} ms).`,
    ];
    return out.join('\n');
  } finally {
    await Promise.all([sqsServer.close(), ddbServer.close()]);
  }
}
