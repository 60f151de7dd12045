/**
 * What a worker already did during this boot of its instance, kept across restarts of the worker process (systemd
 * restarts it) but not across a reboot: the cold-start stages it published and the give-ups it counted. So each
 * stage is published once per instance, and a worker restarted after giving up does not count the failure again.
 *
 * One small JSON file per instance in a tmpfs directory: systemd's `$RUNTIME_DIRECTORY` when the unit sets
 * `RuntimeDirectory=` (with `RuntimeDirectoryPreserve=yes`), else /dev/shm (writable by the worker's user under
 * `ProtectSystem=full`, untouched by `PrivateTmp`, emptied at every boot). The file also names the kernel boot it
 * belongs to, so a directory that survives a reboot is not misread. When it cannot be written the worker carries on
 * (logged once): a later restart may then publish a stage twice. Without a directory (an agent run in-process by
 * tests or benchmarks; the entry passes one) the marks live in memory only.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Log, errorMessage } from '../runtime/log';

export const DEFAULT_BOOT_MARKS_DIR = '/dev/shm/ai-burst-worker';

/** The directory of the marks: the unit's runtime directory when systemd gives one. */
export function bootMarksDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.RUNTIME_DIRECTORY?.split(':')[0] || DEFAULT_BOOT_MARKS_DIR;
}

interface MarksFile {
  readonly kernelBootAt: number | null;
  readonly marks: string[];
}

export class BootMarks {
  private readonly file?: string;
  private readonly marks = new Set<string>();
  private warned = false;

  constructor(
    private readonly dir: string | undefined,
    instanceId: string,
    private readonly kernelBootAt: number | undefined,
    private readonly logger: Log,
  ) {
    if (dir === undefined) return;
    this.file = join(dir, `${instanceId.replace(/[^A-Za-z0-9-]/g, '_')}.json`);
    try {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<MarksFile>;
      if ((saved.kernelBootAt ?? null) === (kernelBootAt ?? null) && Array.isArray(saved.marks)) {
        for (const m of saved.marks) if (typeof m === 'string') this.marks.add(m);
      }
    } catch {
      /* no marks yet (the first worker of this boot), or unreadable: start empty */
    }
  }

  has(mark: string): boolean {
    return this.marks.has(mark);
  }

  /** Remember `mark` (in memory at once, on disk best effort). */
  add(mark: string): void {
    if (this.marks.has(mark)) return;
    this.marks.add(mark);
    if (this.dir === undefined || this.file === undefined) return;
    const content: MarksFile = { kernelBootAt: this.kernelBootAt ?? null, marks: [...this.marks] };
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(content), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (e) {
      if (!this.warned) {
        this.warned = true;
        this.logger.warn('cannot keep boot marks: a restarted worker may publish cold-start stages or a give-up again', {
          file: this.file,
          error: errorMessage(e),
        });
      }
    }
  }
}
