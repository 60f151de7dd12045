import { LEARNED_BOOT_MAX_SECONDS, LEARNED_BOOT_MIN_SECONDS, learnedBootTime, withBootSeconds } from '../../lib/compute/learned-boot';
import { decideCapacity, resolveScalingPolicy } from '../../lib/compute/scaling-policy';
import { LEARNED_BOOT_MIN_SAMPLES } from '../../lib/contracts';

describe('learnedBootTime: the prior until 5 boots were seen in the window, then their p90', () => {
  test('GIVEN no reading THEN the prior', () => {
    expect(learnedBootTime(180, undefined)).toEqual({
      bootSeconds: 180,
      source: 'prior',
      samples: 0,
      reason: "prior: no reading of the fleet's boots",
    });
  });

  test.each([0, 1, 4])('GIVEN %i boots (p90 360 s) THEN still the prior', (count) => {
    const boot = learnedBootTime(180, { count, p90Seconds: 360 });
    expect(boot).toMatchObject({ bootSeconds: 180, source: 'prior', samples: count });
    expect(boot.reason).toBe(`prior: ${count} of 5 boots in the last 24 h`);
  });

  test.each([5, 6, 500])('GIVEN %i boots with p90 361.4 s THEN the p90, rounded to the second', (count) => {
    expect(learnedBootTime(180, { count, p90Seconds: 361.4 })).toEqual({
      bootSeconds: 361,
      source: 'learned',
      samples: count,
      p90Seconds: 361.4,
      reason: `learned: p90 of ${count} boots in the last 24 h`,
    });
  });

  test('the threshold is the contract’s LEARNED_BOOT_MIN_SAMPLES, and a caller may ask for another', () => {
    expect(LEARNED_BOOT_MIN_SAMPLES).toBe(5);
    expect(learnedBootTime(180, { count: 2, p90Seconds: 300 }, 2).source).toBe('learned');
    expect(learnedBootTime(180, { count: 9, p90Seconds: 300 }, 10).source).toBe('prior');
  });

  test('GIVEN a p90 outside [30 s, 2 h] THEN it is bounded, and the reason says so', () => {
    const fast = learnedBootTime(180, { count: 8, p90Seconds: 4 });
    expect(fast).toMatchObject({ bootSeconds: LEARNED_BOOT_MIN_SECONDS, source: 'learned', p90Seconds: 4 });
    expect(fast.reason).toMatch(/bounded from 4 s to \[30, 7200\] s/);
    expect(learnedBootTime(180, { count: 8, p90Seconds: 86_400 }).bootSeconds).toBe(LEARNED_BOOT_MAX_SECONDS);
  });

  test('GIVEN enough boots but no usable p90 THEN the prior', () => {
    expect(learnedBootTime(300, { count: 7 })).toMatchObject({ bootSeconds: 300, source: 'prior', samples: 7 });
    expect(learnedBootTime(300, { count: 7, p90Seconds: NaN }).source).toBe('prior');
    expect(learnedBootTime(300, { count: 7, p90Seconds: 0 }).source).toBe('prior');
  });

  test('a non-integer or invalid count counts as its floor / zero', () => {
    expect(learnedBootTime(180, { count: 4.9, p90Seconds: 300 })).toMatchObject({ source: 'prior', samples: 4 });
    expect(learnedBootTime(180, { count: -3, p90Seconds: 300 })).toMatchObject({ source: 'prior', samples: 0 });
    expect(learnedBootTime(180, { count: NaN, p90Seconds: 300 })).toMatchObject({ source: 'prior', samples: 0 });
  });

  test('an invalid prior is refused', () => {
    expect(() => learnedBootTime(0, undefined)).toThrow(/the prior must be a number > 0 \(got 0\)/);
  });
});

describe('withBootSeconds: where the policy uses the boot time', () => {
  const derived = resolveScalingPolicy({ queueWaitSloSeconds: 300, expectedJobSeconds: 60 });
  const fixed = resolveScalingPolicy({ queueWaitSloSeconds: 300, expectedJobSeconds: 60, idleWindowSeconds: 90 });

  test('GIVEN the idle window follows the boot time THEN both change; the target does not depend on it', () => {
    const p = withBootSeconds(derived, 420, true);
    expect(p).toEqual({ ...derived, expectedBootSeconds: 420, idleWindowSeconds: 420 });
    expect(p.targetBacklogPerInstance).toBe(derived.targetBacklogPerInstance);
  });

  test('GIVEN an explicit idle window THEN it stays; extra fields are kept', () => {
    const p = withBootSeconds({ ...fixed, loopSeconds: 50 }, 420, false);
    expect(p).toEqual({ ...fixed, loopSeconds: 50, expectedBootSeconds: 420, idleWindowSeconds: 90 });
  });

  test('GIVEN an idle fleet of 1 THEN the learned 420 s holds it past the prior’s 180 s and releases it after 420 s', () => {
    const T0 = 1_000_000;
    const fleet = { desired: 1, min: 0, max: 4, inService: 1, pending: 0, busy: 0, busyHistory: [{ level: 1, at: T0 }] };
    const at = (s: number, policy: typeof derived) => decideCapacity({ queues: [] }, fleet, policy, T0 + s * 1000).desired;
    expect(at(200, derived)).toBe(0);
    expect(at(200, withBootSeconds(derived, 420, true))).toBe(1);
    expect(at(421, withBootSeconds(derived, 420, true))).toBe(0);
  });
});
