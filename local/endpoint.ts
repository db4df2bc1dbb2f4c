// A local stand-in for API Gateway: each HTTP request becomes an HTTP API v2 event for the same handler
// the Lambda runs, and the handler's result becomes the HTTP response.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toApiEvent } from './apigw-event.ts';
import type { LocalRuntime } from './runtime.ts';

/** API Gateway's own limit on a request body (10 MB); the handler applies its much smaller one. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;

export interface LocalEndpoint {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startEndpoint(local: LocalRuntime, o: { port?: number; host?: string } = {}): Promise<LocalEndpoint> {
  const server = createServer(async (req, res) => {
    const send = (status: number, body: string, headers: Record<string, string | number | boolean> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      // like API Gateway: an oversized payload never reaches the function
      send(413, JSON.stringify({ message: 'Request Entity Too Large' }), { connection: 'close' });
      return;
    }
    try {
      const event = toApiEvent({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, sourceIp: req.socket.remoteAddress });
      const result = (await local.handler(event)) as { statusCode: number; body?: string; headers?: Record<string, string | number | boolean> };
      send(result.statusCode, result.body ?? '', result.headers ?? {});
    } catch (err) {
      // API Gateway answers a function failure with 500 and this body.
      console.error('local endpoint: the handler threw', err);
      send(500, JSON.stringify({ message: 'Internal Server Error' }));
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    port,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 1_000).unref();
      await closed;
    },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > GATEWAY_MAX_BODY) {
        req.removeAllListeners('data');
        req.resume();
        reject(new Error('too large'));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
