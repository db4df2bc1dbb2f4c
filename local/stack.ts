// The whole product on this machine: s3rver with data on disk, the LOCAL / DELAY / ERROR flag origins,
// and the local endpoint in front of the Lambda's handler. Used by `npm start`, `npm run serve` and tests.
import { join } from 'node:path';
import { parseOrigins } from '../functions/config.ts';
import { startEndpoint, type LocalEndpoint } from './endpoint.ts';
import { startOrigin, type Origin } from './origin.ts';
import { createLocalRuntime, type LocalRuntime } from './runtime.ts';
import { startLocalS3, type LocalS3 } from './s3-server.ts';

export interface LocalStackOptions {
  /** s3rver's folder (default `.flagsync/` in the project, or FLAGS_DATA_DIR). */
  dataDir?: string;
  s3Port?: number;
  endpointPort?: number;
  /** Extra or replacing origins, label → base URL (FLAGS_ORIGINS). */
  origins?: Record<string, string>;
  defaultServer?: string;
  syncBudgetMs?: number;
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL' | 'SILENT';
}

export interface LocalStack {
  s3: LocalS3;
  origins: Record<string, string>;
  originServers: Record<string, Origin>;
  local: LocalRuntime;
  endpoint: LocalEndpoint;
  close(): Promise<void>;
}

const ROOT = new URL('..', import.meta.url).pathname;

/** Reads the local stack's settings from the environment, as `npm start` and `npm run serve` do. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): LocalStackOptions {
  const port = (name: string) => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number (0 picks a free one): got ${v}`);
    return n;
  };
  return {
    dataDir: env.FLAGS_DATA_DIR || undefined,
    s3Port: port('FLAGS_S3_PORT'),
    endpointPort: port('PORT'),
    origins: env.FLAGS_ORIGINS ? parseOrigins(env.FLAGS_ORIGINS) : undefined,
  };
}

export async function startLocalStack(o: LocalStackOptions = {}): Promise<LocalStack> {
  const started: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
  };
  try {
    const s3 = await startLocalS3({ directory: o.dataDir ?? join(ROOT, '.flagsync'), port: o.s3Port ?? 4569 });
    started.push(s3);
    const originServers: Record<string, Origin> = {
      LOCAL: await startOrigin(),
      DELAY: await startOrigin({ delayMs: 500 }),
      ERROR: await startOrigin({ delayMs: 500, errorRate: 0.25, retryAfterRate: 0.2, retryAfterSeconds: 1 }),
    };
    started.push(...Object.values(originServers));
    const origins: Record<string, string> = {
      ...Object.fromEntries(Object.entries(originServers).map(([label, s]) => [label, s.baseUrl])),
      ...o.origins,
    };
    const defaultServer = (o.defaultServer ?? 'LOCAL').toUpperCase();
    const local = createLocalRuntime({ s3, origins, defaultServer, syncBudgetMs: o.syncBudgetMs, logLevel: o.logLevel ?? 'SILENT' });
    started.push({ close: () => local.idle() });
    const endpoint = await startEndpoint(local, { port: o.endpointPort ?? 3000 });
    started.push(endpoint);
    return { s3, origins, originServers, local, endpoint, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
