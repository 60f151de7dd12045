import { Tags } from '../../lib/contracts';
import { ImdsClient, ImdsWatcher, InterruptionNotice, instanceIdentity, launchTimeOf } from '../../worker/imds';
import { silentLogger } from '../../runtime/log';
import { ImdsStub, startImdsStub } from '../support/imds-stub';

const PENDING_TIME = '2026-11-25T08:01:07Z';

let imds: ImdsStub;
beforeAll(async () => {
  imds = await startImdsStub({ instanceId: 'i-0abcdef1234567890', instanceType: 'g6.xlarge', pendingTime: PENDING_TIME });
});
afterAll(async () => {
  await imds.close();
});

describe('ImdsClient (IMDSv2)', () => {
  test('reads the identity (id, type, launch time from the identity document) with one session token; 404 is undefined', async () => {
    const client = new ImdsClient(imds.endpoint);
    const before = imds.tokenRequests();
    expect(await instanceIdentity(client)).toEqual({
      instanceId: 'i-0abcdef1234567890',
      instanceType: 'g6.xlarge',
      launchedAt: Date.parse(PENDING_TIME),
    });
    expect(imds.gets.get('dynamic/instance-identity/document')).toBe(1);
    expect(await client.get('meta-data/spot/instance-action')).toBeUndefined();
    expect(imds.tokenRequests() - before).toBe(1);
  });

  test('an expired token (401) is renewed once and the read retried', async () => {
    const client = new ImdsClient(imds.endpoint);
    await client.get('meta-data/instance-id');
    const before = imds.tokenRequests();
    imds.expireTokens();
    expect(await client.get('meta-data/instance-id')).toBe('i-0abcdef1234567890');
    expect(imds.tokenRequests() - before).toBe(1);
  });

  test('a missing or malformed identity document leaves the launch time unknown, with the reason; id and type still count', async () => {
    const stub = await startImdsStub({ instanceId: 'i-0abcdef1234567890', identityDocument: null });
    try {
      const client = new ImdsClient(stub.endpoint);
      expect(await instanceIdentity(client)).toEqual({
        instanceId: 'i-0abcdef1234567890',
        instanceType: 'g5.xlarge',
        launchTimeProblem: 'dynamic/instance-identity/document is missing',
      });
      stub.setIdentityDocument('{"pendingTime": "yesterday"}');
      expect((await instanceIdentity(client)).launchTimeProblem).toBe(
        'dynamic/instance-identity/document has no valid pendingTime (got "yesterday")',
      );
      stub.setIdentityDocument('<html>');
      expect((await instanceIdentity(client)).launchTimeProblem).toMatch(/is not JSON: <html>/);
      stub.setIdentityDocument(undefined);
      expect((await instanceIdentity(client)).launchedAt).toBe(Date.parse(stub.pendingTime));
    } finally {
      await stub.close();
    }
  });

  test('launchTimeOf reads pendingTime as EC2 documents it', () => {
    expect(launchTimeOf(JSON.stringify({ instanceId: 'i-1', pendingTime: '2016-11-19T16:32:11Z' }))).toEqual({
      at: Date.UTC(2016, 10, 19, 16, 32, 11),
    });
    expect(launchTimeOf(JSON.stringify({ instanceId: 'i-1' })).problem).toMatch(/no valid pendingTime \(got nothing\)/);
  });

  test('fails if IMDS cannot be reached', async () => {
    await expect(instanceIdentity(new ImdsClient('http://127.0.0.1:1'))).rejects.toThrow();
  });
});

describe('ImdsWatcher', () => {
  test('reports the spot notice and the rebalance recommendation once each, and the draining tag both ways', async () => {
    const stub = await startImdsStub();
    const seen: string[] = [];
    let notice: InterruptionNotice | undefined;
    const watcher = new ImdsWatcher(
      new ImdsClient(stub.endpoint),
      10_000,
      {
        onInterruption: (n) => {
          seen.push('interruption');
          notice = n;
        },
        onRebalance: (t) => seen.push(`rebalance ${t}`),
        onDrainingTag: (on) => seen.push(`tag ${on}`),
      },
      silentLogger,
    );
    watcher.start();
    await watcher.pollOnce();
    expect(seen).toEqual([]);

    stub.setRebalance('2026-11-25T08:10:00Z');
    stub.setTag(Tags.DRAINING, 'true');
    await watcher.pollOnce();
    await watcher.pollOnce();
    expect(seen.sort()).toEqual(['rebalance 2026-11-25T08:10:00Z', 'tag true']);

    stub.setInterruption({ action: 'terminate', time: '2026-11-25T08:24:00Z' });
    stub.setTag(Tags.DRAINING, undefined);
    await watcher.pollOnce();
    await watcher.pollOnce();
    expect(notice).toEqual({ action: 'terminate', time: '2026-11-25T08:24:00Z' });
    expect(seen.filter((s) => s === 'interruption')).toHaveLength(1);
    expect(seen).toContain('tag false');
    await watcher.stop();
    await stub.close();
  });

  test('polls on its interval', async () => {
    const stub = await startImdsStub();
    const watcher = new ImdsWatcher(
      new ImdsClient(stub.endpoint),
      20,
      { onInterruption: () => {}, onRebalance: () => {}, onDrainingTag: () => {} },
      silentLogger,
    );
    watcher.start();
    for (let i = 0; i < 3; i++) await stub.nextGet('meta-data/spot/instance-action');
    await watcher.stop();
    expect(stub.gets.get('meta-data/spot/instance-action')).toBeGreaterThanOrEqual(3);
    expect(stub.gets.get(`meta-data/tags/instance/${Tags.DRAINING}`)).toBeGreaterThanOrEqual(3);
    await stub.close();
  });
});
