/** Where the model goes: `s3://bucket/prefix`, checked and normalised (no leading or trailing slash on the prefix). */
import { InputError } from '../cost/errors';

export interface S3Target {
  readonly bucket: string;
  /** '' for the bucket's root, else without leading or trailing '/'. */
  readonly prefix: string;
}

/** S3 bucket naming rules (general purpose buckets): 3–63 of a-z 0-9 . -, starting and ending with a letter or digit. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function parseS3Url(text: string): S3Target {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(text);
  if (!m) throw new InputError(`--s3: expected s3://bucket/prefix, got ${JSON.stringify(text)}`);
  const bucket = m[1];
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw new InputError(`--s3: ${JSON.stringify(bucket)} is not a bucket name (3–63 characters: a-z, 0-9, '.', '-')`);
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((s) => s === '' || s === '.' || s === '..') && prefix !== '') {
    throw new InputError(`--s3: the prefix ${JSON.stringify(prefix)} has an empty, "." or ".." segment`);
  }
  return { bucket, prefix };
}

/** The object key of a model file under the target's prefix. */
export function objectKey(target: S3Target, path: string): string {
  return target.prefix ? `${target.prefix}/${path}` : path;
}

/** The prefix as an S3 listing prefix: '' or 'prefix/'. */
export function listPrefix(target: S3Target): string {
  return target.prefix ? `${target.prefix}/` : '';
}

export function s3Uri(target: S3Target): string {
  return `s3://${target.bucket}/${listPrefix(target)}`;
}
