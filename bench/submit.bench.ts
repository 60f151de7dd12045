/**
 * Submit-handler benchmark: requests/s and latency percentiles of the submit Lambda's handler (API Gateway
 * proxy event → checks → record → SQS) against the local servers (local-aws-sqs, dynalite, s3rver on
 * 127.0.0.1), at concurrency 1 and 16, with and without an idempotency key, plus GET /jobs/{id}. Baseline in
 * the same run: the bare I/O a submission cannot avoid (one conditional PutItem + one SendMessage through
 * the same SDK clients), so the ratio shows what the handler's own work costs. Bounded: a few thousand
 * requests, ~10-20 s. Absolute numbers are the local servers' (dynalite is far slower than DynamoDB).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { API_CONFIG_VERSION, ApiConfig } from '../lib/contracts';
import { JobClient } from '../runtime/client/job-client';
import { createStatusHandler } from '../lambda/status/handler';
import { createSubmitHandler } from '../lambda/submit/handler';
import { createJobTable, documentClient } from '../test/support/job-table';
import { startDynamo, startS3, startSqs, uniqueName } from '../test/support/local-aws';

interface Stats {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly errors: number;
}

/** Run `total` calls of `call(i)` with `concurrency` in flight; latency per call in ms. */
async function measure(total: number, concurrency: number, call: (i: number) => Promise<boolean>): Promise<Stats> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) {
        const s = performance.now();
        if (!(await call(i))) errors++;
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  return { perSecond: total / seconds, p50: pct(50), p99: pct(99), max: latencies[latencies.length - 1], errors };
}

const event = (body: unknown, i: number) =>
  ({
    httpMethod: 'POST',
    resource: '/jobs',
    path: '/jobs',
    body: JSON.stringify(body),
    isBase64Encoded: false,
    headers: { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { requestId: `bench-${i}`, domainName: 'api.example.com', path: '/v1/jobs' },
  }) as never;

export default async function submitBench(): Promise<string> {
  const [sqs, ddb, s3] = await Promise.all([startSqs(), startDynamo(), startS3(['bench-data'])]);
  try {
    const doc = documentClient(ddb.client);
    const tableName = await createJobTable(ddb.client);
    const queue = async () => (await sqs.client.send(new CreateQueueCommand({ QueueName: uniqueName('bench') }))).QueueUrl!;
    const config: ApiConfig = {
      v: API_CONFIG_VERSION,
      workloads: {
        agents: {
          queues: [
            { priority: 'high', url: await queue() },
            { priority: 'normal', url: await queue() },
          ],
        },
      },
      inlinePayloadMaxBytes: 256 * 1024,
      uploadUrlSeconds: 900,
      resultUrlSeconds: 300,
      wakeDebounceSeconds: 30,
      retentionSeconds: 86400,
    };
    const client = JobClient.fromConfig(config, { sqs: sqs.client, dynamo: doc, s3: s3.client }, { tableName, bucket: 'bench-data' });
    const submit = createSubmitHandler({ client });
    const status = createStatusHandler({ client });
    const payload = { messages: [{ role: 'user', content: 'Summarize the attached quarterly report in five bullet points.'.repeat(4) }] };
    const body = { workload: 'agents', agent: 'planner', model: 'llama-3.1-8b', payload };
    const ids: string[] = [];

    const baseline = (i: number) =>
      (async () => {
        const jobId = `agents.${randomUUID()}`;
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: { jobId, status: 'QUEUED', payload, n: i },
            ConditionExpression: 'attribute_not_exists(jobId)',
          }),
        );
        await sqs.client.send(
          new SendMessageCommand({ QueueUrl: config.workloads.agents.queues[1].url, MessageBody: JSON.stringify({ jobId, payload }) }),
        );
        return true;
      })();
    const plain = async (i: number) => {
      const r = await submit(event(body, i));
      if (r.statusCode === 202 && ids.length < 500) ids.push(JSON.parse(r.body).jobId);
      return r.statusCode === 202;
    };
    const keyed = async (i: number) => (await submit(event({ ...body, idempotencyKey: `bench-${randomUUID()}` }, i))).statusCode === 202;
    const read = async (i: number) =>
      (
        await status({
          httpMethod: 'GET',
          resource: '/jobs/{id}',
          path: '/jobs/x',
          pathParameters: { id: ids[i % ids.length] },
          requestContext: { requestId: `r${i}` },
        } as never)
      ).statusCode === 200;

    await measure(100, 8, plain); // warm-up (connections, JIT)
    await measure(100, 8, baseline);

    const rows: Array<[string, number, Stats, Stats]> = [];
    for (const concurrency of [1, 16]) {
      const n = concurrency === 1 ? 300 : 1200;
      const base = await measure(n, concurrency, baseline);
      rows.push(['baseline: PutItem + SendMessage', concurrency, base, base]);
      rows.push(['submit handler (inline payload)', concurrency, await measure(n, concurrency, plain), base]);
      rows.push(['submit handler + idempotencyKey', concurrency, await measure(n, concurrency, keyed), base]);
      rows.push(['status handler (GET /jobs/{id})', concurrency, await measure(n, concurrency, read), base]);
    }
    const f = (x: number) => x.toFixed(1);
    return [
      '## Submit handler (JobApi) against local SQS + DynamoDB + S3',
      '',
      `Payload ${Buffer.byteLength(JSON.stringify(payload))} bytes; 300 requests at concurrency 1, 1,200 at 16, after a warm-up. ` +
        'Latency in ms per handler call (in-process, no API Gateway or network hop). Baseline: the unavoidable I/O of a submission ' +
        '(one conditional PutItem + one SendMessage) through the same clients.',
      '',
      '| case | concurrency | requests/s | × baseline | p50 ms | p99 ms | max ms | errors |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        ([name, c, s, b]) =>
          `| ${name} | ${c} | ${f(s.perSecond)} | ${(s.perSecond / b.perSecond).toFixed(2)} | ${f(s.p50)} | ${f(s.p99)} | ${f(s.max)} | ${s.errors} |`,
      ),
      '',
      'An idempotency key adds a conditional PutItem (claim) and an UpdateItem (ENQUEUED) to each submission. ' +
        'Wake-up probing is not in these numbers: it is debounced to one GetQueueAttributes per workload per window.',
    ].join('\n');
  } finally {
    await Promise.all([sqs.close(), ddb.close(), s3.close()]);
  }
}
