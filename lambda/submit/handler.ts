/**
 * POST /jobs: parse the proxy event (content type, size, JSON) → JobClient.submit → 202 with the job id and
 * where to poll, or 200 with an upload URL for `payloadUpload`. Every error is `{ error: { code, message } }`.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { errorResponse, ErrorLog, header, jsonResponse } from '../../runtime/http/api-response';
import { JobClient } from '../../runtime/client/job-client';
import { parseJsonBody } from '../../runtime/client/submit-request';

export interface SubmitHandlerDeps {
  readonly client: JobClient;
  readonly log?: ErrorLog;
}

/** Absolute URL of a job's status, from the request's own host and path (works behind custom domains too). */
export function statusUrl(event: Pick<APIGatewayProxyEvent, 'requestContext' | 'path'>, jobId: string): string {
  const host = event.requestContext?.domainName;
  const path = (event.requestContext?.path ?? event.path ?? '/jobs').replace(/\/+$/, '');
  const relative = `${path}/${encodeURIComponent(jobId)}`;
  return host ? `https://${host}${relative}` : relative;
}

export function createSubmitHandler({ client, log }: SubmitHandlerDeps) {
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      const body = parseJsonBody(
        { body: event.body, isBase64Encoded: event.isBase64Encoded, contentType: header(event.headers, 'content-type') },
        client.inlinePayloadMaxBytes,
      );
      const outcome = await client.submit(body);
      if (outcome.kind === 'upload') {
        return jsonResponse(200, {
          uploadId: outcome.uploadId,
          upload: outcome.upload,
          next: 'PUT the input (JSON) to upload.url with upload.headers, then POST /jobs again with "uploadId" instead of "payload"',
        });
      }
      const url = statusUrl(event, outcome.jobId);
      return jsonResponse(
        202,
        { jobId: outcome.jobId, status: outcome.status, statusUrl: url },
        { location: url, ...(outcome.replayed ? { 'idempotent-replayed': 'true' } : {}) },
      );
    } catch (e) {
      return errorResponse(e, event.requestContext?.requestId, log);
    }
  };
}
