/**
 * The physical limits of a trace, against which policies are judged:
 * - cost floor: every busy GPU-second billed at the cheapest spot price of the instance type (no boot, no
 *   idle, no interruptions);
 * - wait floor: the p95 wait with `maxInstances` instances always warm and no boot (jobs served by
 *   priority, then arrival).
 */
import { EventQueue } from './event-queue';
import { ResolvedOptions } from './options';
import { percentile } from './stats';
import { priorityRank, Trace } from './trace';

export interface Bounds {
  readonly costFloorUsd: number;
  readonly p95WaitFloorS: number;
}

export function cheapestSpotHourly(o: ResolvedOptions): number {
  let best = Infinity;
  for (const table of Object.values(o.snapshot.regions)) {
    const row = table[o.instanceType];
    if (row && row.spotHourly < best) best = row.spotHourly;
  }
  return best;
}

export function computeBounds(trace: Trace, o: ResolvedOptions): Bounds {
  const busy = trace.reduce((s, j) => s + j.gpuSeconds, 0);
  return {
    costFloorUsd: (busy / 3600) * cheapestSpotHourly(o),
    p95WaitFloorS: percentile(warmWaits(trace, o.maxInstances), 0.95) ?? 0,
  };
}

/** Waits of every job on `servers` always-warm instances. */
export function warmWaits(trace: Trace, servers: number): number[] {
  const events = new EventQueue();
  const ranks = [...new Set(trace.map((j) => priorityRank(j.priority)))].sort((a, b) => a - b);
  const queues = new Map<number, { items: number[]; head: number }>(ranks.map((r) => [r, { items: [], head: 0 }]));
  const waits: number[] = new Array(trace.length).fill(0);
  let free = servers;
  const next = (): number | undefined => {
    for (const r of ranks) {
      const q = queues.get(r)!;
      if (q.head < q.items.length) return q.items[q.head++];
    }
    return undefined;
  };
  const start = (): void => {
    while (free > 0) {
      const job = next();
      if (job === undefined) return;
      free--;
      waits[job] = events.now - trace[job].arrivalS;
      events.at(events.now + trace[job].gpuSeconds, () => {
        free++;
        start();
      });
    }
  };
  trace.forEach((j, i) =>
    events.at(j.arrivalS, () => {
      queues.get(priorityRank(j.priority))!.items.push(i);
      start();
    }),
  );
  while (events.step()) {
    /* run to the end */
  }
  return waits;
}
