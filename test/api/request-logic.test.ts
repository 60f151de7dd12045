/** The pure pieces behind the API tier (shared by the Lambdas and JobClient), without any server. */
import { ApiError } from '../../runtime/http/api-error';
import { WakeDebounce } from '../../runtime/client/fleet-wake';
import { canonicalJson, idempotencyItemKey, requestFingerprint } from '../../runtime/client/idempotency';
import { sqsSafeJson } from '../../runtime/client/job-client';
import { jobView } from '../../runtime/client/job-view';
import { BudgetGuard, limitFor, utcDayStart } from '../../runtime/client/spend-budget';
import {
  checkContentType,
  checkJobId,
  checkPayloadStorable,
  checkSubmitRequest,
  MAX_PAYLOAD_DEPTH,
  parseJsonBody,
} from '../../runtime/client/submit-request';
import { statusUrl } from '../../lambda/submit/handler';
import { JobRecord } from '../../lib/contracts';

const catalog = { agents: ['high', 'normal'], batch: ['normal'] };
const UUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof ApiError ? e.code : `not an ApiError: ${String(e)}`;
  }
  return undefined;
}

describe('checkSubmitRequest', () => {
  test("an inline job; the priority defaults to the workload's lowest", () => {
    expect(checkSubmitRequest({ workload: 'agents', agent: 'planner', payload: { a: 1 } }, catalog)).toEqual({
      kind: 'inline',
      workload: 'agents',
      agent: 'planner',
      priority: 'normal',
      payload: { a: 1 },
    });
    expect(
      checkSubmitRequest({ workload: 'agents', agent: 'p', priority: 'high', model: 'org/model:v1', idempotencyKey: 'a1:b/c=', payload: 0 }, catalog),
    ).toEqual({ kind: 'inline', workload: 'agents', agent: 'p', priority: 'high', model: 'org/model:v1', idempotencyKey: 'a1:b/c=', payload: 0 });
  });

  test('upload (step 1) and commit (step 2) requests', () => {
    expect(checkSubmitRequest({ workload: 'batch', agent: 'p', payloadUpload: true }, catalog)).toEqual({
      kind: 'upload',
      workload: 'batch',
      agent: 'p',
      priority: 'normal',
    });
    expect(checkSubmitRequest({ workload: 'batch', agent: 'p', uploadId: `batch.${UUID}` }, catalog)).toEqual({
      kind: 'commit',
      workload: 'batch',
      agent: 'p',
      priority: 'normal',
      uploadId: `batch.${UUID}`,
    });
  });

  test('payloads that are falsy but meaningful are kept', () => {
    for (const payload of [0, false, [], {}, 'x']) {
      expect(checkSubmitRequest({ workload: 'agents', agent: 'p', payload }, catalog)).toMatchObject({ payload });
    }
  });

  test('the first problem is named, with the field and the rule', () => {
    expect(() => checkSubmitRequest({ workload: 'agents', agent: 'p', payload: 1, extra: 1, more: 2 }, catalog)).toThrow(
      /unknown fields "extra", "more"; allowed: workload, agent/,
    );
    expect(() => checkSubmitRequest({ workload: 'agents', agent: 'bad agent', payload: 1 }, catalog)).toThrow(/agent "bad agent" is invalid/);
    expect(() => checkSubmitRequest({ workload: 'nope', agent: 'p', payload: 1 }, catalog)).toThrow(
      /workload "nope" is not served by this API; known workloads: agents, batch/,
    );
    expect(() => checkSubmitRequest({ workload: 'batch', agent: 'p', priority: 'high', payload: 1 }, catalog)).toThrow(
      /priority "high" is not one of workload "batch"'s priorities: normal/,
    );
    expect(codeOf(() => checkSubmitRequest({ workload: 'batch', agent: 'p', priority: 'high', payload: 1 }, catalog))).toBe('INVALID_PRIORITY');
  });

  test('idempotency keys: 128 characters pass, 129 do not', () => {
    expect(checkSubmitRequest({ workload: 'agents', agent: 'p', payload: 1, idempotencyKey: 'k'.repeat(128) }, catalog)).toMatchObject({
      idempotencyKey: 'k'.repeat(128),
    });
    expect(() => checkSubmitRequest({ workload: 'agents', agent: 'p', payload: 1, idempotencyKey: 'k'.repeat(129) }, catalog)).toThrow(
      /idempotencyKey is 129 characters; at most 128/,
    );
  });
});

describe('body parsing', () => {
  test('content types: JSON with or without a UTF-8 charset, any case', () => {
    for (const ok of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"']) {
      expect(() => checkContentType(ok)).not.toThrow();
    }
    for (const bad of [undefined, '', 'text/json', 'application/json-patch+json', 'application/json; charset=utf-16', 'application/jsonx']) {
      expect(codeOf(() => checkContentType(bad))).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
  });

  test('base64 bodies are decoded; size counts UTF-8 bytes and is checked before parsing', () => {
    const body = JSON.stringify({ a: 'é' });
    expect(parseJsonBody({ body: Buffer.from(body).toString('base64'), isBase64Encoded: true, contentType: 'application/json' }, 100)).toEqual({
      a: 'é',
    });
    expect(codeOf(() => parseJsonBody({ body: '{' + ' '.repeat(100), contentType: 'application/json' }, 100))).toBe('PAYLOAD_TOO_LARGE');
    expect(codeOf(() => parseJsonBody({ body: '"éé"', contentType: 'application/json' }, 5))).toBe('PAYLOAD_TOO_LARGE'); // 6 bytes, 4 characters
  });
});

describe('checkPayloadStorable', () => {
  function nested(depth: number): unknown {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  }

  test(`nesting up to ${MAX_PAYLOAD_DEPTH} levels passes, one more does not (iteratively: no stack overflow)`, () => {
    expect(() => checkPayloadStorable(nested(MAX_PAYLOAD_DEPTH))).not.toThrow();
    expect(() => checkPayloadStorable(nested(MAX_PAYLOAD_DEPTH + 1))).toThrow(/nests deeper than 30 levels/);
    expect(() => checkPayloadStorable(nested(100_000))).toThrow(/nests deeper/);
  });

  test('numbers DynamoDB stores exactly pass; others are named by path', () => {
    for (const n of [0, -0, 1.5, -2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e-130, 3.14e-20])
      expect(() => checkPayloadStorable({ n })).not.toThrow();
    expect(() => checkPayloadStorable({ a: { b: [1, 2 ** 53 + 2] } })).toThrow(/payload\.a\.b\[1\] holds the number 9007199254740994/);
    for (const n of [Infinity, NaN, 1e125, 1e-131]) expect(codeOf(() => checkPayloadStorable([n]))).toBe('INVALID_REQUEST');
  });

  test('well-formed Unicode (emoji are surrogate pairs) passes; unpaired surrogates do not, in values or keys', () => {
    expect(() => checkPayloadStorable({ t: '🤖 世界 \u0000 \uFFFF' })).not.toThrow();
    expect(() => checkPayloadStorable({ t: 'a\ud800' })).toThrow(/unpaired UTF-16 surrogate/);
    expect(() => checkPayloadStorable({ t: '\udc00b' })).toThrow(/unpaired/);
    expect(() => checkPayloadStorable({ ['k\ud800']: 1 })).toThrow(/key with an unpaired/);
    expect(() => checkPayloadStorable({ '': 1 })).toThrow(/empty key/);
  });
});

test("checkJobId: malformed → 400, another API's workload → 404", () => {
  expect(checkJobId(`agents.${UUID}`, catalog)).toBe(`agents.${UUID}`);
  expect(codeOf(() => checkJobId(`video.${UUID}`, catalog))).toBe('JOB_NOT_FOUND');
  for (const bad of [undefined, '', 'agents', `agents.${UUID.toUpperCase()}`, `agents.${UUID}/..`, `agents.idem.${'a'.repeat(64)}`]) {
    expect(codeOf(() => checkJobId(bad, catalog))).toBe('INVALID_JOB_ID');
  }
});

describe('idempotency keys and fingerprints', () => {
  test('canonical JSON ignores key order at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
  });

  test('the fingerprint covers everything but the key', () => {
    const a = checkSubmitRequest({ workload: 'agents', agent: 'p', payload: { x: 1, y: 2 }, idempotencyKey: 'k1' }, catalog);
    const b = checkSubmitRequest({ payload: { y: 2, x: 1 }, idempotencyKey: 'k2', agent: 'p', workload: 'agents' }, catalog);
    const c = checkSubmitRequest({ workload: 'agents', agent: 'p', payload: { x: 1, y: 3 }, idempotencyKey: 'k1' }, catalog);
    const d = checkSubmitRequest({ workload: 'agents', agent: 'p', payload: { x: 1, y: 2 }, priority: 'high', idempotencyKey: 'k1' }, catalog);
    expect(requestFingerprint(a)).toBe(requestFingerprint(b));
    expect(requestFingerprint(a)).not.toBe(requestFingerprint(c));
    expect(requestFingerprint(a)).not.toBe(requestFingerprint(d));
  });

  test('item keys are workload-prefixed (IAM leading keys) and agent-scoped', () => {
    const k = idempotencyItemKey('agents', 'p', 'order-1');
    expect(k).toMatch(/^agents\.idem\.[0-9a-f]{64}$/);
    expect(idempotencyItemKey('agents', 'q', 'order-1')).not.toBe(k);
    expect(idempotencyItemKey('batch', 'p', 'order-1')).toMatch(/^batch\.idem\./);
  });
});

test('WakeDebounce: one acquisition per key per window', () => {
  const d = new WakeDebounce(30_000);
  expect(d.tryAcquire('a', 0)).toBe(true);
  expect(d.tryAcquire('a', 29_999)).toBe(false);
  expect(d.tryAcquire('b', 1)).toBe(true);
  expect(d.tryAcquire('a', 30_000)).toBe(true);
  expect(new WakeDebounce(0).tryAcquire('a', 5) && new WakeDebounce(0).tryAcquire('a', 5)).toBe(true);
});

describe('BudgetGuard', () => {
  test('limits: named agents, the default, and no inherited Object properties', () => {
    const limits = { dailyLimitsUsd: { planner: 5 }, defaultDailyLimitUsd: 20 };
    expect(limitFor(limits, 'planner')).toBe(5);
    expect(limitFor(limits, 'constructor')).toBe(20);
    expect(limitFor({ dailyLimitsUsd: {} }, 'x')).toBeUndefined();
    expect(utcDayStart(new Date('2026-11-25T23:59:59.999Z')).toISOString()).toBe('2026-11-25T00:00:00.000Z');
  });

  test('at the limit is over; readings are cached per agent and refreshed after the cache or at midnight UTC', async () => {
    let now = Date.parse('2026-11-25T23:59:00Z');
    const reads: string[] = [];
    let spend = 5;
    const guard = new BudgetGuard(
      { dailyLimitsUsd: { planner: 5 } },
      {
        dailySpendUsd: async (agent, day) => {
          reads.push(`${agent}@${day.toISOString().slice(0, 10)}`);
          return spend;
        },
      },
      { cacheSeconds: 60, clock: () => new Date(now) },
    );
    expect(await guard.check('planner')).toMatchObject({ allowed: false, spentUsd: 5, limitUsd: 5, resetsAt: new Date('2026-11-26T00:00:00Z') });
    spend = 1;
    now += 30_000;
    expect((await guard.check('planner')).allowed).toBe(false); // cached
    now += 31_000; // next UTC day
    expect((await guard.check('planner')).allowed).toBe(true);
    expect(await guard.check('unlimited')).toEqual({ allowed: true });
    expect(reads).toEqual(['planner@2026-11-25', 'planner@2026-11-26']);
  });
});

test('jobView shows only the public fields', () => {
  const record: JobRecord = {
    jobId: `agents.${UUID}`,
    workload: 'agents',
    agent: 'p',
    priority: 'high',
    status: 'RUNNING',
    attempt: 2,
    interruptions: 1,
    submittedAt: 't0',
    updatedAt: 't1',
    startedAt: 't2',
    instanceId: 'i-1',
    queueUrl: 'https://sqs/q',
    receiptHandle: 'rh',
    payload: { secret: 1 },
    payloadRef: 's3://b/k',
    idempotencyKey: 'k',
    resultRef: 's3://b/r',
    result: { r: 1 },
    ttl: 1,
    lastError: 'boom',
  };
  expect(jobView(record)).toEqual({
    jobId: `agents.${UUID}`,
    workload: 'agents',
    agent: 'p',
    priority: 'high',
    status: 'RUNNING',
    attempt: 2,
    interruptions: 1,
    submittedAt: 't0',
    updatedAt: 't1',
    startedAt: 't2',
    lastError: 'boom',
    hasResult: false,
  });
});

test('sqsSafeJson escapes the two characters SQS refuses and stays equivalent JSON', () => {
  const value = { t: 'a\uFFFEb\uFFFFc 🤖', n: [1, '\u0000'] };
  const safe = sqsSafeJson(JSON.stringify(value));
  expect(safe).not.toMatch(/[\uFFFE\uFFFF]/);
  expect(JSON.parse(safe)).toEqual(value);
});

test('statusUrl: absolute from the request host and path, relative without a host', () => {
  const event = { path: '/jobs', requestContext: { domainName: 'api.example.com', path: '/prod/jobs' } } as never;
  expect(statusUrl(event, `agents.${UUID}`)).toBe(`https://api.example.com/prod/jobs/agents.${UUID}`);
  expect(statusUrl({ path: '/jobs', requestContext: {} } as never, 'a.b')).toBe('/jobs/a.b');
});
