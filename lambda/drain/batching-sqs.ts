/**
 * An SQSClient that coalesces the single SendMessage and DeleteMessage calls made at the same moment into
 * SendMessageBatch / DeleteMessageBatch calls (per queue, up to 10 entries). The drainer hands it to the
 * shared `requeueInterrupted` unchanged: each caller still awaits its own message's outcome before its
 * next step (record → copy → delete keeps its order per job), and a failed entry rejects only its caller,
 * with the error class the single call would have thrown (so `deleteQuietly` still recognises a stale
 * receipt handle). 1,000 requeues then make ~1,200 requests instead of 3,000: the drain is CPU-bound in
 * the SDK's per-request work (signing, serialisation), not in the network.
 */
import {
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  ReceiptHandleIsInvalid,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  SQSClientConfig,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import { SQS_MAX_MESSAGE_BYTES } from '../../lib/contracts';

const MAX_ENTRIES = 10;
/** SendMessageBatch's payload limit is the sum of the bodies; keep below it with room for attributes. */
const MAX_BATCH_BYTES = SQS_MAX_MESSAGE_BYTES - 8 * 1024;

interface Pending {
  readonly entry: Record<string, unknown>;
  readonly bytes: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface Batch {
  readonly kind: 'send' | 'delete';
  readonly queueUrl: string;
  readonly items: Pending[];
  bytes: number;
  timer?: NodeJS.Timeout;
}

export interface BatchingSqsOptions {
  /** How long a batch waits for more entries before it is sent. @default 2 ms */
  readonly windowMs?: number;
}

export class BatchingSQSClient extends SQSClient {
  private readonly windowMs: number;
  private readonly open = new Map<string, Batch>();

  constructor(config: SQSClientConfig, options: BatchingSqsOptions = {}) {
    super(config);
    this.windowMs = options.windowMs ?? 2;
  }

  // Same signature as SQSClient.send; only SendMessage and DeleteMessage without extra options are coalesced.
  // send() is overloaded per command type; an override must accept them all, which only `any` expresses.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  public override send(command: any, ...rest: any[]): any {
    if (rest.length === 0 && command instanceof SendMessageCommand && command.input.QueueUrl) {
      const { QueueUrl, ...entry } = command.input;
      return this.enqueue('send', QueueUrl, entry, Buffer.byteLength(entry.MessageBody ?? ''));
    }
    if (rest.length === 0 && command instanceof DeleteMessageCommand && command.input.QueueUrl) {
      const { QueueUrl, ...entry } = command.input;
      return this.enqueue('delete', QueueUrl, entry, 0);
    }
    return (super.send as (...a: unknown[]) => unknown)(command, ...rest);
  }

  private enqueue(kind: 'send' | 'delete', queueUrl: string, entry: Record<string, unknown>, bytes: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const key = `${kind} ${queueUrl}`;
      let batch = this.open.get(key);
      if (batch && batch.bytes + bytes > MAX_BATCH_BYTES) {
        this.flush(key, batch);
        batch = undefined;
      }
      if (!batch) {
        batch = { kind, queueUrl, items: [], bytes: 0 };
        this.open.set(key, batch);
        const b = batch;
        b.timer = setTimeout(() => this.flush(key, b), this.windowMs);
      }
      batch.items.push({ entry, bytes, resolve, reject });
      batch.bytes += bytes;
      if (batch.items.length >= MAX_ENTRIES) this.flush(key, batch);
    });
  }

  private flush(key: string, batch: Batch): void {
    if (this.open.get(key) === batch) this.open.delete(key);
    clearTimeout(batch.timer);
    void this.sendBatch(batch);
  }

  private async sendBatch(batch: Batch): Promise<void> {
    const entries = batch.items.map((p, i) => ({ Id: String(i), ...p.entry }));
    try {
      const result =
        batch.kind === 'send'
          ? await super.send(new SendMessageBatchCommand({ QueueUrl: batch.queueUrl, Entries: entries as never }))
          : await super.send(new DeleteMessageBatchCommand({ QueueUrl: batch.queueUrl, Entries: entries as never }));
      const failed = new Map((result.Failed ?? []).map((f) => [f.Id, f]));
      const ok = new Map((result.Successful ?? []).map((s) => [s.Id, s]));
      batch.items.forEach((p, i) => {
        const f = failed.get(String(i));
        if (f) p.reject(entryError(f.Code ?? 'Unknown', f.Message ?? 'batch entry failed', f.SenderFault));
        else if (ok.has(String(i))) p.resolve(ok.get(String(i)));
        else p.reject(new Error(`SQS returned no result for batch entry ${i}`));
      });
    } catch (e) {
      for (const p of batch.items) p.reject(e);
    }
  }
}

/** The exception a single call would have thrown for this batch entry's error code. */
function entryError(code: string, message: string, senderFault: boolean | undefined): Error {
  const name = code.replace(/^AWS\.SimpleQueueService\./, '');
  if (name === 'ReceiptHandleIsInvalid') return new ReceiptHandleIsInvalid({ message, $metadata: {} });
  return new SQSServiceException({ name, message, $fault: senderFault ? 'client' : 'server', $metadata: {} });
}
