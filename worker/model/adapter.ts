/** What the job runner needs from a model server, whatever protocol it speaks. */
import { ModelServerKind, WorkerModelServerConfig } from '../../lib/contracts';
import { Log, errorMessage } from '../../runtime/log';
import { ModelConnectionError, ModelError } from '../errors';
import { InvocationsAdapter } from './invocations';
import { OpenAiAdapter } from './openai';

export interface ModelRequest {
  /** Model to ask for: the job's, else the server's default. */
  readonly model?: string;
  /** The job's payload (inline or read from S3). */
  readonly input: unknown;
  readonly signal: AbortSignal;
  /**
   * Called as a streamed answer grows with the expected end of the call (epoch ms), when the request caps its
   * length (`max_tokens`): the notice rule then knows whether the job ends before a spot reclaim.
   */
  readonly onProgress?: (expectedDoneAtMs: number) => void;
}

/** Chunks seen before the token rate is trusted for an estimate. */
const MIN_CHUNKS_FOR_ESTIMATE = 8;

/**
 * When a streamed generation capped at `maxTokens` ends at the latest, at its rate so far (one content chunk is
 * about one token in vLLM, TGI and llama.cpp streams). An upper bound: the model may stop earlier. Pure.
 */
export function streamedEnd(nowMs: number, firstTokenAtMs: number, chunks: number, maxTokens: number | undefined): number | undefined {
  if (maxTokens === undefined || chunks < MIN_CHUNKS_FOR_ESTIMATE || nowMs <= firstTokenAtMs) return undefined;
  const msPerToken = (nowMs - firstTokenAtMs) / chunks;
  return nowMs + Math.max(0, maxTokens - chunks) * msPerToken;
}

export interface ModelResult {
  /** What is stored as the job's result. */
  readonly output: unknown;
  readonly tokensIn?: number;
  readonly tokensOut?: number;
  /** Streaming only: from sending the request to the first generated text. */
  readonly timeToFirstTokenMs?: number;
}

export interface ModelAdapter {
  invoke(request: ModelRequest): Promise<ModelResult>;
  /** One look at the health endpoint: true on 2xx. */
  healthy(signal?: AbortSignal): Promise<boolean>;
}

export function createModelAdapter(config: WorkerModelServerConfig, fetchFn: typeof fetch, now: () => number): ModelAdapter {
  return config.kind === ModelServerKind.OPENAI ? new OpenAiAdapter(config, fetchFn, now) : new InvocationsAdapter(config, fetchFn);
}

/** A health check slower than this counts as unhealthy. */
export const HEALTH_PROBE_TIMEOUT_MS = 2000;

/** GET `baseUrl + healthPath` with a short timeout (its listener on `signal` is removed after: probes run for hours). */
export async function probeHealth(config: WorkerModelServerConfig, fetchFn: typeof fetch, signal?: AbortSignal): Promise<boolean> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) return false;
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new Error('health check timed out')), HEALTH_PROBE_TIMEOUT_MS);
  try {
    const res = await fetchFn(joinUrl(config.baseUrl, config.healthPath), { signal: controller.signal });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Poll the health endpoint until it answers 2xx (true), or until `deadline` (epoch ms on `now`) has passed
 * without a healthy answer (false); rejects with the signal's reason when aborted.
 */
export async function waitForHealthy(
  adapter: ModelAdapter,
  options: { intervalMs: number; signal: AbortSignal; logger: Log; deadline?: number; now?: () => number },
): Promise<boolean> {
  const now = options.now ?? Date.now;
  let tries = 0;
  for (;;) {
    options.signal.throwIfAborted();
    if (await adapter.healthy(options.signal)) return true;
    options.signal.throwIfAborted();
    tries += 1;
    if (options.deadline !== undefined && now() >= options.deadline) return false;
    if (tries === 1 || tries % 30 === 0) {
      options.logger.info('waiting for the model server to become healthy', {
        tries,
        ...(options.deadline !== undefined ? { deadline: new Date(options.deadline).toISOString() } : {}),
      });
    }
    const wait = options.deadline === undefined ? options.intervalMs : Math.max(0, Math.min(options.intervalMs, options.deadline - now()));
    // One listener per pause, removed when the pause ends (a long boot must not pile up abort listeners).
    await new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        options.signal.removeEventListener('abort', onAbort);
        resolve();
      }, wait);
      options.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * What a failed request or body read becomes: the caller's abort stays itself; a {@link ModelError} (a status, a
 * malformed answer) stays itself; anything else — refused, reset, closed mid-answer — is a connection error.
 */
export function asModelFailure(e: unknown, signal: AbortSignal, what: string): unknown {
  if (signal.aborted || e instanceof ModelError) return e;
  // undici puts the socket's error (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET) in `cause`
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const detail = cause ? [cause.code, cause.message].filter((x) => typeof x === 'string' && x !== '').join(': ') : '';
  return new ModelConnectionError(`model server ${what}: ${errorMessage(e)}${detail ? ` (${detail})` : ''}`);
}

/** The answer's body as text; a connection dropped while reading it is a connection error. */
export async function bodyText(res: Response, signal: AbortSignal): Promise<string> {
  try {
    return await res.text();
  } catch (e) {
    throw asModelFailure(e, signal, 'dropped the connection mid-answer');
  }
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** Token counts from the usual response shapes (OpenAI `usage`, Anthropic/Bedrock style, TGI details). */
export function tokensFromBody(body: unknown): { tokensIn?: number; tokensOut?: number } {
  if (typeof body !== 'object' || body === null) return {};
  const o = body as Record<string, unknown>;
  const usage = (typeof o.usage === 'object' && o.usage !== null ? o.usage : o) as Record<string, unknown>;
  const pick = (...keys: string[]) => {
    for (const k of keys) if (typeof usage[k] === 'number' && Number.isFinite(usage[k])) return usage[k] as number;
    return undefined;
  };
  const tokensIn = pick('prompt_tokens', 'input_tokens', 'inputTokens', 'promptTokens');
  const tokensOut = pick('completion_tokens', 'output_tokens', 'outputTokens', 'completionTokens', 'generated_tokens');
  return { ...(tokensIn !== undefined ? { tokensIn } : {}), ...(tokensOut !== undefined ? { tokensOut } : {}) };
}

export { errorMessage };
