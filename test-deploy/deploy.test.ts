/**
 * Deployed, not only synthesized: the example app (bin/app.ts, two workloads) is synthesized, its assets are
 * published to moto's bootstrap bucket and its template is deployed with CreateStack; then the shipped code
 * runs against what moto created. moto cannot run Lambdas without Docker, so each handler is loaded from its
 * asset directory in the assembly (what CloudFormation deployed) with the deployed function's environment,
 * and invoked with the API Gateway- or EventBridge-shaped event AWS would send. The worker is the bundle the
 * launch template's user data downloads, with the config that user data writes.
 *
 * Where moto differs from AWS, the test makes one documented change: to a copy of the template
 * (support/moto-workarounds.ts) or, for SQS queue URLs, to the values it hands the bundles (see SQS_HOST).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, GetMetricStatisticsCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { ApiConfig, ApiConfigPart, mergeApiConfigParts } from '../lib/contracts';
import { FakeModelServer, startFakeModelServer } from '../test/support/fake-model-server';
import { ImdsStub, startImdsStub } from '../test/support/imds-stub';
import { readStacks, StackArtifact, synth } from './support/cloud-assembly';
import { ASSEMBLY_ENV } from './support/global-setup';
import { DeployedStack, deployStack } from './support/deploy-stack';
import { DeployedFunction, functionIds, runtimeModules, startFunction } from './support/lambda-host';
import { MotoServer, requireTool, startMoto } from './support/moto-server';
import { adaptForMoto, MOTO_SKIPPED_TYPES, Workaround } from './support/moto-workarounds';
import { deployedUserData, layOutInstance, runWorker, UserData, WorkerProcess } from './support/worker-process';

const REPO = path.resolve(__dirname, '..');
const REGION = 'us-east-1';
const STACK = 'AiBurstExample';
const WORKLOAD = 'realtime-agent';
const WORKER_CONFIG = '/etc/ai-burst/worker.json';

/**
 * Workaround (values handed to the bundles, not the template): the deployed queue URLs name the real SQS host
 * (https://sqs.<region>.amazonaws.com/<account>/<name>, what moto's Ref returns, as AWS does), and the SDK's SQS
 * client sends each call to its QueueUrl's host unless `endpoint` is set in code — AWS_ENDPOINT_URL does not
 * change that. So that host is replaced by moto's address in the environment and config the bundles get, and in
 * the JobApi's configuration parameters (SSM) the submit and status bundles read at cold start.
 */
const SQS_HOST = `https://sqs.${REGION}.amazonaws.com`;

jest.setTimeout(120_000);

let work: string;
let moto: MotoServer;
let artifact: StackArtifact;
let workarounds: Workaround[];
let deployed: DeployedStack;
let rewrite: (v: string) => string;
let apiConfig: ApiConfig;
const functions: Record<string, DeployedFunction> = {};
let imds: ImdsStub | undefined;
let model: FakeModelServer | undefined;
let worker: WorkerProcess | undefined;
let userData: UserData;
/** The laid-out instance: the bundle and the config as the user data wrote it (before test-only settings). */
let instanceFiles: { bundle: string; config: string; written: Record<string, any> };
let workers = 0;

/**
 * Start the worker bundle with the user data's config plus the test-only settings (what the instance has and the
 * test host does not): IMDS and the model server are local stubs, short polls keep the test quick, and the
 * SQS host workaround. Each start writes its own config file (a fresh IMDS stub per start).
 */
function startAgent(imdsEndpoint: string): WorkerProcess {
  const config = JSON.parse(rewrite(JSON.stringify(instanceFiles.written)));
  Object.assign(config, { imdsEndpoint, pollWaitSeconds: 1, imdsPollSeconds: 0.2, metricsFlushSeconds: 1, shutdownGraceSeconds: 2 });
  config.modelServer = { ...config.modelServer, baseUrl: model!.baseUrl };
  workers += 1;
  const file = `${instanceFiles.config}.${workers}.json`;
  fs.writeFileSync(file, JSON.stringify(config));
  return runWorker(instanceFiles.bundle, file, moto.endpoint, REGION);
}

function queueUrl(priority: string): string {
  return apiConfig.workloads[WORKLOAD].queues.find((q) => q.priority === priority)!.url;
}

/** The deployed JobApi configuration parameters, with the SQS host workaround applied in moto; their merged config. */
async function rewriteApiConfigParameters(ssm: SSMClient): Promise<ApiConfig> {
  const names = Object.entries(deployed.template.Resources)
    .filter(([, r]) => r.Type === 'AWS::SSM::Parameter')
    .map(([id]) => deployed.physicalIds[id])
    .sort();
  const parts: ApiConfigPart[] = [];
  for (const name of names) {
    const value = (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter!.Value!;
    await ssm.send(new PutParameterCommand({ Name: name, Value: rewrite(value), Overwrite: true, Type: 'String' }));
    parts.push(JSON.parse(rewrite(value)));
  }
  if (parts.length === 0) throw new Error('the deployed stack has no JobApi configuration parameter');
  return mergeApiConfigParts(parts);
}

/**
 * The EventBridge warning for `instanceId`, issued `ageMs` ago. The realtime workload expects 20 s jobs, so at a fresh
 * warning the notice rule would keep a just-started job running; a warning issued 110 s ago (reclaim in 10 s) leaves
 * no job time to finish, so the drainer requeues it.
 */
function spotWarning(instanceId: string, ageMs = 0) {
  return {
    version: '0',
    id: `deploy-test-${Date.now()}`,
    'detail-type': 'EC2 Spot Instance Interruption Warning',
    source: 'aws.ec2',
    account: deployed.account,
    region: REGION,
    time: new Date(Date.now() - ageMs).toISOString(),
    resources: [`arn:aws:ec2:${REGION}a:instance/${instanceId}`],
    detail: { 'instance-id': instanceId, 'instance-action': 'terminate' },
  };
}
let sqs: SQSClient;
let dynamo: DynamoDBDocumentClient;
let autoscaling: AutoScalingClient;
let cloudwatch: CloudWatchClient;

function only(ids: string[], what: string): string {
  if (ids.length !== 1) throw new Error(`expected one ${what} in ${STACK}, found ${ids.length}: ${ids.join(', ')}`);
  return ids[0];
}

function resourcesOfType(type: string): Array<[string, any]> {
  return Object.entries(deployed.template.Resources).filter(([, r]) => r.Type === type);
}

function tagOf(resource: any, key: string): string | undefined {
  return (resource.Properties?.Tags ?? []).find((t: { Key: string }) => t.Key === key)?.Value;
}

/** The deployed group of a workload (by its ai-burst:workload tag), as moto describes it now. */
async function group(workload: string) {
  const [id] = resourcesOfType('AWS::AutoScaling::AutoScalingGroup').find(([, r]) => tagOf(r, 'ai-burst:workload') === workload) ?? [];
  if (!id) throw new Error(`no Auto Scaling group tagged ai-burst:workload=${workload}`);
  const name = deployed.physicalIds[id];
  const g = (await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups?.[0];
  if (!g) throw new Error(`moto has no group ${name}`);
  return g;
}

function tableName(): string {
  return deployed.physicalIds[
    only(
      resourcesOfType('AWS::DynamoDB::Table').map(([id]) => id),
      'job table',
    )
  ];
}

async function record(jobId: string): Promise<Record<string, any> | undefined> {
  return (await dynamo.send(new GetCommand({ TableName: tableName(), Key: { jobId }, ConsistentRead: true }))).Item;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function apiEvent(method: string, resource: string, pathValue: string, opts: { body?: unknown; pathParameters?: Record<string, string> } = {}) {
  const apiId =
    deployed.physicalIds[
      only(
        resourcesOfType('AWS::ApiGateway::RestApi').map(([id]) => id),
        'REST API',
      )
    ];
  const stage = resourcesOfType('AWS::ApiGateway::Stage')[0]?.[1].Properties.StageName ?? 'v1';
  const now = Date.now();
  return {
    resource,
    path: pathValue,
    httpMethod: method,
    headers: { 'content-type': 'application/json', host: `${apiId}.execute-api.${REGION}.amazonaws.com` },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: opts.pathParameters ?? null,
    stageVariables: null,
    body: opts.body === undefined ? null : JSON.stringify(opts.body),
    isBase64Encoded: false,
    requestContext: {
      accountId: deployed.account,
      apiId,
      stage,
      resourcePath: resource,
      httpMethod: method,
      path: `/${stage}${pathValue}`,
      domainName: `${apiId}.execute-api.${REGION}.amazonaws.com`,
      requestId: `deploy-test-${now}`,
      requestTimeEpoch: now,
      protocol: 'HTTP/1.1',
      identity: {
        sourceIp: '127.0.0.1',
        userAgent: 'deploy-test',
        caller: 'AIDAEXAMPLE',
        user: 'AIDAEXAMPLE',
        userArn: `arn:aws:iam::${deployed.account}:user/deploy-test`,
      },
      authorizer: null,
    },
  };
}

async function fn(fragment: string): Promise<DeployedFunction> {
  const id = only(functionIds(deployed, fragment), `Lambda function with "${fragment}" in its logical id`);
  functions[id] ??= await startFunction({
    runtimeNodePath: runtimeModules(path.join(work, 'lambda-runtime'), REPO),
    endpoint: moto.endpoint,
    deployed,
    artifact,
    logicalId: id,
    rewrite,
  });
  return functions[id];
}

beforeAll(async () => {
  requireTool('aws', 'the deploy test drives CloudFormation through the AWS CLI (awscli), preinstalled with Python 3.11 on these machines');
  requireTool('python3', 'moto needs Python 3');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-burst-deploy-'));
  moto = await startMoto();
  const stacks = readStacks(process.env[ASSEMBLY_ENV] ?? synth(REPO, path.join(work, 'cdk.out')));
  artifact = stacks.find((s) => s.stackName === STACK)!;
  if (!artifact) throw new Error(`the assembly has no stack ${STACK} (found ${stacks.map((s) => s.stackName).join(', ')})`);
  const adapted = adaptForMoto(artifact.template);
  workarounds = adapted.workarounds;
  deployed = await deployStack({ endpoint: moto.endpoint, region: REGION, stack: artifact, template: adapted.template });
  rewrite = (v) => v.split(SQS_HOST).join(moto.endpoint);
  const clientOptions = { region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  sqs = new SQSClient(clientOptions);
  dynamo = DynamoDBDocumentClient.from(new DynamoDBClient(clientOptions));
  autoscaling = new AutoScalingClient(clientOptions);
  cloudwatch = new CloudWatchClient(clientOptions);
  apiConfig = await rewriteApiConfigParameters(new SSMClient(clientOptions));
}, 300_000);

afterAll(async () => {
  if (worker) {
    worker.kill('SIGKILL');
    await worker.exited;
  }
  await Promise.all(Object.values(functions).map((f) => f.stop()));
  await imds?.close();
  await model?.close();
  for (const c of [sqs, dynamo, autoscaling, cloudwatch]) c?.destroy();
  await moto?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the example app deployed into moto', () => {
  test('CreateStack completes; every resource of a type moto models has a physical id, the rest are listed', () => {
    const created = Object.keys(deployed.physicalIds);
    const expected = Object.entries(deployed.template.Resources)
      .filter(([, r]) => !MOTO_SKIPPED_TYPES.includes(r.Type))
      .map(([id]) => id);
    expect(created).toEqual(expect.arrayContaining(expected));
    const notCreated = Object.entries(deployed.template.Resources)
      .filter(([id]) => !created.includes(id))
      .map(([, r]) => r.Type);
    // Only the types moto skips are missing (alarms, policies, lifecycle hooks, API stage and friends).
    expect(notCreated.every((t) => MOTO_SKIPPED_TYPES.includes(t))).toBe(true);
    const counts = notCreated.reduce<Record<string, number>>((m, t) => ({ ...m, [t]: (m[t] ?? 0) + 1 }), {});
    process.stdout.write(
      `deployed ${created.length} of ${Object.keys(deployed.template.Resources).length} resources; moto skipped: ` +
        `${Object.entries(counts)
          .map(([t, n]) => `${t} ×${n}`)
          .join(', ')}\n` +
        `workarounds:\n${workarounds.map((w) => `- ${w.what} (${w.changed.length})`).join('\n')}\n`,
    );
  });

  test('the deployed groups start empty, spot-only, and their functions name them', async () => {
    for (const w of [WORKLOAD, 'doc-analysis']) {
      const g = await group(w);
      expect(g).toMatchObject({ MinSize: 0, DesiredCapacity: 0 });
      expect(g.MixedInstancesPolicy?.InstancesDistribution).toMatchObject({ OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0 });
    }
    const manager = await fn('realtimeagentFleetCapacityManagerFunction');
    expect(manager.deployedEnv.AI_BURST_ASG_NAME).toBe((await group(WORKLOAD)).AutoScalingGroupName);
  });

  let jobId: string;

  test('POST /jobs (submit bundle): 202; the record is QUEUED in the deployed table, the message in the deployed queue', async () => {
    const submit = await fn('ApiSubmitFunction');
    const response = await submit.invoke(
      apiEvent('POST', '/jobs', '/jobs', {
        body: { workload: WORKLOAD, agent: 'support-bot', priority: 'high', payload: { messages: [{ role: 'user', content: 'deployed hello' }] } },
      }),
    );
    expect(response.statusCode).toBe(202);
    jobId = JSON.parse(response.body).jobId;
    expect(jobId).toMatch(new RegExp(`^${WORKLOAD}\\.`));

    expect(await record(jobId)).toMatchObject({ jobId, status: 'QUEUED', workload: WORKLOAD, priority: 'high', attempt: 1 });
    // A peek that leaves the message visible for the worker.
    const peek = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl('high'), MaxNumberOfMessages: 1, VisibilityTimeout: 0 }));
    expect(peek.Messages?.map((m) => JSON.parse(m.Body!).jobId)).toEqual([jobId]);
    // The fleet was at zero: the submit bundle woke the CapacityManager (moto logged the Invoke it cannot run).
    const manager = await fn('realtimeagentFleetCapacityManagerFunction');
    // moto's server writes its request log line after it has answered, so the line may trail the call: wait for it.
    const invoked = new RegExp(`POST /2015-03-31/functions/\\S*${manager.functionName}/invocations`);
    await eventually("the CapacityManager Invoke in moto's log", async () => (invoked.test(moto.log()) ? true : undefined), 30_000).catch(
      (e: Error) => {
        // Say what the submit bundle logged about its wake-up, so a miss is diagnosable from CI's output.
        throw new Error(`${e.message}; the submit bundle logged:\n${submit.output.slice(-20).join('\n')}`);
      },
    );
  });

  test("the CapacityManager bundle, woken as the submit path wakes it, raises the deployed group's desired capacity", async () => {
    const manager = await fn('realtimeagentFleetCapacityManagerFunction');
    const result = await manager.invoke({ wake: true, workload: WORKLOAD, jobId });
    expect(result).toEqual({ evaluations: 1, failures: 0 });
    const g = await eventually('an instance in the group', async () => {
      const now = await group(WORKLOAD);
      return (now.Instances?.length ?? 0) > 0 ? now : undefined;
    });
    expect(g.DesiredCapacity).toBeGreaterThanOrEqual(1);
  });

  test('the worker bundle the user data downloads, with the config it writes, runs the job to SUCCEEDED', async () => {
    const g = await group(WORKLOAD);
    const instance = g.Instances![0];
    userData = await deployedUserData(moto.endpoint, REGION, g.AutoScalingGroupName!);
    // The bundle the user data downloads is one of the assembly's published assets.
    expect(artifact.assets.some((a) => a.objectKey === userData.download.key && a.packaging === 'file')).toBe(true);

    // Workaround: moto launches a mixed-instances group's instances with the launch template's instance type (none
    // here; the types are overrides) instead of one of the overrides, so the IMDS stub answers the first override.
    const overrides = g.MixedInstancesPolicy!.LaunchTemplate!.Overrides!.map((o) => o.InstanceType!);
    const instanceType = instance.InstanceType && overrides.includes(instance.InstanceType) ? instance.InstanceType : overrides[0];
    imds = await startImdsStub({ instanceId: instance.InstanceId!, instanceType });
    model = await startFakeModelServer();
    const root = path.join(work, 'instance');
    const laid = await layOutInstance({ endpoint: moto.endpoint, region: REGION, userData, root, configPath: WORKER_CONFIG });
    const written = JSON.parse(fs.readFileSync(laid.config, 'utf8'));
    // What the user data wrote, as moto resolved it: the deployed table, group and queues; the price step filled prices.
    expect(written).toMatchObject({ workload: WORKLOAD, jobTable: tableName(), autoScalingGroupName: g.AutoScalingGroupName });
    expect(Object.keys(written.hourlyPriceUsd)).toEqual(expect.arrayContaining(overrides));
    const deployedQueues = resourcesOfType('AWS::SQS::Queue').map(([id]) => deployed.physicalIds[id]);
    expect(written.queues.map((q: { priority: string }) => q.priority)).toEqual(['high', 'normal']);
    for (const q of [...written.queues, { url: written.parkingQueueUrl }]) expect(deployedQueues).toContain(q.url);
    instanceFiles = { ...laid, written };

    worker = startAgent(imds.endpoint);
    const ready = await worker.waitFor((l) => l.message === 'worker ready');
    expect(ready).toMatchObject({ instanceId: instance.InstanceId });
    await worker.waitFor((l) => l.message === 'job succeeded' && l.jobId === jobId);
    expect(model.callsWith('deployed hello')).toHaveLength(1);
    expect(await record(jobId)).toMatchObject({ status: 'SUCCEEDED', attempt: 1 });
  });

  test('GET /jobs/{id} (status bundle) answers SUCCEEDED with tokens and cost', async () => {
    const status = await fn('ApiStatusFunction');
    const response = await status.invoke(apiEvent('GET', '/jobs/{id}', `/jobs/${jobId}`, { pathParameters: { id: jobId } }));
    expect(response.statusCode).toBe(200);
    const view = JSON.parse(response.body);
    expect(view).toMatchObject({ jobId, status: 'SUCCEEDED', workload: WORKLOAD });
    expect(view.tokensIn).toBeGreaterThan(0);
    expect(view.tokensOut).toBeGreaterThan(0);
    // Priced from the table the user data's price step wrote into the config.
    expect(view.gpuSeconds).toBeGreaterThan(0);
    expect(view.costUsd).toBeGreaterThan(0);
  });

  test("the worker's metrics are in the deployed account's CloudWatch", async () => {
    const namespace = JSON.parse(userData.files[WORKER_CONFIG]).metricNamespace as string;
    const succeeded = await eventually('JobsSucceeded in CloudWatch', async () => {
      const listed = await cloudwatch.send(new ListMetricsCommand({ Namespace: namespace, MetricName: 'JobsSucceeded' }));
      return (listed.Metrics?.length ?? 0) > 0 ? listed.Metrics! : undefined;
    });
    expect(succeeded.some((m) => m.Dimensions?.some((d) => d.Name === 'Workload' && d.Value === WORKLOAD))).toBe(true);
    const names = new Set((await cloudwatch.send(new ListMetricsCommand({ Namespace: namespace }))).Metrics?.map((m) => m.MetricName));
    expect([...names]).toEqual(expect.arrayContaining(['JobsSucceeded', 'TokensIn', 'TokensOut', 'GpuSeconds']));
    // The worker publishes each datum under several dimension sets; moto's GetMetricStatistics matches every datum
    // whose dimensions include the requested ones (CloudWatch matches the exact set), so ask for the fullest set.
    const dims = [...succeeded].sort((a, b) => (b.Dimensions?.length ?? 0) - (a.Dimensions?.length ?? 0))[0].Dimensions;
    expect(dims).toEqual(
      expect.arrayContaining([
        { Name: 'Workload', Value: WORKLOAD },
        { Name: 'Agent', Value: 'support-bot' },
      ]),
    );
    const stats = await cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: namespace,
        MetricName: 'JobsSucceeded',
        Dimensions: dims,
        Statistics: ['Sum'],
        Period: 60,
        StartTime: new Date(Date.now() - 600_000),
        EndTime: new Date(Date.now() + 60_000),
      }),
    );
    expect(stats.Datapoints?.reduce((s, d) => s + (d.Sum ?? 0), 0)).toBe(1);
  });

  let second: string;

  test('a spot notice (IMDS) requeues the job in flight: QUEUED again, interruptions 1, its message back in the queue', async () => {
    // Idle after the first job: the worker lifts scale-in protection (after its short idle grace).
    await eventually(
      'no scale-in protection on the idle instance',
      async () => ((await group(WORKLOAD)).Instances?.[0]?.ProtectedFromScaleIn === false ? true : undefined),
      15_000,
    );
    const gate = model!.gate();
    model!.script((call) => (call.raw.includes('long job') ? { until: gate.until } : undefined));
    const submit = await fn('ApiSubmitFunction');
    const response = await submit.invoke(
      apiEvent('POST', '/jobs', '/jobs', {
        body: { workload: WORKLOAD, agent: 'support-bot', priority: 'normal', payload: { messages: [{ role: 'user', content: 'long job' }] } },
      }),
    );
    expect(response.statusCode).toBe(202);
    second = JSON.parse(response.body).jobId as string;
    await worker!.waitFor((l) => l.message === 'job started' && l.jobId === second);
    expect(await record(second)).toMatchObject({ status: 'RUNNING' });
    // While it works, the worker protects its instance from scale-in in the deployed group.
    await eventually(
      'scale-in protection on the busy instance',
      async () => ((await group(WORKLOAD)).Instances?.[0]?.ProtectedFromScaleIn ? true : undefined),
      10_000,
    );

    // The deployed config carries the workload's expected job duration (20 s): a reclaim 25 s out leaves the job no time
    // to finish before the reclaim less the 20 s margin, so the notice rule requeues it at once.
    expect(instanceFiles.written.expectedJobSeconds).toBe(20);
    imds!.setInterruption({ action: 'terminate', time: new Date(Date.now() + 25_000).toISOString() });
    await worker!.waitFor((l) => l.message === 'spot notice handled');
    gate.release();
    expect(await record(second)).toMatchObject({ status: 'QUEUED', interruptions: 1, attempt: 1 });
    await expectOneMessage(queueUrl('normal'), { jobId: second, interruptions: 1 });

    // The EventBridge warning for the same instance reaches the drainer bundle: the job is already back, nothing doubles.
    const drainer = await fn('realtimeagentDrainerFunction');
    const instanceId = (await group(WORKLOAD)).Instances![0].InstanceId!;
    const summary = await drainer.invoke(spotWarning(instanceId));
    expect(summary).toMatchObject({ outcome: 'drained', kind: 'spot-interruption', instanceId, requeued: 0, failures: 0 });
    expect(await record(second)).toMatchObject({ status: 'QUEUED', interruptions: 1 });
  });

  async function expectOneMessage(url: string, body: Record<string, unknown>): Promise<void> {
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(Number(attrs.Attributes?.ApproximateNumberOfMessages)).toBe(1);
    const peek = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, VisibilityTimeout: 0 }));
    expect(JSON.parse(peek.Messages![0].Body!)).toMatchObject(body);
  }

  async function stopWithSigterm(w: WorkerProcess): Promise<void> {
    w.kill('SIGTERM');
    const { code, signal } = await w.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(w.logs.some((l) => l.message === 'worker stopped')).toBe(true);
  }

  test('SIGTERM (systemd stopping the reclaimed instance): the worker stops cleanly and exits 0', async () => {
    await stopWithSigterm(worker!);
    worker = undefined;
  });

  test('a worker restarted on the interrupted instance never restarts the job it lost there', async () => {
    const { instanceId, instanceType } = imds!;
    await imds!.close();
    imds = await startImdsStub({ instanceId, instanceType });
    worker = startAgent(imds.endpoint);
    await worker.waitFor((l) => l.message === 'job was interrupted on this instance: handed back' && l.jobId === second);
    await stopWithSigterm(worker);
    worker = undefined;
    expect(await record(second)).toMatchObject({ status: 'QUEUED', interruptions: 1, interruptedOn: instanceId });
  });

  /** Another instance of the deployed group (moto launches it on SetDesiredCapacity). */
  async function newInstance(): Promise<{ instanceId: string; instanceType: string }> {
    const g = await group(WORKLOAD);
    const before = new Set(g.Instances!.map((i) => i.InstanceId!));
    await autoscaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: g.AutoScalingGroupName!, DesiredCapacity: before.size + 1 }));
    const fresh = await eventually(
      'a new instance in the deployed group',
      async () => (await group(WORKLOAD)).Instances!.find((i) => !before.has(i.InstanceId!)),
      15_000,
    );
    return { instanceId: fresh.InstanceId!, instanceType: imds!.instanceType };
  }

  test('the spot warning for an instance whose worker died mid-job: the drainer bundle requeues what the record says it held', async () => {
    const gate = model!.gate();
    model!.script((call) => (call.raw.includes('long job') ? { until: gate.until } : undefined));
    const other = await newInstance();
    await imds!.close();
    imds = await startImdsStub(other);
    worker = startAgent(imds.endpoint);
    await worker.waitFor((l) => l.message === 'job started' && l.jobId === second);
    worker.kill('SIGKILL');
    await worker.exited;
    worker = undefined;
    gate.release();
    expect(await record(second)).toMatchObject({ status: 'RUNNING', instanceId: other.instanceId });

    const drainer = await fn('realtimeagentDrainerFunction');
    const summary = await drainer.invoke(spotWarning(other.instanceId, 110_000));
    expect(summary).toMatchObject({ outcome: 'drained', instanceId: other.instanceId, requeued: 1, kept: 0, failures: 0 });
    expect(await record(second)).toMatchObject({ status: 'QUEUED', interruptions: 2, attempt: 1, interruptedOn: other.instanceId });
    await expectOneMessage(queueUrl('normal'), { jobId: second, interruptions: 2 });
  });

  test('a worker on a third instance runs the twice-interrupted job to SUCCEEDED on its first attempt, then SIGTERM exits 0', async () => {
    model!.script(undefined);
    const third = await newInstance();
    await imds!.close();
    imds = await startImdsStub(third);
    worker = startAgent(imds.endpoint);
    await worker.waitFor((l) => l.message === 'job succeeded' && l.jobId === second);
    expect(await record(second)).toMatchObject({ status: 'SUCCEEDED', interruptions: 2, attempt: 1 });
    await stopWithSigterm(worker);
    worker = undefined;
  });
});
