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

/** Decimal notation only (`16`, `0.2`, `.5`, `3.6e7`, `-5`): `Number()` would also take `0x10`, `0b1`, `Infinity`. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The decimal number `text` spells, or `undefined` (hexadecimal, binary, octal, `Infinity`, blanks…). */
export function parseDecimal(text: string): number | undefined {
  return DECIMAL.test(text) ? Number(text) : undefined;
}

/** `value` as a finite number ≥ `min` (or > `min` when `exclusive`), else an InputError naming `what`. */
export function requireNumber(value: unknown, what: string, min = 0, exclusive = false): number {
  if (value === undefined) throw new InputError(`${what}: required`);
  const n = typeof value === 'string' ? parseDecimal(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new InputError(`${what}: expected a decimal number, got ${JSON.stringify(value)}`);
  }
  if (exclusive ? n <= min : n < min) {
    throw new InputError(`${what}: expected a number ${exclusive ? '>' : '≥'} ${min}, got ${n}`);
  }
  return n;
}

/** `value` as an integer in [min, max] (max: open-ended by default), else an InputError naming `what` and the range. */
export function requireInteger(value: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = requireNumber(value, what, -Number.MAX_VALUE);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max >= Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new InputError(`${what}: expected an integer ${range}, got ${n}`);
  }
  return n;
}
