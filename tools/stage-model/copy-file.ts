/**
 * Copies one file from the hub to S3. A file up to one part: fetched into memory, checked, one PutObject. A larger
 * LFS file: a multipart upload whose parts are fetched with Range requests (several at once), hashed in order and
 * uploaded; its sha256 is checked against the hub's before CompleteMultipartUpload, and a mismatch aborts the upload.
 * Memory is bounded by the slots (one part each), never by the file.
 */
import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { HubClient, HubFile } from './hub';
import { FilePlan, objectMetadata, trustedParts } from './plan';
import { ResumeStore, UploadState } from './resume-state';
import { call } from './s3';
import { ResumableSha256 } from './sha256';
import { Slots } from './slots';
import { S3Target } from './target';

export class ChecksumMismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChecksumMismatch';
  }
}

export interface CopyContext {
  readonly model: string;
  readonly commit: string;
  readonly target: S3Target;
  readonly hub: HubClient;
  readonly s3: S3Client;
  readonly store: ResumeStore;
  readonly slots: Slots;
  /** Bytes arriving from the hub. */
  readonly onBytes: (n: number) => void;
}

export interface CopyResult {
  /** Bytes fetched from the hub for this file. */
  readonly fetched: number;
  /** Parts already in S3 that were neither fetched nor uploaded again. */
  readonly reusedParts: number;
}

const HASH_SLICE = 4 * 2 ** 20;

function arn(target: S3Target, key: string): string {
  return `arn:aws:s3:::${target.bucket}/${key}`;
}

/** The git blob id of `content`: what the hub's file list gives as `oid` for a file that is not in LFS. */
export function gitBlobOid(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** Content-MD5: S3 checks every part and object it stores against it, so what S3 holds is what was hashed. */
function md5(body: Buffer): string {
  return createHash('md5').update(body).digest('base64');
}

function check(file: HubFile, content: Buffer): void {
  if (file.sha256) {
    const got = createHash('sha256').update(content).digest('hex');
    if (got !== file.sha256) throw new ChecksumMismatch(`${file.path}: sha256 of the fetched bytes is ${got}, the hub lists ${file.sha256}`);
  } else if (/^[0-9a-f]{40}$/.test(file.gitOid)) {
    const got = gitBlobOid(content);
    if (got !== file.gitOid) throw new ChecksumMismatch(`${file.path}: git blob id of the fetched bytes is ${got}, the hub lists ${file.gitOid}`);
  }
}

export async function copyFile(ctx: CopyContext, plan: FilePlan): Promise<CopyResult> {
  return plan.action === 'resume' || plan.partCount > 1 ? copyInParts(ctx, plan) : copyWhole(ctx, plan);
}

async function copyWhole(ctx: CopyContext, plan: FilePlan): Promise<CopyResult> {
  const { file, key } = plan;
  const release = await ctx.slots.acquire();
  try {
    const body = await ctx.hub.read(ctx.commit, file, 0, file.size, ctx.onBytes);
    check(file, body);
    await call(
      () =>
        ctx.s3.send(
          new PutObjectCommand({
            Bucket: ctx.target.bucket,
            Key: key,
            Body: body,
            ContentLength: file.size,
            ContentMD5: md5(body),
            Metadata: objectMetadata(file, ctx.model, ctx.commit),
          }),
        ),
      ctx.target,
      `s3:PutObject on ${arn(ctx.target, key)}`,
    );
    return { fetched: file.size, reusedParts: 0 };
  } finally {
    release();
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function deferred(): Deferred {
  const d = {} as Deferred;
  d.promise = new Promise<void>((resolve, reject) => Object.assign(d, { resolve, reject }));
  d.promise.catch(() => undefined);
  return d;
}

async function copyInParts(ctx: CopyContext, plan: FilePlan): Promise<CopyResult> {
  const { file, key, partSize, partCount } = plan;
  const { target, s3, store } = ctx;
  const sha256 = file.sha256 as string;
  let state: UploadState;
  let first = 1;
  let hasher: ResumableSha256;
  const s3Parts = plan.resume?.parts ?? new Map();
  if (plan.resume) {
    state = plan.resume.state;
    const trusted = trustedParts(plan.resume);
    first = trusted.count + 1;
    hasher = new ResumableSha256(trusted.hashAfter);
  } else {
    const created = await call(
      () => s3.send(new CreateMultipartUploadCommand({ Bucket: target.bucket, Key: key, Metadata: objectMetadata(file, ctx.model, ctx.commit) })),
      target,
      `s3:PutObject on ${arn(target, key)}`,
    );
    state = { version: 1, bucket: target.bucket, key, uploadId: created.UploadId as string, size: file.size, sha256, partSize, parts: {} };
    store.save(state);
    hasher = new ResumableSha256();
  }
  const uploadId = state.uploadId;
  const parts: Record<string, UploadState['parts'][string]> = { ...state.parts };
  const etags = new Map<number, string>();
  for (let n = 1; n < first; n++) etags.set(n, parts[String(n)].etag);

  let fetched = 0;
  let failure: unknown;
  const hashed = new Map<number, Deferred>();
  const before = deferred();
  before.resolve();
  hashed.set(first - 1, before);
  const tasks: Promise<void>[] = [];
  for (let n = first; n <= partCount && failure === undefined; n++) {
    const mine = deferred();
    hashed.set(n, mine);
    const previous = hashed.get(n - 1) as Deferred;
    const release = await ctx.slots.acquire();
    if (failure !== undefined) {
      release();
      break;
    }
    tasks.push(
      (async () => {
        try {
          const start = (n - 1) * partSize;
          const length = Math.min(partSize, file.size - start);
          const body = await ctx.hub.read(ctx.commit, file, start, length, ctx.onBytes);
          fetched += length;
          await previous.promise;
          for (let o = 0; o < body.length; o += HASH_SLICE) {
            hasher.update(body.subarray(o, o + HASH_SLICE));
            // Hashing a part takes a while: let the other transfers' sockets be read meanwhile.
            if (o + HASH_SLICE < body.length) await new Promise((r) => setImmediate(r));
          }
          const hash = hasher.bytes % 64 === 0 && n < partCount ? hasher.save() : undefined;
          mine.resolve();
          // A part this machine uploaded before (but after a gap) is in S3 already: hashed again, not uploaded again.
          const known = s3Parts.get(n);
          let etag = known && parts[String(n)]?.etag === known.etag ? known.etag : undefined;
          if (!etag) {
            const r = await call(
              () =>
                s3.send(
                  new UploadPartCommand({
                    Bucket: target.bucket,
                    Key: key,
                    UploadId: uploadId,
                    PartNumber: n,
                    Body: body,
                    ContentLength: length,
                    ContentMD5: md5(body),
                  }),
                ),
              target,
              `s3:PutObject on ${arn(target, key)}`,
            );
            etag = r.ETag as string;
          }
          etags.set(n, etag);
          parts[String(n)] = { etag, ...(hash ? { hash } : {}) };
          store.save({ ...state, parts });
        } catch (err) {
          failure ??= err;
          mine.reject(err);
        } finally {
          release();
        }
      })(),
    );
  }
  await Promise.all(tasks);
  if (failure !== undefined) throw failure;

  const digest = hasher.digest();
  if (digest !== sha256) {
    let cleanup = 'the partial upload was deleted';
    try {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: key, UploadId: uploadId }));
    } catch (err) {
      cleanup =
        `the partial upload could not be deleted (${(err as Error).name}): aws s3api abort-multipart-upload ` +
        `--bucket ${target.bucket} --key ${key} --upload-id ${uploadId}`;
    }
    store.remove(target.bucket, key);
    throw new ChecksumMismatch(`${file.path}: sha256 of the fetched bytes is ${digest}, the hub lists ${sha256}; ${cleanup}`);
  }
  await call(
    () =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: target.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: Array.from({ length: partCount }, (_, i) => ({ PartNumber: i + 1, ETag: etags.get(i + 1) })) },
        }),
      ),
    target,
    `s3:PutObject on ${arn(target, key)}`,
  );
  store.remove(target.bucket, key);
  return { fetched, reusedParts: first - 1 };
}
