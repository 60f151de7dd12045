/**
 * A fake OpenAI-compatible model server on 127.0.0.1 (port 0) for worker tests: `/v1/chat/completions` and
 * `/v1/completions` (plain or SSE streaming with `stream_options.include_usage`), `POST /invocations`
 * (SageMaker convention) and a health endpoint. Answers echo the input with deterministic token counts;
 * a test scripts failures, delays or held requests per request through `script`, and can crash the server
 * (connections refused, open ones reset) and bring it back on the same port.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

export interface ModelCall {
  readonly path: string;
  readonly body: Record<string, unknown>;
  /** The raw request body (tests match job markers in it). */
  readonly raw: string;
  /** The client went away before the answer (an aborted call). */
  aborted: boolean;
  answered: boolean;
  /** When the request arrived and when it ended (answered, or the client went away), epoch ms. */
  readonly startedAt: number;
  endedAt?: number;
}

export interface Behaviour {
  /** HTTP status of the answer; non-2xx answers `{ error: { message } }`. @default 200 */
  readonly status?: number;
  readonly errorMessage?: string;
  /** Wait this long before answering. */
  readonly delayMs?: number;
  /** Answer only once this settles (a held request; an abort by the client ends it). */
  readonly until?: Promise<unknown>;
  /** Generated text. @default `echo: <last user text>` */
  readonly content?: string;
  /** Token counts to report. @default words of the prompt / words of the content */
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  /** Reset the connection instead of answering (the client sees a connection error). */
  readonly reset?: boolean;
  /** Start the answer (headers and a first piece), then reset the connection: a server dying mid-answer. */
  readonly dropMidAnswer?: boolean;
}

export interface FakeModelServer {
  readonly baseUrl: string;
  readonly calls: readonly ModelCall[];
  /** Calls whose raw body contains `marker`. */
  callsWith(marker: string): ModelCall[];
  /** Decide the answer per call; return undefined for the default echo. */
  script(fn: ((call: ModelCall) => Behaviour | undefined) | undefined): void;
  setHealthy(healthy: boolean): void;
  healthChecks(): number;
  /** Health checks answered 2xx / non-2xx so far. */
  healthAnswers(): { readonly healthy: number; readonly unhealthy: number };
  /** The process dies: the port stops listening (connections refused) and open connections are reset. */
  crash(): Promise<void>;
  /** The process is back on the same port (its health as set by setHealthy). */
  restart(): Promise<void>;
  /** A promise to pass as `until`, and the function that releases it. */
  gate(): { until: Promise<void>; release: () => void };
  close(): Promise<void>;
}

export const HEALTH_PATH = '/health';

export async function startFakeModelServer(options: { healthy?: boolean } = {}): Promise<FakeModelServer> {
  const calls: ModelCall[] = [];
  let healthy = options.healthy ?? true;
  let health = 0;
  let healthyAnswers = 0;
  let unhealthyAnswers = 0;
  let listening = false;
  let scriptFn: ((call: ModelCall) => Behaviour | undefined) | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://model').pathname;
    if (req.method === 'GET' && (path === HEALTH_PATH || path === '/ping')) {
      health += 1;
      if (healthy) healthyAnswers += 1;
      else unhealthyAnswers += 1;
      res.writeHead(healthy ? 200 : 503).end(healthy ? 'ok' : 'loading');
      return;
    }
    if (req.method !== 'POST' || !['/v1/chat/completions', '/v1/completions', '/invocations'].includes(path)) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'body is not JSON' } }));
      return;
    }
    const call: ModelCall = { path, body, raw, aborted: false, answered: false, startedAt: Date.now() };
    calls.push(call);
    res.on('close', () => {
      if (!res.writableFinished) call.aborted = true;
      call.endedAt ??= Date.now();
    });
    const b = scriptFn?.(call) ?? {};
    if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
    if (b.until) await Promise.race([b.until, new Promise((r) => res.on('close', r))]);
    if (call.aborted || res.destroyed) return;
    if (b.reset) {
      req.socket.destroy();
      return;
    }
    if (b.dropMidAnswer) {
      res.writeHead(200, { 'content-type': body.stream === true ? 'text/event-stream' : 'application/json' });
      res.write(body.stream === true ? 'data: {"id":"cmpl-fake","choices":[{"index":0,"delta":{"content":"half "}}]}\n\n' : '{"id":"cmpl-fa');
      setTimeout(() => req.socket.destroy(), 10);
      return;
    }
    const status = b.status ?? 200;
    if (status >= 300) {
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: b.errorMessage ?? `scripted ${status}` } }));
      call.answered = true;
      return;
    }
    const prompt = promptText(path, body);
    const content = b.content ?? `echo: ${prompt}`;
    const usage = { prompt_tokens: b.promptTokens ?? words(prompt), completion_tokens: b.completionTokens ?? words(content) };
    const model = typeof body.model === 'string' ? body.model : 'fake-model';
    if (path === '/invocations') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ generated_text: content, usage: { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens } }));
    } else if (body.stream === true) {
      streamAnswer(
        res,
        path === '/v1/chat/completions',
        model,
        content,
        usage,
        (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
      );
    } else {
      const chat = path === '/v1/chat/completions';
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: 'cmpl-fake',
          object: chat ? 'chat.completion' : 'text_completion',
          created: 1764000000,
          model,
          choices: [
            chat ? { index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' } : { index: 0, text: content, finish_reason: 'stop' },
          ],
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        }),
      );
    }
    call.answered = true;
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
    });
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        listening = true;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve, reject) => {
      if (!listening) return resolve();
      listening = false;
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    calls,
    callsWith: (marker) => calls.filter((c) => c.raw.includes(marker)),
    script: (fn) => {
      scriptFn = fn;
    },
    setHealthy: (h) => {
      healthy = h;
    },
    healthChecks: () => health,
    healthAnswers: () => ({ healthy: healthyAnswers, unhealthy: unhealthyAnswers }),
    crash: stop,
    restart: () => (listening ? Promise.resolve() : listen(port)),
    gate: () => {
      let release!: () => void;
      const until = new Promise<void>((r) => {
        release = r;
      });
      return { until, release };
    },
    close: stop,
  };
}

function streamAnswer(
  res: ServerResponse,
  chat: boolean,
  model: string,
  content: string,
  usage: { prompt_tokens: number; completion_tokens: number },
  includeUsage: boolean,
): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const base = { id: 'cmpl-fake', created: 1764000000, model, object: chat ? 'chat.completion.chunk' : 'text_completion' };
  const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
  if (chat) send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
  const pieces = content.match(/\S+\s*/g) ?? [content];
  for (const piece of pieces) {
    send({
      ...base,
      choices: [chat ? { index: 0, delta: { content: piece }, finish_reason: null } : { index: 0, text: piece, finish_reason: null }],
    });
  }
  send({ ...base, choices: [chat ? { index: 0, delta: {}, finish_reason: 'stop' } : { index: 0, text: '', finish_reason: 'stop' }] });
  if (includeUsage) send({ ...base, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } });
  res.end('data: [DONE]\n\n');
}

function promptText(path: string, body: Record<string, unknown>): string {
  if (path === '/v1/chat/completions' && Array.isArray(body.messages)) {
    return (body.messages as { content?: unknown }[]).map((m) => (typeof m.content === 'string' ? m.content : '')).join(' ');
  }
  if (typeof body.prompt === 'string') return body.prompt;
  if (typeof body.inputs === 'string') return body.inputs;
  return JSON.stringify(body);
}

function words(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}
