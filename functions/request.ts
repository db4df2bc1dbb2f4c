// What a client may ask for: the flags2 options as JSON, validated into a request the core can run.
import * as z from 'zod/mini';
import { DEFAULT_MAX_REQ, MAX_CONCUR_REQ, SelectionError, concurrencyFor, selectCodes } from './codes.ts';

/** A problem with what the client sent: it becomes a 4xx with this message, never a 5xx. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(message: string, readonly statusCode = 400) {
    super(message);
  }
}

const flag = (name: string) => z.optional(z.boolean({ error: `${name} must be true or false` }));
const whole = (name: string, min: number, max: number) => {
  const error = `${name} must be a whole number from ${min} to ${max}`;
  return z.optional(z.int({ error }).check(z.minimum(min, { error }), z.maximum(max, { error })));
};

export const MAX_CC_ARGS = 1000;

const DownloadBody = z.strictObject(
  {
    cc: z.optional(
      z
        .array(z.string({ error: 'each cc must be a string: A to Z or AA to ZZ' }), {
          error: 'cc must be an array of codes, e.g. ["br", "us"] or ["b"]',
        })
        .check(z.maxLength(MAX_CC_ARGS, { error: `cc may hold at most ${MAX_CC_ARGS} codes` })),
    ),
    all: flag('all'),
    every: flag('every'),
    limit: whole('limit', 1, 1_000_000),
    maxReq: whole('maxReq', 1, MAX_CONCUR_REQ),
    server: z.optional(
      z
        .string({ error: 'server must be a string naming a configured server' })
        .check(z.maxLength(64, { error: 'server must be a configured label (at most 64 characters)' })),
    ),
    verbose: flag('verbose'),
    dryRun: flag('dryRun'),
    async: flag('async'),
  },
  { error: 'the body must be a JSON object' },
);

export type DownloadBody = z.infer<typeof DownloadBody>;

/** A request made concrete: the codes, the concurrency, and the origin it names. */
export interface DownloadRequest {
  codes: string[];
  maxReq: number;
  concurrency: number;
  server: string;
  baseUrl: string;
  verbose: boolean;
  dryRun: boolean;
  async: boolean;
}

export interface Origins {
  /** Label (upper case) → base URL. */
  origins: Record<string, string>;
  defaultServer: string;
}

const FIELDS = Object.keys(DownloadBody.shape).join(', ');

/** Validates a parsed JSON body (or a schedule's payload) against the configured origins. */
export function parseDownloadRequest(input: unknown, o: Origins): DownloadRequest {
  const parsed = DownloadBody.safeParse(input === undefined ? {} : input);
  if (!parsed.success) throw new RequestError(describeIssues(parsed.error.issues));
  const body = parsed.data;
  const label = (body.server ?? o.defaultServer).toUpperCase();
  const baseUrl = o.origins[label];
  if (baseUrl === undefined) {
    throw new RequestError(
      `unknown server ${JSON.stringify(truncate(body.server ?? ''))}: use one of ${Object.keys(o.origins).join(', ')}`,
    );
  }
  try {
    const codes = selectCodes(body);
    const maxReq = body.maxReq ?? DEFAULT_MAX_REQ;
    return {
      codes,
      maxReq,
      concurrency: concurrencyFor(maxReq, codes.length),
      server: label,
      baseUrl,
      verbose: body.verbose ?? false,
      dryRun: body.dryRun ?? false,
      async: body.async ?? false,
    };
  } catch (err) {
    if (err instanceof SelectionError) throw new RequestError(err.message);
    throw err;
  }
}

/** Parses a raw HTTP body: size, encoding and JSON problems are the client's. */
export function parseJsonBody(raw: string | undefined, isBase64: boolean, maxBytes: number): unknown {
  if (raw === undefined || raw === '') return {};
  const text = isBase64 ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const size = Buffer.byteLength(text);
  if (size > maxBytes) throw new RequestError(`the body is too large: ${size} bytes, at most ${maxBytes}`, 413);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RequestError(`the body must be JSON: ${(err as Error).message.slice(0, 120)}`);
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const parts = issues.slice(0, 3).map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => JSON.stringify(truncate(k))).join(', ');
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}: allowed are ${FIELDS}`;
    }
    const where = issue.path.length > 1 ? ` (at ${issue.path.join('.')})` : '';
    return issue.message + where;
  });
  return parts.join('; ');
}

function truncate(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
