/**
 * The boot stages file (lib/contracts/boot.ts: `<stage> <unix epoch seconds>` per line, appended by the boot script)
 * and the kernel's boot time, read once the model server is healthy. Pure parsing plus two small readers whose
 * paths tests inject; a missing or malformed file is never fatal: the agent logs what was wrong and publishes
 * what it could read.
 */
import { readFileSync } from 'node:fs';
import { BOOT_STAGE_ORDER, BootStage, BootStages } from '../lib/contracts';
import { errorMessage } from '../runtime/log';

/** Kernel boot this long after `pendingTime` means the instance rebooted: "seconds from launch" then means nothing. */
export const REBOOT_AFTER_LAUNCH_SECONDS = 15 * 60;

/** Stages the worker itself writes; lines for them in the file are ignored. */
const WORKER_STAGES: readonly BootStage[] = [BootStages.MODEL_HEALTHY, BootStages.FIRST_JOB];

export interface ParsedStages {
  /** Epoch ms of each stage's first line (a reboot appends again: the first boot's line wins). */
  readonly times: ReadonlyMap<BootStage, number>;
  /** One entry per line that could not be used. */
  readonly problems: readonly string[];
}

export function parseBootStages(text: string): ParsedStages {
  const times = new Map<BootStage, number>();
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const [stage, seconds, ...rest] = line.split(/\s+/);
    const at = Number(seconds);
    if (rest.length > 0 || seconds === undefined || !/^\d+(\.\d+)?$/.test(seconds) || !Number.isFinite(at) || at <= 0) {
      problems.push(`line ${index + 1} is not "<stage> <epoch seconds>": ${line.slice(0, 100)}`);
    } else if (!(BOOT_STAGE_ORDER as readonly string[]).includes(stage)) {
      problems.push(`line ${index + 1} names an unknown stage: ${stage.slice(0, 100)}`);
    } else if (WORKER_STAGES.includes(stage as BootStage)) {
      problems.push(`line ${index + 1} names ${stage}, a stage the worker writes itself: ignored`);
    } else if (!times.has(stage as BootStage)) {
      times.set(stage as BootStage, Math.round(at * 1000));
    }
  });
  return { times, problems };
}

/** Read the stages file; a missing or unreadable file gives no stages and one problem. */
export function readBootStages(path: string): ParsedStages {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { times: new Map(), problems: [`${path} cannot be read: ${errorMessage(e)}`] };
  }
  return parseBootStages(text);
}

/** `btime` of /proc/stat (when the kernel booted, epoch seconds) as epoch ms; undefined when absent. */
export function kernelBootTimeOf(procStat: string): number | undefined {
  const m = /^btime\s+(\d+)\s*$/m.exec(procStat);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** The kernel's boot time from /proc/stat, or undefined (not Linux, unreadable). */
export function readKernelBootTime(path = '/proc/stat'): number | undefined {
  try {
    return kernelBootTimeOf(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The kernel booted long after launch: the instance was rebooted (EC2 keeps `pendingTime` across a reboot). */
export function rebootedSinceLaunch(launchedAt: number | undefined, kernelBootAt: number | undefined): boolean {
  return launchedAt !== undefined && kernelBootAt !== undefined && kernelBootAt - launchedAt > REBOOT_AFTER_LAUNCH_SECONDS * 1000;
}

/** Seconds from launch to a stage (3 decimals); undefined for a stage before the launch (a clock or file error). */
export function coldStartSeconds(launchedAt: number, stageAt: number): number | undefined {
  const seconds = (stageAt - launchedAt) / 1000;
  return seconds < 0 ? undefined : Math.round(seconds * 1000) / 1000;
}

/** The last stage the boot script reached (in contract order), for a boot failure's log line. */
export function lastStageOf(times: ReadonlyMap<BootStage, number>): { stage: BootStage; at: number } | undefined {
  let last: { stage: BootStage; at: number } | undefined;
  for (const stage of BOOT_STAGE_ORDER) {
    const at = times.get(stage);
    if (at !== undefined) last = { stage, at };
  }
  return last;
}

/** Where the boot script tees its output (GpuFleet's user data); its tail goes with a boot failure's log line. */
export const BOOT_LOG_PATH = '/var/log/ai-burst-boot.log';

/** The last `lines` lines of a text file (read whole: the boot log is small), or undefined when unreadable. */
export function tailOf(path: string, lines: number): string[] | undefined {
  try {
    const all = readFileSync(path, 'utf8').split('\n');
    if (all[all.length - 1] === '') all.pop();
    return all.slice(-lines).map((l) => l.slice(0, 500));
  } catch {
    return undefined;
  }
}
