/**
 * The Lambda entry points as deployed (lambda/submit/index.ts, lambda/status/index.ts): configuration from
 * the environment the construct sets, SDK clients with default settings (pointed at the local servers by the
 * SDK's standard AWS_ENDPOINT_URL_* variables), and the JobsSubmitted metric as EMF with exactly {Workload}.
 */
import type { APIGatewayProxyHandler, APIGatewayProxyResult } from 'aws-lambda';
import { EnvNames, METRIC_DIMENSION_SETS, MetricNames } from '../../lib/contracts';
import { apiEvent, freshConfig, LocalAws, parse, postJob, startLocalAws, BUCKET } from './api-env';
import { CapturedOutput } from '../support/captured-output';

let aws: LocalAws;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => {
  process.env = saved;
  await aws.close();
});

async function load(
  entry: 'submit' | 'status',
  fresh: Awaited<ReturnType<typeof freshConfig>>,
): Promise<(e: unknown) => Promise<APIGatewayProxyResult>> {
  const { config, tableName } = fresh;
  Object.assign(process.env, {
    [EnvNames.API_CONFIG]: JSON.stringify({ ...config, workloads: { agents: config.workloads.agents } }),
    [EnvNames.JOB_TABLE]: tableName,
    [EnvNames.PAYLOAD_BUCKET]: BUCKET,
    [EnvNames.RESULT_BUCKET]: BUCKET,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_SQS: aws.sqs.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: aws.ddb.endpoint,
    AWS_ENDPOINT_URL_S3: aws.s3.endpoint,
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
  });
  let handler: APIGatewayProxyHandler | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require(`../../lambda/${entry}/index`).handler;
  });
  return handler as unknown as (e: unknown) => Promise<APIGatewayProxyResult>;
}

test('the deployed submit entry queues a job and emits JobsSubmitted with exactly the Workload dimension', async () => {
  const fresh = await freshConfig(aws);
  const submit = await load('submit', fresh);
  const output = new CapturedOutput().start([process.stdout]);
  let r: APIGatewayProxyResult;
  try {
    r = await submit(postJob({ workload: 'agents', agent: 'planner', payload: { q: 1 } }));
  } finally {
    output.stop();
  }
  expect(r.statusCode).toBe(202);
  const jobId = parse(r.body).jobId;

  const [emf] = output.emf();
  expect(emf).toBeDefined();
  expect(emf._aws.CloudWatchMetrics).toEqual([
    { Namespace: 'AiBurst', Dimensions: [['Workload']], Metrics: [{ Name: MetricNames.JOBS_SUBMITTED, Unit: 'Count' }] },
  ]);
  expect(METRIC_DIMENSION_SETS[MetricNames.JOBS_SUBMITTED]).toEqual([['Workload']]);
  expect(emf).toMatchObject({ Workload: 'agents', [MetricNames.JOBS_SUBMITTED]: 1 });

  // The status entry reads the same table.
  const status = await load('status', fresh);
  const found = await status(apiEvent({ method: 'GET', resource: '/jobs/{id}', path: `/jobs/${jobId}`, pathParameters: { id: jobId } }));
  expect(found.statusCode).toBe(200);
  expect(parse(found.body)).toMatchObject({ jobId, status: 'QUEUED', agent: 'planner' });
});
