import { InputError } from '../../tools/cost/errors';
import { parseTraceCsv, parseTraceFile, traceToCsv, tracePriorities } from '../../tools/cost/simulator/trace';
import { agentBursts, standardTraces, STRESS_SETTINGS } from '../../tools/cost/simulator/standard-traces';

const HEADER = 'arrival_s,gpu_seconds,priority,agent';

describe('trace CSV', () => {
  test('GIVEN a valid CSV THEN jobs are parsed and sorted by arrival, blank and # lines skipped', () => {
    const jobs = parseTraceCsv(`${HEADER}\n10,90,normal,a\n\n# comment\n0,30.5,high,b\n`, 't.csv');
    expect(jobs).toEqual([
      { arrivalS: 0, gpuSeconds: 30.5, priority: 'high', agent: 'b' },
      { arrivalS: 10, gpuSeconds: 90, priority: 'normal', agent: 'a' },
    ]);
    expect(tracePriorities(jobs)).toEqual(['high', 'normal']);
  });

  test('GIVEN a trace THEN traceToCsv round-trips', () => {
    const jobs = agentBursts();
    expect(parseTraceCsv(traceToCsv(jobs))).toEqual(jobs);
  });

  test.each([
    ['arrival,gpu,priority,agent\n0,1,high,a', /t\.csv line 1: expected header arrival_s,gpu_seconds,priority,agent/],
    [`${HEADER}\n0,1,high`, /t\.csv line 2: expected 4 columns/],
    [`${HEADER}\n0,1,high,a\n-5,1,high,a`, /t\.csv line 3: arrival_s must be a number ≥ 0, got "-5"/],
    [`${HEADER}\nabc,1,high,a`, /line 2: arrival_s must be a number/],
    [`${HEADER}\n0,0,high,a`, /line 2: gpu_seconds must be a number > 0, got "0"/],
    [`${HEADER}\n0,ten,high,a`, /line 2: gpu_seconds must be a number > 0, got "ten"/],
    [`${HEADER}\n0,1,HIGH!,a`, /line 2: priority must match/],
    [`${HEADER}\n0,1,high, `, /line 2: agent must match/],
    [`${HEADER}\n`, /t\.csv: no jobs after the header/],
  ])('fails if the CSV is bad: %p', (text, message) => {
    expect(() => parseTraceCsv(text, 't.csv')).toThrow(InputError);
    expect(() => parseTraceCsv(text, 't.csv')).toThrow(message);
  });
});

describe('standard traces', () => {
  test("GIVEN the same seed THEN the set is identical; the shapes are the seed's", () => {
    const a = standardTraces(7);
    expect(standardTraces(7)).toEqual(a);
    expect(a.map((t) => t.name)).toEqual(['agent-bursts', 'doc-batches', 'business-hours', 'steady-trickle', 'stress']);
    const bursts = a[0].trace;
    expect(bursts.filter((j) => j.gpuSeconds === 90 && j.arrivalS === 0)).toHaveLength(32);
    expect(bursts.filter((j) => j.gpuSeconds === 300 && j.arrivalS >= 3600)).toHaveLength(8);
    expect(a[1].trace).toHaveLength(100 + 1000 + 10000);
    expect(a.find((t) => t.name === 'stress')!.stress).toBe(true);
    // business hours: most arrivals between 09:00 and 17:00
    const day = a[2].trace;
    const inHours = day.filter((j) => j.arrivalS >= 9 * 3600 && j.arrivalS < 17 * 3600).length;
    expect(inHours / day.length).toBeGreaterThan(0.8);
  });
});

describe('trace settings travel with the CSV', () => {
  test('GIVEN settings THEN traceToCsv writes them as a first comment line and parseTraceFile reads them back', () => {
    const csv = traceToCsv(agentBursts(), { interruptionsPerHour: 0.3, missedNoticeShare: 0.05 }, 'bursts');
    expect(csv.split('\n').slice(0, 3)).toEqual(['# bursts', '# ai-burst simulate --interruptions-per-hour 0.3 --missed-notice-share 0.05', HEADER]);
    const parsed = parseTraceFile(csv, 't.csv');
    expect(parsed.settings).toEqual({ interruptionsPerHour: 0.3, missedNoticeShare: 0.05 });
    expect(parsed.jobs).toEqual(agentBursts());
    expect(parseTraceCsv(csv)).toEqual(agentBursts());
  });

  test('GIVEN no settings line THEN no settings', () => {
    expect(parseTraceFile(`${HEADER}\n0,1,high,a\n`).settings).toEqual({});
  });

  test('GIVEN the standard set THEN stress carries 0.3 interruptions per instance-hour and the others nothing', () => {
    const set = standardTraces(1);
    expect(set.find((t) => t.name === 'stress')!.settings).toEqual(STRESS_SETTINGS);
    for (const t of set.filter((x) => x.name !== 'stress')) expect(t.settings).toEqual({});
  });

  test.each([
    ['# ai-burst simulate --interruptions-per-hour\n', /t\.csv line 1: --interruptions-per-hour: missing its value/],
    ['# ai-burst simulate --interruptions-per-hour 0x1\n', /t\.csv line 1: --interruptions-per-hour: expected a decimal number, got "0x1"/],
    ['# ai-burst simulate --missed-notice-share 2\n', /t\.csv line 1: --missed-notice-share: expected a share from 0 to 1, got 2/],
    ['# note\n# ai-burst simulate --seed 3\n', /t\.csv line 2: unknown flag --seed/],
  ])('fails if the settings line is bad: %p', (prefix, message) => {
    expect(() => parseTraceFile(`${prefix}${HEADER}\n0,1,high,a\n`, 't.csv')).toThrow(message);
  });

  test('GIVEN a hexadecimal cell THEN it is rejected (only decimal numbers)', () => {
    expect(() => parseTraceCsv(`${HEADER}\n0x10,1,high,a\n`, 't.csv')).toThrow(/line 2: arrival_s must be a number ≥ 0, got "0x10"/);
  });
});
