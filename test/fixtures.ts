// Real servers on loopback for tests: s3rver in a temp folder and the local flag origin.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { startLocalS3, localS3Client, type LocalS3 } from '../local/s3-server.ts';
import { startOrigin, type Origin, type OriginOptions } from '../local/origin.ts';
import { S3Store } from '../functions/store.ts';

export interface World {
  s3: LocalS3;
  client: S3Client;
  store: S3Store;
  origin: Origin;
  close(): Promise<void>;
}

export async function startWorld(originOptions: OriginOptions = {}, prefix = 'flags/'): Promise<World> {
  const [s3, origin] = await Promise.all([startLocalS3(), startOrigin({ seed: 1, ...originOptions })]);
  const client = localS3Client(s3, 1000);
  const store = new S3Store(client, { bucket: s3.bucket, prefix });
  return {
    s3,
    client,
    store,
    origin,
    async close() {
      client.destroy();
      await Promise.all([origin.close(), s3.close()]);
    },
  };
}

export const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

/** Every object under the prefix, read back through the S3 API. */
export async function readAll(w: World, prefix = 'flags/'): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  let token: string | undefined;
  do {
    const page = await w.client.send(new ListObjectsV2Command({ Bucket: w.s3.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const got = await w.client.send(new GetObjectCommand({ Bucket: w.s3.bucket, Key: o.Key }));
      out.set(o.Key!, Buffer.from(await got.Body!.transformToByteArray()));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Asserts-friendly check: every `ok` code is stored byte for byte as the origin serves it. */
export async function mismatches(w: World, okCodes: readonly string[], prefix = 'flags/'): Promise<string[]> {
  const stored = await readAll(w, prefix);
  const bad: string[] = [];
  for (const cc of okCodes) {
    const want = w.origin.flag(cc);
    const got = stored.get(`${prefix}${cc.toLowerCase()}.gif`);
    if (!want || !got || md5(want) !== md5(got)) bad.push(cc);
  }
  return bad;
}
