// The status counter and what a run reports: flags2's ok / not_found / error, plus what the sync wrote.

export type Status = 'ok' | 'not_found' | 'error';

export interface FlagResult {
  cc: string;
  status: Status;
  /** For ok: whether the object was written or was already stored byte for byte. */
  action?: 'written' | 'unchanged';
  reason?: string;
}

export interface Counts {
  ok: number;
  not_found: number;
  error: number;
}

export interface RunSummary {
  requested: number;
  concurrency: number;
  counts: Counts;
  written: number;
  unchanged: number;
  dryRun: boolean;
  elapsedSeconds: number;
  errors: { cc: string; reason: string }[];
  results: FlagResult[];
}

/** Folds per-code results into the counter; ok + not_found + error is always the number of results. */
export function summarize(
  results: readonly FlagResult[],
  extra: { concurrency: number; dryRun: boolean; elapsedSeconds: number },
): RunSummary {
  const counts: Counts = { ok: 0, not_found: 0, error: 0 };
  let written = 0;
  let unchanged = 0;
  const errors: { cc: string; reason: string }[] = [];
  for (const r of results) {
    counts[r.status]++;
    if (r.action === 'written') written++;
    if (r.action === 'unchanged') unchanged++;
    if (r.status === 'error') errors.push({ cc: r.cc, reason: r.reason ?? 'unknown error' });
  }
  return { requested: results.length, counts, written, unchanged, errors, results: [...results], ...extra };
}
