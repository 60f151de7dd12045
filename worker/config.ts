/**
 * Reading and checking the JSON file GpuFleet writes (lib/contracts/worker-config.ts), and the settings
 * the agent runs with once optional fields have their defaults.
 */
import { readFileSync } from 'node:fs';
import {
  DEFAULT_MODEL_LOST_SECONDS,
  MAX_BOOT_TIMEOUT_SECONDS,
  PRIORITY_NAME_PATTERN,
  SQS_MAX_VISIBILITY_SECONDS,
  WORKER_CONFIG_VERSION,
  WORKLOAD_NAME_PATTERN,
  WorkerConfig,
} from '../lib/contracts';
import { BackoffPolicy, DEFAULT_BACKOFF } from '../runtime/jobs/retry';

/** DynamoDB items are capped at 400 KB; an inline result must leave room for the rest of the record. */
export const MAX_INLINE_RESULT_BYTES = 300 * 1024;
export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
/** AWS region names: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-7`. */
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** An hour without a model server while holding jobs is never what anyone wants; beyond it is a typo. */
export const MAX_MODEL_LOST_SECONDS = 3600;

/** Every knob the agent runs with, defaults applied. */
export interface WorkerSettings {
  readonly pollWaitSeconds: number;
  readonly imdsPollMs: number;
  readonly starvationLimit: number;
  readonly retryBackoff: BackoffPolicy;
  readonly shutdownGraceMs: number;
  readonly metricsFlushMs: number;
  readonly imdsEndpoint: string;
  /** The model server must be healthy this long after launch; undefined = no deadline. */
  readonly bootTimeoutMs?: number;
  /** After it was healthy once: this long without a healthy answer and the instance gives up. */
  readonly modelLostMs: number;
}

export function settingsOf(config: WorkerConfig): WorkerSettings {
  return {
    pollWaitSeconds: config.pollWaitSeconds ?? 20,
    imdsPollMs: (config.imdsPollSeconds ?? 5) * 1000,
    starvationLimit: config.starvationLimit ?? 5,
    retryBackoff: config.retryBackoff ?? DEFAULT_BACKOFF,
    shutdownGraceMs: (config.shutdownGraceSeconds ?? 20) * 1000,
    metricsFlushMs: (config.metricsFlushSeconds ?? 30) * 1000,
    imdsEndpoint: (config.imdsEndpoint ?? DEFAULT_IMDS_ENDPOINT).replace(/\/+$/, ''),
    ...(config.bootTimeoutSeconds !== undefined ? { bootTimeoutMs: config.bootTimeoutSeconds * 1000 } : {}),
    modelLostMs: (config.modelLostSeconds ?? DEFAULT_MODEL_LOST_SECONDS) * 1000,
  };
}

/** Read and validate the config file; throws one error naming every bad field. */
export function loadWorkerConfig(path: string): WorkerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`worker config ${path} cannot be read: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`worker config ${path} is not valid JSON`);
  }
  return validateWorkerConfig(raw, path);
}

export function validateWorkerConfig(raw: unknown, source = 'worker config'): WorkerConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${source} must be a JSON object`);
  const c = raw as Record<string, unknown>;
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  const str = (field: string, value = c[field]) => typeof value === 'string' && value.length > 0;
  const int = (value: unknown, min: number, max: number) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
  const num = (value: unknown, min: number, max: number) => typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
  const url = (value: unknown) => typeof value === 'string' && /^https?:\/\/[^\s]+$/.test(value);
  const optional = (field: string, ok: (v: unknown) => boolean, range: string) =>
    check(c[field] === undefined || ok(c[field]), `${field} must be ${range} (got ${show(c[field])})`);

  check(c.v === WORKER_CONFIG_VERSION, `v must be ${WORKER_CONFIG_VERSION} (got ${show(c.v)})`);
  for (const field of ['region', 'jobTable', 'resultBucket', 'autoScalingGroupName', 'metricNamespace']) {
    check(str(field), `${field} must be a non-empty string (got ${show(c[field])})`);
  }
  check(
    c.dataRegion === undefined || (typeof c.dataRegion === 'string' && REGION_PATTERN.test(c.dataRegion)),
    `dataRegion must be a region name like us-east-1 when set (got ${show(c.dataRegion)})`,
  );
  check(
    typeof c.workload === 'string' && WORKLOAD_NAME_PATTERN.test(c.workload),
    `workload must match ${WORKLOAD_NAME_PATTERN} (got ${show(c.workload)})`,
  );
  check(c.payloadBucket === undefined || str('payloadBucket'), `payloadBucket must be a non-empty string when set (got ${show(c.payloadBucket)})`);
  if (!Array.isArray(c.queues) || c.queues.length === 0) {
    problems.push(`queues must be a non-empty array of { priority, url }, highest priority first (got ${show(c.queues)})`);
  } else {
    c.queues.forEach((q: unknown, i: number) => {
      const o = (q ?? {}) as Record<string, unknown>;
      check(
        typeof o.priority === 'string' && PRIORITY_NAME_PATTERN.test(o.priority),
        `queues[${i}].priority must match ${PRIORITY_NAME_PATTERN} (got ${show(o.priority)})`,
      );
      check(url(o.url), `queues[${i}].url must be an http(s) URL (got ${show(o.url)})`);
    });
    const names = c.queues.map((q: unknown) => (q as { priority?: unknown } | null)?.priority);
    check(new Set(names).size === names.length, 'queues must not repeat a priority');
  }
  check(url(c.parkingQueueUrl), `parkingQueueUrl must be an http(s) URL (got ${show(c.parkingQueueUrl)})`);
  check(
    int(c.inlineResultMaxBytes, 0, MAX_INLINE_RESULT_BYTES),
    `inlineResultMaxBytes must be an integer from 0 to ${MAX_INLINE_RESULT_BYTES} (got ${show(c.inlineResultMaxBytes)})`,
  );
  check(int(c.concurrency, 0, 256), `concurrency must be an integer from 0 (one per GPU) to 256 (got ${show(c.concurrency)})`);
  const weights = c.instanceWeights;
  check(
    weights === undefined ||
      (typeof weights === 'object' &&
        weights !== null &&
        !Array.isArray(weights) &&
        Object.values(weights).every((w) => int(w, 1, 999) && (typeof c.concurrency !== 'number' || c.concurrency * (w as number) <= 256))),
    `instanceWeights must map instance types to integer weights from 1 to 999, with concurrency × weight ≤ 256 (got ${show(weights)})`,
  );
  check(
    c.expectedJobSeconds === undefined ||
      (typeof c.expectedJobSeconds === 'number' && c.expectedJobSeconds > 0 && c.expectedJobSeconds <= SQS_MAX_VISIBILITY_SECONDS),
    `expectedJobSeconds must be a number of seconds from 0 (exclusive) to ${SQS_MAX_VISIBILITY_SECONDS} (got ${show(c.expectedJobSeconds)})`,
  );
  check(
    int(c.jobTimeoutSeconds, 1, SQS_MAX_VISIBILITY_SECONDS),
    `jobTimeoutSeconds must be an integer from 1 to ${SQS_MAX_VISIBILITY_SECONDS} (got ${show(c.jobTimeoutSeconds)})`,
  );
  check(
    int(c.visibilityTimeoutSeconds, 1, SQS_MAX_VISIBILITY_SECONDS),
    `visibilityTimeoutSeconds must be an integer from 1 to ${SQS_MAX_VISIBILITY_SECONDS} (got ${show(c.visibilityTimeoutSeconds)})`,
  );
  check(int(c.maxAttempts, 1, 100), `maxAttempts must be an integer from 1 to 100 (got ${show(c.maxAttempts)})`);
  const prices = c.hourlyPriceUsd;
  check(
    typeof prices === 'object' && prices !== null && !Array.isArray(prices) && Object.values(prices).every((p) => num(p, 0, 1000)),
    `hourlyPriceUsd must map instance types to USD per hour from 0 to 1000 (got ${show(prices)})`,
  );
  const m = c.modelServer as Record<string, unknown> | undefined;
  if (typeof m !== 'object' || m === null) {
    problems.push(`modelServer must be an object (got ${show(m)})`);
  } else {
    check(m.kind === 'openai' || m.kind === 'invocations', `modelServer.kind must be "openai" or "invocations" (got ${show(m.kind)})`);
    check(url(m.baseUrl), `modelServer.baseUrl must be an http(s) URL (got ${show(m.baseUrl)})`);
    check(typeof m.healthPath === 'string' && m.healthPath.startsWith('/'), `modelServer.healthPath must start with "/" (got ${show(m.healthPath)})`);
    check(
      m.defaultModel === undefined || (typeof m.defaultModel === 'string' && m.defaultModel.length > 0),
      `modelServer.defaultModel must be a non-empty string when set (got ${show(m.defaultModel)})`,
    );
    check(m.stream === undefined || typeof m.stream === 'boolean', `modelServer.stream must be a boolean when set (got ${show(m.stream)})`);
  }
  optional('imdsEndpoint', url, 'an http(s) URL');
  optional('pollWaitSeconds', (v) => int(v, 1, 20), 'an integer from 1 to 20');
  optional('imdsPollSeconds', (v) => num(v, 0.01, 60), 'a number of seconds from 0.01 to 60');
  optional('starvationLimit', (v) => int(v, 1, 1000), 'an integer from 1 to 1000');
  optional('shutdownGraceSeconds', (v) => num(v, 0, 3600), 'a number of seconds from 0 to 3600');
  optional('metricsFlushSeconds', (v) => num(v, 0.01, 3600), 'a number of seconds from 0.01 to 3600');
  optional('bootTimeoutSeconds', (v) => int(v, 1, MAX_BOOT_TIMEOUT_SECONDS), `an integer number of seconds from 1 to ${MAX_BOOT_TIMEOUT_SECONDS}`);
  optional('modelLostSeconds', (v) => int(v, 1, MAX_MODEL_LOST_SECONDS), `an integer number of seconds from 1 to ${MAX_MODEL_LOST_SECONDS}`);
  const b = c.retryBackoff as Record<string, unknown> | undefined;
  check(
    b === undefined ||
      (typeof b === 'object' &&
        b !== null &&
        num(b.baseSeconds, 0, 86400) &&
        num(b.maxSeconds, 0, 86400) &&
        (b.maxSeconds as number) >= (b.baseSeconds as number)),
    `retryBackoff must be { baseSeconds, maxSeconds } with 0 ≤ baseSeconds ≤ maxSeconds ≤ 86400 (got ${show(b)})`,
  );

  if (problems.length > 0) throw new Error(`${source} is invalid:\n- ${problems.join('\n- ')}`);
  return c as unknown as WorkerConfig;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
