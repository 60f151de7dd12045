/**
 * One staging run: plan (see plan.ts), then copy every file that is not complete in S3 yet, at most `concurrency`
 * parts at a time, and report per file. A failed file does not stop the others; a set-up problem (no bucket, denied,
 * no credentials) stops the run, since every other file would fail the same way.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { InputError } from '../cost/errors';
import { ChecksumMismatch, copyFile } from './copy-file';
import { HubClient, HubError } from './hub';
import { FilePlan, planStage, StageOptions, trustedParts } from './plan';
import { formatBytes, formatRate, Progress, ProgressStream } from './progress';
import { ResumeStore } from './resume-state';
import { s3Problem } from './s3';
import { inPool, Slots } from './slots';
import { S3Target, s3Uri } from './target';

export interface FileReport {
  readonly path: string;
  readonly key: string;
  readonly size: number;
  readonly sha256?: string;
  /** What the plan said: copy, resume (an unfinished upload of this machine's) or skip (complete in S3). */
  readonly action: 'copy' | 'resume' | 'skip';
  /** After a run: copied, resumed, skipped or failed; a dry run leaves it out. */
  result?: 'copied' | 'resumed' | 'skipped' | 'failed';
  /** Parts of the upload; for a resume, how many S3 holds already and need no fetch. */
  readonly parts: number;
  readonly partsInS3?: number;
  fetchedBytes: number;
  error?: string;
}

export interface StageReport {
  readonly model: string;
  readonly revision: string;
  readonly commit: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly s3Uri: string;
  readonly dryRun: boolean;
  /** Every selected file is complete in S3 (false for a dry run that would copy anything). */
  readonly complete: boolean;
  readonly files: FileReport[];
  readonly strayKeys: string[];
  readonly totals: { files: number; bytes: number; toCopyFiles: number; toCopyBytes: number; fetchedBytes: number; failed: number; seconds: number };
  /** What `ModelWeights.fromBucket(bucket, prefix)` takes for this copy. */
  readonly modelWeights: { bucket: string; prefix: string };
}

export interface StageDeps {
  readonly hub: HubClient;
  readonly s3: S3Client;
  readonly store: ResumeStore;
  readonly stderr: ProgressStream;
  readonly now?: () => number;
}

function describe(err: unknown): string {
  if (err instanceof ChecksumMismatch || err instanceof HubError) return err.message;
  const e = err as Error;
  if (e?.name === 'NoSuchUpload') return 'its multipart upload is gone (aborted by a lifecycle rule or by hand?); the next run starts it over';
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
}

export async function stageModel(options: StageOptions & { readonly target: S3Target }, deps: StageDeps): Promise<StageReport> {
  const { target } = options;
  const now = deps.now ?? Date.now;
  const started = now();
  let plan;
  try {
    plan = await planStage(options, deps.hub, deps.s3, deps.store);
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (err instanceof HubError) throw new InputError(`stage-model: ${err.message}`);
    const e = err as Error;
    throw (
      s3Problem(err, target, `s3:ListBucket on arn:aws:s3:::${target.bucket}`) ??
      new InputError(`stage-model: ${s3Uri(target)}: ${e.name}: ${e.message}`)
    );
  }
  const reports = new Map<FilePlan, FileReport>();
  for (const p of plan.files) {
    const partsInS3 = p.resume ? trustedParts(p.resume).count : undefined;
    reports.set(p, {
      path: p.file.path,
      key: p.key,
      size: p.file.size,
      ...(p.file.sha256 ? { sha256: p.file.sha256 } : {}),
      action: p.action,
      parts: p.partCount,
      ...(partsInS3 !== undefined ? { partsInS3 } : {}),
      fetchedBytes: 0,
    });
  }
  const work = plan.files.filter((p) => p.action !== 'skip');
  const toCopyBytes = work.reduce((n, p) => n + p.file.size - (reports.get(p)?.partsInS3 ?? 0) * p.partSize, 0);
  const progress = new Progress(deps.stderr, plan.files.length, toCopyBytes, now);
  for (const u of plan.foreignUploads) {
    progress.note(
      `an unfinished upload of ${u.key} (${u.uploadId.slice(0, 12)}…) was not started from this machine: left alone; ` +
        `to delete it: aws s3api abort-multipart-upload --bucket ${target.bucket} --key ${u.key} --upload-id ${u.uploadId}`,
    );
  }
  if (plan.strayKeys.length > 0) {
    progress.note(
      `${plan.strayKeys.length} object(s) under ${s3Uri(target)} are no file of ${options.model} at this commit, and instances ` +
        `would copy them too: ${plan.strayKeys.slice(0, 5).join(', ')}${plan.strayKeys.length > 5 ? ', …' : ''}`,
    );
  }

  let fatal: InputError | undefined;
  if (!options.dryRun) {
    for (const p of plan.files.filter((f) => f.action === 'skip')) {
      const r = reports.get(p) as FileReport;
      r.result = 'skipped';
      progress.file(`skipped ${p.file.path} (${formatBytes(p.file.size)}, already in S3)`);
    }
    const slots = new Slots(options.concurrency);
    await inPool(work, options.concurrency, async (p) => {
      const r = reports.get(p) as FileReport;
      if (fatal) {
        r.result = 'failed';
        r.error = 'not started: the run stopped';
        return;
      }
      const t0 = now();
      let fetched = 0;
      try {
        const onBytes = (n: number): void => {
          fetched += n;
          progress.add(n);
        };
        const done = await copyFile(
          { model: options.model, commit: plan.commit, target, hub: deps.hub, s3: deps.s3, store: deps.store, slots, onBytes },
          p,
        );
        r.fetchedBytes = fetched;
        r.result = p.action === 'resume' ? 'resumed' : 'copied';
        const how = p.action === 'resume' ? `, ${done.reusedParts} of ${p.partCount} parts were in S3 already` : '';
        progress.file(
          `${r.result} ${p.file.path} (${formatBytes(p.file.size)}${how}; fetched ${formatBytes(fetched)} at ${formatRate(fetched, now() - t0)})`,
        );
      } catch (err) {
        r.fetchedBytes = fetched;
        r.result = 'failed';
        if ((err as Error)?.name === 'NoSuchUpload') deps.store.remove(target.bucket, p.key);
        if (err instanceof InputError) {
          // Said once, by the caller, when the run stops.
          fatal ??= err;
          r.error = err.message;
          return;
        }
        r.error = describe(err);
        progress.file(`FAILED ${p.file.path}: ${r.error}`);
      }
    });
  }
  progress.finish();
  if (fatal) throw fatal;

  const files = [...reports.values()];
  const failed = files.filter((f) => f.result === 'failed').length;
  return {
    model: options.model,
    revision: options.revision,
    commit: plan.commit,
    bucket: target.bucket,
    prefix: target.prefix,
    s3Uri: s3Uri(target),
    dryRun: options.dryRun,
    complete: options.dryRun ? work.length === 0 : failed === 0,
    files,
    strayKeys: plan.strayKeys,
    totals: {
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      toCopyFiles: work.length,
      toCopyBytes,
      fetchedBytes: progress.fetchedBytes,
      failed,
      seconds: Math.round((now() - started) / 100) / 10,
    },
    modelWeights: { bucket: target.bucket, prefix: target.prefix },
  };
}
