/**
 * What a run will do with each file of the model: skip it (complete in S3 already), resume its unfinished multipart
 * upload, or copy it. Read-only: the hub's file list, then ListObjectsV2, HeadObject for objects of the right size,
 * ListMultipartUploads and ListParts for uploads this machine started.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { InputError } from '../cost/errors';
import { HubClient, HubFile } from './hub';
import { includeMatcher } from './include';
import { ResumeStore, UploadState } from './resume-state';
import { headMetadata, listObjects, listParts, listUploads, PendingUpload, S3Part } from './s3';
import { objectKey, S3Target } from './target';

/** S3 allows at most 10,000 parts per upload. */
export const MAX_PARTS = 10_000;

export interface StageOptions {
  readonly model: string;
  readonly revision: string;
  readonly target: S3Target;
  readonly include?: readonly string[];
  readonly concurrency: number;
  readonly partSize: number;
  readonly dryRun: boolean;
}

export interface Resume {
  readonly state: UploadState;
  readonly parts: Map<number, S3Part>;
}

export interface FilePlan {
  readonly file: HubFile;
  readonly key: string;
  readonly action: 'copy' | 'resume' | 'skip';
  readonly partSize: number;
  /** Parts of the file (1 for a single PUT). */
  readonly partCount: number;
  readonly resume?: Resume;
}

export interface Plan {
  readonly commit: string;
  readonly files: FilePlan[];
  /** Objects under the prefix that are no file of the model at this commit (the instances would copy them too). */
  readonly strayKeys: string[];
  /** Unfinished uploads of the model's keys that this machine did not start: left alone. */
  readonly foreignUploads: PendingUpload[];
}

/** Metadata each staged object carries; a later run compares it to skip complete files. */
export function objectMetadata(file: HubFile, model: string, commit: string): Record<string, string> {
  return { ...(file.sha256 ? { sha256: file.sha256 } : {}), 'git-oid': file.gitOid, 'hf-source': `${model}@${commit}` };
}

/** LFS files larger than a part go up in parts; everything else (≤ 10 MB on the hub unless LFS) in one PUT. */
export function isMultipart(file: HubFile, partSize: number): boolean {
  return file.sha256 !== undefined && file.size > partSize;
}

export async function planStage(options: StageOptions, hub: HubClient, s3: S3Client, store: ResumeStore): Promise<Plan> {
  const { model, target } = options;
  const commit = await hub.resolveCommit(options.revision);
  const all = await hub.listFiles(commit);
  const match = includeMatcher(options.include);
  const files = all.filter((f) => match(f.path));
  if (files.length === 0) {
    throw new InputError(
      options.include
        ? `--include: no file of ${model} matches ${options.include.join(',')} (files: ${all
            .slice(0, 8)
            .map((f) => f.path)
            .join(', ')}${all.length > 8 ? ', …' : ''})`
        : `${model} has no files at ${options.revision}`,
    );
  }

  const objects = await listObjects(s3, target);
  const modelKeys = new Set(all.map((f) => objectKey(target, f.path)));
  const strayKeys = [...objects.keys()].filter((k) => !modelKeys.has(k)).sort();

  const skip = new Set<HubFile>();
  for (const f of files) {
    const key = objectKey(target, f.path);
    if (objects.get(key) !== f.size) continue;
    const meta = await headMetadata(s3, target, key);
    if (meta && (f.sha256 ? meta.sha256 === f.sha256 : meta['git-oid'] === f.gitOid)) {
      skip.add(f);
      // Complete, so a resume record left by a run that stopped between Complete and its clean-up is done with.
      if (!options.dryRun) store.remove(target.bucket, key);
    }
  }

  const lfsToCopy = files.filter((f) => !skip.has(f) && f.sha256);
  const states = new Map(lfsToCopy.map((f) => [f, store.load(target.bucket, objectKey(target, f.path))] as const));
  const needUploads = lfsToCopy.some((f) => states.get(f) || isMultipart(f, options.partSize));
  const uploads = needUploads ? await listUploads(s3, target) : [];

  const plans: FilePlan[] = [];
  const foreignUploads: PendingUpload[] = [];
  for (const f of files) {
    const key = objectKey(target, f.path);
    if (skip.has(f)) {
      plans.push({ file: f, key, action: 'skip', partSize: options.partSize, partCount: 0 });
      continue;
    }
    const state = states.get(f);
    const pending = uploads.filter((u) => u.key === key);
    const ours = state && state.size === f.size && state.sha256 === f.sha256 && pending.some((u) => u.uploadId === state.uploadId);
    foreignUploads.push(...pending.filter((u) => u.uploadId !== state?.uploadId));
    if (state && !ours && !options.dryRun) store.remove(target.bucket, key);
    if (ours) {
      const parts = await listParts(s3, target, key, state.uploadId);
      plans.push({
        file: f,
        key,
        action: 'resume',
        partSize: state.partSize,
        partCount: Math.ceil(f.size / state.partSize),
        resume: { state, parts },
      });
      continue;
    }
    const partCount = isMultipart(f, options.partSize) ? Math.ceil(f.size / options.partSize) : 1;
    if (partCount > MAX_PARTS) {
      const need = Math.ceil(f.size / MAX_PARTS / 2 ** 20);
      throw new InputError(`--part-size-mib: ${f.path} (${f.size} bytes) needs more than ${MAX_PARTS} parts of that size; use ${need} or more`);
    }
    plans.push({ file: f, key, action: 'copy', partSize: options.partSize, partCount });
  }
  return { commit, files: plans, strayKeys, foreignUploads };
}

/** Parts 1..n of a resumed upload that S3 holds as recorded, with the hash state after part n: no need to fetch them. */
export function trustedParts(resume: Resume): { count: number; hashAfter?: UploadState['parts'][string]['hash'] } {
  let count = 0;
  for (let n = 1; ; n++) {
    const rec = resume.state.parts[String(n)];
    const s3 = resume.parts.get(n);
    if (!rec?.hash || !s3 || s3.etag !== rec.etag) break;
    count = n;
  }
  return { count, hashAfter: count > 0 ? resume.state.parts[String(count)].hash : undefined };
}
