/**
 * The pieces of the cold-start contract the worker reads: the stages file, /proc/stat's btime, reboot detection,
 * the per-boot marks kept across worker restarts, and the bounded SetInstanceHealth report.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoScalingClient, SetInstanceHealthCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { BootStages } from '../../lib/contracts';
import { silentLogger, Log } from '../../runtime/log';
import { BootMarks, DEFAULT_BOOT_MARKS_DIR, bootMarksDir } from '../../worker/boot-marks';
import {
  REBOOT_AFTER_LAUNCH_SECONDS,
  coldStartSeconds,
  kernelBootTimeOf,
  lastStageOf,
  parseBootStages,
  readBootStages,
  readKernelBootTime,
  rebootedSinceLaunch,
  tailOf,
} from '../../worker/boot-stages';
import { SET_INSTANCE_HEALTH_ATTEMPTS, reportUnhealthy } from '../../worker/instance-health';
import { scratchDir } from './harness';

function recording(): { logger: Log; lines: { level: string; message: string; [k: string]: unknown }[] } {
  const lines: { level: string; message: string; [k: string]: unknown }[] = [];
  const at =
    (level: string) =>
    (message: string, ...fields: object[]) =>
      lines.push(Object.assign({ level, message }, ...fields));
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

describe('the boot stages file', () => {
  test('one line per stage: epoch seconds become epoch ms; the first line of a stage wins (a reboot appends again)', () => {
    const { times, problems } = parseBootStages(
      ['user-data-start 1764057600', 'docker-ready 1764057642', 'image-ready 1764057900.5', 'user-data-start 1764070000', ''].join('\n'),
    );
    expect(problems).toEqual([]);
    expect([...times]).toEqual([
      [BootStages.USER_DATA_START, 1764057600_000],
      [BootStages.DOCKER_READY, 1764057642_000],
      [BootStages.IMAGE_READY, 1764057900_500],
    ]);
    expect(lastStageOf(times)).toEqual({ stage: BootStages.IMAGE_READY, at: 1764057900_500 });
  });

  test('malformed lines, unknown stages and the worker’s own stages are reported and skipped; the rest is kept', () => {
    const { times, problems } = parseBootStages(
      [
        'user-data-start 1764057600',
        'docker-ready',
        'weights-ready soon',
        'image-ready 1764057900 extra',
        'gpu-ready 1764057700',
        'model-healthy 1764058000',
        'weights-ready -5',
        'weights-ready 1764058100',
      ].join('\n'),
    );
    expect([...times.keys()]).toEqual([BootStages.USER_DATA_START, BootStages.WEIGHTS_READY]);
    expect(problems).toEqual([
      'line 2 is not "<stage> <epoch seconds>": docker-ready',
      'line 3 is not "<stage> <epoch seconds>": weights-ready soon',
      'line 4 is not "<stage> <epoch seconds>": image-ready 1764057900 extra',
      'line 5 names an unknown stage: gpu-ready',
      'line 6 names model-healthy, a stage the worker writes itself: ignored',
      'line 7 is not "<stage> <epoch seconds>": weights-ready -5',
    ]);
  });

  test('a missing file gives no stages and says why', () => {
    const r = readBootStages('/nonexistent/boot-stages');
    expect(r.times.size).toBe(0);
    expect(r.problems).toEqual([expect.stringMatching(/^\/nonexistent\/boot-stages cannot be read: .*ENOENT/)]);
  });

  test('seconds from launch to a stage; a stage before the launch is refused', () => {
    expect(coldStartSeconds(1000_000, 1412_345)).toBe(412.345);
    expect(coldStartSeconds(1000_000, 1000_000)).toBe(0);
    expect(coldStartSeconds(1000_000, 999_000)).toBeUndefined();
  });

  test('the tail of the boot log, or undefined when unreadable', () => {
    const dir = scratchDir();
    writeFileSync(join(dir, 'boot.log'), Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n') + '\n');
    expect(tailOf(join(dir, 'boot.log'), 3)).toEqual(['line 28', 'line 29', 'line 30']);
    expect(tailOf(join(dir, 'missing.log'), 3)).toBeUndefined();
  });
});

describe('kernel boot time and reboots', () => {
  test('btime of /proc/stat is the kernel boot time', () => {
    expect(kernelBootTimeOf('cpu  1 2 3\nintr 5\nctxt 10\nbtime 1764057620\nprocesses 99\n')).toBe(1764057620_000);
    expect(kernelBootTimeOf('cpu 1 2 3\n')).toBeUndefined();
    const dir = scratchDir();
    writeFileSync(join(dir, 'stat'), 'cpu 1\nbtime 1764057620\n');
    expect(readKernelBootTime(join(dir, 'stat'))).toBe(1764057620_000);
    expect(readKernelBootTime(join(dir, 'nope'))).toBeUndefined();
  });

  test(`a kernel booted more than ${REBOOT_AFTER_LAUNCH_SECONDS / 60} min after launch means a reboot; unknown times mean none`, () => {
    const launch = Date.parse('2026-11-25T08:00:00Z');
    expect(rebootedSinceLaunch(launch, launch + 25_000)).toBe(false);
    expect(rebootedSinceLaunch(launch, launch + REBOOT_AFTER_LAUNCH_SECONDS * 1000)).toBe(false);
    expect(rebootedSinceLaunch(launch, launch + REBOOT_AFTER_LAUNCH_SECONDS * 1000 + 1)).toBe(true);
    expect(rebootedSinceLaunch(undefined, launch)).toBe(false);
    expect(rebootedSinceLaunch(launch, undefined)).toBe(false);
  });
});

describe('boot marks', () => {
  test('a restarted worker of the same boot sees what the first one did; another boot or instance does not', () => {
    const dir = join(scratchDir(), 'marks');
    const first = new BootMarks(dir, 'i-0abc', 1764057620_000, silentLogger);
    expect(first.has('stage:model-healthy')).toBe(false);
    first.add('stage:model-healthy');
    first.add('counted:model-server-lost');
    expect(first.has('stage:model-healthy')).toBe(true);

    expect(new BootMarks(dir, 'i-0abc', 1764057620_000, silentLogger).has('counted:model-server-lost')).toBe(true);
    // a reboot (another kernel boot) with a directory that survived it, or another instance id: nothing carried over
    expect(new BootMarks(dir, 'i-0abc', 1764099999_000, silentLogger).has('stage:model-healthy')).toBe(false);
    expect(new BootMarks(dir, 'i-0def', 1764057620_000, silentLogger).has('stage:model-healthy')).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'i-0abc.json'), 'utf8'))).toEqual({
      kernelBootAt: 1764057620_000,
      marks: ['stage:model-healthy', 'counted:model-server-lost'],
    });
  });

  test('an unwritable directory keeps the marks in memory and warns once', () => {
    // a file where the directory should be: mkdir fails for any user, root included
    const root = scratchDir();
    writeFileSync(join(root, 'marks'), 'not a directory');
    const { logger, lines } = recording();
    const marks = new BootMarks(join(root, 'marks', 'sub'), 'i-0abc', undefined, logger);
    marks.add('a');
    marks.add('b');
    expect(marks.has('a') && marks.has('b')).toBe(true);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/cannot keep boot marks/), error: expect.stringMatching(/ENOTDIR|EEXIST/) }),
    ]);
  });

  test("the directory is systemd's RUNTIME_DIRECTORY when the unit sets one, else /dev/shm", () => {
    expect(bootMarksDir({ RUNTIME_DIRECTORY: '/run/ai-burst-worker' })).toBe('/run/ai-burst-worker');
    expect(bootMarksDir({})).toBe(DEFAULT_BOOT_MARKS_DIR);
  });
});

describe('reporting the instance Unhealthy', () => {
  const autoscaling = mockClient(AutoScalingClient);
  afterEach(() => autoscaling.reset());
  afterAll(() => autoscaling.restore());

  const throttle = () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });

  test('throttled twice, then accepted: three calls with growing delays, Unhealthy without the grace period', async () => {
    autoscaling.on(SetInstanceHealthCommand).rejectsOnce(throttle()).rejectsOnce(throttle()).resolves({});
    const delays: number[] = [];
    const r = await reportUnhealthy(new AutoScalingClient({ region: 'us-east-1' }), 'i-0abc', silentLogger, {
      random: () => 1,
      sleep: async (ms) => void delays.push(ms),
    });
    expect(r).toEqual({ reported: true, calls: 3 });
    expect(delays).toEqual([1000, 2000]);
    const calls = autoscaling.commandCalls(SetInstanceHealthCommand).map((c) => c.args[0].input);
    expect(calls).toEqual(Array(3).fill({ InstanceId: 'i-0abc', HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false }));
  });

  test('AccessDenied every time: a bounded number of calls, logged, never throws', async () => {
    autoscaling
      .on(SetInstanceHealthCommand)
      .rejects(Object.assign(new Error('not authorized to perform: autoscaling:SetInstanceHealth'), { name: 'AccessDenied' }));
    const { logger, lines } = recording();
    const delays: number[] = [];
    const r = await reportUnhealthy(new AutoScalingClient({ region: 'us-east-1' }), 'i-0abc', logger, {
      random: () => 0,
      sleep: async (ms) => void delays.push(ms),
    });
    expect(r).toMatchObject({ reported: false, calls: SET_INSTANCE_HEALTH_ATTEMPTS, error: expect.stringMatching(/AccessDenied: not authorized/) });
    expect(autoscaling.commandCalls(SetInstanceHealthCommand)).toHaveLength(SET_INSTANCE_HEALTH_ATTEMPTS);
    // equal jitter: never less than half the doubling delay
    expect(delays).toEqual([500, 1000, 2000, 4000]);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'could not report the instance Unhealthy: it stays in its group until someone terminates it',
    ]);
  });
});
