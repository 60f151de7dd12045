/**
 * Bad input to the cost tools: the message is one line that names the flag, file row or field at fault,
 * so the CLI can print it as is (exit code 2) without a stack trace.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** `value` as a finite number ≥ `min` (or > `min` when `exclusive`), else an InputError naming `what`. */
export function requireNumber(value: unknown, what: string, min = 0, exclusive = false): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new InputError(`${what}: expected a number, got ${JSON.stringify(value)}`);
  }
  if (exclusive ? n <= min : n < min) {
    throw new InputError(`${what}: expected a number ${exclusive ? '>' : '≥'} ${min}, got ${n}`);
  }
  return n;
}

/** `value` as an integer in [min, max], else an InputError naming `what`. */
export function requireInteger(value: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = requireNumber(value, what, -Number.MAX_VALUE);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InputError(`${what}: expected an integer from ${min} to ${max}, got ${n}`);
  }
  return n;
}
