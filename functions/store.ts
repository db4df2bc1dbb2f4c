// Where flags, job states and reports are kept: a small store interface and its S3 adapter.
import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';

/** What a stored flag was fetched with, so the next sync can ask the origin "changed since?". */
export interface FetchRecord {
  md5: string;
  etag?: string;
  lastModified?: string;
}

export interface FlagMeta {
  sourceUrl: string;
  etag?: string;
  lastModified?: string;
}

export interface FlagStore {
  /** Stored flags by lower-case code, with the MD5 of each (S3's ETag for a single-part PUT). */
  listFlags(signal?: AbortSignal): Promise<Map<string, string>>;
  /** Resolves only once the store acknowledged the write. */
  putFlag(cc: string, body: Buffer, md5: string, meta: FlagMeta, signal?: AbortSignal): Promise<void>;
  readSources(signal?: AbortSignal): Promise<Record<string, FetchRecord>>;
  writeSources(sources: Record<string, FetchRecord>): Promise<void>;
}

export interface DocumentStore {
  getJson<T>(key: string, signal?: AbortSignal): Promise<T | undefined>;
  putJson(key: string, value: unknown): Promise<void>;
}

export const md5Hex = (body: Buffer) => createHash('md5').update(body).digest('hex');

export interface S3Location {
  bucket: string;
  /** Key prefix of the flags, e.g. `flags/`. */
  prefix: string;
}

export interface S3ClientOptions {
  region?: string;
  /** A local S3-protocol server, e.g. http://127.0.0.1:4569; absent on AWS. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Sockets kept alive for PUTs: size to the download concurrency. */
  maxSockets?: number;
}

export function createS3Client(o: S3ClientOptions = {}): S3Client {
  const config: S3ClientConfig = {
    region: o.region ?? process.env.AWS_REGION ?? 'us-east-1',
    // Checksums only where S3 requires them: we send Content-MD5 ourselves, and s3rver stores
    // aws-chunked bodies (what the default calculation streams) corrupted.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: 5_000,
      requestTimeout: 30_000,
      httpAgent: { keepAlive: true, maxSockets: o.maxSockets ?? 50 },
      httpsAgent: { keepAlive: true, maxSockets: o.maxSockets ?? 50 },
    },
  };
  if (o.endpoint) {
    config.endpoint = o.endpoint;
    config.forcePathStyle = true;
  }
  if (o.credentials) config.credentials = o.credentials;
  return new S3Client(config);
}

const FLAG_KEY = /^([a-z]{2})\.gif$/;

export class S3Store implements FlagStore, DocumentStore {
  readonly #sourcesKey: string;

  constructor(readonly client: S3Client, readonly location: S3Location) {
    this.#sourcesKey = `${location.prefix}.sources.json`;
  }

  flagKey(cc: string): string {
    return `${this.location.prefix}${cc.toLowerCase()}.gif`;
  }

  async listFlags(signal?: AbortSignal): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: this.location.prefix, ContinuationToken: token }),
        { abortSignal: signal },
      );
      for (const o of page.Contents ?? []) {
        const m = FLAG_KEY.exec((o.Key ?? '').slice(this.location.prefix.length));
        if (m?.[1] && o.ETag) found.set(m[1], o.ETag.replaceAll('"', ''));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  async putFlag(cc: string, body: Buffer, md5: string, meta: FlagMeta, signal?: AbortSignal): Promise<void> {
    const metadata: Record<string, string> = { 'source-url': meta.sourceUrl };
    if (meta.etag) metadata['source-etag'] = headerSafe(meta.etag);
    if (meta.lastModified) metadata['source-last-modified'] = headerSafe(meta.lastModified);
    const res = await this.client.send(
      new PutObjectCommand({
        Bucket: this.location.bucket,
        Key: this.flagKey(cc),
        Body: body,
        ContentType: 'image/gif',
        ContentMD5: Buffer.from(md5, 'hex').toString('base64'),
        Metadata: metadata,
      }),
      { abortSignal: signal },
    );
    // S3 checks Content-MD5 on arrival; its ETag (the stored object's MD5 for a single-part PUT) is
    // checked here too, so a store that skips the first check still cannot make a corrupt copy count as ok.
    const etag = res.ETag?.replaceAll('"', '');
    if (etag !== md5) throw new Error(`stored object's ETag ${etag ?? '(none)'} is not the body's MD5 ${md5}`);
  }

  async readSources(signal?: AbortSignal): Promise<Record<string, FetchRecord>> {
    return (await this.getJson<Record<string, FetchRecord>>(this.#sourcesKey, signal)) ?? {};
  }

  writeSources(sources: Record<string, FetchRecord>): Promise<void> {
    return this.putJson(this.#sourcesKey, sources);
  }

  async getJson<T>(key: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key }), {
        abortSignal: signal,
      });
      return JSON.parse((await res.Body?.transformToString()) ?? 'null') as T;
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  async putJson(key: string, value: unknown): Promise<void> {
    const body = Buffer.from(JSON.stringify(value));
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.location.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/json',
        ContentMD5: createHash('md5').update(body).digest('base64'),
      }),
    );
  }
}

/** S3 user metadata travels as HTTP headers: keep it to printable ASCII. */
function headerSafe(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '?').slice(0, 256);
}
