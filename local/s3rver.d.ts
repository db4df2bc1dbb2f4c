// s3rver ships no types: the part of its API this project uses.
declare module 's3rver' {
  import type { Server } from 'node:http';
  interface S3rverOptions {
    address?: string;
    port?: number;
    directory?: string;
    silent?: boolean;
    resetOnClose?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }
  /** The filesystem store's part that local/s3-server.ts replaces (putObject) or calls. */
  export interface S3rverStore {
    putObject(object: {
      bucket: string;
      key: string;
      metadata: Record<string, string>;
      content: Buffer | AsyncIterable<unknown>;
    }): Promise<{ size: number; md5: string }>;
    getResourcePath(bucket: string, key: string, resource: string): string;
    putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  }
  export default class S3rver {
    store: S3rverStore;
    constructor(options?: S3rverOptions);
    run(): Promise<unknown>;
    /** Creates the configured buckets (run() does it before listening). */
    configureBuckets(): Promise<void>;
    /** The request handler, for an http server of one's own. */
    getMiddleware(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
    close(): Promise<void>;
    httpServer?: Server;
  }
}
