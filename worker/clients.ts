/**
 * Options of the agent's SDK clients. A job holds up to about three requests at once (heartbeat, record
 * write, message call), and a spot notice requeues every in-flight job at the same moment; the SDK's
 * default of 50 sockets per client would queue those on a high-concurrency instance.
 */
export function clientOptions(concurrency: number) {
  const maxSockets = Math.max(50, 3 * concurrency);
  return {
    requestHandler: {
      httpsAgent: { keepAlive: true, maxSockets },
      httpAgent: { keepAlive: true, maxSockets },
    },
  };
}
