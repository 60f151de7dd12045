/**
 * Run time of a GPU layer placed in another region: the worker, the drainer and the CapacityManager sign
 * their SQS, DynamoDB and S3 calls for the data region (the platform's) and their Auto Scaling,
 * CloudWatch and EC2 calls for their own; without a data region everything stays local.
 */
import { EnvNames, WORKER_CONFIG_VERSION } from '../../lib/contracts';
import { createManagerClients } from '../../lambda/capacity-manager/clients';
import { createDrainClients } from '../../lambda/drain/clients';
import { BatchingSQSClient } from '../../lambda/drain/batching-sqs';
import { createWorkerClients } from '../../worker/clients';
import { validateWorkerConfig } from '../../worker/config';

const LOCAL = 'us-west-2';
const DATA = 'us-east-1';

type Client = { config: { region: () => Promise<string> }; destroy(): void };

async function regionsOf(clients: Record<string, unknown>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, client] of Object.entries(clients)) out[name] = await (client as Client).config.region();
  return out;
}

function destroy(clients: Record<string, unknown>): void {
  for (const client of Object.values(clients)) (client as Client).destroy();
}

describe('worker clients', () => {
  test("GIVEN a dataRegion WHEN the clients are created THEN SQS, DynamoDB and S3 sign for it, Auto Scaling and CloudWatch for the instance's region", async () => {
    const clients = createWorkerClients({ region: LOCAL, dataRegion: DATA, concurrency: 4 });
    expect(await regionsOf({ ...clients })).toEqual({ sqs: DATA, dynamo: DATA, s3: DATA, cloudwatch: LOCAL, autoscaling: LOCAL });
    destroy({ ...clients });
  });

  test("GIVEN no dataRegion THEN every client is in the instance's region", async () => {
    const clients = createWorkerClients({ region: LOCAL, concurrency: 1 });
    expect(new Set(Object.values(await regionsOf({ ...clients })))).toEqual(new Set([LOCAL]));
    destroy({ ...clients });
  });

  const valid = {
    v: WORKER_CONFIG_VERSION,
    region: LOCAL,
    workload: 'w',
    queues: [{ priority: 'high', url: 'https://sqs.us-east-1.amazonaws.com/1/q' }],
    parkingQueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/p',
    jobTable: 't',
    resultBucket: 'b',
    inlineResultMaxBytes: 1024,
    autoScalingGroupName: 'g',
    metricNamespace: 'AiBurst',
    concurrency: 1,
    jobTimeoutSeconds: 60,
    visibilityTimeoutSeconds: 60,
    maxAttempts: 3,
    hourlyPriceUsd: {},
    modelServer: { kind: 'openai', baseUrl: 'http://127.0.0.1:8000', healthPath: '/health' },
  };
  test('the config accepts a region name as dataRegion', () => {
    expect(validateWorkerConfig({ ...valid, dataRegion: DATA }).dataRegion).toBe(DATA);
    expect(validateWorkerConfig({ ...valid, dataRegion: 'us-gov-west-1' }).dataRegion).toBe('us-gov-west-1');
    expect(validateWorkerConfig(valid).dataRegion).toBeUndefined();
  });
  test.each([[''], ['US-EAST-1'], ['https://sqs.us-east-1.amazonaws.com'], [42]])('fails if dataRegion is %p', (dataRegion) => {
    expect(() => validateWorkerConfig({ ...valid, dataRegion })).toThrow(/dataRegion must be a region name like us-east-1 when set/);
  });
});

describe('handler clients', () => {
  const saved = process.env.AWS_REGION;
  beforeAll(() => {
    process.env.AWS_REGION = LOCAL;
  }); // what Lambda sets: the function's own region
  afterAll(() => {
    if (saved === undefined) delete process.env.AWS_REGION;
    else process.env.AWS_REGION = saved;
  });

  test("GIVEN AI_BURST_DATA_REGION WHEN the drainer's clients are created THEN SQS and DynamoDB sign for it, Auto Scaling and EC2 stay local", async () => {
    const clients = createDrainClients({ [EnvNames.DATA_REGION]: DATA });
    expect(clients.sqs).toBeInstanceOf(BatchingSQSClient);
    expect(await regionsOf({ ...clients })).toEqual({ sqs: DATA, dynamo: DATA, autoScaling: LOCAL, ec2: LOCAL });
    destroy({ ...clients });
  });

  test("GIVEN no AI_BURST_DATA_REGION THEN the drainer's clients are all in the function's region", async () => {
    const clients = createDrainClients({});
    expect(await regionsOf({ ...clients })).toEqual({ sqs: LOCAL, dynamo: LOCAL, autoScaling: LOCAL, ec2: LOCAL });
    destroy({ ...clients });
  });

  test("GIVEN AI_BURST_DATA_REGION WHEN the CapacityManager's clients are created THEN SQS signs for it, Auto Scaling and CloudWatch stay local", async () => {
    const clients = createManagerClients({ [EnvNames.DATA_REGION]: DATA });
    expect(await regionsOf({ ...clients })).toEqual({ sqs: DATA, autoscaling: LOCAL, cloudwatch: LOCAL });
    destroy({ ...clients });
  });

  test("GIVEN no AI_BURST_DATA_REGION THEN the CapacityManager's clients are in the function's region", async () => {
    const clients = createManagerClients({});
    expect(await regionsOf({ ...clients })).toEqual({ sqs: LOCAL, autoscaling: LOCAL, cloudwatch: LOCAL });
    destroy({ ...clients });
  });
});
