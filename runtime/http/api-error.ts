/**
 * The one error type of the API tier: a code from ApiErrorCodes, its HTTP status and a message written for
 * the caller (names the field, the value and the fix; never a stack trace or an internal resource name).
 * JobClient throws it too, so a service using the client sees the same codes as an API caller.
 */
import { API_ERROR_STATUS, ApiErrorCode } from '../../lib/contracts';

export class ApiError extends Error {
  public readonly status: number;

  constructor(
    public readonly code: ApiErrorCode,
    message: string,
    public readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = API_ERROR_STATUS[code];
  }

  /** The JSON body every error answer carries. */
  toBody(): { error: { code: ApiErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** A value quoted for an error message: JSON-escaped (control characters stay visible) and truncated. */
export function quote(value: unknown, max = 40): string {
  if (typeof value === 'string') return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : String(value);
}
