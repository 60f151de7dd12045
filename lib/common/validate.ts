import { Duration, Token } from 'aws-cdk-lib';

/**
 * Prop validation at construction. Every message names the prop, the value and the allowed range,
 * so a bad prop fails `cdk synth` with something the user can act on. Tokens are skipped: their value
 * is only known at deploy time.
 */
export function validateRange(construct: string, prop: string, value: number | undefined, min: number, max: number, unit = ''): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${construct}: ${prop} must be between ${min} and ${max}${unit} (got ${value}${unit})`);
  }
}

export function validateInteger(construct: string, prop: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${construct}: ${prop} must be an integer between ${min} and ${max} (got ${value})`);
  }
}

export function validateDuration(construct: string, prop: string, value: Duration | undefined, min: Duration, max: Duration): void {
  if (value === undefined || value.isUnresolved()) return;
  const s = value.toSeconds();
  if (s < min.toSeconds() || s > max.toSeconds()) {
    throw new Error(`${construct}: ${prop} must be between ${min.toHumanString()} and ${max.toHumanString()} (got ${value.toHumanString()})`);
  }
}

export function validatePattern(construct: string, prop: string, value: string | undefined, pattern: RegExp, hint: string): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!pattern.test(value)) {
    throw new Error(`${construct}: ${prop} ${JSON.stringify(value)} is invalid: ${hint}`);
  }
}
