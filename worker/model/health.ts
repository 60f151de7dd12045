/**
 * The model server's health once it was healthy: its health endpoint is probed on an interval, sooner when an
 * inference call could not reach it. No healthy answer for `lostMs` (counted from the last healthy one) and it is
 * lost: `onLost` runs once and the watch stops. A shorter outage (a blip) changes nothing but a log line each way.
 * Job runners that lost their connection wait here for the server instead of failing (see runJob).
 */
import { Log } from '../../runtime/log';
import type { ModelAdapter } from './adapter';

export type HealthWait = 'healthy' | 'lost' | 'aborted';

/** What a job runner needs of the watch. */
export interface ModelHealth {
  /** An inference call could not reach the server: look now, not at the next tick. */
  unreachable(): void;
  /** Resolves 'healthy' once a probe started after this call answers 2xx, 'lost' if the server is lost first, 'aborted' on `signal`. */
  waitForHealthy(signal: AbortSignal): Promise<HealthWait>;
}

export interface ModelHealthWatchOptions {
  readonly intervalMs: number;
  readonly lostMs: number;
  readonly now: () => number;
  readonly logger: Log;
  /** Called once, with how long the server has not answered healthy. */
  readonly onLost: (downMs: number) => void;
}

interface Waiter {
  /** Probes started before the wait began; only a later one may answer it. */
  readonly after: number;
  readonly resolve: (r: HealthWait) => void;
}

export class ModelHealthWatch implements ModelHealth {
  private running = false;
  private lost = false;
  private lastHealthyAt = 0;
  private downSince?: number;
  private timer?: NodeJS.Timeout;
  private probing?: Promise<void>;
  private again = false;
  private started = 0;
  private readonly waiters = new Set<Waiter>();

  constructor(
    private readonly adapter: ModelAdapter,
    private readonly options: ModelHealthWatchOptions,
  ) {}

  /** Start watching a server that just answered healthy. */
  start(): void {
    if (this.running || this.lost) return;
    this.running = true;
    this.lastHealthyAt = this.options.now();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters) w.resolve('aborted');
    this.waiters.clear();
    await this.probing;
  }

  get isLost(): boolean {
    return this.lost;
  }

  unreachable(): void {
    this.probeSoon();
  }

  waitForHealthy(signal: AbortSignal): Promise<HealthWait> {
    if (this.lost) return Promise.resolve('lost');
    if (!this.running || signal.aborted) return Promise.resolve('aborted');
    return new Promise<HealthWait>((resolve) => {
      const waiter: Waiter = {
        after: this.started,
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          this.waiters.delete(waiter);
          resolve(r);
        },
      };
      const onAbort = () => waiter.resolve('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
      this.probeSoon();
    });
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => this.probeSoon(), this.options.intervalMs);
    this.timer.unref?.();
  }

  /** Probe now, or right after the probe in flight (whose answer may predate the caller's evidence). */
  private probeSoon(): void {
    if (!this.running) return;
    if (this.probing) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.probing = this.probe().finally(() => {
      this.probing = undefined;
      if (this.again) {
        this.again = false;
        this.probeSoon();
      } else {
        this.schedule();
      }
    });
  }

  private async probe(): Promise<void> {
    const seq = ++this.started;
    const startedAt = this.options.now();
    const ok = await this.adapter.healthy();
    if (!this.running) return;
    const now = this.options.now();
    if (ok) {
      if (this.downSince !== undefined) this.options.logger.info('model server healthy again', { downMs: now - this.downSince });
      this.downSince = undefined;
      this.lastHealthyAt = now;
      for (const w of [...this.waiters]) if (w.after < seq) w.resolve('healthy');
      return;
    }
    if (this.downSince === undefined) {
      this.downSince = startedAt;
      this.options.logger.warn('model server health check failed: jobs wait for it; lost if it stays down', {
        lostAfterSeconds: this.options.lostMs / 1000,
      });
    }
    const downMs = now - this.lastHealthyAt;
    if (downMs >= this.options.lostMs) {
      this.lost = true;
      this.running = false;
      if (this.timer) clearTimeout(this.timer);
      // The agent hands the jobs back first, so a runner woken with 'lost' finds its job already stopped.
      this.options.onLost(downMs);
      for (const w of [...this.waiters]) w.resolve('lost');
    }
  }
}
