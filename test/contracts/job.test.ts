import {
  canTransition,
  formatJobId,
  payloadKey,
  resultKey,
  workloadOfJobId,
  JOB_MESSAGE_VERSION,
  JobMessage,
  parseJobMessage,
  salvageJobId,
  serializeJobMessage,
} from '../../lib/contracts';

const valid: JobMessage = {
  v: JOB_MESSAGE_VERSION,
  jobId: 'doc-analysis.3f1c2b8e-9a4d-4c6b-8e2f-1a2b3c4d5e6f',
  workload: 'doc-analysis',
  agent: 'summarizer.v2',
  model: 'meta-llama/Llama-3.1-8B-Instruct',
  priority: 'high',
  payload: { prompt: 'hi' },
  submittedAt: '2026-11-25T08:00:00.000Z',
  attempt: 1,
  interruptions: 0,
};

describe('parseJobMessage', () => {
  test('round-trips a valid message', () => {
    expect(parseJobMessage(serializeJobMessage(valid))).toEqual({ ok: true, value: valid });
  });

  test('accepts a payloadRef instead of a payload', () => {
    const { payload: _p, ...rest } = valid;
    const r = parseJobMessage(JSON.stringify({ ...rest, payloadRef: 's3://payloads/jobs/1.json' }));
    expect(r.ok).toBe(true);
  });

  test.each<[string, string | undefined, RegExp]>([
    ['empty body', '', /body is empty/],
    ['undefined body', undefined, /body is empty/],
    ['not JSON', '{oops', /not JSON/],
    ['an array', '[]', /must be a JSON object/],
    ['unknown version', JSON.stringify({ ...valid, v: 2 }), /v must be 1 \(got 2\)/],
    ['bad job id', JSON.stringify({ ...valid, jobId: '../etc' }), /jobId "..\/etc" must match/],
    [
      'job id of another workload',
      JSON.stringify({ ...valid, jobId: 'other.3f1c2b8e-9a4d-4c6b-8e2f-1a2b3c4d5e6f' }),
      /does not belong to workload "doc-analysis"/,
    ],
    ['missing workload', JSON.stringify({ ...valid, workload: undefined }), /workload must be a string \(got undefined\)/],
    ['agent with spaces', JSON.stringify({ ...valid, agent: 'a b' }), /agent "a b" must match/],
    ['numeric priority', JSON.stringify({ ...valid, priority: 1 }), /priority must be a string \(got 1\)/],
    ['attempt 0', JSON.stringify({ ...valid, attempt: 0 }), /attempt must be an integer ≥ 1 \(got 0\)/],
    ['negative interruptions', JSON.stringify({ ...valid, interruptions: -1 }), /interruptions must be an integer ≥ 0/],
    ['bad submittedAt', JSON.stringify({ ...valid, submittedAt: 'yesterday' }), /submittedAt must be an ISO-8601 time/],
    ['both payload and ref', JSON.stringify({ ...valid, payloadRef: 's3://b/k' }), /exactly one of payload and payloadRef/],
    ['neither payload nor ref', JSON.stringify({ ...valid, payload: undefined }), /exactly one of payload and payloadRef/],
    ['ref not s3', JSON.stringify({ ...valid, payload: undefined, payloadRef: 'http://x/y' }), /payloadRef must be an s3:\/\/bucket\/key URI/],
  ])('rejects %s with a clear error', (_name, body, error) => {
    const r = parseJobMessage(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });
});

test('salvageJobId finds the id of a body that does not parse', () => {
  expect(salvageJobId(`{"jobId":"${valid.jobId}","v":9`)).toBe(valid.jobId);
  expect(salvageJobId('garbage')).toBeUndefined();
});

test('job ids carry their workload; keys are scoped by it', () => {
  const id = formatJobId('doc-analysis', '3F1C2B8E-9A4D-4C6B-8E2F-1A2B3C4D5E6F');
  expect(id).toBe('doc-analysis.3f1c2b8e-9a4d-4c6b-8e2f-1a2b3c4d5e6f');
  expect(workloadOfJobId(id)).toBe('doc-analysis');
  expect(workloadOfJobId('nope')).toBeUndefined();
  expect(resultKey(id, 'run-1')).toBe(`results/doc-analysis/${id}/run-1.json`);
  expect(payloadKey(id)).toBe(`payloads/doc-analysis/${id}.json`);
});

test('finished jobs never move again; a running job may be requeued', () => {
  expect(canTransition('SUCCEEDED', 'RUNNING')).toBe(false);
  expect(canTransition('CANCELLED', 'QUEUED')).toBe(false);
  expect(canTransition('RUNNING', 'QUEUED')).toBe(true);
  expect(canTransition('QUEUED', 'RUNNING')).toBe(true);
});
