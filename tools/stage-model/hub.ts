/**
 * The Hugging Face hub's HTTP API, as much as staging needs: a revision's commit
 * (`GET /api/models/{repo}/revision/{rev}`), its files (`GET /api/models/{repo}/tree/{commit}?recursive=true`, paged
 * by `Link: <…>; rel="next"`) and byte ranges of a file (`GET /{repo}/resolve/{commit}/{path}`, which redirects
 * large files to a CDN). The token goes only to the hub's own origin, never to a redirect target elsewhere.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** A file of the model at one commit. */
export interface HubFile {
  readonly path: string;
  readonly size: number;
  /** The git blob id (sha1) of the file as committed: of the pointer file for LFS files. */
  readonly gitOid: string;
  /** For LFS files: the sha256 of the content. */
  readonly sha256?: string;
}

/** A refusal or failure of the hub; `transient` ones (network, 429, 5xx, a stall) were retried before this was thrown. */
export class HubError extends Error {
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export interface HubClientOptions {
  /** e.g. https://huggingface.co */
  readonly hubUrl: string;
  readonly token?: string;
  readonly fetch?: typeof fetch;
  /** Abort a response that sends nothing for this long, and retry (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** Attempts per request, network failures, 429 and 5xx included (default 4). */
  readonly attempts?: number;
  /** Wait before attempt `n + 1` (default 1 s, 2 s, 4 s …); a 429's Retry-After wins, up to 60 s. */
  readonly retryDelayMs?: (attempt: number) => number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export class HubClient {
  readonly origin: string;
  private readonly base: URL;
  private readonly fetchFn: typeof fetch;
  private readonly idleTimeoutMs: number;
  private readonly attempts: number;
  private readonly retryDelayMs: (attempt: number) => number;

  constructor(
    private readonly model: string,
    private readonly options: HubClientOptions,
  ) {
    this.base = new URL(options.hubUrl.replace(/\/+$/, '') + '/');
    this.origin = this.base.origin;
    this.fetchFn = options.fetch ?? fetch;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.attempts = options.attempts ?? 4;
    this.retryDelayMs = options.retryDelayMs ?? ((n) => 1000 * 2 ** (n - 1));
  }

  private url(path: string): URL {
    return new URL(path, this.base);
  }

  /** The commit a branch, tag or commit id names, so every file comes from the same commit. */
  async resolveCommit(revision: string): Promise<string> {
    const res = await this.api(this.url(`api/models/${this.model}/revision/${encodeURIComponent(revision)}`), `revision ${revision}`, revision);
    const body = (await res.json()) as { sha?: unknown };
    if (typeof body.sha !== 'string' || !/^[0-9a-f]{40}$/.test(body.sha)) {
      throw new HubError(`the hub's answer for ${this.model} at ${revision} names no commit (is --hub-url a Hugging Face hub?)`);
    }
    return body.sha;
  }

  /** Every file of the model at `commit`, in the hub's order. */
  async listFiles(commit: string): Promise<HubFile[]> {
    const files: HubFile[] = [];
    let next: URL | undefined = this.url(`api/models/${this.model}/tree/${commit}?recursive=true`);
    while (next) {
      const res = await this.api(next, 'its file list', commit);
      const page = (await res.json()) as unknown;
      if (!Array.isArray(page)) throw new HubError(`the hub's file list for ${this.model} is not a list (is --hub-url a Hugging Face hub?)`);
      for (const e of page as Array<Record<string, unknown>>) {
        if (e.type !== 'file') continue;
        const path = String(e.path);
        if (path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
          throw new HubError(`the hub lists a file with an unusable path ${JSON.stringify(path)}`);
        }
        const lfs = e.lfs as { oid?: unknown } | undefined;
        const sha256 = typeof lfs?.oid === 'string' && /^[0-9a-f]{64}$/.test(lfs.oid) ? lfs.oid : undefined;
        files.push({ path, size: Number(e.size), gitOid: String(e.oid), ...(sha256 ? { sha256 } : {}) });
      }
      next = nextLink(res.headers.get('link'));
      // A mirror may answer with links to huggingface.co; stay on the hub that was asked (and that the token is for).
      if (next && next.origin !== this.origin) next = new URL(next.pathname + next.search, this.origin);
    }
    return files;
  }

  /**
   * Bytes [start, start + length) of `file` at `commit`, read into one buffer; a dropped or stalled connection is
   * retried from the byte where it stopped. `onBytes` counts bytes as they arrive.
   */
  async read(commit: string, file: HubFile, start: number, length: number, onBytes: (n: number) => void = () => undefined): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    if (length === 0) return out;
    const whole = start === 0 && length === file.size;
    const url = this.url(`${this.model}/resolve/${commit}/${encodePath(file.path)}`);
    let got = 0;
    let wait: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const from = start + got;
      wait = undefined;
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(new HubError(`no data for ${this.idleTimeoutMs / 1000} s`, true)), this.idleTimeoutMs);
      };
      try {
        arm();
        const headers: Record<string, string> = { 'accept-encoding': 'identity' };
        // A whole file goes without Range (small files may be served by the hub itself); a part asks for its bytes.
        if (!(whole && got === 0)) headers.range = `bytes=${from}-${start + length - 1}`;
        const res = await this.follow(url, headers, controller.signal);
        if (!res.ok) {
          await res.body?.cancel().catch(() => undefined);
          wait = retryAfterMs(res);
          throw this.refusal(res, file.path);
        }
        if (headers.range) {
          if (res.status !== 206) throw new HubError(`${file.path}: the server ignored the Range request (answered ${res.status})`);
          const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
          if (total !== undefined && Number(total) !== file.size) {
            throw new HubError(`${file.path}: the server has ${total} bytes, the file list says ${file.size}`);
          }
        }
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          arm();
          const take = Math.min(value.length, length - got);
          out.set(take === value.length ? value : value.subarray(0, take), got);
          got += take;
          onBytes(take);
          if (got === length) {
            await reader.cancel().catch(() => undefined);
            break;
          }
        }
        if (got < length) throw new HubError(`${file.path}: the connection closed at byte ${start + got} of ${file.size}`, true);
        return out;
      } catch (err) {
        const e = asHubError(controller.signal.reason ?? err, `${file.path}: the download broke at byte ${start + got} of ${file.size}`);
        if (!e.transient || attempt >= this.attempts) {
          throw e.transient ? new HubError(`${e.message} (${attempt} attempts)`, true) : e;
        }
        await sleep(wait ?? this.retryDelayMs(attempt));
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** GET of an API URL with retries; a refusal becomes a HubError saying what to fix. */
  private async api(url: URL, what: string, revision: string): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.follow(url, { accept: 'application/json' });
      } catch (err) {
        const e = asHubError(err, what);
        if (attempt >= this.attempts) throw new HubError(`cannot reach the hub at ${this.origin} for ${this.model} ${e.message}`, true);
        await sleep(this.retryDelayMs(attempt));
        continue;
      }
      if (res.ok) return res;
      const refusal = this.refusal(res, what, revision);
      await res.body?.cancel().catch(() => undefined);
      if (!refusal.transient) throw refusal;
      if (attempt >= this.attempts) throw new HubError(`${refusal.message} (${attempt} attempts)`, true);
      await sleep(retryAfterMs(res) ?? this.retryDelayMs(attempt));
    }
  }

  /** GET following redirects by hand, so the Authorization header goes to the hub's origin only. */
  private async follow(start: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    let target = start;
    for (let hop = 0; ; hop++) {
      const h = { ...headers };
      if (this.options.token && target.origin === this.origin) h.authorization = `Bearer ${this.options.token}`;
      const res = await this.fetchFn(target, { headers: h, redirect: 'manual', signal });
      if (!REDIRECTS.has(res.status)) return res;
      await res.body?.cancel().catch(() => undefined);
      const location = res.headers.get('location');
      if (!location || hop >= MAX_REDIRECTS)
        throw new HubError(`${start.pathname}: ${location ? 'too many redirects' : 'a redirect without Location'}`);
      const next = new URL(location, target);
      if (next.protocol !== 'https:' && !(next.protocol === 'http:' && target.protocol === 'http:')) {
        throw new HubError(`${start.pathname}: refused a redirect from ${target.protocol} to ${next.protocol}`);
      }
      target = next;
    }
  }

  /** What a non-2xx answer means; the hub tells a missing repo, revision, file and a gated repo apart by X-Error-Code. */
  private refusal(res: Response, what: string, revision?: string): HubError {
    const code = res.headers.get('x-error-code') ?? '';
    const hub = this.origin;
    const token = Boolean(this.options.token);
    if (res.status === 429 || res.status >= 500) return new HubError(`the hub answered ${res.status} for ${this.model} ${what}`, true);
    if (code === 'RevisionNotFound') {
      return new HubError(`revision ${JSON.stringify(revision)} not found in ${this.model} (--revision takes a branch, tag or commit)`);
    }
    if (code === 'EntryNotFound') return new HubError(`${what}: not found in ${this.model} at this commit`);
    if (code === 'GatedRepo' || res.status === 403) {
      return new HubError(
        token
          ? `${this.model} is gated or not readable with HF_TOKEN (${res.status}): accept its terms at ${hub}/${this.model} with the token's account, or use a token with read access`
          : `${this.model} is gated (${res.status}): accept its terms at ${hub}/${this.model} and set HF_TOKEN to a read token of that account`,
      );
    }
    if (res.status === 401) {
      return new HubError(
        token
          ? `the hub refused HF_TOKEN for ${this.model} (401): the token is invalid or expired, or its account cannot read the model`
          : `${this.model} not found, or private or gated (401 without a token): check --model, or set HF_TOKEN to a read token (${hub}/settings/tokens)`,
      );
    }
    if (res.status === 404) {
      return new HubError(`model ${this.model} not found on ${hub} (404)${token ? '' : '; if it is private, set HF_TOKEN'}: check --model`);
    }
    return new HubError(`the hub answered ${res.status} for ${this.model} ${what}`);
  }
}

/** The `rel="next"` target of a Link header (the hub pages file lists like GitHub). */
function nextLink(header: string | null): URL | undefined {
  for (const part of header?.split(',') ?? []) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return new URL(m[1]);
  }
  return undefined;
}

function retryAfterMs(res: Response): number | undefined {
  const s = Number(res.headers.get('retry-after'));
  return Number.isFinite(s) && s > 0 ? Math.min(s, 60) * 1000 : undefined;
}

/** Network errors (fetch's TypeError, a reset socket, our stall abort) are transient; a HubError keeps its kind. */
function asHubError(err: unknown, what: string): HubError {
  if (err instanceof HubError) return err;
  const e = err as { cause?: { code?: string; message?: string }; message?: string };
  const why = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
  return new HubError(`${what} (${why})`, true);
}
