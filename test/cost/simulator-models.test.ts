import { billedSeconds, instanceCost } from '../../tools/cost/simulator/billing';
import { BootModel } from '../../tools/cost/simulator/boot';
import { CloudWatchModel } from '../../tools/cost/simulator/cloudwatch';
import { EventQueue } from '../../tools/cost/simulator/event-queue';
import { lognormalFromMedianP95, normalQuantile, RandomStream } from '../../tools/cost/simulator/rng';
import { SpotModel } from '../../tools/cost/simulator/spot';
import { Message, SqsModel } from '../../tools/cost/simulator/sqs';
import { percentile } from '../../tools/cost/simulator/stats';

describe('random numbers', () => {
  test('GIVEN the same seed and name THEN the stream is the same; another name gives another stream', () => {
    const a = new RandomStream(1, 'boot');
    const b = new RandomStream(1, 'boot');
    const c = new RandomStream(1, 'other');
    expect([a.at(5), a.at(0)]).toEqual([b.at(5), b.at(0)]);
    expect(a.at(0)).not.toBe(c.at(0));
  });

  test('normalQuantile matches known values', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.95)).toBeCloseTo(1.6448536, 6);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.3263479, 6);
  });

  test('lognormal from median and p95 hits both', () => {
    expect(lognormalFromMedianP95(0.5, 180, 480)).toBeCloseTo(180, 6);
    expect(lognormalFromMedianP95(0.95, 180, 480)).toBeCloseTo(480, 4);
  });
});

describe('boot and spot models', () => {
  test('GIVEN median 180 s and p95 480 s THEN 4,000 boots have about that median and p95', () => {
    const boot = new BootModel(3, 180, 480);
    const draws = Array.from({ length: 4000 }, (_, k) => boot.bootSeconds(k));
    expect(percentile(draws, 0.5)!).toBeGreaterThan(165);
    expect(percentile(draws, 0.5)!).toBeLessThan(195);
    expect(percentile(draws, 0.95)!).toBeGreaterThan(430);
    expect(percentile(draws, 0.95)!).toBeLessThan(530);
  });

  test('GIVEN 0.3 interruptions per hour and 5 % missed THEN the mean time to notice is ~12,000 s and ~5 % are missed', () => {
    const spot = new SpotModel(9, 0.3, 0.05);
    const n = 4000;
    const draws = Array.from({ length: n }, (_, k) => spot.interruption(k));
    const mean = draws.reduce((s, d) => s + d.noticeAfterS, 0) / n;
    expect(mean).toBeGreaterThan(11000);
    expect(mean).toBeLessThan(13000);
    const missed = draws.filter((d) => d.missed).length / n;
    expect(missed).toBeGreaterThan(0.035);
    expect(missed).toBeLessThan(0.065);
    expect(spot.noticeS).toBe(120);
  });

  test('GIVEN no interruption rate THEN instances are never reclaimed', () => {
    expect(new SpotModel(1, 0, 0).interruption(0).noticeAfterS).toBe(Infinity);
  });
});

describe('billing', () => {
  test('per second with a 60 s minimum', () => {
    expect(billedSeconds(5)).toBe(60);
    expect(billedSeconds(60)).toBe(60);
    expect(billedSeconds(61.2)).toBe(62);
    expect(instanceCost(3600, 1.006)).toBeCloseTo(1.006, 9);
    expect(instanceCost(10, 3.6)).toBeCloseTo(0.06, 9);
  });
});

describe('event queue', () => {
  test('runs actions in time order, ties in scheduling order, never in the past', () => {
    const q = new EventQueue();
    const seen: string[] = [];
    q.at(5, () => seen.push('b'));
    q.at(1, () => {
      seen.push('a');
      q.at(0, () => seen.push('a2')); // clamped to now = 1
    });
    q.at(5, () => seen.push('c'));
    while (q.step()) {
      /* drain */
    }
    expect(seen).toEqual(['a', 'a2', 'b', 'c']);
    expect(q.now).toBe(5);
  });
});

describe('SQS model', () => {
  test('GIVEN maxReceiveCount 2 THEN the third receive of an unacknowledged message redrives it to the DLQ', () => {
    const dead: Message[] = [];
    const sqs = new SqsModel(['high', 'normal'], 2, (m) => dead.push(m));
    const m = sqs.send('normal', 0, 0);
    expect(sqs.receive(1)).toBe(m);
    sqs.makeVisible(m); // visibility timeout ran out
    expect(sqs.receive(2)).toBe(m);
    expect(m.receiveCount).toBe(2);
    sqs.makeVisible(m);
    expect(sqs.receive(3)).toBeUndefined();
    expect(dead).toEqual([m]);
    expect(sqs.totals()).toEqual({ visible: 0, inflight: 0, delayed: 0 });
  });

  test('GIVEN two priorities THEN high is received first; counts follow visible / in-flight / delayed', () => {
    const sqs = new SqsModel(['high', 'normal'], 5, () => undefined);
    sqs.send('normal', 0, 0);
    const h = sqs.send('high', 1, 0);
    const d = sqs.send('normal', 2, 0, { delayed: true });
    expect(sqs.totals()).toEqual({ visible: 2, inflight: 0, delayed: 1 });
    expect(sqs.receive(0)).toBe(h);
    expect(sqs.queueCounts('high')).toEqual({ visible: 0, inflight: 1, delayed: 0 });
    sqs.delete(h, 1);
    sqs.makeVisible(d);
    expect(sqs.queueCounts('normal')).toEqual({ visible: 2, inflight: 0, delayed: 0 });
  });
});

describe('CloudWatch model', () => {
  const values = { visible: 5, inflight: 0, inService: 0 };

  test("GIVEN an active queue THEN a minute's datapoint is readable lagS after the minute ends", () => {
    const cw = new CloudWatchModel({ seed: 1, lagS: 60 });
    cw.noteSend(10, 5, false); // not idle: no wake delay
    cw.publish(0, values);
    expect(cw.latest(119, 1)).toBeUndefined();
    expect(cw.latest(120, 1)![0]).toMatchObject({ minute: 0, visible: 5 });
  });

  test('GIVEN a queue idle for 6 h THEN its first datapoints are held back by up to 15 min; not when idle < 6 h', () => {
    const extra: number[] = [];
    for (let i = 0; i < 20; i++) {
      const cw = new CloudWatchModel({ seed: 1, lagS: 60 });
      const wakeAt = 7 * 3600 + 97 * i;
      cw.noteSend(wakeAt, 0, true);
      expect(cw.wakeUps).toBe(1);
      const minute = Math.floor(wakeAt / 60);
      cw.publish(minute, values);
      const normal = 60 * (minute + 1) + 60;
      const dp = cw.latest(Infinity, 1)![0];
      expect(dp.availableAt).toBeLessThanOrEqual(Math.max(normal, wakeAt + 900));
      extra.push(dp.availableAt - normal);
    }
    expect(Math.max(...extra)).toBeGreaterThan(300);
    const active = new CloudWatchModel({ seed: 1, lagS: 60 });
    active.noteSend(7 * 3600, 7 * 3600 - 5 * 3600, true);
    expect(active.wakeUps).toBe(0);
  });
});
