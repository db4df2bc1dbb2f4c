// The Lambda's handler wired for this machine: S3 is s3rver, jobs run in-process instead of by
// asynchronous self-invocation, logs are quiet unless asked. Everything else is the deployed code path.
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { randomUUID } from 'node:crypto';
import { buildRuntime, createHandler, type FlagsyncEvent, type InvocationContext } from '../functions/handler.ts';
import type { RunSummary } from '../functions/report.ts';
import type { Runtime } from '../functions/service.ts';
import { LOCAL_CREDENTIALS, type LocalS3 } from './s3-server.ts';

export interface LocalRuntimeOptions {
  s3: LocalS3;
  /** Label → base URL, as FLAGS_ORIGINS. */
  origins: Record<string, string>;
  defaultServer: string;
  prefix?: string;
  syncBudgetMs?: number;
  /** What a job invocation may take, like the Lambda's timeout (default 900 s). */
  jobTimeoutMs?: number;
  /** What an API invocation may take (API Gateway cuts at 30 s). */
  apiTimeoutMs?: number;
  safetyMarginMs?: number;
  logLevel?: LogLevel;
}

export interface LocalRuntime {
  runtime: Runtime;
  handler: (event: FlagsyncEvent, context?: InvocationContext) => ReturnType<ReturnType<typeof createHandler>>;
  /** Every run's summary, newest last (what CloudWatch metrics would get). */
  runs: { kind: string; summary: RunSummary }[];
  /** Resolves when no job is running. */
  idle(): Promise<void>;
}

export function contextFor(timeoutMs: number): InvocationContext {
  const end = Date.now() + timeoutMs;
  return { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
}

export function createLocalRuntime(o: LocalRuntimeOptions): LocalRuntime {
  const env: NodeJS.ProcessEnv = {
    FLAGS_BUCKET: o.s3.bucket,
    FLAGS_PREFIX: o.prefix ?? 'flags/',
    FLAGS_ORIGINS: JSON.stringify(o.origins),
    FLAGS_DEFAULT_SERVER: o.defaultServer,
    FLAGS_S3_ENDPOINT: o.s3.endpoint,
    FLAGS_SYNC_BUDGET_MS: String(o.syncBudgetMs ?? 25_000),
    FLAGS_SAFETY_MARGIN_MS: String(o.safetyMarginMs ?? 2_000),
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
  const jobs = new Set<Promise<unknown>>();
  const runs: LocalRuntime['runs'] = [];
  const logger = new Logger({ serviceName: 'flagsync-local', logLevel: o.logLevel ?? 'WARN' });
  const jobTimeoutMs = o.jobTimeoutMs ?? 900_000;
  const base = buildRuntime({
    env,
    logger,
    startJob: async (jobId) => {
      const run = new Promise((resolve) => setImmediate(resolve))
        .then(() => handler({ flagsyncJob: { jobId } }, contextFor(jobTimeoutMs)))
        .catch((err: unknown) => logger.error('local job invocation failed', { jobId, error: String(err) }));
      jobs.add(run);
      void run.finally(() => jobs.delete(run));
    },
  });
  const runtime: Runtime = {
    ...base,
    recordRun(kind, summary) {
      runs.push({ kind, summary });
      logger.info('run finished', { kind, counts: summary.counts, written: summary.written, unchanged: summary.unchanged });
    },
  };
  const inner = createHandler(() => runtime);
  const handler: LocalRuntime['handler'] = (event, context) => inner(event, context ?? contextFor(o.apiTimeoutMs ?? 30_000));
  return {
    runtime,
    handler,
    runs,
    async idle() {
      while (jobs.size > 0) await Promise.allSettled([...jobs]);
    },
  };
}
