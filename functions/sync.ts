// One run: download each code with bounded concurrency, store what changed, account for every code.
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { FlagSource, Validators } from './download.ts';
import type { FlagResult } from './report.ts';
import { md5Hex, type FetchRecord, type FlagStore } from './store.ts';

export interface SyncOptions {
  codes: readonly string[];
  concurrency: number;
  source: FlagSource;
  store: FlagStore;
  /** Download and report, write nothing. */
  dryRun?: boolean;
  /** The overall deadline: when it aborts, running downloads and writes are cancelled and reported as errors. */
  signal?: AbortSignal;
  /**
   * A softer stop: when it aborts, codes not started and codes whose work it cancelled are handed back
   * in `deferred` (to finish elsewhere, e.g. in a job) instead of being reported as errors.
   */
  handoff?: AbortSignal;
  /** Called once per code as soon as its result is known (progress). */
  onResult?: (result: FlagResult, done: number, total: number) => void;
  /** Called when the store cannot be read before the run (the run goes on without sync knowledge). */
  onWarning?: (message: string) => void;
}

export interface SyncOutcome {
  /** One result per finished code, in the order the codes were given. */
  results: FlagResult[];
  /** Codes the handoff stopped before they finished. */
  deferred: string[];
  elapsedSeconds: number;
}

export async function syncFlags(o: SyncOptions): Promise<SyncOutcome> {
  const started = performance.now();
  const warn = o.onWarning ?? (() => {});
  const [stored, sources] = await Promise.all([
    o.store.listFlags(o.signal).catch((err: unknown) => {
      warn(`could not list stored flags, every flag will be written: ${describe(err)}`);
      return new Map<string, string>();
    }),
    o.store.readSources(o.signal).catch((err: unknown) => {
      warn(`could not read the sources record, nothing is fetched conditionally: ${describe(err)}`);
      return {} as Record<string, FetchRecord>;
    }),
  ]);
  const updates: Record<string, FetchRecord> = {};
  const limit = pLimit(o.concurrency);
  let done = 0;

  const signals = [o.signal, o.handoff].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  // Each download in flight listens on the deadline: up to 1000 listeners is expected, not a leak.
  if (signal) setMaxListeners(0, ...signals, signal);
  const handedOff = () => o.handoff?.aborted === true && o.signal?.aborted !== true;
  const deferred = new Set<string>();

  const one = async (cc: string): Promise<FlagResult> => {
    const key = cc.toLowerCase();
    const storedMd5 = stored.get(key);
    const known = sources[key];
    // Validators are sent only while the object they describe is still the one stored.
    const validators: Validators =
      known && storedMd5 === known.md5 ? { etag: known.etag, lastModified: known.lastModified } : {};
    const got = await o.source.fetchFlag(cc, validators, signal);
    switch (got.status) {
      case 'not_found':
        return { cc, status: 'not_found' };
      case 'error':
        return { cc, status: 'error', reason: got.reason };
      case 'not_modified':
        if (storedMd5 === undefined) return { cc, status: 'error', reason: 'origin answered 304 but nothing is stored' };
        return { cc, status: 'ok', action: 'unchanged' };
      case 'ok': {
        const md5 = md5Hex(got.body);
        const record: FetchRecord = { md5, etag: got.etag, lastModified: got.lastModified };
        if (storedMd5 === md5) {
          updates[key] = record;
          return { cc, status: 'ok', action: 'unchanged' };
        }
        if (!o.dryRun) {
          try {
            await o.store.putFlag(cc, got.body, md5, { sourceUrl: got.url, etag: got.etag, lastModified: got.lastModified }, signal);
          } catch (err) {
            return { cc, status: 'error', reason: `storing failed: ${describe(err)}` };
          }
          updates[key] = record;
        }
        return { cc, status: 'ok', action: 'written' };
      }
    }
  };

  const settled = await Promise.all(
    o.codes.map((cc) =>
      limit(async (): Promise<FlagResult | undefined> => {
        if (handedOff()) {
          deferred.add(cc);
          return undefined;
        }
        const result = o.signal?.aborted
          ? { cc, status: 'error' as const, reason: 'deadline reached before the download started' }
          : await one(cc).catch((err: unknown): FlagResult => ({ cc, status: 'error', reason: describe(err) }));
        if (result.status === 'error' && handedOff()) {
          deferred.add(cc);
          return undefined;
        }
        o.onResult?.(result, ++done, o.codes.length);
        return result;
      }),
    ),
  );
  const results = settled.filter((r): r is FlagResult => r !== undefined);

  if (!o.dryRun && Object.keys(updates).length > 0) {
    await o.store.writeSources({ ...sources, ...updates }).catch((err: unknown) => {
      warn(`could not save the sources record (next sync downloads in full): ${describe(err)}`);
    });
  }
  return {
    results,
    deferred: o.codes.filter((cc) => deferred.has(cc)),
    elapsedSeconds: Math.round(performance.now() - started) / 1000,
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const e = err as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'AbortError') return 'deadline reached';
    const status = e.$metadata?.httpStatusCode;
    return [e.name !== 'Error' ? e.name : '', e.code ?? '', status ? `HTTP ${status}` : '', e.message]
      .filter(Boolean)
      .join(': ')
      .slice(0, 200);
  }
  return String(err).slice(0, 200);
}
