import { chartSvg, sharedTimeAxis, timeTicks } from '../../tools/cost/simulator/report/svg';
import { simulate } from '../../tools/cost/simulator/simulate';
import { TraceJob } from '../../tools/cost/simulator/trace';

describe('time ticks', () => {
  test.each<[number, string, number[]]>([
    [7.3 * 3600, 'h', [0, 1, 2, 3, 4, 5, 6, 7]],
    [26 * 3600, 'h', [0, 4, 8, 12, 16, 20, 24]],
    [50 * 60, 'min', [0, 10, 20, 30, 40, 50]],
    [95, 's', [0, 15, 30, 45, 60, 75, 90]],
  ])('GIVEN %p s THEN round ticks in %s', (endS, unit, values) => {
    const t = timeTicks(endS);
    expect(t.unit).toBe(unit);
    expect(t.values).toEqual(values);
  });
});

describe('chartSvg', () => {
  const trace: TraceJob[] = Array.from({ length: 8 }, (_, i) => ({ arrivalS: i * 900, gpuSeconds: 300, priority: 'normal', agent: 'a' }));
  const result = simulate(trace, ['ai-burst', 'static-on-demand'], { seed: 1 });

  test('GIVEN runs of different length THEN the shared axis ends at the latest run and both charts draw the same ticks', () => {
    const [a, s] = result.details;
    const axis = sharedTimeAxis(result.details);
    expect(axis.endS).toBe(Math.max(a.endS, s.endS));
    const ticks = (svg: string): string[] => [...svg.matchAll(/<text x="([\d.]+)"[^>]*class="x-tick"[^>]*>([^<]*)</g)].map((m) => m[0]);
    expect(ticks(chartSvg(a, 'a', axis))).toEqual(ticks(chartSvg(s, 's', axis)));
  });

  test('THEN each panel has a y-axis title and the time axis has its title with the unit', () => {
    const svg = chartSvg(result.details[0], 'ai-burst', sharedTimeAxis(result.details));
    const titles = [...svg.matchAll(/class="axis-title"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(titles).toEqual(['jobs', 'instances', 'USD', expect.stringMatching(/^time from the trace start \((h|min|s)\)$/)]);
  });

  test('THEN y tick labels are round numbers', () => {
    const svg = chartSvg(result.details[0], 'ai-burst', sharedTimeAxis(result.details));
    const labels = [...svg.matchAll(/class="y-tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(labels.length).toBeGreaterThanOrEqual(6);
    for (const l of labels) expect(Number(Number(l).toPrecision(2))).toBe(Number(l)); // k × a 1-2-5 step: two significant digits at most
  });
});
