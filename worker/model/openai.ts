/**
 * OpenAI-compatible servers (vLLM, TGI, llama.cpp server, Ollama): a payload with `messages` goes to
 * `/v1/chat/completions`, one with `prompt` to `/v1/completions`; the payload is the request body, with
 * `model` set to the job's model and `stream` to the fleet's choice. Tokens come from `usage`
 * (`prompt_tokens` / `completion_tokens`). Streaming asks for `stream_options.include_usage`, measures the
 * time to the first generated text, and stores the reassembled completion as the result.
 */
import { WorkerModelServerConfig } from '../../lib/contracts';
import { ModelError } from '../errors';
import type { ModelAdapter, ModelRequest, ModelResult } from './adapter';
import { asModelFailure, bodyText, joinUrl, probeHealth, streamedEnd, tokensFromBody } from './adapter';

type Json = Record<string, unknown>;

export class OpenAiAdapter implements ModelAdapter {
  constructor(
    private readonly config: WorkerModelServerConfig,
    private readonly fetchFn: typeof fetch,
    private readonly now: () => number,
  ) {}

  healthy(signal?: AbortSignal): Promise<boolean> {
    return probeHealth(this.config, this.fetchFn, signal);
  }

  async invoke(request: ModelRequest): Promise<ModelResult> {
    const input = request.input;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new ModelError('payload must be a JSON object: an OpenAI chat request (messages) or completion request (prompt)', true);
    }
    const body = input as Json;
    const chat = Array.isArray(body.messages);
    if (!chat && body.prompt === undefined) {
      throw new ModelError('payload has neither "messages" (chat completion) nor "prompt" (completion)', true);
    }
    const stream = this.config.stream === true;
    const model = request.model ?? (typeof body.model === 'string' ? body.model : undefined);
    const requestBody: Json = {
      ...body,
      ...(model !== undefined ? { model } : {}),
      stream,
      ...(stream ? { stream_options: { ...(body.stream_options as Json | undefined), include_usage: true } } : {}),
    };
    if (!stream) delete requestBody.stream_options;
    const sentAt = this.now();
    let res: Response;
    try {
      res = await this.fetchFn(joinUrl(this.config.baseUrl, chat ? '/v1/chat/completions' : '/v1/completions'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' },
        body: JSON.stringify(requestBody),
        signal: request.signal,
      });
    } catch (e) {
      throw asModelFailure(e, request.signal, 'unreachable');
    }
    if (!res.ok) throw ModelError.fromStatus(res.status, await bodyText(res, request.signal));
    if (!stream) {
      const text = await bodyText(res, request.signal);
      let output: unknown;
      try {
        output = JSON.parse(text);
      } catch {
        throw new ModelError(`model server answered with a body that is not JSON: ${text.slice(0, 200)}`, false);
      }
      return { output, ...tokensFromBody(output) };
    }
    if (!res.body) throw new ModelError('model server answered a streaming request without a body', false);
    const cap = [body.max_tokens, body.max_completion_tokens].find((v): v is number => typeof v === 'number' && v > 0);
    try {
      return await assembleStream(
        res.body,
        chat,
        sentAt,
        this.now,
        request.onProgress &&
          ((firstTokenAt, chunks) => {
            const end = streamedEnd(this.now(), firstTokenAt, chunks, cap);
            if (end !== undefined) request.onProgress!(end);
          }),
      );
    } catch (e) {
      throw asModelFailure(e, request.signal, 'dropped the stream');
    }
  }
}

/** Read an SSE stream of completion chunks into one completion. */
export async function assembleStream(
  body: AsyncIterable<Uint8Array>,
  chat: boolean,
  sentAt: number,
  now: () => number,
  progress?: (firstTokenAt: number, chunks: number) => void,
): Promise<ModelResult> {
  const decoder = new TextDecoder();
  const choices = new Map<number, { index: number; role?: string; text: string; finish_reason?: unknown }>();
  let firstTokenAt: number | undefined;
  let firstChunkAt: number | undefined;
  let meta: Json = {};
  let usage: unknown;
  let buffer = '';
  let data: string[] = [];
  let done = false;
  let contentChunks = 0;

  const onEvent = (payload: string) => {
    if (payload === '[DONE]') {
      done = true;
      return;
    }
    let chunk: Json;
    try {
      chunk = JSON.parse(payload) as Json;
    } catch {
      throw new ModelError(`model server streamed a chunk that is not JSON: ${payload.slice(0, 200)}`, false);
    }
    if (chunk.error !== undefined) throw new ModelError(`model server failed mid-stream: ${JSON.stringify(chunk.error).slice(0, 500)}`, false);
    if (Object.keys(meta).length === 0) meta = { id: chunk.id, created: chunk.created, model: chunk.model };
    if (chunk.usage) usage = chunk.usage;
    for (const c of (Array.isArray(chunk.choices) ? chunk.choices : []) as Json[]) {
      const index = typeof c.index === 'number' ? c.index : 0;
      const choice = choices.get(index) ?? { index, text: '' };
      const delta = (c.delta ?? {}) as Json;
      const piece = chat ? delta.content : c.text;
      if (typeof delta.role === 'string') choice.role = delta.role;
      firstChunkAt ??= now();
      if (typeof piece === 'string' && piece.length > 0) {
        firstTokenAt ??= now();
        choice.text += piece;
        contentChunks += 1;
        if (progress && contentChunks % 8 === 0) progress(firstTokenAt, contentChunks);
      }
      if (c.finish_reason !== undefined && c.finish_reason !== null) choice.finish_reason = c.finish_reason;
      choices.set(index, choice);
    }
  };

  const onLine = (line: string) => {
    if (line === '') {
      if (data.length > 0) onEvent(data.join('\n'));
      data = [];
    } else if (line.startsWith('data:')) {
      data.push(line.slice(5).trimStart());
    } // comments (":") and other fields are ignored
  };

  for await (const bytes of body) {
    buffer += decoder.decode(bytes, { stream: true });
    let newline: number;
    while (!done && (newline = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, newline).replace(/\r$/, ''));
      buffer = buffer.slice(newline + 1);
    }
    if (done) break;
  }
  if (!done) {
    buffer += decoder.decode();
    for (const line of buffer.split('\n')) onLine(line.replace(/\r$/, ''));
    onLine('');
  }

  const ordered = [...choices.values()].sort((a, b) => a.index - b.index);
  const output = {
    ...meta,
    object: chat ? 'chat.completion' : 'text_completion',
    choices: ordered.map((c) =>
      chat
        ? { index: c.index, message: { role: c.role ?? 'assistant', content: c.text }, finish_reason: c.finish_reason ?? null }
        : { index: c.index, text: c.text, finish_reason: c.finish_reason ?? null },
    ),
    ...(usage !== undefined ? { usage } : {}),
  };
  const ttftAt = firstTokenAt ?? firstChunkAt;
  return { output, ...tokensFromBody(usage ?? {}), ...(ttftAt !== undefined ? { timeToFirstTokenMs: ttftAt - sentAt } : {}) };
}
