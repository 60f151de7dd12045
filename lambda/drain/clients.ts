/**
 * Client options of the drainer's SQS and DynamoDB clients. Up to 1,000 requeues (each an UpdateItem, a
 * SendMessage and a DeleteMessage) run at once; the SDK's default of 50 sockets per client would queue
 * them, so each client may open up to 256. Shared by the Lambda and bench/drain.bench.ts.
 */
export const DRAIN_MAX_SOCKETS = 256;

export const DRAIN_CLIENT_OPTIONS = {
  requestHandler: {
    httpsAgent: { keepAlive: true, maxSockets: DRAIN_MAX_SOCKETS },
    httpAgent: { keepAlive: true, maxSockets: DRAIN_MAX_SOCKETS },
  },
};
