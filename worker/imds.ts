/**
 * EC2 instance metadata (IMDSv2) and the watcher that turns it into spot events.
 *
 * IMDSv2: `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` returns a session token,
 * sent as `X-aws-ec2-metadata-token` on every GET; a 401 means the token expired. The watcher polls, every
 * `intervalMs` (5 s on EC2, AWS's advice for the two-minute notice):
 * - `meta-data/spot/instance-action` — 404 until the instance is to be reclaimed, then `{action, time}`;
 * - `meta-data/events/recommendations/rebalance` — 404 until EC2 recommends a rebalance, then `{noticeTime}`;
 * - `meta-data/tags/instance/<Tags.DRAINING>` — the tag the InterruptionDrainer sets on a rebalance
 *   (readable only when the launch template enables instance metadata tags; 404 otherwise).
 * At boot it reads the instance's id, type and launch time (`pendingTime` of the instance identity document,
 * `dynamic/instance-identity/document`: the boot deadline and the cold-start metrics count from it).
 */
import { Tags } from '../lib/contracts';
import { Log, errorMessage } from '../runtime/log';

const TOKEN_TTL_SECONDS = 21600;
const REQUEST_TIMEOUT_MS = 2000;

export class ImdsClient {
  private token?: { value: string; expiresAt: number };
  /** A token request in flight, shared by concurrent reads. */
  private pending?: Promise<string>;

  constructor(
    private readonly endpoint: string,
    private readonly fetchFn: typeof fetch = fetch,
    private readonly now: () => number = Date.now,
  ) {}

  /** GET a metadata path below `/latest/`; undefined on 404. */
  async get(path: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await this.fetchFn(`${this.endpoint}/latest/${path}`, {
        headers: { 'X-aws-ec2-metadata-token': await this.sessionToken() },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      if (res.status === 401 && attempt === 0) {
        await res.body?.cancel();
        this.token = undefined;
        continue;
      }
      if (res.status === 404) {
        await res.body?.cancel();
        return undefined;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`IMDS GET ${path} answered ${res.status}`);
      }
      return res.text();
    }
    throw new Error(`IMDS GET ${path} refused a fresh token`);
  }

  /** Like {@link get} but the value must exist. */
  async require(path: string): Promise<string> {
    const value = await this.get(path);
    if (value === undefined || value === '') throw new Error(`IMDS ${path} is missing`);
    return value.trim();
  }

  private sessionToken(): Promise<string> {
    if (this.token && this.token.expiresAt > this.now() + 60_000) return Promise.resolve(this.token.value);
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async fetchToken(): Promise<string> {
    const res = await this.fetchFn(`${this.endpoint}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`IMDS token request answered ${res.status}`);
    }
    const value = (await res.text()).trim();
    this.token = { value, expiresAt: this.now() + TOKEN_TTL_SECONDS * 1000 };
    return value;
  }
}

export interface InstanceIdentity {
  readonly instanceId: string;
  readonly instanceType: string;
  /** When the instance was launched (epoch ms): `pendingTime` of the instance identity document. */
  readonly launchedAt?: number;
  /** Why `launchedAt` is missing (document absent or malformed): the agent logs it and counts from its own start. */
  readonly launchTimeProblem?: string;
}

export const IDENTITY_DOCUMENT_PATH = 'dynamic/instance-identity/document';

/** Id and type must be read (the agent cannot run without them); the launch time is best effort. */
export async function instanceIdentity(imds: ImdsClient): Promise<InstanceIdentity> {
  const [instanceId, instanceType, launch] = await Promise.all([
    imds.require('meta-data/instance-id'),
    imds.require('meta-data/instance-type'),
    imds
      .get(IDENTITY_DOCUMENT_PATH)
      .then(launchTimeOf, (e: unknown): LaunchTime => ({ problem: `cannot read ${IDENTITY_DOCUMENT_PATH}: ${errorMessage(e)}` })),
  ]);
  return {
    instanceId,
    instanceType,
    ...(launch.at !== undefined ? { launchedAt: launch.at } : {}),
    ...(launch.problem !== undefined ? { launchTimeProblem: launch.problem } : {}),
  };
}

/** `pendingTime` (e.g. `2016-11-19T16:32:11Z`) of an instance identity document, as epoch ms. */
export interface LaunchTime {
  readonly at?: number;
  readonly problem?: string;
}

export function launchTimeOf(document: string | undefined): LaunchTime {
  if (document === undefined) return { problem: `${IDENTITY_DOCUMENT_PATH} is missing` };
  let pendingTime: unknown;
  try {
    pendingTime = (JSON.parse(document) as { pendingTime?: unknown }).pendingTime;
  } catch {
    return { problem: `${IDENTITY_DOCUMENT_PATH} is not JSON: ${document.slice(0, 100)}` };
  }
  const at = typeof pendingTime === 'string' ? Date.parse(pendingTime) : NaN;
  if (!Number.isFinite(at))
    return { problem: `${IDENTITY_DOCUMENT_PATH} has no valid pendingTime (got ${JSON.stringify(pendingTime) ?? 'nothing'})` };
  return { at };
}

export interface InterruptionNotice {
  /** `terminate`, `stop` or `hibernate`. */
  readonly action: string;
  /** When EC2 acts (about two minutes after the notice). */
  readonly time: string;
}

export interface ImdsWatcherHandlers {
  onInterruption(notice: InterruptionNotice): void;
  onRebalance(noticeTime: string): void;
  /** Called when the draining tag appears (true) or goes away (false). */
  onDrainingTag(draining: boolean): void;
}

export class ImdsWatcher {
  private timer?: NodeJS.Timeout;
  private running = false;
  private interruptionSeen = false;
  private rebalanceSeen = false;
  private draining = false;
  private polling?: Promise<void>;

  constructor(
    private readonly imds: ImdsClient,
    private readonly intervalMs: number,
    private readonly handlers: ImdsWatcherHandlers,
    private readonly logger: Log,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = () => {
      this.polling = this.pollOnce().finally(() => {
        if (this.running) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  /** One look at the three paths; never throws (a failed look is logged and retried next tick). */
  async pollOnce(): Promise<void> {
    await Promise.all(
      [this.checkInterruption(), this.checkRebalance(), this.checkDrainingTag()].map((p) =>
        p.catch((e) => this.logger.warn('IMDS poll failed', { error: errorMessage(e) })),
      ),
    );
  }

  private async checkInterruption(): Promise<void> {
    if (this.interruptionSeen) return;
    const body = await this.imds.get('meta-data/spot/instance-action');
    if (body === undefined || !this.running) return;
    this.interruptionSeen = true;
    let notice: InterruptionNotice = { action: 'terminate', time: '' };
    try {
      const parsed = JSON.parse(body) as Partial<InterruptionNotice>;
      notice = { action: String(parsed.action ?? 'terminate'), time: String(parsed.time ?? '') };
    } catch {
      this.logger.warn('spot instance-action is not JSON; treating it as a termination notice', { body: body.slice(0, 200) });
    }
    this.handlers.onInterruption(notice);
  }

  private async checkRebalance(): Promise<void> {
    if (this.rebalanceSeen) return;
    const body = await this.imds.get('meta-data/events/recommendations/rebalance');
    if (body === undefined || !this.running) return;
    this.rebalanceSeen = true;
    let noticeTime = '';
    try {
      noticeTime = String((JSON.parse(body) as { noticeTime?: unknown }).noticeTime ?? '');
    } catch {
      /* the recommendation itself is what counts */
    }
    this.handlers.onRebalance(noticeTime);
  }

  private async checkDrainingTag(): Promise<void> {
    const value = await this.imds.get(`meta-data/tags/instance/${Tags.DRAINING}`);
    const draining = value !== undefined && value.trim().toLowerCase() === 'true';
    if (draining !== this.draining && this.running) {
      this.draining = draining;
      this.handlers.onDrainingTag(draining);
    }
  }
}
