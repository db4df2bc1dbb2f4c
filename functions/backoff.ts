// When to try again: exponential backoff with full jitter, and the server's Retry-After when it gives one.

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = never retry). */
  attempts: number;
  /** Backoff base: attempt n waits a random time in [0, min(cap, base·2^(n-1))). */
  baseMs: number;
  capMs: number;
  /** A Retry-After longer than this is not waited for. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 100, capMs: 2_000, maxRetryAfterMs: 5_000 };

/** Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). `attempt` counts from 1. */
export function fullJitterMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
