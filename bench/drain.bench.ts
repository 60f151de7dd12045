/**
 * Drainer benchmark: how long the InterruptionDrainer's handler takes to put an instance's in-flight jobs
 * back on their queue after a spot interruption warning (goal: 1,000 jobs in under 2 s; the notice gives
 * 120 s). Real SDK clients against local-aws-sqs and dynalite on 127.0.0.1. The servers run in a child
 * process each (this file, started with DRAIN_BENCH_SERVERS=sqs|dynamo), as AWS would be other machines: in one
 * process they would share one event loop with the drainer. Baseline in the same run: the same
 * requeues one at a time.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { BatchingSQSClient } from '../lambda/drain/batching-sqs';
import { DrainDeps, handleDrainEvent } from '../lambda/drain/drain';
import { JobRecords } from '../runtime/jobs/job-records';
import { requeueInterrupted } from '../runtime/jobs/requeue';
import { createJobTable, documentClient } from '../test/support/job-table';
import { clientConfig, LocalServer, startDynamo, startSqs } from '../test/support/local-aws';
import { createQueue, fixture, runningJobs } from '../test/orchestration/helpers';

const GOAL_MS = 2000;
/** The drainer's clients use the SDK defaults (50 sockets per client, keep-alive), SQS through BatchingSQSClient. */
const DRAINER_CLIENTS = {};
const MANY_SOCKETS = { requestHandler: { httpAgent: { keepAlive: true, maxSockets: 256 } } };
const RUNS = 3;
const silent = { info: () => undefined, warn: () => undefined };

const SERVER_MODE = 'DRAIN_BENCH_SERVERS';

/** Child mode: run one local server (sqs or dynamo), print its endpoint, exit when the parent closes stdin. */
const serverMode = process.env[SERVER_MODE];
if (serverMode === 'sqs' || serverMode === 'dynamo') {
  void (async () => {
    const server: LocalServer<unknown> = serverMode === 'sqs' ? await startSqs() : await startDynamo();
    process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint })}\n`);
    process.stdin.resume();
    process.stdin.on('end', () => {
      void server.close().then(() => process.exit(0));
    });
  })();
}

/** One server per child process, as SQS and DynamoDB are other machines; each gets its own event loop. */
async function startServer(kind: 'sqs' | 'dynamo'): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), __filename], {
    env: { ...process.env, [SERVER_MODE]: kind },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`local ${kind} server did not start within 60 s`)), 60_000);
    child.stdout!.on('data', (chunk) => {
      out += String(chunk);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line).endpoint);
      }
    });
    child.on('exit', (code) => reject(new Error(`local ${kind} server exited with ${code}`)));
  });
  return { endpoint, child };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin!.end();
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null) child.kill();
}

export default async function drainBench(): Promise<string> {
  const [sqsServer, dynamoServer] = await Promise.all([startServer('sqs'), startServer('dynamo')]);
  const servers = { sqs: sqsServer.endpoint, dynamo: dynamoServer.endpoint };
  const setupSqs = new SQSClient(clientConfig(servers.sqs));
  const setupDdb = new DynamoDBClient(clientConfig(servers.dynamo));
  const table = await createJobTable(setupDdb);
  const setupRecords = new JobRecords(documentClient(setupDdb), table);
  const clients = (options: object, batching = true) => {
    const sqs = batching
      ? new BatchingSQSClient({ ...clientConfig(servers.sqs), ...options })
      : new SQSClient({ ...clientConfig(servers.sqs), ...options });
    const ddb = new DynamoDBClient({ ...clientConfig(servers.dynamo), ...options });
    return {
      sqs,
      ddb,
      records: new JobRecords(documentClient(ddb), table),
      destroy: () => {
        sqs.destroy();
        ddb.destroy();
      },
    };
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
  async function drainOnce(count: number, options: object, batching = true): Promise<{ ms: number; cpuMs: number }> {
    const { instanceId } = await prepare(count);
    const c = clients(options, batching);
    const deps: DrainDeps = {
      sqs: c.sqs,
      records: c.records,
      autoScaling: new AutoScalingClient({ region: 'us-east-1' }),
      ec2: new EC2Client({ region: 'us-east-1' }),
      workload: 'agents',
      groupName: 'gpu-fleet',
      hookName: 'drain-on-terminate',
      drainTimeoutSeconds: 110,
      heartbeatTimeoutSeconds: 180,
      log: silent,
    };
    const event = fixture('spot-interruption-warning');
    event.detail['instance-id'] = instanceId;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const summary = await handleDrainEvent(deps, event);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    c.destroy();
    if (summary.requeued !== count || summary.leftInFlight !== 0)
      throw new Error(`drained ${summary.requeued} of ${count}, ${summary.leftInFlight} left`);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  }

  const load = os.loadavg()[0];
  try {
    // Warm up connections and code paths.
    await drainOnce(200, DRAINER_CLIENTS);

    // Baseline: one requeue at a time.
    const sequentialJobs = 100;
    const { held } = await prepare(sequentialJobs);
    const one = clients(DRAINER_CLIENTS, false);
    const s0 = performance.now();
    for (const h of held) await requeueInterrupted(one.sqs, one.records, h);
    const sequentialPerJob = (performance.now() - s0) / sequentialJobs;
    one.destroy();

    type Run = { ms: number; cpuMs: number };
    const rows: Array<{ label: string; jobs: number } & Run> = [];
    const byTime = (runs: Run[]) => [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)];
    for (const jobs of [10, 100, 1000]) {
      const runs: Run[] = [];
      for (let i = 0; i < (jobs === 1000 ? RUNS : 1); i++) runs.push(await drainOnce(jobs, DRAINER_CLIENTS));
      rows.push({ label: 'drainer: all in parallel, SQS calls coalesced into batches', jobs, ...byTime(runs) });
    }
    rows.push({ label: 'drainer without batching (3 single calls per job)', jobs: 1000, ...(await drainOnce(1000, DRAINER_CLIENTS, false)) });
    rows.push({ label: 'drainer with batching and 256 sockets per client', jobs: 1000, ...(await drainOnce(1000, MANY_SOCKETS)) });

    const thousand = rows.find((r) => r.jobs === 1000)!;
    const out = [
      "## Drainer: time to requeue an instance's in-flight jobs",
      '',
      'Command: `npm run bench -- drain`. Spot interruption warning fixture → `handleDrainEvent` (byInstance query, then ' +
        '`requeueInterrupted` per job: conditional UpdateItem, SendMessage of the copy, DeleteMessage of the original — the ' +
        "drainer's SQS client coalesces those into SendMessageBatch/DeleteMessageBatch), real SDK " +
        `clients against local-aws-sqs and dynalite on 127.0.0.1, each server in its own child process. 1,000-job rows: median of ${RUNS} runs. ` +
        `${os.cpus().length} CPUs, load average ${load.toFixed(1)} at the start (other processes share the machine). ` +
        '"drainer CPU" is the CPU time of the drainer\'s own process; the rest of the wall time is the local servers.',
      '',
      '| case | jobs | time ms | ms per job | vs one at a time | drainer CPU ms |',
      '|---|---:|---:|---:|---:|---:|',
      `| baseline: one requeue at a time | ${sequentialJobs} | ${(sequentialPerJob * sequentialJobs).toFixed(0)} | ${sequentialPerJob.toFixed(2)} | 1.0× | |`,
      ...rows.map(
        (r) =>
          `| ${r.label} | ${r.jobs} | ${r.ms.toFixed(0)} | ${(r.ms / r.jobs).toFixed(2)} | ` +
          `${(sequentialPerJob / (r.ms / r.jobs)).toFixed(1)}× | ${r.cpuMs.toFixed(0)} |`,
      ),
      '',
      `Goal: 1,000 in-flight jobs requeued in under ${GOAL_MS} ms — ${thousand.ms < GOAL_MS ? '**met**' : '**not met**'} ` +
        `(${thousand.ms.toFixed(0)} ms, of which ${thousand.cpuMs.toFixed(0)} ms CPU in the drainer).`,
    ];
    return out.join('\n');
  } finally {
    setupSqs.destroy();
    setupDdb.destroy();
    await Promise.all([stopServer(sqsServer.child), stopServer(dynamoServer.child)]);
  }
}
