/**
 * What a later run needs to resume a multipart upload without fetching its uploaded bytes again: the upload's id,
 * the file it is for (size, sha256, part size) and, per uploaded part, its ETag and the SHA-256 state after it. S3
 * keeps the parts but cannot say which file version an upload holds nor hash them, so this lives on the machine
 * that runs the copy, one small JSON file per object key, written atomically after every part.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Sha256State } from './sha256';

export interface PartRecord {
  readonly etag: string;
  /** The hash state after this part; absent when the part does not end on a 64-byte boundary (the last part). */
  readonly hash?: Sha256State;
}

export interface UploadState {
  readonly version: 1;
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  readonly size: number;
  readonly sha256: string;
  readonly partSize: number;
  readonly parts: Record<string, PartRecord>;
}

/** `$XDG_CACHE_HOME/ai-burst/stage-model`, else `~/.cache/ai-burst/stage-model`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ai-burst', 'stage-model');
}

export class ResumeStore {
  constructor(readonly dir: string) {}

  private file(bucket: string, key: string): string {
    return join(this.dir, `${createHash('sha256').update(`${bucket}\0${key}`).digest('hex').slice(0, 32)}.json`);
  }

  load(bucket: string, key: string): UploadState | undefined {
    try {
      const s = JSON.parse(readFileSync(this.file(bucket, key), 'utf8')) as UploadState;
      return s.version === 1 && s.bucket === bucket && s.key === key && typeof s.uploadId === 'string' && s.parts ? s : undefined;
    } catch {
      return undefined;
    }
  }

  save(state: UploadState): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(state.bucket, state.key);
    writeFileSync(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  remove(bucket: string, key: string): void {
    rmSync(this.file(bucket, key), { force: true });
  }
}
