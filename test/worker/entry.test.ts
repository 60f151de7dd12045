/**
 * The entry point as GpuFleet ships it: one esbuild bundle without aws-cdk-lib, started with a config path,
 * stopped by SIGTERM.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { SetInstanceHealthCommand } from '@aws-sdk/client-auto-scaling';
import { EXIT_GAVE_UP, main } from '../../worker';
import { silentLogger } from '../../runtime/log';
import { Env, configFor, makeQueues, sleep, startEnv, stopEnv, submit } from './harness';
import { ec2Time, startImdsStub } from '../support/imds-stub';

const root = join(__dirname, '..', '..');

describe('bundle', () => {
  let bundlePath: string;
  let inputs: string[];

  beforeAll(async () => {
    const out = mkdtempSync(join(tmpdir(), 'worker-bundle-'));
    bundlePath = join(out, 'worker.js');
    const result = await build({
      entryPoints: [join(root, 'worker', 'index.ts')],
      bundle: true,
      platform: 'node',
      target: 'node18',
      format: 'cjs',
      outfile: bundlePath,
      metafile: true,
      logLevel: 'silent',
      absWorkingDir: root,
    });
    inputs = Object.keys(result.metafile.inputs);
    expect(Object.keys(result.metafile.outputs)).toHaveLength(1);
  });

  test('worker/index.ts bundles to one file without aws-cdk-lib or constructs', () => {
    expect(inputs).toContain('worker/index.ts');
    expect(inputs).toContain('runtime/jobs/job-records.ts');
    expect(inputs.some((i) => i.includes('@aws-sdk/client-sqs'))).toBe(true);
    expect(inputs.filter((i) => /aws-cdk-lib|node_modules\/constructs\//.test(i))).toEqual([]);
  });

  test('the bundle runs on its own: a bad config path exits 1 with a JSON log line naming it', async () => {
    const run = await promisify(execFile)(process.execPath, [bundlePath, '/nonexistent/worker.json']).catch(
      (e) => e as { code: number; stdout: string },
    );
    expect((run as { code: number }).code).toBe(1);
    const line = JSON.parse((run as { stdout: string }).stdout.trim().split('\n')[0]);
    expect(line).toMatchObject({ level: 'error', message: 'invalid worker config', path: '/nonexistent/worker.json' });
  });
});

describe('main()', () => {
  let env: Env;
  const saved = { ...process.env };
  beforeAll(async () => {
    env = await startEnv();
    // the entry builds its own SDK clients from the config's region: point them at the local servers
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SQS: env.sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: env.ddb.endpoint,
      AWS_ENDPOINT_URL_S3: env.s3.endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
  });
  afterAll(async () => {
    process.env = saved;
    await stopEnv(env);
  });

  test('reads the config from argv[2], runs jobs, and stops cleanly (exit code 0) on SIGTERM', async () => {
    const queues = await makeQueues(env);
    const imds = await startImdsStub();
    const path = join(mkdtempSync(join(tmpdir(), 'worker-main-')), 'worker.json');
    writeFileSync(path, JSON.stringify({ ...configFor(env, queues), imdsEndpoint: imds.endpoint }));
    const { jobId } = await submit(env, queues);

    const exit = main(['node', 'worker.js', path], silentLogger, { bootMarksDir: join(dirname(path), 'marks') });
    while ((await env.records.get(jobId))?.status !== 'SUCCEEDED') await sleep(20);
    process.emit('SIGTERM', 'SIGTERM');

    expect(await exit).toBe(0);
    expect(process.listenerCount('SIGTERM')).toBe(0);
    await imds.close();
  });

  test(`exits ${EXIT_GAVE_UP} after giving up on the instance (model server never healthy), having reported it Unhealthy`, async () => {
    // GIVEN a launch 700 s ago, a 600 s boot timeout and a 1 s look for a worker started after it
    const queues = await makeQueues(env);
    const imds = await startImdsStub({ pendingTime: ec2Time(Date.now() - 700_000) });
    const dir = mkdtempSync(join(tmpdir(), 'worker-main-'));
    const path = join(dir, 'worker.json');
    writeFileSync(path, JSON.stringify({ ...configFor(env, queues), imdsEndpoint: imds.endpoint, bootTimeoutSeconds: 600, modelLostSeconds: 1 }));
    env.model.setHealthy(false);
    env.autoscaling.resetHistory();
    try {
      const code = await main(['node', 'worker.js', path], silentLogger, {
        bootMarksDir: join(dir, 'marks'),
        timing: { healthPollMs: 20, setInstanceHealthRetryMs: 1, giveUpLingerMs: 0 },
      });
      expect(code).toBe(EXIT_GAVE_UP);
      expect(env.autoscaling.commandCalls(SetInstanceHealthCommand).map((c) => c.args[0].input)).toEqual([
        { InstanceId: imds.instanceId, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false },
      ]);
      expect(process.listenerCount('SIGTERM')).toBe(0);
    } finally {
      env.model.setHealthy(true);
      await imds.close();
    }
  });

  test('returns 1 for an invalid config', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'worker-main-')), 'worker.json');
    writeFileSync(path, JSON.stringify({ v: 1 }));
    expect(await main(['node', 'worker.js', path], silentLogger)).toBe(1);
  });
});
