/** Why a job attempt failed, and whether retrying could help (the retry policy reads `permanent`). */
export class JobError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'JobError';
  }
}

/** A model server's refusal or failure. 4xx other than 408/409/429 are the request's fault: permanent. */
export class ModelError extends JobError {
  constructor(
    message: string,
    permanent: boolean,
    readonly status?: number,
  ) {
    super(message, permanent);
    this.name = 'ModelError';
  }

  static fromStatus(status: number, body: string): ModelError {
    const permanent = status >= 400 && status < 500 && ![408, 409, 429].includes(status);
    return new ModelError(`model server answered ${status}: ${body.slice(0, 500).trim()}`, permanent, status);
  }
}

/**
 * The model server could not be reached or dropped the connection (refused, reset, closed mid-answer): the server's
 * fault, not the job's or its answer's. The job runner waits for the server's health check instead of spending an
 * attempt (see runJob); an HTTP error status or a malformed answer is a {@link ModelError} and spends one as always.
 */
export class ModelConnectionError extends ModelError {
  constructor(message: string) {
    super(message, false);
    this.name = 'ModelConnectionError';
  }
}

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}
