/**
 * The submit request: how an HTTP body becomes a checked request, and the checks themselves. Pure (no SDK,
 * no I/O), shared by the submit Lambda and JobClient so both refuse exactly the same inputs with the same
 * codes. Nothing here ever enqueues or writes: a request that fails a check never reaches the SDK.
 */
import {
  AGENT_NAME_PATTERN,
  ApiErrorCodes,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  IDEMPOTENCY_KEY_PATTERN,
  JOB_ID_PATTERN,
  MODEL_NAME_PATTERN,
  SUBMIT_REQUEST_FIELDS,
  workloadOfJobId,
} from '../../lib/contracts';
import { ApiError, quote } from '../http/api-error';

/** Workload name → its priorities, highest first. */
export type WorkloadCatalog = Readonly<Record<string, readonly string[]>>;

interface SubmitCommon {
  readonly workload: string;
  readonly agent: string;
  readonly model?: string;
  /** Resolved: the request's priority, or the workload's lowest when none was given. */
  readonly priority: string;
  readonly idempotencyKey?: string;
}

/**
 * A checked submit request, one of three kinds:
 * - `inline`: the payload travels in the request, the record and the message;
 * - `upload`: step 1 of a large input — the answer is a pre-signed PUT URL, nothing is written or queued;
 * - `commit`: step 2 — the input was PUT to the URL of `uploadId`, which becomes the job id.
 */
export type SubmitRequest =
  | (SubmitCommon & { readonly kind: 'inline'; readonly payload: unknown })
  | (SubmitCommon & { readonly kind: 'upload' })
  | (SubmitCommon & { readonly kind: 'commit'; readonly uploadId: string });

export interface HttpBody {
  readonly body: string | null | undefined;
  readonly isBase64Encoded?: boolean;
  /** The Content-Type header, any case. */
  readonly contentType?: string;
}

/** `application/json`, optionally with `charset=utf-8`; anything else is refused with 415. */
export function checkContentType(contentType: string | undefined): void {
  const [type, ...params] = (contentType ?? '').split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='));
  if (type !== 'application/json' || (charset !== undefined && !/^charset="?utf-8"?$/.test(charset))) {
    throw new ApiError(
      ApiErrorCodes.UNSUPPORTED_MEDIA_TYPE,
      `Content-Type must be application/json (got ${quote(contentType ?? '')}); send the job as a JSON object`,
    );
  }
}

/**
 * Content type → size → JSON, in that order, so an oversize body is refused before it is parsed.
 * Returns the parsed value (any JSON), to be checked by {@link checkSubmitRequest}.
 */
export function parseJsonBody(input: HttpBody, maxBytes: number): unknown {
  checkContentType(input.contentType);
  const raw = input.body ?? '';
  const text = input.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw tooLarge(`the request body is ${bytes} bytes`, maxBytes);
  if (text.trim() === '') throw new ApiError(ApiErrorCodes.INVALID_JSON, 'the request body is empty; send the job as a JSON object');
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(ApiErrorCodes.INVALID_JSON, 'the request body is not valid JSON');
  }
}

export function tooLarge(what: string, maxBytes: number): ApiError {
  return new ApiError(
    ApiErrorCodes.PAYLOAD_TOO_LARGE,
    `${what}; the inline limit is ${maxBytes} bytes. Submit with "payloadUpload": true instead, PUT the input to the ` +
      'returned upload URL, then submit again with its "uploadId"',
  );
}

function invalid(message: string): ApiError {
  return new ApiError(ApiErrorCodes.INVALID_REQUEST, message);
}

function checkName(o: Record<string, unknown>, field: string, pattern: RegExp, rule: string): string | undefined {
  const value = o[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${field} must be a string (got ${quote(value)})`);
  if (value === '') throw invalid(`${field} must not be empty`);
  if (!pattern.test(value)) throw invalid(`${field} ${quote(value)} is invalid: ${rule}`);
  return value;
}

/**
 * Check a parsed body against the catalog of workloads the API serves. Throws an {@link ApiError} naming
 * the first problem: unknown or missing fields, wrong types, names outside their patterns, an unknown
 * workload or priority, or not exactly one of `payload`, `payloadUpload` and `uploadId`.
 */
export function checkSubmitRequest(input: unknown, catalog: WorkloadCatalog): SubmitRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(`the body must be a JSON object (got ${quote(input)})`);
  }
  const o = input as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(SUBMIT_REQUEST_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw invalid(
      `unknown field${unknown.length > 1 ? 's' : ''} ${unknown
        .slice(0, 5)
        .map((k) => quote(k))
        .join(', ')}; allowed: ${SUBMIT_REQUEST_FIELDS.join(', ')}`,
    );
  }
  for (const required of ['workload', 'agent']) {
    if (o[required] === undefined || o[required] === null) throw invalid(`${required} is required`);
  }

  if (typeof o.workload !== 'string') throw invalid(`workload must be a string (got ${quote(o.workload)})`);
  if (o.workload === '') throw invalid('workload must not be empty');
  const priorities = Object.prototype.hasOwnProperty.call(catalog, o.workload) ? catalog[o.workload] : undefined;
  if (!priorities) {
    throw new ApiError(
      ApiErrorCodes.UNKNOWN_WORKLOAD,
      `workload ${quote(o.workload)} is not served by this API; known workloads: ${Object.keys(catalog).join(', ')}`,
    );
  }
  const workload = o.workload;
  const agent = checkName(
    o,
    'agent',
    AGENT_NAME_PATTERN,
    'use 1 to 64 letters, digits, dots, dashes and underscores, starting with a letter or digit',
  )!;
  const model = checkName(o, 'model', MODEL_NAME_PATTERN, 'use up to 128 letters, digits and . _ : / -, starting with a letter or digit');

  let priority = priorities[priorities.length - 1];
  if (o.priority !== undefined) {
    if (typeof o.priority !== 'string') throw invalid(`priority must be a string (got ${quote(o.priority)})`);
    if (!priorities.includes(o.priority)) {
      throw new ApiError(
        ApiErrorCodes.INVALID_PRIORITY,
        `priority ${quote(o.priority)} is not one of workload ${quote(workload)}'s priorities: ${priorities.join(', ')}`,
      );
    }
    priority = o.priority;
  }

  let idempotencyKey: string | undefined;
  if (o.idempotencyKey !== undefined) {
    if (typeof o.idempotencyKey !== 'string') throw invalid(`idempotencyKey must be a string (got ${quote(o.idempotencyKey)})`);
    if (o.idempotencyKey.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
      throw invalid(`idempotencyKey is ${o.idempotencyKey.length} characters; at most ${IDEMPOTENCY_KEY_MAX_LENGTH} are allowed`);
    }
    if (!IDEMPOTENCY_KEY_PATTERN.test(o.idempotencyKey)) {
      throw invalid(
        `idempotencyKey ${quote(o.idempotencyKey)} is invalid: use letters, digits and . _ : @ / + = - (no spaces or control characters)`,
      );
    }
    idempotencyKey = o.idempotencyKey;
  }

  const common: SubmitCommon = {
    workload,
    agent,
    priority,
    ...(model !== undefined ? { model } : {}),
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
  };
  const given = (['payload', 'payloadUpload', 'uploadId'] as const).filter((k) => o[k] !== undefined);
  if (given.length !== 1) {
    throw invalid(
      given.length === 0
        ? 'payload is required (or "payloadUpload": true for inputs over the inline limit)'
        : `give exactly one of payload, payloadUpload and uploadId (got ${given.join(', ')})`,
    );
  }
  switch (given[0]) {
    case 'payload':
      if (o.payload === null) throw invalid('payload must not be null');
      if (o.payload === '') throw invalid('payload must not be empty');
      checkPayloadStorable(o.payload);
      return { ...common, kind: 'inline', payload: o.payload };
    case 'payloadUpload':
      if (o.payloadUpload !== true) throw invalid(`payloadUpload must be true when given (got ${quote(o.payloadUpload)})`);
      return { ...common, kind: 'upload' };
    default: {
      const uploadId = o.uploadId;
      if (typeof uploadId !== 'string' || !JOB_ID_PATTERN.test(uploadId) || workloadOfJobId(uploadId) !== workload) {
        throw invalid(
          `uploadId ${quote(uploadId, 80)} is not an upload id of workload ${quote(workload)}; use the uploadId the payloadUpload answer returned`,
        );
      }
      return { ...common, kind: 'commit', uploadId };
    }
  }
}

/**
 * A job id from a path: malformed → 400 INVALID_JOB_ID; well-formed but of a workload this API does not
 * serve → 404 JOB_NOT_FOUND (an id never reveals whether another workload's job exists).
 */
export function checkJobId(raw: unknown, catalog: WorkloadCatalog): string {
  if (typeof raw !== 'string' || !JOB_ID_PATTERN.test(raw)) {
    throw new ApiError(ApiErrorCodes.INVALID_JOB_ID, `job id ${quote(raw, 80)} is malformed: expected <workload>.<uuid> as returned by POST /jobs`);
  }
  const workload = workloadOfJobId(raw)!;
  if (!Object.prototype.hasOwnProperty.call(catalog, workload)) {
    throw new ApiError(ApiErrorCodes.JOB_NOT_FOUND, `job ${quote(raw, 80)} does not exist`);
  }
  return raw;
}

/** Deepest nesting of objects/arrays a payload may have: DynamoDB allows 32 levels in an item, the record holds the payload. */
export const MAX_PAYLOAD_DEPTH = 30;
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The inline payload must survive the record (DynamoDB) and the message (SQS) unchanged, or the job would be
 * refused with a 5xx after its record was written. So: nesting within {@link MAX_PAYLOAD_DEPTH}; numbers
 * finite, within DynamoDB's range and, when integers, exactly representable (JSON.parse already rounded
 * anything larger — send such ids as strings); strings and keys well-formed UTF-16 (an unpaired surrogate
 * cannot be stored as UTF-8); no empty object keys. Iterative, so a deeply nested body cannot overflow the stack.
 */
export function checkPayloadStorable(payload: unknown): void {
  const stack: Array<[unknown, number, string]> = [[payload, 0, 'payload']];
  while (stack.length > 0) {
    const [value, depth, path] = stack.pop()!;
    if (typeof value === 'number') {
      const abs = Math.abs(value);
      if (!Number.isFinite(value) || (abs !== 0 && (abs < 1e-130 || abs >= 1e126)) || (Number.isInteger(value) && !Number.isSafeInteger(value))) {
        throw invalid(`${path} holds the number ${value}, which cannot be stored exactly; send it as a string`);
      }
    } else if (typeof value === 'string') {
      if (UNPAIRED_SURROGATE.test(value)) throw invalid(`${path} holds a string with an unpaired UTF-16 surrogate (not valid Unicode)`);
    } else if (value !== null && typeof value === 'object') {
      if (depth >= MAX_PAYLOAD_DEPTH) throw invalid(`payload nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
      const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
      for (const [k, v] of entries) {
        if (!Array.isArray(value)) {
          if (k === '') throw invalid(`${path} has an empty key`);
          if (UNPAIRED_SURROGATE.test(k)) throw invalid(`${path} has a key with an unpaired UTF-16 surrogate (not valid Unicode)`);
        }
        stack.push([v, depth + 1, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k.length > 40 ? `${k.slice(0, 40)}…` : k}`]);
      }
    }
  }
}
