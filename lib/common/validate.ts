import { Duration, Token } from 'aws-cdk-lib';

/**
 * Prop validation at construction. Every message names the prop, the value and the allowed range,
 * so a bad prop fails `cdk synth` with something the user can act on. Tokens are skipped: their value
 * is only known at deploy time.
 *
 * Errors are `PropError`s: they keep the prop names apart from the text, so a construct that builds
 * others from its own props (AiBurstPlatform → GpuFleet → CapacityManager) re-states a nested error in
 * its own terms with `withinProps`: `AiBurstPlatform: workloads["doc-analysis"].maxInstances …`
 * instead of `GpuFleet: maxCapacity …`.
 */

/** Spells a prop as the construct the user called names it. */
export type PropNamer = (prop: string) => string;

/** A prop validation failure; `message` is `<construct>: <text with the prop names>`. */
export class PropError extends Error {
  constructor(
    /** The construct (or factory) whose props the message names. */
    public readonly construct: string,
    /** The message after `<construct>: `, with every prop name passed through `name`. */
    private readonly text: (name: PropNamer) => string,
  ) {
    super(`${construct}: ${text((p) => p)}`);
    this.name = 'PropError';
  }

  /** The same failure as `owner` states it, each of this error's props spelled by `path(construct, prop)`. */
  public restate(owner: string, path: (construct: string, prop: string) => string): PropError {
    const inner = this.construct;
    return new PropError(owner, (name) => this.text((p) => name(path(inner, p))));
  }
}

/** A PropError about one prop: `<construct>: <prop> <rest>`. */
export function propError(construct: string, prop: string, rest: string): PropError {
  return new PropError(construct, (name) => `${name(prop)} ${rest}`);
}

/**
 * Build nested constructs and re-state their prop errors as `owner`'s: `path(construct, prop)` gives the
 * owner's name for a nested construct's prop. Other errors pass through unchanged.
 */
export function withinProps<T>(owner: string, path: (construct: string, prop: string) => string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof PropError) throw err.restate(owner, path);
    throw err;
  }
}

/**
 * A `path` for `withinProps`: nested props renamed by `names` (first path segment; the rest is kept, so
 * `modelServer.port` follows `modelServer`) under `prefix`. A prop the owner does not take from its user
 * (it computed the value) is shown with the nested construct's own name: `prefix → GpuFleet.minCapacity`.
 */
export function renamedUnder(prefix: string, names: Readonly<Record<string, string>>): (construct: string, prop: string) => string {
  return (construct, prop) => {
    const [, head, rest] = /^([^.[]+)(.*)$/.exec(prop) ?? [undefined, prop, ''];
    const mapped = names[`${construct}.${head}`] ?? names[head];
    const under = (p: string) => (prefix ? `${prefix}.${p}` : p);
    return mapped !== undefined ? under(`${mapped}${rest}`) : `${prefix ? `${prefix} → ` : ''}${construct}.${prop}`;
  };
}

export function validateRange(construct: string, prop: string, value: number | undefined, min: number, max: number, unit = ''): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw propError(construct, prop, `must be between ${min} and ${max}${unit} (got ${value}${unit})`);
  }
}

export function validateInteger(construct: string, prop: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw propError(construct, prop, `must be an integer between ${min} and ${max} (got ${value})`);
  }
}

/** A Duration within [min, max] and a whole number of seconds (every consumer converts it with `toSeconds()`). */
export function validateDuration(construct: string, prop: string, value: Duration | undefined, min: Duration, max: Duration): void {
  if (value === undefined || value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (!Number.isInteger(ms / 1000)) {
    throw propError(
      construct,
      prop,
      `must be a whole number of seconds (got ${ms} milliseconds); use e.g. Duration.seconds(${Math.round(ms / 1000)})`,
    );
  }
  const s = ms / 1000;
  if (s < min.toSeconds() || s > max.toSeconds()) {
    throw propError(construct, prop, `must be between ${min.toHumanString()} and ${max.toHumanString()} (got ${value.toHumanString()})`);
  }
}

export function validatePattern(construct: string, prop: string, value: string | undefined, pattern: RegExp, hint: string): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!pattern.test(value)) {
    throw new PropError(construct, (name) => `${name(prop)} ${JSON.stringify(value)} is invalid: ${hint}`);
  }
}
