/** Job inputs read from S3 (`payloadRef`) and results written inline or to S3 (`resultKey`). */
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { resultKey } from '../lib/contracts';
import { JobError } from './errors';

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new JobError(`not an s3://bucket/key URI: ${uri}`, true);
  return { bucket: match[1], key: match[2] };
}

/** The JSON input at `uri`; a missing object or a body that is not JSON is permanent (retrying cannot help). */
export async function readPayload(s3: S3Client, uri: string, signal?: AbortSignal): Promise<unknown> {
  const { bucket, key } = parseS3Uri(uri);
  let text: string;
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    text = (await r.Body?.transformToString('utf-8')) ?? '';
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (e instanceof NoSuchKey || (e as Error).name === 'NoSuchKey' || status === 404) throw new JobError(`payload missing: ${uri}`, true);
    if (status === 403) throw new JobError(`payload not readable (access denied): ${uri}`, true);
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new JobError(`payload at ${uri} is not JSON`, true);
  }
}

export interface StoredResult {
  /** The result itself when it fits the record. */
  readonly result?: unknown;
  /** `s3://bucket/key` when it did not. */
  readonly resultRef?: string;
  readonly bytes: number;
}

/**
 * Inline when the JSON is at most `inlineMaxBytes`, else one object at `resultKey(jobId, runId)`: each run has
 * its own key, so a run that loses the job can never overwrite the object the winner's record names.
 */
export async function storeResult(
  s3: S3Client,
  bucket: string,
  jobId: string,
  runId: string,
  output: unknown,
  inlineMaxBytes: number,
): Promise<StoredResult> {
  const json = JSON.stringify(output ?? null);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes <= inlineMaxBytes) return { result: output ?? null, bytes };
  const key = resultKey(jobId, runId);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: json, ContentType: 'application/json' }));
  return { resultRef: `s3://${bucket}/${key}`, bytes };
}

/**
 * Delete the object of a run that lost the job (its record names another run's result). Best effort: what a
 * crash leaves behind expires with the bucket's retention rule.
 */
export async function deleteResult(s3: S3Client, resultRef: string): Promise<void> {
  const { bucket, key } = parseS3Uri(resultRef);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}
