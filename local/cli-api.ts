// The CLI's HTTP client for the flagsync API (local endpoint or deployed): POST /downloads, then, for a job,
// GET /downloads/{jobId} every ~200 ms until it is done. undici with its own Agent, closed at the end.
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { RunBody } from '../functions/service.ts';
import type { SignRequest } from './cli-sigv4.ts';

/** The 200 body of POST /downloads, or a finished job's view (which adds jobId, status, progress...). */
export type FinalBody = RunBody & { jobId?: string; status?: string; progress?: { done: number; total: number } };

export interface Accepted202 {
  jobId: string;
  status: 'running';
  statusUrl: string;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** The API answered with something other than success: `status` 0 means no answer (transport failure). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export const POLL_INTERVAL_MS = 200;
/** Statuses worth asking again for while polling (throttling, gateway hiccups). */
const TRANSIENT = new Set([429, 500, 502, 503, 504]);

export class ApiClient {
  readonly #base: URL;
  readonly #sign: SignRequest | undefined;
  readonly #agent = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: 10_000 } });

  constructor(base: URL, sign?: SignRequest) {
    this.#base = base;
    this.#sign = sign;
  }

  /** `path` is relative to the API's root, e.g. `/downloads` (a base URL with a stage path keeps it). */
  url(path: string): URL {
    const url = new URL(this.#base.href);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    return url;
  }

  async send(method: 'GET' | 'POST', path: string, json?: unknown): Promise<ApiResponse> {
    const url = this.url(path);
    const body = json === undefined ? undefined : JSON.stringify(json);
    let headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#sign) headers = await this.#sign({ method, url, headers, body });
    let res;
    try {
      res = await request(url, { method, headers, body, dispatcher: this.#agent });
    } catch (err) {
      const e = err as Error & { code?: string };
      throw new ApiError(`${method} ${url.href} failed: ${e.code ? `${e.code} ` : ''}${e.message}`, 0);
    }
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      /* not JSON (a proxy's HTML page...): kept as text for the message */
    }
    return { status: res.statusCode, body: parsed };
  }

  /** Starts a download: a finished body (200) or a job (202). Any other answer throws ApiError. */
  async startDownload(body: object): Promise<{ done: FinalBody } | { job: Accepted202 }> {
    const res = await this.send('POST', '/downloads', body);
    if (res.status === 200) return { done: res.body as FinalBody };
    if (res.status === 202) return { job: res.body as Accepted202 };
    throw new ApiError(describeFailure('POST /downloads', res), res.status);
  }

  /** Polls a job until it is no longer running; `onProgress` gets each progress seen. */
  async waitForJob(
    statusUrl: string,
    onProgress: (p: { done: number; total: number }) => void,
    signal?: AbortSignal,
  ): Promise<FinalBody> {
    let failures = 0;
    for (;;) {
      signal?.throwIfAborted();
      const res = await this.send('GET', statusUrl);
      if (res.status === 200) {
        failures = 0;
        const view = res.body as FinalBody & { error?: string };
        if (view.progress) onProgress(view.progress);
        if (view.status === 'done') return view;
        if (view.status === 'failed') throw new ApiError(`job ${view.jobId ?? ''} failed: ${view.error ?? 'no reason given'}`, 200);
      } else if (TRANSIENT.has(res.status) && ++failures <= 5) {
        await sleep(POLL_INTERVAL_MS * 2 ** failures, undefined, { signal });
        continue;
      } else {
        throw new ApiError(describeFailure(`GET ${statusUrl}`, res), res.status);
      }
      await sleep(POLL_INTERVAL_MS, undefined, { signal });
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

/** `POST /downloads → 403 Forbidden: message` from the `{error}` (flagsync) or `{message}` (API Gateway) body. */
export function describeFailure(what: string, res: ApiResponse): string {
  const b = res.body as { error?: unknown; message?: unknown } | string | undefined;
  const detail =
    typeof b === 'string' ? b.trim().slice(0, 200) : typeof b?.error === 'string' ? b.error : typeof b?.message === 'string' ? b.message : '';
  return `${what} → ${res.status}${detail ? `: ${detail}` : ''}`;
}
