/**
 * Capacity benchmark: decisions per second of the pure `decideCapacity` (the CapacityManager evaluates
 * once per ~10 s per workload, so this only has to be far from mattering), against a baseline of the
 * bare target-tracking formula `ceil(backlog / target)` measured in the same run. Pure CPU, bounded.
 */
import { performance } from 'node:perf_hooks';
import { BusyLevel, decideCapacity, FleetState, MAX_BUSY_LEVELS, QueueState, resolveScalingPolicy } from '../lib/compute/scaling-policy';

const N = 200_000;
const policy = resolveScalingPolicy({ queueWaitSloSeconds: 300, expectedJobSeconds: 60 });

function queueAt(i: number): QueueState {
  return {
    queues: [
      { priority: 'high', visible: i % 7, inFlight: i % 5, delayed: i % 3 },
      { priority: 'normal', visible: (i * 13) % 50, inFlight: i % 11, delayed: 0 },
    ],
  };
}

function rate(run: () => number): { perSecond: number; checksum: number } {
  const t0 = performance.now();
  const checksum = run();
  return { perSecond: N / ((performance.now() - t0) / 1000), checksum };
}

export default async function capacityBench(): Promise<string> {
  const queues = Array.from({ length: 64 }, (_, i) => queueAt(i));
  const baseline = rate(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const q = queues[i & 63];
      let backlog = 0;
      for (const p of q.queues) backlog += p.visible + p.inFlight;
      sum += Math.min(32, Math.ceil(backlog / policy.targetBacklogPerInstance));
    }
    return sum;
  });

  const carried = rate(() => {
    let fleet: FleetState = { desired: 0, min: 0, max: 32, inService: 0, pending: 0, busy: 0, busyHistory: [] };
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const d = decideCapacity(queues[i & 63], fleet, policy, i * 10_000);
      fleet = { ...fleet, desired: d.desired, inService: d.desired, busyHistory: d.busyHistory };
      sum += d.desired;
    }
    return sum;
  });

  // Worst case: a full history (MAX_BUSY_LEVELS levels) on every call.
  const full: BusyLevel[] = Array.from({ length: MAX_BUSY_LEVELS }, (_, k) => ({ level: 32 - k, at: k * 1000 }));
  const worst = rate(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const d = decideCapacity(
        queues[i & 63],
        { desired: 32, min: 0, max: 32, inService: 32, pending: 0, busy: i & 7, busyHistory: full },
        policy,
        60_000,
      );
      sum += d.desired;
    }
    return sum;
  });

  const row = (name: string, r: { perSecond: number }) =>
    `| ${name} | ${Math.round(r.perSecond).toLocaleString('en-US')} | ${(baseline.perSecond / r.perSecond).toFixed(1)}× | ${(1e6 / r.perSecond).toFixed(2)} |`;
  return [
    '## Capacity: decideCapacity decisions per second',
    '',
    `Command: \`npm run bench -- capacity\`. ${N.toLocaleString('en-US')} decisions per row, two priority queues, ` +
      `target ${policy.targetBacklogPerInstance}/instance (SLO 300 s, job 60 s), max 32. The CapacityManager makes one decision ` +
      'per ~10 s per workload.',
    '',
    '| variant | decisions/s | slower than baseline | µs/decision |',
    '|---|---:|---:|---:|',
    row('baseline: ceil(backlog ÷ target) only', baseline),
    row('decideCapacity, history carried between calls', carried),
    row(`decideCapacity, full history (${MAX_BUSY_LEVELS} levels) every call`, worst),
    '',
    `_checksums (keep the work observable): ${baseline.checksum}, ${carried.checksum}, ${worst.checksum}_`,
  ].join('\n');
}
