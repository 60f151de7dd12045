/**
 * EC2 billing: per second from launch to termination, with a 60 s minimum per instance (Linux).
 */
export const MIN_BILLED_SECONDS = 60;

/** Seconds billed for an instance that ran `seconds` (rounded up to whole seconds, at least 60). */
export function billedSeconds(seconds: number): number {
  return Math.max(MIN_BILLED_SECONDS, Math.ceil(seconds - 1e-9));
}

/** USD for an instance that ran `seconds` at `hourlyUsd`. */
export function instanceCost(seconds: number, hourlyUsd: number): number {
  return (billedSeconds(seconds) * hourlyUsd) / 3600;
}
