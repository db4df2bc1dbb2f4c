// The use cases behind every entry point: run a request inside the API's budget (or hand it to a job),
// run a job to the end, run a scheduled sync, read a job. Dependencies arrive as parameters.
import { randomUUID } from 'node:crypto';
import type { Config } from './config.ts';
import { HttpFlagOrigin, type FlagSource } from './download.ts';
import { summarize, type FlagResult, type RunSummary } from './report.ts';
import type { DownloadRequest } from './request.ts';
import type { DocumentStore, FlagStore } from './store.ts';
import { syncFlags, type SyncOptions, type SyncOutcome } from './sync.ts';

export interface Log {
  info(message: string, extra?: object): void;
  warn(message: string, extra?: object): void;
  error(message: string, extra?: object): void;
}

export interface Runtime {
  config: Config;
  store: FlagStore & DocumentStore;
  /** Starts `runJob(jobId)` in another invocation (on AWS: this function, invoked asynchronously). */
  startJob(jobId: string): Promise<void>;
  log: Log;
  /** Records one run's numbers (on AWS: CloudWatch metrics in EMF). */
  recordRun(kind: 'api' | 'job' | 'schedule', summary: RunSummary): void;
  /** Where flags come from; the default opens an undici pool sized to the concurrency. */
  openSource?(baseUrl: string, connections: number): FlagSource;
}

/** The body of a finished run, as the API returns it (and a job's result, and a schedule's report). */
export interface RunBody {
  server: string;
  requested: number;
  concurrency: number;
  counts: RunSummary['counts'];
  written: number;
  unchanged: number;
  dryRun: boolean;
  elapsedSeconds: number;
  bucket: string;
  prefix: string;
  errors: RunSummary['errors'];
  results?: FlagResult[];
}

export type JobStatus = 'running' | 'done' | 'failed';

export interface JobState {
  jobId: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  request: DownloadRequest;
  /** Codes still to do; the job works on these. */
  pending: string[];
  /** Results of codes already finished (by the API call that handed off, or by the job). */
  results: FlagResult[];
  /** Seconds spent before the job started (in the API call that handed off). */
  priorSeconds: number;
  progress: { done: number; total: number };
  result?: RunBody;
  error?: string;
}

/** What `GET /downloads/{jobId}` shows: the state without the working lists, the result when done. */
export interface JobView {
  jobId: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  progress: { done: number; total: number };
  error?: string;
}

export type Accepted = { kind: 'done'; body: RunBody } | { kind: 'job'; jobId: string };

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isJobId = (id: string) => JOB_ID.test(id);

const jobKey = (rt: Runtime, jobId: string) => `${rt.config.jobsPrefix}${jobId}.json`;

/** One sync of `codes` for this request, over a pool opened for it and closed after. */
async function runCodes(
  rt: Runtime,
  req: DownloadRequest,
  codes: readonly string[],
  stop: Pick<SyncOptions, 'signal' | 'handoff' | 'onResult'>,
): Promise<SyncOutcome> {
  const source = rt.openSource?.(req.baseUrl, req.concurrency) ?? new HttpFlagOrigin(req.baseUrl, { connections: req.concurrency });
  try {
    return await syncFlags({
      codes,
      concurrency: req.concurrency,
      source,
      store: rt.store,
      dryRun: req.dryRun,
      onWarning: (m) => rt.log.warn(m),
      ...stop,
    });
  } finally {
    await source.close();
  }
}

const summaryOf = (req: DownloadRequest, results: FlagResult[], elapsedSeconds: number) =>
  summarize(results, { concurrency: req.concurrency, dryRun: req.dryRun, elapsedSeconds });

function toBody(rt: Runtime, req: DownloadRequest, summary: RunSummary): RunBody {
  const body: RunBody = {
    server: req.server,
    requested: summary.requested,
    concurrency: req.concurrency,
    counts: summary.counts,
    written: summary.written,
    unchanged: summary.unchanged,
    dryRun: req.dryRun,
    elapsedSeconds: summary.elapsedSeconds,
    bucket: rt.config.bucket,
    prefix: rt.config.prefix,
    errors: summary.errors,
  };
  if (req.verbose) body.results = summary.results;
  return body;
}

/** Milliseconds this invocation may still spend, keeping the safety margin for the final write. */
const budget = (rt: Runtime, remainingMs: number) => Math.max(0, remainingMs - rt.config.safetyMarginMs);

/**
 * An API request: runs in the sync budget; whatever is not finished by then (or all of it, with `async`)
 * continues as a job, and the client gets its id instead of a cut connection.
 */
export async function acceptRequest(rt: Runtime, req: DownloadRequest, remainingMs: number): Promise<Accepted> {
  if (req.async) return { kind: 'job', jobId: await createJob(rt, req, [], req.codes, 0) };
  const handoff = AbortSignal.timeout(Math.min(rt.config.syncBudgetMs, budget(rt, remainingMs)));
  const run = await runCodes(rt, req, req.codes, { handoff });
  if (run.deferred.length > 0) {
    const jobId = await createJob(rt, req, run.results, run.deferred, run.elapsedSeconds);
    rt.log.info('request handed off to a job', { jobId, finished: run.results.length, deferred: run.deferred.length });
    return { kind: 'job', jobId };
  }
  const summary = summaryOf(req, run.results, run.elapsedSeconds);
  rt.recordRun('api', summary);
  return { kind: 'done', body: toBody(rt, req, summary) };
}

async function createJob(
  rt: Runtime,
  request: DownloadRequest,
  results: FlagResult[],
  pending: string[],
  priorSeconds: number,
): Promise<string> {
  const jobId = randomUUID();
  const now = new Date().toISOString();
  const state: JobState = {
    jobId,
    status: 'running',
    createdAt: now,
    updatedAt: now,
    request,
    pending,
    results,
    priorSeconds,
    progress: { done: results.length, total: request.codes.length },
  };
  await rt.store.putJson(jobKey(rt, jobId), state);
  await rt.startJob(jobId);
  return jobId;
}

/** Runs a job's pending codes to the end of this invocation's time; every code ends accounted for. */
export async function runJob(rt: Runtime, jobId: string, remainingMs: number): Promise<JobState | undefined> {
  const state = await rt.store.getJson<JobState>(jobKey(rt, jobId));
  if (!state) {
    rt.log.warn('job not found', { jobId });
    return undefined;
  }
  if (state.status !== 'running') return state; // a retried invocation of a finished job
  const req = state.request;
  const deadline = AbortSignal.timeout(budget(rt, remainingMs));
  let writes = Promise.resolve();
  const save = (s: JobState) => {
    const snapshot = { ...s, updatedAt: new Date().toISOString() };
    writes = writes.then(() => rt.store.putJson(jobKey(rt, jobId), snapshot)).catch((err: unknown) => {
      rt.log.warn('could not save job progress', { jobId, error: String(err) });
    });
    return writes;
  };
  let lastSave = Date.now();
  try {
    const run = await runCodes(rt, req, state.pending, {
      signal: deadline,
      onResult: (_r, done) => {
        if (Date.now() - lastSave < 1_000) return;
        lastSave = Date.now();
        void save({ ...state, progress: { done: state.results.length + done, total: req.codes.length } });
      },
    });
    const order = new Map(req.codes.map((cc, i) => [cc, i]));
    const all = [...state.results, ...run.results].sort((a, b) => (order.get(a.cc) ?? 0) - (order.get(b.cc) ?? 0));
    const summary = summaryOf(req, all, Math.round((state.priorSeconds + run.elapsedSeconds) * 1000) / 1000);
    rt.recordRun('job', summary);
    const final: JobState = {
      ...state,
      status: 'done',
      pending: [],
      results: [],
      progress: { done: all.length, total: req.codes.length },
      result: toBody(rt, req, summary),
    };
    await writes;
    await rt.store.putJson(jobKey(rt, jobId), { ...final, updatedAt: new Date().toISOString() });
    return final;
  } catch (err) {
    await writes;
    const failed: JobState = { ...state, status: 'failed', error: 'the job failed unexpectedly; see the function logs' };
    rt.log.error('job failed', { jobId, error: err instanceof Error ? err.stack : String(err) });
    await rt.store.putJson(jobKey(rt, jobId), { ...failed, updatedAt: new Date().toISOString() }).catch(() => undefined);
    throw err;
  }
}

export async function readJob(rt: Runtime, jobId: string): Promise<(JobView & Partial<RunBody>) | undefined> {
  const state = await rt.store.getJson<JobState>(jobKey(rt, jobId));
  if (!state) return undefined;
  const view: JobView & Partial<RunBody> = {
    jobId: state.jobId,
    status: state.status,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    progress: state.progress,
  };
  if (state.error) view.error = state.error;
  return state.result ? { ...view, ...state.result } : view;
}

/** A scheduled sync: the whole request in this invocation, a report in the bucket, one summary log line. */
export async function runScheduled(rt: Runtime, req: DownloadRequest, remainingMs: number, runId: string): Promise<RunBody> {
  const run = await runCodes(rt, req, req.codes, { signal: AbortSignal.timeout(budget(rt, remainingMs)) });
  const summary = summaryOf(req, run.results, run.elapsedSeconds);
  rt.recordRun('schedule', summary);
  const body = toBody(rt, req, summary);
  const at = new Date().toISOString();
  const reportKey = `${rt.config.reportsPrefix}${at.replace(/[:.]/g, '-')}-${runId}.json`;
  await rt.store.putJson(reportKey, { at, runId, ...body, results: summary.results });
  rt.log.info('scheduled sync finished', { reportKey, ...body, results: undefined });
  return body;
}
