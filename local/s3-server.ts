// A real S3-protocol server on loopback (s3rver) for local runs and tests: no AWS account needed.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import S3rver, { type S3rverStore } from 's3rver';
import { createS3Client, type S3ClientOptions } from '../functions/store.ts';

/** s3rver accepts any signature made with these keys. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3Options {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Where objects live on disk; a temp folder (removed on stop) when absent. */
  directory?: string;
  bucket?: string;
}

export interface LocalS3 {
  endpoint: string;
  port: number;
  bucket: string;
  directory: string;
  /** S3 client settings that reach this server. */
  clientOptions: S3ClientOptions;
  /** Stops serving at once (open connections are cut); the data stays on disk. */
  stop(): Promise<void>;
  /** Serves the same folder on the same port again. */
  start(): Promise<void>;
  /** Stops and, for a temp folder, removes the data. */
  close(): Promise<void>;
}

export async function startLocalS3(o: LocalS3Options = {}): Promise<LocalS3> {
  const temporary = o.directory === undefined;
  const directory = o.directory ?? mkdtempSync(join(tmpdir(), 'flagsync-s3-'));
  mkdirSync(directory, { recursive: true });
  const bucket = o.bucket ?? 'flagsync-local';
  let port = o.port ?? 0;
  let server: Server | undefined;

  const start = async () => {
    const s3rver = new S3rver({ directory, silent: true, configureBuckets: [{ name: bucket }] });
    await s3rver.configureBuckets();
    // Our own http server around s3rver's request handler: s3rver.run() leaves listen errors
    // (a busy port) unhandled, which crashes the process instead of rejecting.
    const http = createServer(onePerKey(s3rver.getMiddleware()));
    writeBeforeAnswering(s3rver.store);
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
    port = (http.address() as AddressInfo).port;
    server = http;
  };
  const stop = async () => {
    if (!server) return;
    const s = server;
    server = undefined;
    const closing = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await closing;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    bucket,
    directory,
    clientOptions: { endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS },
    stop,
    start,
    async close() {
      await stop();
      if (temporary) rmSync(directory, { recursive: true, force: true });
    },
  };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * S3 replaces an object atomically; s3rver rewrites its file in place, so a GET racing a PUT of the same key
 * could read half an object. Requests naming the same key are served one at a time here.
 */
function onePerKey(handler: Handler): Handler {
  const busy = new Map<string, Promise<void>>();
  return (req, res) => {
    const key = (req.url ?? '/').split('?')[0]!;
    const before = busy.get(key) ?? Promise.resolve();
    const done = new Promise<void>((resolve) => res.once('close', resolve));
    const mine = before.then(() => done);
    busy.set(key, mine);
    void mine.then(() => busy.get(key) === mine && busy.delete(key));
    void before.then(() => handler(req, res));
  };
}

/** s3rver answers a PUT before the data reaches the disk; this store waits for it. */
function writeBeforeAnswering(store: S3rverStore): void {
  store.putObject = async (object) => {
    const chunks: Buffer[] = [];
    if (Buffer.isBuffer(object.content)) chunks.push(object.content);
    else for await (const chunk of object.content) chunks.push(chunk as Buffer);
    const content = Buffer.concat(chunks);
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    await writeFile(objectPath, content);
    const md5 = createHash('md5').update(content).digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: content.length, md5 };
  };
}

export function localS3Client(s3: LocalS3, maxSockets?: number) {
  return createS3Client({ ...s3.clientOptions, maxSockets });
}
