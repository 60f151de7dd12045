/**
 * SQS semantics the scaling policies and the retry budget depend on: one standard queue per priority
 * (or one queue for all), visible / in-flight / delayed messages, receive counts, and the redrive to a
 * dead-letter queue when a receive finds `ApproximateReceiveCount` already at `maxReceiveCount`.
 * Timing (visibility expiry, delays) is driven by the engine through `makeVisible`.
 */

export type MessageState = 'delayed' | 'visible' | 'inflight' | 'deleted' | 'dead-letter';

export interface Message {
  readonly id: number;
  /** Index of the job in the trace. */
  readonly job: number;
  readonly queue: string;
  /** 1 + failure-driven retries (the RetryHandler's budget). */
  readonly attempt: number;
  /** Spot reclaims so far (requeue-at-notice copies carry +1). */
  readonly interruptions: number;
  state: MessageState;
  receiveCount: number;
  receivedAt: number;
  /** Bumped on every receive, so a stale visibility-expiry event can tell it is stale. */
  lease: number;
}

export interface QueueCounts {
  readonly visible: number;
  readonly inflight: number;
  readonly delayed: number;
}

/** A FIFO of message ids with O(1) push and shift. */
class Fifo {
  private items: Message[] = [];
  private head = 0;
  push(m: Message): void {
    this.items.push(m);
  }
  /** Next message still visible (skips entries whose state changed since they were pushed). */
  shift(): Message | undefined {
    while (this.head < this.items.length) {
      const m = this.items[this.head++];
      if (m.state === 'visible') {
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        return m;
      }
    }
    return undefined;
  }
}

/**
 * A fair queue (a standard queue whose messages carry MessageGroupId): AWS serves quiet tenants first while a
 * noisy tenant's backlog dwells. Modelled as one FIFO per group, served round-robin among the groups that
 * have a visible message (the least recently served first), so one tenant's 10,000 messages cannot push another
 * tenant's single message behind them; within a group the order stays FIFO.
 */
class FairFifo {
  private readonly groups = new Map<string, Fifo>();
  /** Groups in serving order: the next receive tries the first. */
  private order: string[] = [];
  constructor(private readonly groupOf: (m: Message) => string) {}
  push(m: Message): void {
    const g = this.groupOf(m);
    let fifo = this.groups.get(g);
    if (!fifo) {
      fifo = new Fifo();
      this.groups.set(g, fifo);
      this.order.push(g);
    }
    fifo.push(m);
  }
  shift(): Message | undefined {
    for (let i = 0; i < this.order.length; i++) {
      const g = this.order[i];
      const m = this.groups.get(g)!.shift();
      if (m) {
        // Served: this group goes to the back of the order.
        this.order.splice(i, 1);
        this.order.push(g);
        return m;
      }
    }
    return undefined;
  }
}

export interface SqsModelOptions {
  /**
   * The tenant (MessageGroupId) of a message: set to model SQS fair queues (the platform sends every job with
   * MessageGroupId = agent). Unset: plain FIFO-ish standard queues, no fairness.
   */
  readonly groupOf?: (m: Message) => string;
}

export class SqsModel {
  private readonly fifo = new Map<string, Fifo | FairFifo>();
  private readonly counts = new Map<string, { visible: number; inflight: number; delayed: number }>();
  private nextId = 0;
  /** Last send, receive or delete (CloudWatch's idle detection). */
  lastActivityAt = -Infinity;

  /**
   * @param queues queue names in poll order, highest priority first
   * @param onDeadLetter called when a receive redrives a message to the dead-letter queue
   */
  constructor(
    readonly queues: readonly string[],
    readonly maxReceiveCount: number,
    private readonly onDeadLetter: (m: Message, now: number) => void,
    options: SqsModelOptions = {},
  ) {
    for (const q of queues) {
      this.fifo.set(q, options.groupOf ? new FairFifo(options.groupOf) : new Fifo());
      this.counts.set(q, { visible: 0, inflight: 0, delayed: 0 });
    }
  }

  /** Sends a message; `delayed` ones become visible when the engine calls `makeVisible`. */
  send(queue: string, job: number, now: number, opts: { delayed?: boolean; attempt?: number; interruptions?: number } = {}): Message {
    const m: Message = {
      id: this.nextId++,
      job,
      queue,
      attempt: opts.attempt ?? 1,
      interruptions: opts.interruptions ?? 0,
      state: opts.delayed ? 'delayed' : 'visible',
      receiveCount: 0,
      receivedAt: -1,
      lease: 0,
    };
    const c = this.countsOf(queue);
    if (opts.delayed) c.delayed++;
    else {
      c.visible++;
      this.fifo.get(queue)!.push(m);
    }
    this.lastActivityAt = now;
    return m;
  }

  /**
   * Receives one message, polling the queues in order. A message whose receive count already reached
   * `maxReceiveCount` goes to the dead-letter queue instead and the poll continues.
   */
  receive(now: number): Message | undefined {
    for (const q of this.queues) {
      const fifo = this.fifo.get(q)!;
      for (let m = fifo.shift(); m; m = fifo.shift()) {
        const c = this.countsOf(q);
        c.visible--;
        this.lastActivityAt = now;
        if (m.receiveCount >= this.maxReceiveCount) {
          m.state = 'dead-letter';
          this.onDeadLetter(m, now);
          continue;
        }
        m.state = 'inflight';
        m.receiveCount++;
        m.receivedAt = now;
        m.lease++;
        c.inflight++;
        return m;
      }
    }
    return undefined;
  }

  /** DeleteMessage by the holder (or by a requeue that published a copy). */
  delete(m: Message, now: number): void {
    if (m.state === 'inflight') this.countsOf(m.queue).inflight--;
    else if (m.state === 'visible') this.countsOf(m.queue).visible--;
    else if (m.state === 'delayed') this.countsOf(m.queue).delayed--;
    else return;
    m.state = 'deleted';
    this.lastActivityAt = now;
  }

  /** An in-flight message's visibility timeout expired, or a delayed message's delay ended. */
  makeVisible(m: Message): void {
    const c = this.countsOf(m.queue);
    if (m.state === 'inflight') c.inflight--;
    else if (m.state === 'delayed') c.delayed--;
    else return;
    m.state = 'visible';
    c.visible++;
    this.fifo.get(m.queue)!.push(m);
  }

  /** Live counts of one queue (GetQueueAttributes). */
  queueCounts(queue: string): QueueCounts {
    return { ...this.countsOf(queue) };
  }

  /** Live counts over all queues. */
  totals(): QueueCounts {
    let visible = 0;
    let inflight = 0;
    let delayed = 0;
    for (const c of this.counts.values()) {
      visible += c.visible;
      inflight += c.inflight;
      delayed += c.delayed;
    }
    return { visible, inflight, delayed };
  }

  isEmpty(): boolean {
    const t = this.totals();
    return t.visible + t.inflight + t.delayed === 0;
  }

  private countsOf(queue: string): { visible: number; inflight: number; delayed: number } {
    const c = this.counts.get(queue);
    if (!c) throw new Error(`SqsModel: unknown queue ${queue}`);
    return c;
  }
}
