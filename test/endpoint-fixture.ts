// The whole local product behind real HTTP for tests: s3rver + a flag origin (test/fixtures.ts's World),
// the Lambda's handler in a local runtime, and the local endpoint in front of it; plus an undici client,
// job polling, collectors for unhandled rejections, and a TCP-handle count for leak checks. Loopback only.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { S3Store } from '../functions/store.ts';
import { startEndpoint, type LocalEndpoint } from '../local/endpoint.ts';
import type { OriginOptions } from '../local/origin.ts';
import { createLocalRuntime, type LocalRuntime, type LocalRuntimeOptions } from '../local/runtime.ts';
import { startWorld, type World } from './fixtures.ts';

// Response bodies are untyped JSON.
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: Json | undefined;
}

export interface SendOptions {
  body?: string | Buffer;
  headers?: Record<string, string>;
}

/** An HTTP client with its own connection pool (closed with `close()`). */
export class Client {
  readonly #agent = new Agent({ keepAliveTimeout: 2_000, connections: 16 });
  sent = 0;

  constructor(readonly baseUrl: string) {}

  async send(method: string, path: string, o: SendOptions = {}): Promise<Reply> {
    this.sent++;
    const res = await request(`${this.baseUrl}${path}`, {
      dispatcher: this.#agent,
      method: method as 'GET',
      headers: o.headers,
      body: o.body,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    const text = await res.body.text();
    let json: Json | undefined;
    try {
      json = JSON.parse(text) as Json;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, text, json };
  }

  /** POST /downloads with a JSON body. */
  post(body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    return this.send('POST', '/downloads', {
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });
  }

  /**
   * 5xx answers to job polls: `pollJob` records them and polls again, so a test about something else does not
   * fail on them, and a test about polling asserts this stays empty.
   */
  readonly pollFailures: string[] = [];

  /** Polls a job's status URL until it is no longer running. */
  async pollJob(statusUrl: string, timeoutMs = 30_000, intervalMs = 50): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = await this.send('GET', statusUrl);
      if (got.status >= 500) this.pollFailures.push(`GET ${statusUrl} → ${got.status} ${got.text}`);
      else if (got.status !== 200 || got.json === undefined) throw new Error(`GET ${statusUrl} → ${got.status} ${got.text}`);
      else if (got.json.status !== 'running') return got.json;
      if (Date.now() > deadline) throw new Error(`job ${statusUrl} still running after ${timeoutMs} ms`);
      await sleep(intervalMs);
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

export interface Stack {
  w: World;
  local: LocalRuntime;
  endpoint: LocalEndpoint;
  client: Client;
  prefix: string;
  close(): Promise<void>;
}

export interface StackOptions {
  origin?: OriginOptions;
  /** Labels besides LOCAL (the World's origin, the default server). */
  origins?: Record<string, string>;
  runtime?: Partial<Omit<LocalRuntimeOptions, 's3' | 'origins'>>;
}

/** s3rver, one flag origin (label LOCAL), the handler in a local runtime, the endpoint and a client. */
export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const w = await startWorld(o.origin ?? {});
  const prefix = o.runtime?.prefix ?? 'flags/';
  const local = createLocalRuntime({
    s3: w.s3,
    origins: { LOCAL: w.origin.baseUrl, ...o.origins },
    defaultServer: 'LOCAL',
    logLevel: 'SILENT',
    ...o.runtime,
  });
  const endpoint = await startEndpoint(local);
  const client = new Client(endpoint.url);
  return {
    w,
    local,
    endpoint,
    client,
    prefix,
    async close() {
      await local.idle();
      await client.close();
      await endpoint.close();
      (local.runtime.store as S3Store).client.destroy();
      await w.close();
    },
  };
}

/** A loopback HTTP server that counts every connection and request it gets (it must get none). */
export interface Canary {
  port: number;
  host: string;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

export async function startCanary(): Promise<Canary> {
  const state = { connections: 0, requests: [] as string[] };
  const server: Server = createServer((req, res) => {
    state.requests.push(`${req.method} ${req.headers.host ?? ''}${req.url}`);
    res.writeHead(200, { 'content-type': 'image/gif', 'content-length': 6 });
    res.end('GIF89a');
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    host: '127.0.0.1',
    get connections() { return state.connections; },
    get requests() { return state.requests; },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A loopback port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Collects unhandled rejections and uncaught exceptions from the moment it is called. */
export function collectProcessFailures(): { failures: string[]; stop(): void } {
  const failures: string[] = [];
  const onRejection = (reason: unknown) => failures.push(`unhandledRejection: ${explain(reason)}`);
  const onException = (err: unknown) => failures.push(`uncaughtException: ${explain(err)}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    failures,
    stop() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

const explain = (e: unknown) => (e instanceof Error ? e.stack ?? e.message : String(e));

/** Open TCP handles (sockets, listening servers) of this process. */
export function tcpHandles(): { sockets: number; servers: number } {
  const info = process.getActiveResourcesInfo();
  return {
    sockets: info.filter((r) => r === 'TCPSocketWrap' || r === 'TCPWRAP').length,
    servers: info.filter((r) => r === 'TCPServerWrap' || r === 'TCPSERVERWRAP').length,
  };
}

/** Waits until `cond` holds (true) or the time is up (false). */
export async function eventually(cond: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}
