/**
 * API Gateway proxy answers: JSON bodies, `{ error: { code, message } }` for every error. An unexpected
 * exception becomes 500 INTERNAL_ERROR with the request id only — its message and stack go to the log,
 * never to the caller (they can name tables, queues or buckets).
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { ApiErrorCodes } from '../../lib/contracts';
import { ApiError, isApiError } from './api-error';
import { Log } from '../log';

const HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** What `errorResponse` logs with. */
export type ErrorLog = Pick<Log, 'error'>;

export function errorResponse(e: unknown, requestId: string | undefined, log?: ErrorLog): APIGatewayProxyResult {
  if (isApiError(e)) return jsonResponse(e.status, e.toBody(), { ...e.headers });
  log?.error('unhandled error', { error: e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : String(e) });
  const internal = new ApiError(
    ApiErrorCodes.INTERNAL_ERROR,
    `the request failed on our side; retry it (with the same idempotencyKey), or quote request id ${requestId ?? 'unknown'}`,
  );
  return jsonResponse(internal.status, internal.toBody());
}

/** A header by name, any case (API Gateway keeps the client's casing). */
export function header(headers: Record<string, string | undefined> | null | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
