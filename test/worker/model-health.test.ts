/**
 * The model server's health: the boot wait with a deadline, the watch after it was healthy (blip vs lost), and
 * which failures of an inference call are connection errors (the server's fault) and which are answers.
 * Against the fake model server, which can crash and come back on the same port.
 */
import { ModelServerKind } from '../../lib/contracts';
import { silentLogger } from '../../runtime/log';
import { ModelConnectionError, ModelError } from '../../worker/errors';
import { createModelAdapter, waitForHealthy } from '../../worker/model/adapter';
import { ModelHealthWatch } from '../../worker/model/health';
import { FakeModelServer, HEALTH_PATH, startFakeModelServer } from '../support/fake-model-server';
import { sleep, testClock } from './harness';

let server: FakeModelServer;
beforeAll(async () => {
  server = await startFakeModelServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  server.script(undefined);
  server.setHealthy(true);
  await server.restart();
});

const adapterFor = (stream = false) =>
  createModelAdapter({ kind: ModelServerKind.OPENAI, baseUrl: server.baseUrl, healthPath: HEALTH_PATH, stream }, fetch, Date.now);
const signal = () => new AbortController().signal;

describe('waiting for the model server at boot', () => {
  test('true once it answers healthy before the deadline', async () => {
    server.setHealthy(false);
    const clock = testClock();
    const wait = waitForHealthy(adapterFor(), {
      intervalMs: 5,
      signal: signal(),
      logger: silentLogger,
      deadline: clock.now() + 60_000,
      now: clock.now,
    });
    while (server.healthAnswers().unhealthy < 3) await sleep(5);
    server.setHealthy(true);
    await expect(wait).resolves.toBe(true);
  });

  test('false once the deadline passed without a healthy answer (the injected clock decides, not a real wait)', async () => {
    server.setHealthy(false);
    const clock = testClock();
    const before = server.healthAnswers().unhealthy;
    const wait = waitForHealthy(adapterFor(), {
      intervalMs: 5,
      signal: signal(),
      logger: silentLogger,
      deadline: clock.now() + 600_000,
      now: clock.now,
    });
    while (server.healthAnswers().unhealthy < before + 2) await sleep(5);
    clock.advance(600_000);
    await expect(wait).resolves.toBe(false);
  });

  test('a probe at the deadline that answers healthy wins; an abort rejects', async () => {
    const clock = testClock();
    await expect(
      waitForHealthy(adapterFor(), { intervalMs: 5, signal: signal(), logger: silentLogger, deadline: clock.now() - 1, now: clock.now }),
    ).resolves.toBe(true);
    server.setHealthy(false);
    const controller = new AbortController();
    const wait = waitForHealthy(adapterFor(), { intervalMs: 5, signal: controller.signal, logger: silentLogger });
    controller.abort(new Error('shutdown'));
    await expect(wait).rejects.toThrow('shutdown');
  });
});

describe('the health watch once it was healthy', () => {
  function watch(lostMs: number) {
    const clock = testClock();
    const lost: number[] = [];
    const w = new ModelHealthWatch(adapterFor(), { intervalMs: 10, lostMs, now: clock.now, logger: silentLogger, onLost: (ms) => lost.push(ms) });
    w.start();
    return { w, clock, lost };
  }

  test('a blip shorter than the lost window: waiters wake when it answers again, nothing is lost', async () => {
    const { w, lost } = watch(60_000);
    await server.crash();
    const waiting = w.waitForHealthy(signal());
    await sleep(100);
    await server.restart();
    await expect(waiting).resolves.toBe('healthy');
    expect(lost).toEqual([]);
    expect(w.isLost).toBe(false);
    await w.stop();
  });

  test('no healthy answer for the lost window: onLost once, waiters get "lost", the watch stops probing', async () => {
    const { w, clock, lost } = watch(60_000);
    server.setHealthy(false);
    const waiting = w.waitForHealthy(signal());
    while (server.healthAnswers().unhealthy < 2) await sleep(5);
    clock.advance(60_000);
    await expect(waiting).resolves.toBe('lost');
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeGreaterThanOrEqual(60_000);
    const probes = server.healthChecks();
    await sleep(60);
    expect(server.healthChecks()).toBe(probes);
    await expect(w.waitForHealthy(signal())).resolves.toBe('lost');
  });

  test('a healthy answer resets the window: two blips that add up to more than it are not a loss', async () => {
    const { w, clock, lost } = watch(60_000);
    for (let i = 0; i < 2; i++) {
      server.setHealthy(false);
      const before = server.healthAnswers().unhealthy;
      while (server.healthAnswers().unhealthy < before + 1) await sleep(5);
      clock.advance(40_000);
      server.setHealthy(true);
      await w.waitForHealthy(signal());
    }
    expect(lost).toEqual([]);
    await w.stop();
  });

  test('an unreachable inference call probes at once; a waiter is answered only by a probe started after it', async () => {
    const { w } = watch(60_000);
    const slowWatch = new ModelHealthWatch(adapterFor(), {
      intervalMs: 60_000,
      lostMs: 60_000,
      now: Date.now,
      logger: silentLogger,
      onLost: () => undefined,
    });
    slowWatch.start();
    const before = server.healthChecks();
    slowWatch.unreachable();
    while (server.healthChecks() === before) await sleep(5);
    await expect(slowWatch.waitForHealthy(signal())).resolves.toBe('healthy');
    expect(server.healthChecks()).toBeGreaterThanOrEqual(before + 2);
    const controller = new AbortController();
    server.setHealthy(false);
    const aborted = w.waitForHealthy(controller.signal);
    controller.abort();
    await expect(aborted).resolves.toBe('aborted');
    await Promise.all([w.stop(), slowWatch.stop()]);
  });
});

describe('connection errors vs answers', () => {
  test('a crashed server (refused), a reset connection and an answer cut off mid-way are connection errors', async () => {
    const marker = 'conn-errors';
    server.script((call) =>
      call.raw.includes(`${marker}-reset`) ? { reset: true } : call.raw.includes(`${marker}-drop`) ? { dropMidAnswer: true } : undefined,
    );
    for (const stream of [false, true]) {
      for (const which of ['reset', 'drop']) {
        const e = await adapterFor(stream)
          .invoke({ input: { prompt: `${marker}-${which}` }, signal: signal() })
          .catch((x) => x);
        expect([stream, which, e]).toEqual([stream, which, expect.any(ModelConnectionError)]);
        expect((e as ModelError).permanent).toBe(false);
      }
    }
    await server.crash();
    const refused = await adapterFor()
      .invoke({ input: { prompt: 'x' }, signal: signal() })
      .catch((x) => x);
    expect(refused).toBeInstanceOf(ModelConnectionError);
    expect((refused as Error).message).toMatch(/^model server unreachable: TypeError: fetch failed \(.*ECONNREFUSED/);
    const invocations = createModelAdapter({ kind: ModelServerKind.INVOCATIONS, baseUrl: server.baseUrl, healthPath: '/ping' }, fetch, Date.now);
    await expect(invocations.invoke({ input: {}, signal: signal() })).rejects.toBeInstanceOf(ModelConnectionError);
  });

  test('an HTTP error status is an answer (a ModelError, not a connection error); an abort stays an abort', async () => {
    server.script(() => ({ status: 503 }));
    const e5xx = await adapterFor()
      .invoke({ input: { prompt: 'x' }, signal: signal() })
      .catch((x) => x);
    expect(e5xx).toBeInstanceOf(ModelError);
    expect(e5xx).not.toBeInstanceOf(ModelConnectionError);
    server.script(() => ({ until: new Promise(() => undefined) }));
    const controller = new AbortController();
    const call = adapterFor().invoke({ input: { prompt: 'held' }, signal: controller.signal });
    while (!server.callsWith('held').length) await sleep(5);
    controller.abort(new Error('interrupted'));
    const aborted = await call.catch((x) => x);
    expect(aborted).not.toBeInstanceOf(ModelError);
    expect((aborted as Error).message).toBe('interrupted');
  });
});
