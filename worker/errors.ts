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

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}
