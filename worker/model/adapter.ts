/** What the job runner needs from a model server, whatever protocol it speaks. */
import { ModelServerKind, WorkerModelServerConfig } from '../../lib/contracts';
import { Log, errorMessage } from '../../runtime/log';
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

/** GET `baseUrl + healthPath` with a short timeout. */
export async function probeHealth(config: WorkerModelServerConfig, fetchFn: typeof fetch, signal?: AbortSignal): Promise<boolean> {
  try {
    const res = await fetchFn(joinUrl(config.baseUrl, config.healthPath), { signal: anySignal([AbortSignal.timeout(2000), signal]) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** Poll the health endpoint until it answers 2xx; rejects with the signal's reason when aborted. */
export async function waitForHealthy(adapter: ModelAdapter, options: { intervalMs: number; signal: AbortSignal; logger: Log }): Promise<void> {
  let tries = 0;
  for (;;) {
    options.signal.throwIfAborted();
    if (await adapter.healthy(options.signal)) return;
    tries += 1;
    if (tries === 1 || tries % 30 === 0) options.logger.info('waiting for the model server to become healthy', { tries });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.intervalMs);
      options.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}

/** Aborted when any of `signals` is (AbortSignal.any needs Node 20.3; the AMI's Node may be older). */
export function anySignal(signals: readonly (AbortSignal | undefined)[]): AbortSignal {
  const controller = new AbortController();
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
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
