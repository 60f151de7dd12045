import { ModelError } from '../../worker/errors';
import { createModelAdapter, streamedEnd, tokensFromBody } from '../../worker/model/adapter';
import { assembleStream } from '../../worker/model/openai';
import { FakeModelServer, startFakeModelServer } from '../support/fake-model-server';
import { ModelServerKind } from '../../lib/contracts';

let server: FakeModelServer;
beforeAll(async () => {
  server = await startFakeModelServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.script(undefined));

const signal = () => new AbortController().signal;

describe('OpenAI-compatible adapter', () => {
  test('chat: the job model wins, tokens from usage', async () => {
    const adapter = createModelAdapter({ kind: ModelServerKind.OPENAI, baseUrl: server.baseUrl, healthPath: '/health' }, fetch, Date.now);
    const r = await adapter.invoke({
      model: 'job-model',
      input: { model: 'payload-model', messages: [{ role: 'user', content: 'one two' }] },
      signal: signal(),
    });
    expect(r).toMatchObject({ tokensIn: 2, tokensOut: 3, output: { model: 'job-model' } });
    expect(r.timeToFirstTokenMs).toBeUndefined();
    expect(await adapter.healthy()).toBe(true);
  });

  test('error statuses: 429 and 5xx are transient, other 4xx permanent; an unreachable server is transient', async () => {
    const adapter = createModelAdapter({ kind: ModelServerKind.OPENAI, baseUrl: server.baseUrl, healthPath: '/health' }, fetch, Date.now);
    for (const [status, permanent] of [
      [500, false],
      [503, false],
      [429, false],
      [408, false],
      [400, true],
      [422, true],
      [404, true],
    ] as const) {
      server.script(() => ({ status }));
      const e = await adapter.invoke({ input: { prompt: 'x' }, signal: signal() }).catch((x) => x);
      expect(e).toBeInstanceOf(ModelError);
      expect([status, (e as ModelError).permanent]).toEqual([status, permanent]);
    }
    const down = createModelAdapter({ kind: ModelServerKind.OPENAI, baseUrl: 'http://127.0.0.1:1', healthPath: '/health' }, fetch, Date.now);
    await expect(down.invoke({ input: { prompt: 'x' }, signal: signal() })).rejects.toMatchObject({ permanent: false });
    expect(await down.healthy()).toBe(false);
  });

  test('an abort stops the call', async () => {
    server.script(() => ({ until: new Promise(() => undefined) }));
    const adapter = createModelAdapter({ kind: ModelServerKind.OPENAI, baseUrl: server.baseUrl, healthPath: '/health' }, fetch, Date.now);
    const controller = new AbortController();
    const call = adapter.invoke({ input: { prompt: 'hang' }, signal: controller.signal });
    while (!server.callsWith('hang').length) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error('interrupted'));
    await expect(call).rejects.toThrow(/interrupted/);
  });

  test('SSE: chunks split across reads, comments, a role-only first chunk, [DONE]; TTFT is the first text', async () => {
    const enc = new TextEncoder();
    const chunks = [
      ': keep-alive\n\ndata: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n',
      'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n',
      '\ndata: {"id":"c1","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\r\n\r\n',
      'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\ndata: [DONE]\n\n',
    ];
    let t = 100;
    const clock = () => (t += 10);
    async function* body() {
      for (const c of chunks) yield enc.encode(c);
    }
    const r = await assembleStream(body(), true, 100, clock);
    expect(r.output).toEqual({
      id: 'c1',
      model: 'm',
      created: undefined,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 5, completion_tokens: 2 },
    });
    expect(r).toMatchObject({ tokensIn: 5, tokensOut: 2 });
    // clock ticks: role chunk (110) then first text (120)
    expect(r.timeToFirstTokenMs).toBe(20);
  });

  test('progress: a streamed answer capped by max_tokens gives its latest end at the rate so far', async () => {
    // 16 tokens in 160 ms after the first token: 10 ms per token; 100 - 16 left → 840 ms more.
    expect(streamedEnd(1160, 1000, 16, 100)).toBe(1160 + 84 * 10);
    expect(streamedEnd(1160, 1000, 16, undefined)).toBeUndefined(); // no cap: no bound
    expect(streamedEnd(1010, 1000, 4, 100)).toBeUndefined(); // too few tokens to trust a rate
    const enc = new TextEncoder();
    let t = 0;
    async function* body() {
      for (let i = 0; i < 16; i++) yield enc.encode(`data: {"choices":[{"index":0,"delta":{"content":"t${i}"}}]}\n\n`);
      yield enc.encode('data: [DONE]\n\n');
    }
    const seen: Array<[number, number]> = [];
    await assembleStream(
      body(),
      true,
      0,
      () => (t += 10),
      (first, chunks) => seen.push([first, chunks]),
    );
    expect(seen).toEqual([
      [20, 8],
      [20, 16],
    ]); // the clock ticks once for the first chunk, once for its first text
  });

  test('SSE: an error event mid-stream is a transient model error', async () => {
    async function* body() {
      yield new TextEncoder().encode('data: {"error":{"message":"engine died"}}\n\n');
    }
    await expect(assembleStream(body(), false, 0, Date.now)).rejects.toMatchObject({
      permanent: false,
      message: expect.stringMatching(/engine died/),
    });
  });
});

describe('invocations adapter', () => {
  test('posts the payload as is and reads tokens from the body', async () => {
    const adapter = createModelAdapter({ kind: ModelServerKind.INVOCATIONS, baseUrl: server.baseUrl, healthPath: '/ping' }, fetch, Date.now);
    const r = await adapter.invoke({ input: { inputs: 'a b c d' }, signal: signal() });
    expect(r).toMatchObject({ tokensIn: 4, tokensOut: 5, output: { generated_text: 'echo: a b c d' } });
    expect(JSON.parse(server.callsWith('a b c d')[0].raw)).toEqual({ inputs: 'a b c d' });
  });

  test('token counts from the usual body shapes', () => {
    expect(tokensFromBody({ usage: { prompt_tokens: 1, completion_tokens: 2 } })).toEqual({ tokensIn: 1, tokensOut: 2 });
    expect(tokensFromBody({ usage: { input_tokens: 3, output_tokens: 4 } })).toEqual({ tokensIn: 3, tokensOut: 4 });
    expect(tokensFromBody({ inputTokens: 5 })).toEqual({ tokensIn: 5 });
    expect(tokensFromBody('text')).toEqual({});
  });
});
