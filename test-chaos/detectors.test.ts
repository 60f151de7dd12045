/**
 * Each check of the fault-injection suite fires on a planted fault and stays quiet on the clean evidence it
 * was planted into.
 */
import { CHECKS, CheckName, START_AFTER_DRAIN_ALLOWANCE_MS, outputOf, runChecks } from './detectors';
import { CallEvidence, Evidence, JobEvidence, LogLine } from './evidence';
import { callsByCause } from './causes';

const T = 1_800_000_000_000;
const A = 'i-0000000000000000a';
const B = 'i-0000000000000000b';
const J1 = 'chat.00000000-0000-4000-a000-000000000001';
const J2 = 'chat.00000000-0000-4000-a000-000000000002';

const result = (callId: string) => JSON.stringify(outputOf(callId));

/** Two jobs: J1 fails once (500) then succeeds on B; J2 succeeds on A. Nothing wrong. */
function clean(): Evidence {
  const calls: CallEvidence[] = [
    { id: 'c1', jobId: J1, instanceId: A, startedAt: T, endedAt: T + 200, fault: 'error', end: 'error' },
    { id: 'c2', jobId: J1, instanceId: B, startedAt: T + 1500, endedAt: T + 1800, fault: 'ok', end: 'answered' },
    { id: 'c3', jobId: J2, instanceId: A, startedAt: T + 100, endedAt: T + 400, fault: 'ok', end: 'answered' },
  ];
  const logs: LogLine[] = [
    { instanceId: A, time: T - 10, message: 'job started', jobId: J1 },
    { instanceId: A, time: T + 90, message: 'job started', jobId: J2 },
    { instanceId: A, time: T + 210, message: 'job failed', jobId: J1 },
    { instanceId: A, time: T + 450, message: 'job succeeded', jobId: J2 },
    { instanceId: B, time: T + 1490, message: 'job started', jobId: J1 },
    { instanceId: B, time: T + 1850, message: 'job succeeded', jobId: J1 },
  ];
  const jobs: JobEvidence[] = [
    { jobId: J1, record: { status: 'SUCCEEDED', attempt: 2, resultRef: 's3://r/results/chat/j1.json' }, resultObject: result('c2'), messages: 0 },
    { jobId: J2, record: { status: 'SUCCEEDED', attempt: 1, resultRef: 's3://r/results/chat/j2.json' }, resultObject: result('c3'), messages: 0 },
  ];
  const instances = [{ instanceId: A }, { instanceId: B }];
  return { maxAttempts: 3, jobTimeoutMs: 3000, jobs, calls, logs, instances, poison: [{ body: 'not json', parked: true }] };
}

function fired(e: Evidence): Partial<Record<CheckName, number>> {
  const r = runChecks(e);
  return Object.fromEntries(CHECKS.filter((c) => r[c].length > 0).map((c) => [c, r[c].length]));
}

test('GIVEN clean evidence THEN no check fires', () => {
  expect(fired(clean())).toEqual({});
});

test('nothing-lost fires for a QUEUED job with no message anywhere, and for a poison body not parked', () => {
  const e = clean();
  const jobs = [...e.jobs, { jobId: 'chat.00000000-0000-4000-a000-000000000003', record: { status: 'QUEUED', attempt: 1 }, messages: 0 }];
  expect(fired({ ...e, jobs })).toEqual({ 'nothing-lost': 1 });
  expect(fired({ ...e, jobs: [...jobs.slice(0, 2), { ...jobs[2], messages: 1 }] })).toEqual({});
  expect(fired({ ...e, poison: [{ body: 'x', parked: false }] })).toEqual({ 'nothing-lost': 1 });
});

test('succeeded-once fires when two runs log success for one job', () => {
  const e = clean();
  const again: LogLine = { instanceId: A, time: T + 1900, message: 'job succeeded', jobId: J1 };
  expect(fired({ ...e, logs: [...e.logs, again] })).toMatchObject({ 'succeeded-once': 1 });
});

test('no-live-lease-takeover fires for overlapping calls of one job on live holders, not when the holder was killed or interrupted first', () => {
  const e = clean();
  const dup: CallEvidence = { id: 'c4', jobId: J2, instanceId: B, startedAt: T + 300, endedAt: T + 600, fault: 'ok', end: 'answered' };
  expect(fired({ ...e, calls: [...e.calls, dup] })).toEqual({ 'no-live-lease-takeover': 1 });
  expect(fired({ ...e, calls: [...e.calls, dup], instances: [{ instanceId: A, killedAt: T + 250 }, { instanceId: B }] })).toEqual({});
  expect(fired({ ...e, calls: [...e.calls, dup], instances: [{ instanceId: A, interruptedAt: T + 250 }, { instanceId: B }] })).toEqual({});
  // past its job timeout, the earlier caller no longer holds a lease
  const late = { ...dup, startedAt: T + 100 + 3000, endedAt: T + 3500 };
  const open = { ...e.calls[2], endedAt: undefined, end: 'open' as const };
  expect(fired({ ...e, calls: [e.calls[0], e.calls[1], open, late] })['no-live-lease-takeover']).toBeUndefined();
});

test('no-live-lease-takeover fires for a run started while an earlier run of the job had not ended, even without overlapping calls', () => {
  const e = clean();
  // B starts J2 at T+420 while A's run (started T+90) ends only at T+450 — after its call, before its success line
  const takeover: LogLine = { instanceId: B, time: T + 420, message: 'job started', jobId: J2 };
  expect(fired({ ...e, logs: [...e.logs, takeover] })).toEqual({ 'no-live-lease-takeover': 1 });
  expect(fired({ ...e, logs: [...e.logs, { ...takeover, time: T + 460 }] })).toEqual({});
  expect(fired({ ...e, logs: [...e.logs, takeover], instances: [{ instanceId: A, interruptedAt: T + 400 }, { instanceId: B }] })).toEqual({});
});

test("result-is-the-records fires when the result object holds a losing run's output, or is missing", () => {
  const e = clean();
  const loser: CallEvidence = { id: 'c9', jobId: J2, instanceId: B, startedAt: T + 500, endedAt: T + 700, fault: 'ok', end: 'answered' };
  const overwritten = e.jobs.map((j) => (j.jobId === J2 ? { ...j, resultObject: JSON.stringify({ text: outputOf('c9') }) } : j));
  const r = runChecks({ ...e, jobs: overwritten, calls: [...e.calls, loser] });
  expect(r['result-is-the-records']).toEqual([expect.objectContaining({ jobId: J2, detail: expect.stringMatching(/c9.*c3/) })]);
  const missing = e.jobs.map((j) => (j.jobId === J1 ? { ...j, resultObject: undefined } : j));
  expect(fired({ ...e, jobs: missing })).toEqual({ 'result-is-the-records': 1 });
});

test('attempts-within-budget fires for a record past maxAttempts and for more failed calls than maxAttempts', () => {
  const e = clean();
  const over = e.jobs.map((j) => (j.jobId === J1 ? { ...j, record: { ...j.record!, attempt: 4 } } : j));
  expect(fired({ ...e, jobs: over })).toEqual({ 'attempts-within-budget': 1 });
  const failures: CallEvidence[] = [2, 3, 4].map((k) => ({
    id: `c${10 + k}`,
    jobId: J1,
    instanceId: A,
    startedAt: T + k * 10_000,
    endedAt: T + k * 10_000 + 100,
    fault: 'error',
    end: 'error',
  }));
  expect(fired({ ...e, calls: [...e.calls, ...failures] })).toEqual({ 'attempts-within-budget': 1 });
  // a failure-scripted call cut short by a kill is not a failed attempt
  expect(fired({ ...e, calls: [...e.calls, ...failures], instances: [{ instanceId: A, killedAt: T + 40_050 }, { instanceId: B }] })).toEqual({});
  // nor one whose job the drainer took meanwhile (the interruption window overlaps the call)
  expect(
    fired({
      ...e,
      calls: [...e.calls, ...failures],
      instances: [{ instanceId: A, interruptedAt: T + 39_000, drainerDoneAt: T + 40_050 }, { instanceId: B }],
    }),
  ).toEqual({});
});

test('no-start-after-drain fires for a start past the allowance after the drainer finished or the worker logged its notice', () => {
  const e = clean();
  const drained = { ...e, instances: [{ instanceId: A, drainerDoneAt: T }, { instanceId: B }] };
  expect(fired(drained)).toEqual({});
  const start: LogLine = { instanceId: A, time: T + START_AFTER_DRAIN_ALLOWANCE_MS + 1, message: 'job started', jobId: J2 };
  expect(fired({ ...drained, logs: [...e.logs, start] })).toEqual({ 'no-start-after-drain': 1 });
  const notice: LogLine = { instanceId: B, time: T, message: 'spot interruption notice: requeueing every in-flight job' };
  expect(fired({ ...e, logs: [...e.logs, notice] })).toEqual({ 'no-start-after-drain': 1 });
});

test('model calls are charged to their cause', () => {
  const e = clean();
  const calls: CallEvidence[] = [
    ...e.calls,
    { id: 'c5', jobId: J2, instanceId: A, startedAt: T + 500, endedAt: T + 600, fault: 'ok', end: 'answered' },
    { id: 'c6', jobId: J2, instanceId: B, startedAt: T + 5000, endedAt: T + 5100, fault: 'ok', end: 'aborted' },
    { id: 'c7', jobId: J2, instanceId: A, startedAt: T + 9000, endedAt: T + 9100, fault: 'ok', end: 'answered' },
    { id: 'c8', jobId: J2, instanceId: B, startedAt: T + 12_000, endedAt: T + 12_100, fault: 'ok', end: 'answered' },
  ];
  const r = callsByCause({
    ...e,
    calls,
    instances: [
      { instanceId: A, interruptedAt: T + 9050 },
      { instanceId: B, killedAt: T + 5050 },
    ],
  });
  expect(r.perJob[J1]).toEqual({ first: 1, retry: 1, interruption: 0, kill: 0, duplicate: 0 });
  // c5 after c3 answered, and c6 after c5 answered: duplicates; c7 after B was killed under c6; c8 after A was interrupted under c7
  expect(r.perJob[J2]).toEqual({ first: 1, retry: 0, interruption: 1, kill: 1, duplicate: 2 });
  expect(r.totals.first).toBe(2);
  // A call that answered, whose holder was killed before its SUCCEEDED write: the rerun is charged to the kill.
  const lostAnswer = callsByCause({
    ...e,
    calls: [...e.calls, { id: 'c9', jobId: J2, instanceId: A, startedAt: T + 20_000, endedAt: T + 20_100, fault: 'ok', end: 'answered' }],
    instances: [{ instanceId: A, killedAt: T + 1000 }, { instanceId: B }],
  });
  expect(lostAnswer.perJob[J2].kill).toBe(1);
  // A call started just after its instance's notice (before the worker polled it), aborted by the requeue: an interruption.
  const afterNotice = callsByCause({
    ...e,
    calls: [
      ...e.calls.filter((c) => c.jobId !== J2),
      { id: 'c20', jobId: J2, instanceId: A, startedAt: T + 100, endedAt: T + 400, fault: 'ok', end: 'aborted' },
      { id: 'c21', jobId: J2, instanceId: B, startedAt: T + 1000, endedAt: T + 1100, fault: 'ok', end: 'answered' },
    ],
    instances: [{ instanceId: A, interruptedAt: T + 50, drainerDoneAt: T + 3000 }, { instanceId: B }],
  });
  expect(afterNotice.perJob[J2]).toMatchObject({ interruption: 1, duplicate: 0 });
});
