/**
 * Redrive of parked jobs (lambda/redrive/redrive.ts) against real SQS (local-aws-sqs) and DynamoDB
 * (dynalite) semantics: record reset, then a copy to the job's own priority queue, then the parked
 * message deleted; whatever cannot be redriven stays parked and visible.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { JobMessage, messageFromRecord, serializeJobMessage } from '../../lib/contracts';
import { redriveParked, RedriveDeps } from '../../lambda/redrive/redrive';
import { JobRecords } from '../../runtime/jobs/job-records';
import { park } from '../../runtime/jobs/retry';
import { createJobTable, documentClient } from '../support/job-table';
import { LocalServer, startDynamo, startSqs } from '../support/local-aws';
import { createQueue, drainQueue, newJob, runningJobs } from './helpers';

let sqs: LocalServer<SQSClient>;
let ddb: LocalServer<DynamoDBClient>;
let records: JobRecords;

beforeAll(async () => {
  [sqs, ddb] = await Promise.all([startSqs(), startDynamo()]);
  records = new JobRecords(documentClient(ddb.client), await createJobTable(ddb.client));
});
afterAll(async () => {
  await Promise.all([sqs.close(), ddb.close()]);
});

async function world() {
  const [high, normal, parking, origin] = await Promise.all([1, 2, 3, 4].map(() => createQueue(sqs.client)));
  const deps: RedriveDeps = {
    sqs: sqs.client,
    records,
    workload: 'agents',
    queueUrls: { high, normal },
    parkingQueueUrl: parking,
    receiveWaitSeconds: 0,
  };
  return { high, normal, parking, origin, deps };
}

/** A job the RetryHandler parked: record FAILED, message on the parking queue. */
async function parkedJob(w: Awaited<ReturnType<typeof world>>, priority = 'high'): Promise<JobMessage> {
  const job = newJob('agents', { priority });
  await records.create(job);
  const message = { ...messageFromRecord((await records.get(job.jobId))!), attempt: 3 };
  await park({ sqs: sqs.client, records, parkingQueueUrl: w.parking }, message, 'retry budget spent after 3 attempts: model 500');
  return message;
}

describe('redriveParked', () => {
  test('GIVEN parked jobs of two priorities THEN each goes back to its own queue with a fresh budget and its record QUEUED; the parking queue is empty', async () => {
    const w = await world();
    const a = await parkedJob(w, 'high');
    const b = await parkedJob(w, 'normal');
    const report = await redriveParked(w.deps);
    expect(report.redriven.sort()).toEqual([a.jobId, b.jobId].sort());
    expect(report).toMatchObject({ stale: [], kept: [], errors: [], more: false });
    for (const [job, url] of [
      [a, w.high],
      [b, w.normal],
    ] as const) {
      const [m] = await drainQueue(sqs.client, url);
      const body = JSON.parse(m.Body!);
      expect(body).toMatchObject({ jobId: job.jobId, attempt: 1, priority: job.priority });
      expect(body.lastError).toBeUndefined();
      const record = await records.get(job.jobId);
      expect(record).toMatchObject({ status: 'QUEUED', attempt: 1 });
      expect(record!.error).toBeUndefined();
    }
    expect(await drainQueue(sqs.client, w.parking)).toHaveLength(0);
  });

  test('GIVEN a poison body, an unselected job and a stale copy THEN only the selected job is redriven, the stale copy is deleted and the rest stays parked and visible', async () => {
    const w = await world();
    const selected = await parkedJob(w);
    const other = await parkedJob(w);
    await sqs.client.send(new SendMessageCommand({ QueueUrl: w.parking, MessageBody: 'not a job' }));
    const [done] = await runningJobs(sqs.client, records, w.origin, 'i-0123456789abcdef0', 1);
    await sqs.client.send(
      new SendMessageCommand({ QueueUrl: w.parking, MessageBody: serializeJobMessage(messageFromRecord((await records.get(done.jobId))!)) }),
    );
    await records.succeed(done.jobId, done.holder, {});

    const report = await redriveParked(w.deps, { jobIds: [selected.jobId, done.jobId] });

    expect(report.redriven).toEqual([selected.jobId]);
    expect(report.stale).toEqual([done.jobId]);
    expect(report.kept.map((k) => k.reason).sort()).toEqual(['not a job message: message body is not JSON', 'not selected'].sort());
    const stillParked = await drainQueue(sqs.client, w.parking);
    expect(stillParked.map((m) => (m.Body === 'not a job' ? 'poison' : JSON.parse(m.Body!).jobId)).sort()).toEqual(['poison', other.jobId].sort());
    expect((await records.get(other.jobId))!.status).toBe('FAILED');
    expect((await records.get(done.jobId))!.status).toBe('SUCCEEDED');
  });

  test('GIVEN SQS parked a job itself (the RetryHandler kept failing, record still QUEUED) THEN the redrive sends it back', async () => {
    const w = await world();
    const job = newJob();
    await records.create(job);
    const body = serializeJobMessage(messageFromRecord((await records.get(job.jobId))!));
    await sqs.client.send(new SendMessageCommand({ QueueUrl: w.parking, MessageBody: body }));
    const report = await redriveParked(w.deps);
    expect(report.redriven).toEqual([job.jobId]);
    expect((await drainQueue(sqs.client, w.high)).map((m) => JSON.parse(m.Body!).jobId)).toEqual([job.jobId]);
  });

  test("GIVEN the job's queue cannot be reached THEN its record goes back to FAILED and the message stays parked", async () => {
    const w = await world();
    const job = await parkedJob(w);
    const deps = { ...w.deps, queueUrls: { high: `${sqs.endpoint}/000000000000/no-such-queue` } };
    const report = await redriveParked(deps);
    expect(report.redriven).toEqual([]);
    expect(report.errors).toEqual([{ jobId: job.jobId, error: expect.stringMatching(/does not exist/) }]);
    expect((await records.get(job.jobId))!.status).toBe('FAILED');
    expect(await drainQueue(sqs.client, w.parking)).toHaveLength(1);
  });

  test('maxJobs bounds a run and says there may be more', async () => {
    const w = await world();
    await Promise.all([1, 2, 3].map(() => parkedJob(w)));
    const first = await redriveParked(w.deps, { maxJobs: 2 });
    expect(first).toMatchObject({ more: true });
    expect(first.redriven).toHaveLength(2);
    const second = await redriveParked(w.deps);
    expect(second).toMatchObject({ more: false });
    expect(second.redriven).toHaveLength(1);
  });
});
