/**
 * s3rver takes multipart uploads (Create, UploadPart, Complete) but answers ListMultipartUploads with NotImplemented
 * and ListParts and AbortMultipartUpload with MethodNotAllowed. This keeps a ledger of the multipart calls the real
 * client makes to s3rver (a middleware that only watches) and answers exactly those three calls from it, through
 * aws-sdk-client-mock; every other call goes to s3rver.
 */
import {
  AbortMultipartUploadCommand,
  AbortMultipartUploadCommandInput,
  ListMultipartUploadsCommand,
  ListMultipartUploadsCommandInput,
  ListPartsCommand,
  ListPartsCommandInput,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { AwsClientStub, mockClient } from 'aws-sdk-client-mock';

export interface LedgerUpload {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date;
  readonly parts: Map<number, { etag: string; size: number }>;
  status: 'open' | 'completed' | 'aborted';
}

export interface MultipartLedger {
  readonly uploads: Map<string, LedgerUpload>;
  /** The aws-sdk-client-mock stub (its calls: every command, mocked or passed through). */
  readonly mock: AwsClientStub<S3Client>;
  /** The commands answered by the ledger rather than s3rver, in order. */
  mockedCalls(): string[];
  restore(): void;
}

function noSuchUpload(): S3ServiceException {
  return new S3ServiceException({
    name: 'NoSuchUpload',
    $fault: 'client',
    $metadata: { httpStatusCode: 404 },
    message: 'The specified upload does not exist',
  });
}

export function withMultipartLedger(client: S3Client): MultipartLedger {
  const uploads = new Map<string, LedgerUpload>();
  const mocked: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      const input = args.input as Record<string, unknown>;
      const output = out.output as unknown as Record<string, unknown>;
      switch (context.commandName) {
        case 'CreateMultipartUploadCommand':
          uploads.set(output.UploadId as string, {
            bucket: input.Bucket as string,
            key: input.Key as string,
            uploadId: output.UploadId as string,
            initiated: new Date(),
            parts: new Map(),
            status: 'open',
          });
          break;
        case 'UploadPartCommand':
          uploads
            .get(input.UploadId as string)
            ?.parts.set(input.PartNumber as number, { etag: output.ETag as string, size: input.ContentLength as number });
          break;
        case 'CompleteMultipartUploadCommand': {
          const u = uploads.get(input.UploadId as string);
          if (u) u.status = 'completed';
          break;
        }
      }
      return out;
    },
    { step: 'initialize', name: 'multipartLedger' },
  );
  const mock = mockClient(client);
  mock.send.callThrough();
  mock.on(ListMultipartUploadsCommand).callsFake((input: ListMultipartUploadsCommandInput) => {
    mocked.push('ListMultipartUploads');
    const open = [...uploads.values()].filter((u) => u.status === 'open' && u.bucket === input.Bucket && u.key.startsWith(input.Prefix ?? ''));
    return { Uploads: open.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiated: u.initiated })), IsTruncated: false };
  });
  mock.on(ListPartsCommand).callsFake((input: ListPartsCommandInput) => {
    mocked.push('ListParts');
    const u = uploads.get(input.UploadId as string);
    if (!u || u.status !== 'open' || u.key !== input.Key) throw noSuchUpload();
    const parts = [...u.parts.entries()].sort(([a], [b]) => a - b).map(([n, p]) => ({ PartNumber: n, ETag: p.etag, Size: p.size }));
    return { Parts: parts, IsTruncated: false };
  });
  mock.on(AbortMultipartUploadCommand).callsFake((input: AbortMultipartUploadCommandInput) => {
    mocked.push('AbortMultipartUpload');
    const u = uploads.get(input.UploadId as string);
    if (!u || u.status !== 'open') throw noSuchUpload();
    u.status = 'aborted';
    return {};
  });
  return {
    uploads,
    mock,
    mockedCalls: () => [...mocked],
    restore: () => {
      mock.restore();
      client.middlewareStack.remove('multipartLedger');
    },
  };
}
