// Lambda entry point: tells the three kinds of event apart and hands each to its use case.
// The AWS glue (S3 client, self-invocation, logs, metrics) is built once per container, on first use.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { handleHttp, type HttpResult } from './api.ts';
import { loadConfig } from './config.ts';
import { parseDownloadRequest } from './request.ts';
import { runJob, runScheduled, type RunBody, type Runtime } from './service.ts';
import { S3Store, createS3Client } from './store.ts';

/** The payload of the function's asynchronous call to itself. */
export interface JobEvent {
  flagsyncJob: { jobId: string };
}

/** What the EventBridge Scheduler schedule sends. */
export interface ScheduleEvent {
  source: 'flagsync.schedule';
  request?: unknown;
}

export type FlagsyncEvent = APIGatewayProxyEventV2 | JobEvent | ScheduleEvent;

export interface InvocationContext {
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

const isHttp = (e: unknown): e is APIGatewayProxyEventV2 =>
  typeof e === 'object' && e !== null && typeof (e as APIGatewayProxyEventV2).requestContext?.http?.method === 'string';
const isJob = (e: unknown): e is JobEvent => typeof (e as JobEvent | null)?.flagsyncJob?.jobId === 'string';
const isSchedule = (e: unknown): e is ScheduleEvent => (e as ScheduleEvent | null)?.source === 'flagsync.schedule';

export function createHandler(runtime: () => Runtime) {
  return async (event: FlagsyncEvent, context: InvocationContext): Promise<HttpResult | RunBody | { ignored: string } | undefined> => {
    const rt = runtime();
    const remainingMs = context.getRemainingTimeInMillis();
    if (isHttp(event)) return handleHttp(rt, event, { requestId: context.awsRequestId, remainingMs });
    if (isJob(event)) {
      await runJob(rt, event.flagsyncJob.jobId, remainingMs);
      return undefined;
    }
    if (isSchedule(event)) {
      // A bad schedule payload is a deployment mistake: it throws, so it shows as a failed invocation.
      const req = parseDownloadRequest(event.request ?? {}, rt.config);
      return runScheduled(rt, req, remainingMs, context.awsRequestId);
    }
    rt.log.error('unrecognised event', { keys: Object.keys((event as object | null) ?? {}) });
    return { ignored: 'unrecognised event' };
  };
}

export interface RuntimeOptions {
  env?: NodeJS.ProcessEnv;
  /** Replaces the asynchronous self-invocation (the local stack runs jobs in-process). */
  startJob?: (jobId: string) => Promise<void>;
  logger?: Logger;
  metrics?: Metrics;
}

/** The runtime from the environment: on AWS as deployed, locally pointed at s3rver by FLAGS_S3_ENDPOINT. */
export function buildRuntime(o: RuntimeOptions = {}): Runtime {
  const env = o.env ?? process.env;
  const config = loadConfig(env);
  const logger = o.logger ?? new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'flagsync' });
  const metrics = o.metrics ?? new Metrics({ namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? 'Flagsync', serviceName: 'flagsync' });
  const local = config.s3Endpoint !== undefined;
  const client = createS3Client({
    endpoint: config.s3Endpoint,
    maxSockets: 1000,
    credentials: local
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'S3RVER', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'S3RVER' }
      : undefined,
  });
  const store = new S3Store(client, { bucket: config.bucket, prefix: config.prefix });
  let lambda: LambdaClient | undefined;
  const startJob =
    o.startJob ??
    (async (jobId: string) => {
      const functionName = env.AWS_LAMBDA_FUNCTION_NAME;
      if (!functionName) throw new Error('AWS_LAMBDA_FUNCTION_NAME is not set: jobs need the function to invoke itself');
      lambda ??= new LambdaClient({});
      const payload: JobEvent = { flagsyncJob: { jobId } };
      await lambda.send(
        new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }),
      );
    });
  return {
    config,
    store,
    startJob,
    log: {
      info: (m, x) => logger.info(m, { ...x }),
      warn: (m, x) => logger.warn(m, { ...x }),
      error: (m, x) => logger.error(m, { ...x }),
    },
    recordRun(kind, s) {
      metrics.addMetadata('kind', kind);
      metrics.addMetric('ok', MetricUnit.Count, s.counts.ok);
      metrics.addMetric('not_found', MetricUnit.Count, s.counts.not_found);
      metrics.addMetric('error', MetricUnit.Count, s.counts.error);
      metrics.addMetric('written', MetricUnit.Count, s.written);
      metrics.addMetric('unchanged', MetricUnit.Count, s.unchanged);
      metrics.addMetric('duration', MetricUnit.Seconds, s.elapsedSeconds);
      metrics.publishStoredMetrics();
      logger.info('run finished', { kind, requested: s.requested, counts: s.counts, written: s.written, unchanged: s.unchanged, elapsedSeconds: s.elapsedSeconds });
    },
  };
}

let runtime: Runtime | undefined;

/** The deployed function's handler. */
export const handler = (event: FlagsyncEvent, context: Context) =>
  createHandler(() => (runtime ??= buildRuntime()))(event, context);
