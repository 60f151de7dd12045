/**
 * The SageMaker container convention: `POST /invocations` with the payload as the JSON body, health at
 * `GET /ping`. The answer is stored as it comes (JSON when it parses, else text); token counts are read
 * from the body when it carries them.
 */
import { WorkerModelServerConfig } from '../../lib/contracts';
import { ModelError } from '../errors';
import type { ModelAdapter, ModelRequest, ModelResult } from './adapter';
import { asModelFailure, bodyText, joinUrl, probeHealth, tokensFromBody } from './adapter';

export class InvocationsAdapter implements ModelAdapter {
  constructor(
    private readonly config: WorkerModelServerConfig,
    private readonly fetchFn: typeof fetch,
  ) {}

  healthy(signal?: AbortSignal): Promise<boolean> {
    return probeHealth(this.config, this.fetchFn, signal);
  }

  async invoke(request: ModelRequest): Promise<ModelResult> {
    let res: Response;
    try {
      res = await this.fetchFn(joinUrl(this.config.baseUrl, '/invocations'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(request.model ? { 'x-ai-burst-model': request.model } : {}) },
        body: JSON.stringify(request.input),
        signal: request.signal,
      });
    } catch (e) {
      throw asModelFailure(e, request.signal, 'unreachable');
    }
    const text = await bodyText(res, request.signal);
    if (!res.ok) throw ModelError.fromStatus(res.status, text);
    let output: unknown = text;
    try {
      output = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    return { output, ...tokensFromBody(output) };
  }
}
