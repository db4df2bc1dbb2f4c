// The function's settings, all from its environment (set by the CDK stack, or by the local stack).
import type { Origins } from './request.ts';

export interface Config extends Origins {
  bucket: string;
  prefix: string;
  jobsPrefix: string;
  reportsPrefix: string;
  /** How long an API request may run before it becomes a job (HTTP APIs cut at 30 s). */
  syncBudgetMs: number;
  /** Time kept back before the Lambda's own timeout, to write the job's final state. */
  safetyMarginMs: number;
  /** Largest request body accepted. */
  maxBodyBytes: number;
  /** A local S3-protocol server; absent on AWS. */
  s3Endpoint?: string;
}

export const DEFAULT_ORIGINS = { REMOTE: 'https://www.fluentpython.com/data/flags' };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const bucket = env.FLAGS_BUCKET;
  if (!bucket) throw new ConfigError('FLAGS_BUCKET is not set');
  const origins = parseOrigins(env.FLAGS_ORIGINS);
  const defaultServer = (env.FLAGS_DEFAULT_SERVER ?? Object.keys(origins)[0] ?? 'REMOTE').toUpperCase();
  if (!(defaultServer in origins)) {
    throw new ConfigError(`FLAGS_DEFAULT_SERVER ${defaultServer} is not in FLAGS_ORIGINS (${Object.keys(origins).join(', ')})`);
  }
  return {
    bucket,
    prefix: env.FLAGS_PREFIX ?? 'flags/',
    jobsPrefix: env.FLAGS_JOBS_PREFIX ?? 'jobs/',
    reportsPrefix: env.FLAGS_REPORTS_PREFIX ?? 'reports/',
    origins,
    defaultServer,
    syncBudgetMs: positive(env.FLAGS_SYNC_BUDGET_MS, 25_000, 'FLAGS_SYNC_BUDGET_MS'),
    safetyMarginMs: positive(env.FLAGS_SAFETY_MARGIN_MS, 10_000, 'FLAGS_SAFETY_MARGIN_MS'),
    maxBodyBytes: positive(env.FLAGS_MAX_BODY_BYTES, 64 * 1024, 'FLAGS_MAX_BODY_BYTES'),
    s3Endpoint: env.FLAGS_S3_ENDPOINT || undefined,
  };
}

/** FLAGS_ORIGINS: a JSON object of label → http(s) base URL; labels are matched case-insensitively. */
export function parseOrigins(json: string | undefined): Record<string, string> {
  if (json === undefined || json.trim() === '') return { ...DEFAULT_ORIGINS };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ConfigError('FLAGS_ORIGINS must be a JSON object of label → base URL');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('FLAGS_ORIGINS must be a JSON object of label → base URL');
  }
  const origins: Record<string, string> = {};
  for (const [label, url] of Object.entries(value)) {
    if (typeof url !== 'string' || !/^https?:\/\/[^\s]+$/.test(url)) {
      throw new ConfigError(`FLAGS_ORIGINS.${label} must be an http(s) URL`);
    }
    origins[label.toUpperCase()] = url.replace(/\/+$/, '');
  }
  if (Object.keys(origins).length === 0) throw new ConfigError('FLAGS_ORIGINS names no origin');
  return origins;
}

function positive(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number of milliseconds`);
  return n;
}
