/**
 * A small IMDSv2 stand-in on 127.0.0.1 (port 0) for worker tests: `PUT /latest/api/token` hands out a
 * session token; every GET needs it (401 otherwise). Serves instance-id, instance-type, the instance
 * identity document (`dynamic/instance-identity/document`, with `pendingTime`), the spot `instance-action` and
 * rebalance recommendation (404 until set), and instance tags.
 */
import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

export interface ImdsStubOptions {
  readonly instanceId?: string;
  readonly instanceType?: string;
  /** Instance metadata tags enabled in the launch template. @default true */
  readonly tagsEnabled?: boolean;
  /** `pendingTime` of the identity document (ISO, second precision as EC2 writes it). @default when the stub started */
  readonly pendingTime?: string;
  /** The identity document's raw text instead of the generated one; `null` answers 404. */
  readonly identityDocument?: string | null;
}

/** An ISO time as EC2 writes `pendingTime`: whole seconds, `Z`. */
export function ec2Time(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface ImdsStub {
  readonly endpoint: string;
  readonly instanceId: string;
  readonly instanceType: string;
  /** The identity document's `pendingTime`. */
  readonly pendingTime: string;
  /** Replace the identity document's raw text (`null`: 404; `undefined`: the generated one again). */
  setIdentityDocument(raw: string | null | undefined): void;
  /** Schedule a spot reclaim: `spot/instance-action` answers from now on. */
  setInterruption(notice?: { action: string; time: string }): void;
  /** Post a rebalance recommendation. */
  setRebalance(noticeTime?: string): void;
  /** Set (or with undefined, remove) an instance tag. */
  setTag(key: string, value: string | undefined): void;
  /** Forget every token handed out (the next GET gets a 401). */
  expireTokens(): void;
  /** GET requests per path (below /latest/) and token requests. */
  readonly gets: ReadonlyMap<string, number>;
  tokenRequests(): number;
  /** Resolves after the next GET of `path` has been answered. */
  nextGet(path: string): Promise<void>;
  close(): Promise<void>;
}

export async function startImdsStub(options: ImdsStubOptions = {}): Promise<ImdsStub> {
  const instanceId = options.instanceId ?? `i-${randomUUID().replace(/-/g, '').slice(0, 17)}`;
  const instanceType = options.instanceType ?? 'g5.xlarge';
  const tokens = new Set<string>();
  const tags = new Map<string, string>();
  const gets = new Map<string, number>();
  const waiters = new Map<string, (() => void)[]>();
  let tokenCount = 0;
  let interruption: string | undefined;
  let rebalance: string | undefined;
  const pendingTime = options.pendingTime ?? ec2Time(Date.now());
  let documentOverride = options.identityDocument;
  // The fields EC2 documents for the instance identity document, with example values.
  const document = JSON.stringify(
    {
      accountId: '123456789012',
      architecture: 'x86_64',
      availabilityZone: 'us-east-1a',
      billingProducts: null,
      devpayProductCodes: null,
      marketplaceProductCodes: null,
      imageId: 'ami-0abcdef1234567890',
      instanceId,
      instanceType,
      kernelId: null,
      pendingTime,
      privateIp: '10.0.1.23',
      ramdiskId: null,
      region: 'us-east-1',
      version: '2017-09-30',
    },
    null,
    2,
  );

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://imds');
    const send = (status: number, body = '') => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    };
    if (url.pathname === '/latest/api/token') {
      if (req.method !== 'PUT' || !req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return send(400);
      const token = randomUUID();
      tokens.add(token);
      tokenCount += 1;
      return send(200, token);
    }
    if (req.method !== 'GET' || !url.pathname.startsWith('/latest/')) return send(404);
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !tokens.has(token)) return send(401);
    const path = url.pathname.slice('/latest/'.length);
    gets.set(path, (gets.get(path) ?? 0) + 1);
    res.on('finish', () => {
      const list = waiters.get(path) ?? [];
      waiters.delete(path);
      list.forEach((w) => w());
    });
    if (path === 'meta-data/instance-id') return send(200, instanceId);
    if (path === 'meta-data/instance-type') return send(200, instanceType);
    if (path === 'dynamic/instance-identity/document') {
      if (documentOverride === null) return send(404);
      return send(200, documentOverride ?? document);
    }
    if (path === 'meta-data/spot/instance-action') return interruption ? send(200, interruption) : send(404);
    if (path === 'meta-data/events/recommendations/rebalance') return rebalance ? send(200, rebalance) : send(404);
    if (path.startsWith('meta-data/tags/instance')) {
      if (options.tagsEnabled === false) return send(404);
      const key = decodeURIComponent(path.slice('meta-data/tags/instance'.length).replace(/^\//, ''));
      if (key === '') return send(200, [...tags.keys()].join('\n'));
      const value = tags.get(key);
      return value === undefined ? send(404) : send(200, value);
    }
    return send(404);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    instanceId,
    instanceType,
    pendingTime,
    setIdentityDocument: (raw) => {
      documentOverride = raw;
    },
    setInterruption: (notice = { action: 'terminate', time: new Date(Date.now() + 120_000).toISOString().replace(/\.\d{3}Z$/, 'Z') }) => {
      interruption = JSON.stringify(notice);
    },
    setRebalance: (noticeTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')) => {
      rebalance = JSON.stringify({ noticeTime });
    },
    setTag: (key, value) => {
      if (value === undefined) tags.delete(key);
      else tags.set(key, value);
    },
    expireTokens: () => tokens.clear(),
    gets,
    tokenRequests: () => tokenCount,
    nextGet: (path) =>
      new Promise<void>((resolve) => {
        waiters.set(path, [...(waiters.get(path) ?? []), resolve]);
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
