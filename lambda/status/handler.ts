/**
 * GET /jobs/{id}, GET /jobs/{id}/result, DELETE /jobs/{id}: route on the API Gateway resource → JobClient.
 * Every error is `{ error: { code, message } }`.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ApiErrorCodes } from '../../lib/contracts';
import { ApiError } from '../../runtime/http/api-error';
import { errorResponse, ErrorLog, jsonResponse } from '../../runtime/http/api-response';
import { JobClient } from '../../runtime/client/job-client';

export interface StatusHandlerDeps {
  readonly client: JobClient;
  readonly log?: ErrorLog;
}

/** The API Gateway resources this handler serves (the construct creates exactly these). */
export const STATUS_ROUTES = {
  STATUS: 'GET /jobs/{id}',
  RESULT: 'GET /jobs/{id}/result',
  CANCEL: 'DELETE /jobs/{id}',
} as const;

export function createStatusHandler({ client, log }: StatusHandlerDeps) {
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      const id = event.pathParameters?.id;
      switch (`${event.httpMethod} ${event.resource}`) {
        case STATUS_ROUTES.STATUS:
          return jsonResponse(200, await client.status(id as string));
        case STATUS_ROUTES.RESULT:
          return jsonResponse(200, await client.result(id as string));
        case STATUS_ROUTES.CANCEL:
          return jsonResponse(200, await client.cancel(id as string));
        default:
          throw new ApiError(ApiErrorCodes.ROUTE_NOT_FOUND, `${event.httpMethod} ${event.path} is not a route of this API`);
      }
    } catch (e) {
      return errorResponse(e, event.requestContext?.requestId, log);
    }
  };
}
