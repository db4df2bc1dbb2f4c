// Fetching one flag from an origin: one undici pool per origin, per-request timeouts, retries for transient
// failures only, and every outcome reduced to ok / not_modified / not_found / error with a short reason.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from './undici-pool.ts';
import { DEFAULT_RETRY, fullJitterMs, parseRetryAfter, type RetryPolicy } from './backoff.ts';

export interface Timeouts {
  connectMs: number;
  /** From the request sent to the response headers. */
  headersMs: number;
  /** The longest silence allowed between two chunks of the body. */
  bodyMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 5_000, headersMs: 10_000, bodyMs: 10_000 };

/** What the last stored copy was fetched with, sent back so an unchanged flag is answered 304. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

export type FetchOutcome =
  | { status: 'ok'; url: string; body: Buffer; etag?: string; lastModified?: string; attempts: number }
  | { status: 'not_modified'; url: string; attempts: number }
  | { status: 'not_found'; url: string; attempts: number }
  | { status: 'error'; url: string; reason: string; attempts: number };

/** Anything that yields flags: the real origin below, or whatever a test wants. */
export interface FlagSource {
  fetchFlag(cc: string, validators?: Validators, signal?: AbortSignal): Promise<FetchOutcome>;
  close(): Promise<void>;
}

export interface OriginOptions {
  /** Connections the pool may open: size it to the concurrency so maxReq is really honoured. */
  connections: number;
  timeouts?: Partial<Timeouts>;
  retry?: Partial<RetryPolicy>;
  /** Larger bodies are refused (no flag is near this). */
  maxBodyBytes?: number;
  random?: () => number;
}

/** A failed attempt: `transient` ones are tried again. */
class AttemptError extends Error {
  constructor(reason: string, readonly transient: boolean, readonly retryAfterMs?: number) {
    super(reason);
  }
}

export function flagUrl(baseUrl: string, cc: string): URL {
  const lower = cc.toLowerCase();
  return new URL(`${baseUrl.replace(/\/+$/, '')}/${lower}/${lower}.gif`);
}

export class HttpFlagOrigin implements FlagSource {
  readonly #pool: Pool;
  readonly #base: string;
  readonly #timeouts: Timeouts;
  readonly #retry: RetryPolicy;
  readonly #maxBody: number;
  readonly #random: () => number;

  constructor(baseUrl: string, options: OriginOptions) {
    const base = new URL(baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`origin must be http(s): ${baseUrl}`);
    this.#base = base.href;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#maxBody = options.maxBodyBytes ?? 5 * 1024 * 1024;
    this.#random = options.random ?? Math.random;
    this.#pool = new Pool(base.origin, {
      connections: Math.max(1, options.connections),
      pipelining: 1,
      connectTimeout: this.#timeouts.connectMs,
      headersTimeout: this.#timeouts.headersMs,
      bodyTimeout: this.#timeouts.bodyMs,
      keepAliveTimeout: 30_000,
    });
  }

  async fetchFlag(cc: string, validators: Validators = {}, signal?: AbortSignal): Promise<FetchOutcome> {
    const url = flagUrl(this.#base, cc);
    const policy = this.#retry;
    let last = 'not attempted';
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      if (signal?.aborted) return { status: 'error', url: url.href, reason: deadlineReason(last, attempt - 1), attempts: attempt - 1 };
      try {
        const got = await this.#attempt(url, validators, signal);
        return { ...got, url: url.href, attempts: attempt } as FetchOutcome;
      } catch (err) {
        if (signal?.aborted) {
          return { status: 'error', url: url.href, reason: deadlineReason(last, attempt), attempts: attempt };
        }
        const failure = err instanceof AttemptError ? err : classify(err, this.#timeouts);
        last = failure.message;
        if (!failure.transient) {
          return { status: 'error', url: url.href, reason: withAttempts(last, attempt), attempts: attempt };
        }
        if (attempt === policy.attempts) break;
        let wait = fullJitterMs(attempt, policy, this.#random);
        if (failure.retryAfterMs !== undefined) {
          if (failure.retryAfterMs > policy.maxRetryAfterMs) {
            last = `${last} (Retry-After ${Math.round(failure.retryAfterMs / 1000)} s is too long to wait)`;
            return { status: 'error', url: url.href, reason: withAttempts(last, attempt), attempts: attempt };
          }
          wait = failure.retryAfterMs;
        }
        try {
          await sleep(wait, undefined, { signal });
        } catch {
          return { status: 'error', url: url.href, reason: deadlineReason(last, attempt), attempts: attempt };
        }
      }
    }
    return { status: 'error', url: url.href, reason: withAttempts(last, policy.attempts), attempts: policy.attempts };
  }

  async #attempt(url: URL, validators: Validators, signal?: AbortSignal) {
    const headers: Record<string, string> = { 'user-agent': 'flagsync', accept: 'image/gif' };
    if (validators.etag) headers['if-none-match'] = validators.etag;
    if (validators.lastModified) headers['if-modified-since'] = validators.lastModified;
    const res = await this.#pool.request({ method: 'GET', path: url.pathname + url.search, headers, signal });
    const { statusCode } = res;
    if (statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      if (statusCode === 304) return { status: 'not_modified' as const };
      if (statusCode === 404) return { status: 'not_found' as const };
      const transient = statusCode >= 500 || statusCode === 429 || statusCode === 408;
      const hint = statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : '';
      throw new AttemptError(`HTTP ${statusCode}${hint}`, transient, parseRetryAfter(res.headers['retry-after']));
    }
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (declared > this.#maxBody) {
      await res.body.dump().catch(() => undefined);
      throw new AttemptError(`too large: ${declared} bytes`, false);
    }
    const chunks: Buffer[] = [];
    let received = 0;
    try {
      for await (const chunk of res.body) {
        received += chunk.length;
        if (received > this.#maxBody) throw new AttemptError(`too large: over ${this.#maxBody} bytes`, false);
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof AttemptError) throw err;
      if (Number.isFinite(declared) && received < declared && !signal?.aborted) {
        throw new AttemptError(`truncated: ${received} of ${declared} bytes`, true);
      }
      throw err;
    }
    if (Number.isFinite(declared) && received !== declared) {
      throw new AttemptError(`truncated: ${received} of ${declared} bytes`, true);
    }
    const one = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h);
    return {
      status: 'ok' as const,
      body: Buffer.concat(chunks, received),
      etag: one(res.headers['etag']),
      lastModified: one(res.headers['last-modified']),
    };
  }

  /**
   * Closes idle keep-alive sockets gracefully. destroy() would fail each socket with an error whose stack
   * Node reads, and under --enable-source-maps that first read decodes the whole source map (~70 ms, ~17 MB).
   * Only a request still hanging after a second is destroyed.
   */
  async close(): Promise<void> {
    const closing = this.#pool.close();
    const timer = setTimeout(() => void this.#pool.destroy().catch(() => undefined), 1_000);
    try {
      await closing;
    } finally {
      clearTimeout(timer);
    }
  }
}

function withAttempts(reason: string, attempts: number): string {
  return attempts > 1 ? `${reason} (after ${attempts} attempts)` : reason;
}

/** `last` is the previous attempt's failure, if any ('not attempted' when this was the first). */
function deadlineReason(last: string, attempts: number): string {
  if (attempts === 0) return 'deadline reached before the download started';
  if (attempts === 1 || last === 'not attempted') return 'deadline reached while waiting for the origin';
  return `deadline reached while retrying (last: ${last})`;
}

const seconds = (ms: number) => `${+(ms / 1000).toFixed(1)} s`;

/** Turns a thrown network error into a short reason, and says whether trying again may help. */
function classify(err: unknown, t: Timeouts): AttemptError {
  const code = (err as { code?: string } | null)?.code ?? '';
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new AttemptError(`connect timeout after ${seconds(t.connectMs)}`, true);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new AttemptError(`timeout after ${seconds(t.headersMs)} waiting for headers`, true);
    case 'UND_ERR_BODY_TIMEOUT':
      return new AttemptError(`timeout after ${seconds(t.bodyMs)} of silence in the body`, true);
    case 'ECONNREFUSED':
      return new AttemptError('connection refused', true);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return new AttemptError('connection reset', true);
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return new AttemptError('truncated: body shorter than Content-Length', true);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new AttemptError(`DNS lookup failed (${code})`, code === 'EAI_AGAIN');
    case 'ETIMEDOUT':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return new AttemptError(`network unreachable (${code})`, true);
    default:
      return new AttemptError(`request failed: ${code || message}`.slice(0, 200), true);
  }
}
