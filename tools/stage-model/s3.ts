/** The S3 calls staging makes, paged, and what their set-up failures mean for the person at the terminal. */
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, S3Client } from '@aws-sdk/client-s3';
import { awsSetupProblem } from '../bin/aws-errors';
import { InputError } from '../cost/errors';
import { listPrefix, S3Target, s3Uri } from './target';

export interface S3Part {
  readonly etag: string;
  readonly size: number;
}

export interface PendingUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated?: Date;
}

/** Key → size of every object under the prefix. */
export async function listObjects(s3: S3Client, target: S3Target): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await call(
      () => s3.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: listPrefix(target), ContinuationToken: token })),
      target,
      `s3:ListBucket on arn:aws:s3:::${target.bucket}`,
    );
    for (const o of page.Contents ?? []) if (o.Key) sizes.set(o.Key, o.Size ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return sizes;
}

/** Unfinished multipart uploads under the prefix. */
export async function listUploads(s3: S3Client, target: S3Target): Promise<PendingUpload[]> {
  const uploads: PendingUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await call(
      () =>
        s3.send(
          new ListMultipartUploadsCommand({
            Bucket: target.bucket,
            Prefix: listPrefix(target),
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        ),
      target,
      `s3:ListBucketMultipartUploads on arn:aws:s3:::${target.bucket}`,
    );
    for (const u of page.Uploads ?? []) if (u.Key && u.UploadId) uploads.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
    if (!page.IsTruncated) return uploads;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/** Part number → ETag and size of an upload's parts. */
export async function listParts(s3: S3Client, target: S3Target, key: string, uploadId: string): Promise<Map<number, S3Part>> {
  const parts = new Map<number, S3Part>();
  let marker: string | undefined;
  for (;;) {
    const page = await call(
      () => s3.send(new ListPartsCommand({ Bucket: target.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker })),
      target,
      `s3:ListMultipartUploadParts on arn:aws:s3:::${target.bucket}/${key}`,
    );
    for (const p of page.Parts ?? []) if (p.PartNumber && p.ETag) parts.set(p.PartNumber, { etag: p.ETag, size: p.Size ?? 0 });
    if (!page.IsTruncated) return parts;
    marker = page.NextPartNumberMarker;
  }
}

/** The object's user metadata, or undefined when there is no such object. */
export async function headMetadata(s3: S3Client, target: S3Target, key: string): Promise<Record<string, string> | undefined> {
  try {
    const r = await s3.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key }));
    return r.Metadata ?? {};
  } catch (err) {
    if ((err as Error).name === 'NotFound' || (err as Error).name === 'NoSuchKey') return undefined;
    throw s3Problem(err, target, `s3:GetObject on arn:aws:s3:::${target.bucket}/${key}`) ?? err;
  }
}

/** Runs an S3 call; a set-up failure (no bucket, no region, no credentials, denied) becomes an InputError. */
export async function call<T>(fn: () => Promise<T>, target: S3Target, action: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw s3Problem(err, target, action) ?? err;
  }
}

/** A set-up failure of an S3 call as an InputError saying how to fix it; anything else: undefined. */
export function s3Problem(err: unknown, target: S3Target, action: string): InputError | undefined {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === 'NoSuchBucket') {
    return new InputError(`stage-model: no bucket ${JSON.stringify(target.bucket)} (NoSuchBucket): create it, or check --s3 ${s3Uri(target)}`);
  }
  const denied = e?.name === 'Forbidden' || (e?.$metadata?.httpStatusCode === 403 && !/Token|Signature|AccessKey/.test(e?.name ?? ''));
  const problem = awsSetupProblem(denied ? Object.assign(new Error('denied'), { name: 'AccessDenied' }) : err, action);
  return problem ? new InputError(`stage-model: ${problem}`) : undefined;
}
