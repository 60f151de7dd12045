/**
 * The JobApi's configuration carrier: SSM String parameters (standard tier, ≤ 4 KB each) the construct writes
 * and the handlers read once per cold start. SSM has no local server here, so its calls go through
 * aws-sdk-client-mock; the queues, table and bucket are the local servers.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { JobApi, JobQueue, JobStore } from '../../lib';
import { EnvNames, mergeApiConfigParts, splitApiConfig, SSM_STANDARD_PARAMETER_MAX_BYTES } from '../../lib/contracts';
import { loadApiConfig, lazyHandler } from '../../runtime/client/api-config';
import { apiEvent, freshConfig, LocalAws, parse, postJob, startLocalAws, BUCKET } from './api-env';

const ENV = { account: '123456789012', region: 'us-east-1' };
const name32 = (i: number) => `w${String(i).padStart(2, '0')}-${'x'.repeat(28)}`;
const PRIORITIES = ['p1-aaaaaaaaaaaaa', 'p2-bbbbbbbbbbbbb', 'p3-ccccccccccccc', 'p4-ddddddddddddd', 'p5-eeeeeeeeeeeee'];

// A whole AiBurstPlatform of 20 such workloads is ~1300 resources, over CloudFormation's 500 per stack (about 7
// workloads of 5 priorities fit one stack): that, not the API's configuration, is the real limit now. The JobApi
// with the 20 workloads' queues fits one stack and is what this checks.
describe('GIVEN a JobApi with 20 workloads x 5 priorities x 32-character names', () => {
  const app = new App();
  const stack = new Stack(app, 'Wide', { env: ENV });
  const store = new JobStore(stack, 'Store');
  const api = new JobApi(stack, 'Api', {
    store,
    defaultDailyBudgetUsd: 50,
    workloads: Array.from({ length: 20 }, (_, i) => ({ queue: new JobQueue(stack, `Jobs${i}`, { workload: name32(i), priorities: PRIORITIES }) })),
  });
  const platform = { api };
  const t = Template.fromStack(stack);

  test('THEN it synthesizes, with the configuration in standard SSM parameters that each fit 4 KB', () => {
    expect(name32(0)).toHaveLength(32);
    const params = Object.values(t.findResources('AWS::SSM::Parameter'));
    expect(params.length).toBeGreaterThan(1);
    expect(platform.api.configParameters).toHaveLength(params.length);
    const workloads = new Set<string>();
    for (const p of params) {
      expect(p.Properties).toMatchObject({ Type: 'String', Tier: 'Standard' });
      // Resolved queue URLs are Refs: count each at the longest real URL (140) as the construct does.
      const text = JSON.stringify(p.Properties.Value);
      const literal = (p.Properties.Value['Fn::Join'][1] as unknown[]).filter((x) => typeof x === 'string').join('');
      const refs = (text.match(/"Ref"/g) ?? []).length + (text.match(/Fn::GetAtt/g) ?? []).length;
      expect(Buffer.byteLength(literal) + 140 * refs).toBeLessThanOrEqual(SSM_STANDARD_PARAMETER_MAX_BYTES);
      for (const m of literal.matchAll(/"(w\d\d-x{28})":/g)) workloads.add(m[1]);
    }
    expect(workloads.size).toBe(20);
  });

  test("THEN the handlers carry only the parameter names and a digest, far below Lambda's 4 KB of environment", () => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function')).filter(
      (f) => String(f.Properties.Description).startsWith('cdk-ai-burst: ') && f.Properties.Environment?.Variables?.[EnvNames.API_CONFIG_PARAMETERS],
    );
    expect(fns).toHaveLength(2);
    for (const fn of fns) {
      const vars = fn.Properties.Environment.Variables;
      expect(vars[EnvNames.API_CONFIG]).toBeUndefined();
      expect(vars[EnvNames.API_CONFIG_DIGEST]).toMatch(/^[0-9a-f]{16}$/);
      expect(JSON.stringify(vars).length).toBeLessThan(2000);
    }
  });

  test('THEN each handler role may read exactly those parameters (ssm:GetParameters, no wildcard)', () => {
    const ids = Object.keys(t.findResources('AWS::SSM::Parameter'));
    for (const role of [platform.api.submitRole, platform.api.statusRole]) {
      const roleId = stack.getLogicalId(role.node.defaultChild as never);
      const statements = Object.values(t.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((s: { Action: unknown }) => JSON.stringify(s.Action).includes('ssm:'));
      expect(statements).toHaveLength(1);
      expect(statements[0].Action).toBe('ssm:GetParameters');
      const text = JSON.stringify(statements[0].Resource);
      expect(text).not.toContain('*');
      for (const id of ids) expect(text).toContain(id);
    }
  });
});

describe('the limit is checked at synth', () => {
  test('fails if the settings outgrow one SSM standard parameter, naming dailyBudgetsUsd and the 4096 bytes', () => {
    const { stack } = { stack: new Stack(new App(), 'S', { env: ENV }) };
    const store = new JobStore(stack, 'Store');
    const queue = new JobQueue(stack, 'Q', { workload: 'agents' });
    const many = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`agent-number-${i}`, 10]));
    expect(() => new JobApi(stack, 'Api', { store, workloads: [{ queue }], dailyBudgetsUsd: many })).toThrow(
      /JobApi: the handlers' settings would be about \d+ bytes, over the 4096 of one SSM standard parameter: name fewer agents in dailyBudgetsUsd/,
    );
  });

  test('splitApiConfig packs workloads under the limit and mergeApiConfigParts restores the config', async () => {
    const config = {
      v: 1,
      inlinePayloadMaxBytes: 1024,
      uploadUrlSeconds: 60,
      resultUrlSeconds: 60,
      wakeDebounceSeconds: 30,
      retentionSeconds: 60,
      workloads: Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [name32(i), { queues: PRIORITIES.map((priority) => ({ priority, url: 'u'.repeat(140) })) }]),
      ),
    };
    const parts = splitApiConfig(config, (json) => json.length, 4096);
    expect(parts.length).toBeGreaterThan(4);
    for (const p of parts) expect(JSON.stringify(p).length).toBeLessThanOrEqual(4096);
    expect(mergeApiConfigParts(JSON.parse(JSON.stringify(parts)))).toEqual(config);
    expect(() => mergeApiConfigParts([{ ...parts[0], v: 2 }])).toThrow(/version 2; this handler reads version 1/);
  });
});

describe('GIVEN the handlers read their configuration from SSM parameters', () => {
  let aws: LocalAws;
  const ssm = mockClient(SSMClient);
  beforeAll(async () => {
    aws = await startLocalAws();
  });
  afterAll(async () => {
    ssm.restore();
    await aws.close();
  });
  beforeEach(() => ssm.reset());

  /** Stores the parts of `config` in the mocked SSM under /cfg/<i>, answering GetParameters like SSM does. */
  function storeParts(config: Parameters<typeof splitApiConfig>[0]): string[] {
    const parts = splitApiConfig(config, (json) => json.length, 300);
    const store = new Map(parts.map((p, i) => [`/cfg/${i}`, JSON.stringify(p)]));
    ssm.on(GetParametersCommand).callsFake((input: { Names: string[] }) => {
      if (input.Names.length > 10) throw new Error('GetParameters takes at most 10 names');
      return {
        Parameters: input.Names.filter((n) => store.has(n)).map((n) => ({ Name: n, Value: store.get(n), Type: 'String' })),
        InvalidParameters: input.Names.filter((n) => !store.has(n)),
      };
    });
    return [...store.keys()];
  }

  test('WHEN the submit handler cold-starts THEN it reads the parts once and queues a job on a queue from the last part', async () => {
    const { config, tableName } = await freshConfig(aws);
    // A tiny part size spreads the two workloads over several parameters; add filler workloads to pass 10 names.
    const filler = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`filler-${i}`, config.workloads.agents]));
    const wide = { ...config, workloads: { ...filler, agents: config.workloads.agents } };
    const names = storeParts(wide);
    expect(names.length).toBeGreaterThan(10);
    const env = { [EnvNames.API_CONFIG_PARAMETERS]: JSON.stringify(names) };
    const loaded = await loadApiConfig(() => new SSMClient({ region: 'us-east-1' }), env);
    expect(loaded).toEqual(wide);
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(Math.ceil(names.length / 10));

    // The same load behind the deployed entry's lazy handler: one SSM read for two requests.
    ssm.resetHistory();
    const { JobClient } = await import('../../runtime/client/job-client');
    const { createSubmitHandler } = await import('../../lambda/submit/handler');
    const { createStatusHandler } = await import('../../lambda/status/handler');
    const log = { info() {}, warn() {}, error() {}, debug() {} } as never;
    const build = async () => {
      const c = await loadApiConfig(() => new SSMClient({ region: 'us-east-1' }), env);
      const client = JobClient.fromConfig(
        c,
        { sqs: aws.sqs.client, dynamo: (await import('../support/job-table')).documentClient(aws.ddb.client), s3: aws.s3.client },
        { tableName, bucket: BUCKET },
        { log },
      );
      return { submit: createSubmitHandler({ client, log }), status: createStatusHandler({ client, log }) };
    };
    const submit = lazyHandler(async () => (await build()).submit);
    const first = await submit(postJob({ workload: 'agents', agent: 'planner', payload: { q: 1 } }));
    const second = await submit(postJob({ workload: 'agents', agent: 'planner', payload: { q: 2 } }));
    expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(Math.ceil(names.length / 10));
    const status = (await build()).status;
    const id = parse(first.body).jobId;
    const found: APIGatewayProxyResult = await status(
      apiEvent({ method: 'GET', resource: '/jobs/{id}', path: `/jobs/${id}`, pathParameters: { id } }),
    );
    expect(parse(found.body)).toMatchObject({ jobId: id, status: 'QUEUED' });
  });

  test('WHEN a parameter is missing THEN the load fails naming it, and the lazy handler retries on the next call', async () => {
    const { config } = await freshConfig(aws);
    const names = storeParts(config);
    const env = { [EnvNames.API_CONFIG_PARAMETERS]: JSON.stringify([...names, '/cfg/gone']) };
    await expect(loadApiConfig(() => new SSMClient({ region: 'us-east-1' }), env)).rejects.toThrow(/ApiConfig parameters not found: \/cfg\/gone/);

    let builds = 0;
    const handler = lazyHandler(async () => {
      builds += 1;
      if (builds === 1) throw new Error('throttled');
      return async (e: number) => e * 2;
    });
    await expect(handler(1)).rejects.toThrow('throttled');
    expect(await handler(2)).toBe(4);
    expect(await handler(3)).toBe(6);
    expect(builds).toBe(2);
  });
});
