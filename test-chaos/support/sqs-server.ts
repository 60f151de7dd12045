/**
 * local-aws-sqs for the fault-injection suite, with its receive-count quirk corrected in memory.
 *
 * local-aws-sqs 2.0.2 runs every ChangeMessageVisibility through the same private routine as a receive, which
 * adds 1 to ApproximateReceiveCount (real SQS counts receives only). A worker's heartbeat would then inflate
 * the count (a redelivery would look like the 5th receive) and send a healthy long job to the DLQ once its
 * visibility lapsed. The correction, at run time and in this process only (node_modules is untouched):
 * - the server is built from the package's exported `createRequestHandler`, which also hands back its
 *   `service` (its queues), instead of `createSqsServer`;
 * - `Queue.createRecord` (public static, called for every SendMessage and every move to a DLQ) is wrapped so
 *   each new message's `attributes.ApproximateReceiveCount` becomes an accessor that ignores writes made
 *   while `Queue.prototype.changeVisibility` runs (wrapped to set a flag; the call is synchronous, and
 *   ChangeMessageVisibilityBatch goes through the same method).
 * Receives still count; a redelivered message reports 2, as on SQS. The other quirk (DeleteMessage deletes by
 * message id whatever the receipt handle's age) is left as it is: no check of the suite depends on it.
 */
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { clientConfig } from '../../test/support/local-aws';

interface QueueClass {
  createRecord(input: unknown): [{ attributes: Record<string, string> }, unknown];
  prototype: { changeVisibility(...args: unknown[]): boolean };
}
interface Service {
  PORT: number;
  HOSTNAME: string;
  Queues: { constructor: unknown }[];
}

const PATCHED = Symbol.for('ai-burst.chaos.receive-count-patch');

export interface ChaosSqs {
  readonly endpoint: string;
  readonly client: SQSClient;
  close(): Promise<void>;
}

/** Wrap the Queue class once per process; idempotent. */
export function correctReceiveCount(Queue: QueueClass): void {
  const marked = Queue as unknown as Record<symbol, boolean>;
  if (marked[PATCHED]) return;
  marked[PATCHED] = true;
  let inChangeVisibility = 0;
  const changeVisibility = Queue.prototype.changeVisibility;
  Queue.prototype.changeVisibility = function patched(this: unknown, ...args: unknown[]) {
    inChangeVisibility++;
    try {
      return changeVisibility.apply(this, args);
    } finally {
      inChangeVisibility--;
    }
  };
  const createRecord = Queue.createRecord;
  Queue.createRecord = function patched(this: unknown, input: unknown) {
    const out = createRecord.call(this, input);
    const attributes = out[0].attributes;
    let count = attributes.ApproximateReceiveCount;
    Object.defineProperty(attributes, 'ApproximateReceiveCount', {
      enumerable: true,
      configurable: true,
      get: () => count,
      set: (v: string) => {
        if (inChangeVisibility === 0) count = v;
      },
    });
    return out;
  };
}

export async function startChaosSqs(): Promise<ChaosSqs> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createRequestHandler } = require('local-aws-sqs') as {
    createRequestHandler(o: object): { service: Service; requestHandler: (req: unknown, res: unknown) => void };
  };
  const { service, requestHandler } = createRequestHandler({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  const server: Server = createServer(requestHandler as never);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  service.PORT = port; // queue URLs name the real port (createSqsServer does the same after listen)
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new SQSClient(clientConfig(endpoint));
  // The Queue class is reachable only through a queue: create one before any message exists.
  await client.send(new CreateQueueCommand({ QueueName: 'chaos-probe' }));
  correctReceiveCount(service.Queues[0].constructor as QueueClass);
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    },
  };
}
