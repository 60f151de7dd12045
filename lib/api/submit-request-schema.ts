import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { AGENT_NAME_PATTERN, IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_KEY_PATTERN, JOB_ID_PATTERN, MODEL_NAME_PATTERN } from '../contracts';

/**
 * The JSON schema (draft 4) of `POST /jobs`, built from the same patterns and limits the submit handler
 * checks (lambda/shared/submit-request.ts), so API Gateway refuses a malformed body before any Lambda runs.
 * The handler still checks everything (the rules that need state — a workload's own priorities, payload
 * storability, the byte limit — are only there).
 */
export function submitRequestSchema(workloads: ReadonlyArray<{ workload: string; priorities: readonly string[] }>): apigateway.JsonSchema {
  const priorities = [...new Set(workloads.flatMap((w) => w.priorities))];
  const S = apigateway.JsonSchemaType;
  return {
    schema: apigateway.JsonSchemaVersion.DRAFT4,
    title: 'SubmitJob',
    description: 'A job for one workload: exactly one of payload (inline), payloadUpload (ask for an upload URL) or uploadId (after the upload).',
    type: S.OBJECT,
    additionalProperties: false,
    required: ['workload', 'agent'],
    properties: {
      workload: { type: S.STRING, enum: workloads.map((w) => w.workload) },
      agent: { type: S.STRING, minLength: 1, maxLength: 64, pattern: AGENT_NAME_PATTERN.source },
      model: { type: S.STRING, minLength: 1, maxLength: 128, pattern: MODEL_NAME_PATTERN.source },
      priority: { type: S.STRING, enum: priorities },
      payload: { not: { type: S.NULL } },
      payloadUpload: { type: S.BOOLEAN, enum: [true] },
      uploadId: { type: S.STRING, pattern: JOB_ID_PATTERN.source },
      idempotencyKey: { type: S.STRING, minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX_LENGTH, pattern: IDEMPOTENCY_KEY_PATTERN.source },
    },
    oneOf: [{ required: ['payload'] }, { required: ['payloadUpload'] }, { required: ['uploadId'] }],
  };
}
