// A local imitation of https://www.fluentpython.com/data/flags (dev/test tool, never shipped in the Lambda):
// a real node:http server on loopback with seeded, switchable faults, so the download core is tested offline.
//
// Routes: GET/HEAD /flags/{cc}/{cc}.gif and /flags/{cc}/metadata.json for the 194 codes of ALL_CODES
// (cc lower-case only, like a static server on a case-sensitive disk); anything else (other paths or methods) is 404.
// Responses carry Content-Length, a strong ETag (quoted MD5 of the body) and a fixed Last-Modified, and honour
// If-None-Match / If-Modified-Since with 304. Keep-alive is on; connections are not capped.
//
// Which faults apply where (a choice, not the real site's behaviour):
// - delayMs + jitterMs: every request, 404s included (it models latency, so a client fetching `every`
//   keeps all its requests in flight at once).
// - errorRate (503, some with Retry-After) and stallRate: requests for any `.gif` path, found or not, and
//   conditional ones too: an overloaded server fails before it looks at files or validators. A stalled
//   request ignores the delay: it gets nothing, ever, and ends only when the client or close() cuts it.
// - truncateRate and slowBodyMs: only 200 GIF bodies (a 304, 404 or HEAD has no body to cut or slow).
// - metadata.json is never faulted (only delayed).
// Randomness: each `.gif` request draws exactly 5 numbers from a mulberry32 PRNG (jitter, error, retry-after,
// stall, truncate), in arrival order, whatever the mode. So the n-th request's fate depends only on the seed
// and n: sequential clients see the same sequence on every run (concurrent ones may arrive in another order).
// Other requests take their jitter from a second stream, so they never shift the GIF sequence.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ALL_CODES } from '../functions/codes.ts';
import { flagMetadata, loadFlagImages } from './flag-images.ts';

/** The fault settings; all can be changed while running with `setMode`. */
export interface OriginMode {
  /** Fixed wait before the response headers, ms. Default 0. */
  delayMs?: number;
  /** Extra uniform random wait 0..jitterMs, ms. Default 0. */
  jitterMs?: number;
  /** Share (0..1) of GIF requests answered 503. Default 0. */
  errorRate?: number;
  /** Share (0..1) of those 503s that carry `Retry-After`. Default 0. */
  retryAfterRate?: number;
  /** The `Retry-After` value, seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Share (0..1) of 200 GIF responses that announce the full Content-Length, send half, then cut the socket. */
  truncateRate?: number;
  /** Share (0..1) of GIF requests never answered (until the client gives up or the origin closes). */
  stallRate?: number;
  /** Send each 200 GIF body in small chunks spread over this many ms. Default 0 (at once). */
  slowBodyMs?: number;
  /** PRNG seed; setting it (again) restarts the random sequence. Default 1. */
  seed?: number;
}

export interface OriginOptions extends OriginMode {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
}

export interface OriginStats {
  /** Requests received (any path, any status). */
  requests: number;
  /** Requests received whose response has not finished and whose socket is still open. */
  inFlight: number;
  /** Highest inFlight since start or resetStats. */
  maxInFlight: number;
  /** Responses by status, counted when the headers are sent (a truncated 200 counts as 200). */
  byStatus: Record<number, number>;
  /** Requests by path (query string dropped). */
  byPath: Record<string, number>;
  /** Requests that got each fault. */
  faults: { errors: number; stalls: number; truncated: number };
  /** Requests whose socket closed before the response finished (client gave up, stall, truncation, close()). */
  aborted: number;
}

export interface Origin {
  /** e.g. http://127.0.0.1:PORT/flags, no trailing slash. */
  baseUrl: string;
  port: number;
  /** A snapshot. */
  stats(): OriginStats;
  resetStats(): void;
  /** Changes only the given settings. */
  setMode(mode: OriginMode): void;
  /** The GIF bytes served for a code (any case), undefined when the origin has no flag for it. */
  flag(cc: string): Buffer | undefined;
  /** Stops listening and destroys every open socket at once (models the origin being killed mid-run). */
  close(): Promise<void>;
}

/** Every file has this Last-Modified. */
export const LAST_MODIFIED = new Date('2020-01-01T00:00:00Z');
const LAST_MODIFIED_HTTP = LAST_MODIFIED.toUTCString();

type Mode = Required<Omit<OriginMode, 'seed'>>;
const DEFAULT_MODE: Mode = {
  delayMs: 0, jitterMs: 0, errorRate: 0, retryAfterRate: 0, retryAfterSeconds: 1, truncateRate: 0, stallRate: 0, slowBodyMs: 0,
};
const RATES = ['errorRate', 'retryAfterRate', 'truncateRate', 'stallRate'] as const;
const DURATIONS = ['delayMs', 'jitterMs', 'retryAfterSeconds', 'slowBodyMs'] as const;

/** mulberry32: a tiny, good-enough seeded PRNG giving numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkMode(m: OriginMode): void {
  for (const k of RATES) {
    const v = m[k];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`${k} must be from 0 to 1: got ${v}`);
  }
  for (const k of DURATIONS) {
    const v = m[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`${k} must be a number ≥ 0: got ${v}`);
  }
  if (m.seed !== undefined && !Number.isFinite(m.seed)) throw new RangeError(`seed must be a number: got ${m.seed}`);
}

interface File {
  body: Buffer;
  type: string;
  etag: string;
  gif: boolean;
}

function fileOf(body: Buffer, type: string, gif: boolean): File {
  return { body, type, gif, etag: `"${createHash('md5').update(body).digest('hex')}"` };
}

/** RFC 9110 §13.1: If-None-Match (weak comparison) wins; If-Modified-Since only counts without it. */
function notModified(req: IncomingMessage, etag: string): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    return inm.split(',').some((t) => {
      const tag = t.trim().replace(/^W\//, '');
      return tag === '*' || tag === etag;
    });
  }
  const ims = req.headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && LAST_MODIFIED.getTime() <= since;
}

const GIF_PATH = /\.gif$/;

export async function startOrigin(options: OriginOptions = {}): Promise<Origin> {
  const { host = '127.0.0.1', port = 0, seed = 1, ...rest } = options;
  checkMode(options);
  let mode: Mode = { ...DEFAULT_MODE, ...defined(rest) };
  let random = mulberry32(seed);
  let latencyRandom = mulberry32(seed ^ 0x5bd1e995);

  const images = await loadFlagImages(ALL_CODES);
  const files = new Map<string, File>();
  for (const [cc, gif] of images) {
    files.set(`/flags/${cc}/${cc}.gif`, fileOf(gif, 'image/gif', true));
    const meta = Buffer.from(JSON.stringify(flagMetadata(cc)));
    files.set(`/flags/${cc}/metadata.json`, fileOf(meta, 'application/json', false));
  }

  const fresh = (): OriginStats => ({
    requests: 0, inFlight: 0, maxInFlight: 0, byStatus: {}, byPath: {}, faults: { errors: 0, stalls: 0, truncated: 0 }, aborted: 0,
  });
  let stats = fresh();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    stats.requests++;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);

    // In flight from arrival until finished or socket closed, counted once; pending timers die with the request.
    // Counts go to the current stats object, so a resetStats() mid-request stays consistent.
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const end = (aborted: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stats.inFlight--;
      if (aborted) stats.aborted++;
    };
    res.once('finish', () => end(false));
    res.once('close', () => end(!res.writableFinished));
    const later = (ms: number, f: () => void) => {
      if (ms <= 0) return void (done || f());
      timer = setTimeout(() => { if (!done) f(); }, ms);
    };
    const head = (status: number, headers: Record<string, string | number>) => {
      stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
      res.writeHead(status, headers);
    };

    // Draw this request's random numbers now, in arrival order (see the header comment).
    const gifPath = GIF_PATH.test(path);
    const [rJitter, rError, rRetry, rStall, rTruncate] = gifPath
      ? [random(), random(), random(), random(), random()]
      : [latencyRandom(), 1, 1, 1, 1];
    const m = mode;
    const file = files.get(path);
    const methodOk = req.method === 'GET' || req.method === 'HEAD';

    if (gifPath && rStall < m.stallRate) {
      stats.faults.stalls++;
      return; // never answered
    }
    later(m.delayMs + rJitter * m.jitterMs, () => {
      if (gifPath && rError < m.errorRate) {
        stats.faults.errors++;
        const headers: Record<string, string | number> = { 'Content-Type': 'text/plain', 'Content-Length': 20 };
        if (rRetry < m.retryAfterRate) headers['Retry-After'] = m.retryAfterSeconds;
        head(503, headers);
        return res.end(req.method === 'HEAD' ? undefined : 'Service Unavailable\n');
      }
      if (!file || !methodOk) {
        head(404, { 'Content-Type': 'text/plain', 'Content-Length': 10 });
        return res.end(req.method === 'HEAD' ? undefined : 'Not Found\n');
      }
      const validators = { ETag: file.etag, 'Last-Modified': LAST_MODIFIED_HTTP };
      if (notModified(req, file.etag)) {
        head(304, validators);
        return res.end();
      }
      head(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, ...validators });
      if (req.method === 'HEAD') return res.end();
      const truncate = file.gif && rTruncate < m.truncateRate;
      if (truncate) stats.faults.truncated++;
      const body = truncate ? file.body.subarray(0, file.body.length >> 1) : file.body;
      const finish = () => void (truncate ? res.destroy() : res.end());
      if (m.slowBodyMs <= 0) return truncate ? void res.write(body, finish) : void res.end(body);
      // Slow body: headers now, then about 10 chunks evenly spaced over slowBodyMs.
      res.flushHeaders();
      const size = Math.max(1, Math.ceil(body.length / 10));
      const pause = m.slowBodyMs / Math.ceil(body.length / size);
      const send = (at: number) => {
        const chunk = body.subarray(at, at + size);
        const next = at + size;
        res.write(chunk, () => (next >= body.length ? finish() : later(pause, () => send(next))));
      };
      later(pause, () => send(0));
    });
  };

  const server = createServer({ headersTimeout: 66_000, requestTimeout: 300_000 }, handle);
  server.keepAliveTimeout = 65_000; // longer than usual client idle timeouts (undici: 4 s), like a CDN's
  server.maxConnections = Infinity; // tests open 1000 connections at once
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 2048 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    baseUrl: `http://${urlHost}:${actual}/flags`,
    port: actual,
    stats: () => structuredClone(stats),
    resetStats: () => {
      const inFlight = stats.inFlight;
      stats = { ...fresh(), inFlight, maxInFlight: inFlight };
    },
    setMode: (next) => {
      checkMode(next);
      const { seed: newSeed, ...rest } = next;
      mode = { ...mode, ...defined(rest) };
      if (newSeed !== undefined) {
        random = mulberry32(newSeed);
        latencyRandom = mulberry32(newSeed ^ 0x5bd1e995);
      }
    },
    flag: (cc) => images.get(cc.toLowerCase()),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Drops undefined values, so `{ delayMs: undefined }` leaves the setting as it was. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
