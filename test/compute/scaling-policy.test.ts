import {
  BusyLevel,
  busyHistoryInput,
  decideCapacity,
  decodeBusyHistory,
  deriveTargetBacklog,
  encodeBusyHistory,
  FleetState,
  MAX_BUSY_LEVELS,
  materialHistoryChange,
  planBusyHistoryWrite,
  PriorityBacklog,
  QueueState,
  recordBusy,
  resolveScalingPolicy,
  ScalingPolicy,
} from '../../lib/compute/scaling-policy';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const s = (seconds: number) => T0 + seconds * 1000;

function queue(...entries: Array<Partial<PriorityBacklog>>): QueueState {
  return { queues: entries.map((e, i) => ({ priority: `p${i}`, visible: 0, inFlight: 0, delayed: 0, ...e })) };
}
function fleet(f: Partial<FleetState> = {}): FleetState {
  return { desired: 0, min: 0, max: 10, inService: 0, pending: 0, busy: 0, busyHistory: [], ...f };
}
const POLICY: ScalingPolicy = { targetBacklogPerInstance: 1, idleWindowSeconds: 180 };

describe('decideCapacity — single decisions', () => {
  const cases: Array<{ name: string; q: QueueState; f: FleetState; p?: ScalingPolicy; desired: number; action: string }> = [
    { name: 'empty → stays 0', q: queue({}), f: fleet(), desired: 0, action: 'idle' },
    { name: 'one job at 0 → 1', q: queue({ visible: 1 }), f: fleet(), desired: 1, action: 'scale-out' },
    { name: 'from 0, jobs across priorities → all at once', q: queue({ visible: 3 }, { visible: 4 }), f: fleet(), desired: 7, action: 'scale-out' },
    { name: 'burst of 500 → capped at max', q: queue({ visible: 500 }), f: fleet(), desired: 10, action: 'scale-out' },
    {
      name: 'target 4 per instance: 9 jobs → 3',
      q: queue({ visible: 9 }),
      f: fleet(),
      p: { targetBacklogPerInstance: 4 },
      desired: 3,
      action: 'scale-out',
    },
    {
      name: 'in-flight only → holds',
      q: queue({ inFlight: 3 }),
      f: fleet({ desired: 3, inService: 3, busy: 3, busyHistory: [{ level: 3, at: s(-3600) }] }),
      desired: 3,
      action: 'hold',
    },
    {
      name: 'busy instances pin capacity even if the queue reads 0',
      q: queue({}),
      f: fleet({ desired: 2, inService: 2, busy: 2, busyHistory: [{ level: 2, at: s(-3600) }] }),
      desired: 2,
      action: 'hold',
    },
    {
      name: 'pending instances are not re-bought',
      q: queue({ visible: 2 }),
      f: fleet({ desired: 2, pending: 2, busyHistory: [{ level: 2, at: s(-10) }] }),
      desired: 2,
      action: 'hold',
    },
    { name: 'never below min', q: queue({}), f: fleet({ min: 1, desired: 1, inService: 1 }), desired: 1, action: 'hold' },
    {
      name: 'missing history → current treated as busy now (no scale-in)',
      q: queue({}),
      f: fleet({ desired: 4, inService: 4, busyHistory: undefined }),
      desired: 4,
      action: 'hold',
    },
    { name: 'delayed retries alone do not start a fleet', q: queue({ delayed: 5 }), f: fleet(), desired: 0, action: 'idle' },
    {
      name: 'delayed retries keep running capacity',
      q: queue({ delayed: 2 }),
      f: fleet({ desired: 2, inService: 2, busyHistory: [{ level: 2, at: s(-3600) }] }),
      desired: 2,
      action: 'hold',
    },
    { name: 'delayed due soon count as backlog', q: queue({ delayed: 5, delayedDueSoon: 3 }), f: fleet(), desired: 3, action: 'scale-out' },
    {
      name: 'idle past the window → released',
      q: queue({}),
      f: fleet({ desired: 3, inService: 3, busyHistory: [{ level: 3, at: s(-181) }] }),
      desired: 0,
      action: 'scale-in',
    },
    {
      name: 'idle within the window → held',
      q: queue({}),
      f: fleet({ desired: 3, inService: 3, busyHistory: [{ level: 3, at: s(-179) }] }),
      desired: 3,
      action: 'hold',
    },
  ];
  test.each(cases)('$name', ({ q, f, p, desired, action }) => {
    const d = decideCapacity(q, f, p ?? POLICY, T0);
    expect(d.desired).toBe(desired);
    expect(d.action).toBe(action);
    expect(d.reason).toMatch(new RegExp(`^${action === 'idle' ? 'idle' : action.replace('-', ' ')}`));
  });
});

/** Replay a sequence of observations, feeding each decision's desired + history into the next call. */
function replay(steps: Array<{ at: number; q: QueueState; busy?: number }>, policy: ScalingPolicy = POLICY, start: Partial<FleetState> = {}) {
  let f = fleet(start);
  const desired: number[] = [];
  for (const step of steps) {
    const d = decideCapacity(step.q, { ...f, busy: step.busy ?? 0 }, policy, step.at);
    desired.push(d.desired);
    f = { ...f, desired: d.desired, inService: d.desired, busyHistory: d.busyHistory };
  }
  return desired;
}

describe('decideCapacity — sequences', () => {
  test('idle past the window releases only idle instances: steps down level by level', () => {
    // GIVEN 4 busy; at t=0 two finish; at t=100 one more finishes; the last keeps running.
    const steps = [
      { at: s(-10), q: queue({ inFlight: 4 }), busy: 4 },
      { at: s(0), q: queue({ inFlight: 2 }), busy: 2 },
      { at: s(100), q: queue({ inFlight: 1 }), busy: 1 },
      { at: s(175), q: queue({ inFlight: 1 }), busy: 1 }, // levels 3–4 idle since -10 (185 s) → released; level 2 idle 175 s → kept
      { at: s(180), q: queue({ inFlight: 1 }), busy: 1 }, // level 2 idle exactly 180 s → kept (released only when longer)
      { at: s(185), q: queue({ inFlight: 1 }), busy: 1 }, // level 2 idle 185 s → released
      { at: s(900), q: queue({ inFlight: 1 }), busy: 1 }, // the busy one is never released
    ];
    expect(replay(steps)).toEqual([4, 4, 4, 2, 2, 1, 1]);
  });

  test('an idle fleet goes to 0 only after the idle window', () => {
    const steps = [0, 60, 120, 179, 181].map((t, i) => ({ at: s(t), q: i === 0 ? queue({ visible: 2 }) : queue({}) }));
    expect(replay(steps)).toEqual([2, 2, 2, 2, 0]);
  });

  test('flapping input does not thrash: one scale-out, then held', () => {
    const steps = Array.from({ length: 30 }, (_, i) => ({ at: s(i * 10), q: queue({ visible: i % 2 === 0 ? 3 : 0 }) }));
    const desired = replay(steps);
    const changes = desired.filter((d, i) => i > 0 && d !== desired[i - 1]).length;
    expect(desired[0]).toBe(3);
    expect(changes).toBe(0);
  });

  test('flapping at a scale-out boundary changes capacity at most once', () => {
    const steps = Array.from({ length: 30 }, (_, i) => ({ at: s(i * 10), q: queue({ visible: i % 2 === 0 ? 10 : 11 }) }));
    const desired = replay(steps, { targetBacklogPerInstance: 10 });
    expect(desired.filter((d, i) => i > 0 && d !== desired[i - 1])).toEqual([2]);
  });

  test('a custom idle window is honoured', () => {
    const steps = [0, 30, 61].map((t, i) => ({ at: s(t), q: i === 0 ? queue({ visible: 1 }) : queue({}) }));
    expect(replay(steps, { targetBacklogPerInstance: 1, idleWindowSeconds: 60 })).toEqual([1, 1, 0]);
  });

  test('the default idle window equals the expected boot time', () => {
    expect(resolveScalingPolicy({}).idleWindowSeconds).toBe(180);
    expect(resolveScalingPolicy({ expectedBootSeconds: 300 }).idleWindowSeconds).toBe(300);
    const steps = [0, 299, 301].map((t, i) => ({ at: s(t), q: i === 0 ? queue({ visible: 1 }) : queue({}) }));
    expect(replay(steps, { expectedBootSeconds: 300 })).toEqual([1, 1, 0]);
  });

  test('a capacity bought by someone else is released only after a full window', () => {
    const steps = [0, 179, 181].map((t) => ({ at: s(t), q: queue({}) }));
    expect(replay(steps, POLICY, { desired: 5, inService: 5, busyHistory: [] })).toEqual([5, 5, 0]);
  });

  test('deterministic: same inputs, same decision', () => {
    const args = [queue({ visible: 7, inFlight: 2 }), fleet({ desired: 3, inService: 2, pending: 1, busy: 2 }), POLICY, T0] as const;
    expect(decideCapacity(...args)).toEqual(decideCapacity(...args));
  });
});

describe('target backlog per instance', () => {
  test.each([
    // slo, job, jobsPerInstance → target
    [60, 60, 1, 2],
    [30, 60, 1, 1],
    [300, 60, 1, 6],
    [300, 60, 4, 24],
  ])('SLO %ss, job %ss, %s at once → %s', (slo, job, per, target) => {
    expect(deriveTargetBacklog(slo, job, per)).toBe(target);
    expect(resolveScalingPolicy({ queueWaitSloSeconds: slo, expectedJobSeconds: job, jobsPerInstance: per }).targetBacklogPerInstance).toBe(target);
  });

  test('an explicit target wins over the SLO', () => {
    expect(resolveScalingPolicy({ targetBacklogPerInstance: 7, queueWaitSloSeconds: 600 }).targetBacklogPerInstance).toBe(7);
  });

  test('without target or SLO, the target is the jobs an instance runs at once', () => {
    expect(resolveScalingPolicy({ jobsPerInstance: 3 }).targetBacklogPerInstance).toBe(3);
  });

  test('backlog per instance guards the division at 0 instances', () => {
    expect(decideCapacity(queue({ visible: 5 }), fleet(), POLICY, T0).backlogPerInstance).toBe(5);
    expect(decideCapacity(queue({ visible: 6 }), fleet({ desired: 3, inService: 2, pending: 1 }), POLICY, T0).backlogPerInstance).toBe(2);
  });

  test.each([
    ['queueWaitSloSeconds', { queueWaitSloSeconds: 0 }],
    ['queueWaitSloSeconds', { queueWaitSloSeconds: -5 }],
    ['targetBacklogPerInstance', { targetBacklogPerInstance: 0 }],
    ['expectedJobSeconds', { expectedJobSeconds: Number.NaN }],
    ['jobsPerInstance', { jobsPerInstance: 1.5 }],
    ['idleWindowSeconds', { idleWindowSeconds: -1 }],
  ] as const)('fails if %s is invalid', (field, p) => {
    expect(() => resolveScalingPolicy(p as ScalingPolicy)).toThrow(new RegExp(field));
  });
});

describe('busy history', () => {
  test('recordBusy keeps levels descending and times ascending', () => {
    let h: BusyLevel[] = [];
    h = recordBusy(h, 5, s(0));
    h = recordBusy(h, 2, s(10));
    h = recordBusy(h, 3, s(20));
    expect(h).toEqual([
      { level: 5, at: s(0) },
      { level: 3, at: s(20) },
    ]);
  });

  test('encode/decode round-trips at second resolution and fits an ASG tag', () => {
    const h = Array.from({ length: MAX_BUSY_LEVELS }, (_, i) => ({ level: 1000 - i, at: s(i) }));
    const encoded = encodeBusyHistory(h);
    expect(encoded.length).toBeLessThanOrEqual(256);
    expect(decodeBusyHistory(encoded)).toEqual(h);
    expect(decodeBusyHistory('v1:')).toEqual([]);
  });

  test.each([undefined, '', 'garbage', 'v1:3@x'])('an unreadable tag %p decodes to undefined', (v) => {
    expect(decodeBusyHistory(v)).toBeUndefined();
  });

  test('a long history is merged conservatively (never releases earlier)', () => {
    let f = fleet({ max: 100 });
    // GIVEN a slow decline 40 → 1, one level every 5 s
    for (let i = 0; i < 40; i++) {
      const d = decideCapacity(queue({ visible: 40 - i }), f, { targetBacklogPerInstance: 1, idleWindowSeconds: 1000 }, s(i * 5));
      expect(d.busyHistory.length).toBeLessThanOrEqual(MAX_BUSY_LEVELS);
      f = { ...f, desired: d.desired, inService: d.desired, busyHistory: d.busyHistory };
    }
    // THEN every level k is recorded busy no earlier than it really was
    for (const e of f.busyHistory!) expect(e.at).toBeGreaterThanOrEqual(s((40 - e.level) * 5));
  });
});

describe('busy-history tag writes (planBusyHistoryWrite): material changes, at most once a minute', () => {
  const tagOf = (h: BusyLevel[]) => encodeBusyHistory(h);
  const h = (...entries: Array<[number, number]>): BusyLevel[] => entries.map(([level, at]) => ({ level, at: s(at) }));

  test.each([
    { name: 'no tag yet → written', tag: undefined, next: h([2, 0]), write: true, reason: /^no readable history/ },
    { name: 'unreadable tag → written', tag: 'v9:?', next: h([2, 0]), write: true, reason: /^no readable history/ },
    { name: 'same encoding → not written', tag: tagOf(h([2, 0])), next: h([2, 0]), write: false, reason: /^unchanged$/ },
    { name: 'a level moved 29 s → not material', tag: tagOf(h([2, 0])), next: h([2, 29]), write: false, reason: /^no material change$/ },
    { name: 'a level moved 30 s → written', tag: tagOf(h([2, 0])), next: h([2, 30]), write: true, reason: /^level 2 last needed 30s later$/ },
    { name: 'a new level → written', tag: tagOf(h([2, 0])), next: h([3, 5]), write: true, reason: /^levels \[2\] → \[3\]$/ },
    { name: 'a level expired → written', tag: tagOf(h([3, 0], [1, 5])), next: h([1, 5]), write: true, reason: /^levels \[3,1\] → \[1\]$/ },
  ])('$name (last write 60 s ago)', ({ tag, next, write, reason }) => {
    const plan = planBusyHistoryWrite({ history: [], tag, writtenAt: s(-60) }, tag, next, T0);
    expect(plan.write).toBe(write);
    expect(plan.reason).toMatch(reason);
    expect(plan.carry.history).toBe(next);
    expect(plan.carry.writtenAt).toBe(write ? T0 : s(-60));
  });

  test('GIVEN a new level 59 s after the last write THEN it waits; at 60 s it is written (the tag still differs)', () => {
    const tag = tagOf(h([2, -59]));
    const carry = { history: h([2, -59]), tag, writtenAt: s(-59) };
    const early = planBusyHistoryWrite(carry, tag, h([4, 0]), T0);
    expect(early).toMatchObject({ write: false, reason: 'levels [2] → [4]; waits: last write 59s ago (at most one per 60s)' });
    expect(early.carry).toEqual({ history: h([4, 0]), tag, writtenAt: s(-59) });
    const later = planBusyHistoryWrite(early.carry, tag, h([4, 1]), s(1));
    expect(later).toMatchObject({ write: true, value: `v1:4@${s(1) / 1000}` });
    expect(later.carry).toEqual({ history: h([4, 1]), tag: later.value, writtenAt: s(1) });
    expect(later.carryIfWriteFails).toEqual({ history: h([4, 1]), tag, writtenAt: s(-59) });
  });

  test('GIVEN no carry (cold start) THEN a material change is written at once', () => {
    expect(planBusyHistoryWrite(undefined, tagOf(h([2, -5])), h([3, 0]), T0).write).toBe(true);
  });

  test('busyHistoryInput: the carry while the tag is ours, the tag on a cold start, both merged when someone else wrote it', () => {
    const carried = h([3, -10], [1, 0]);
    const ours = tagOf(h([3, -100]));
    expect(busyHistoryInput({ history: carried, tag: ours }, ours)).toBe(carried);
    expect(busyHistoryInput(undefined, ours)).toEqual(h([3, -100]));
    expect(busyHistoryInput({ history: carried, tag: ours }, undefined)).toBe(carried);
    // A wake in another container wrote level 5 at -20: the merge holds 5 until -20 + window, and keeps the carry's later times.
    const merged = busyHistoryInput({ history: carried, tag: ours }, tagOf(h([5, -20])));
    const d = decideCapacity(queue({}), fleet({ desired: 5, inService: 5, busyHistory: merged }), POLICY, T0);
    expect(d.busyHistory).toEqual(h([5, -20], [3, -10], [1, 0]));
    expect(d.desired).toBe(5);
    expect(materialHistoryChange(h([5, -20]), d.busyHistory)).toBe('levels [5] → [5,3,1]');
  });
});
