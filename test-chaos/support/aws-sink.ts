/**
 * Where the worker processes' Auto Scaling (scale-in protection) and CloudWatch (metrics) calls go: a local
 * endpoint that accepts everything. Nothing here is checked; it only keeps those calls off the network.
 * Auto Scaling speaks the query protocol (XML), CloudWatch JSON 1.0 (x-amz-target).
 */
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';

const QUERY_OK =
  '<Response xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">' +
  '<ResponseMetadata><RequestId>sink</RequestId></ResponseMetadata></Response>';

export interface AwsSink {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startAwsSink(): Promise<AwsSink> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.headers['x-amz-target']) {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
      } else {
        res.writeHead(200, { 'content-type': 'text/xml' }).end(QUERY_OK);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
