// The HTTP contract (API Gateway HTTP API, payload format 2.0): routes, status codes and JSON bodies.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { RequestError, parseDownloadRequest, parseJsonBody } from './request.ts';
import { acceptRequest, isJobId, readJob, type Runtime } from './service.ts';

export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

const json = (statusCode: number, value: unknown, headers: Record<string, string> = {}): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify(value),
});

const ROUTES = 'POST /downloads or GET /downloads/{jobId}';

export async function handleHttp(
  rt: Runtime,
  event: APIGatewayProxyEventV2,
  ctx: { requestId: string; remainingMs: number },
): Promise<HttpResult> {
  const method = event.requestContext.http.method.toUpperCase();
  const path = (event.rawPath || '/').replace(/\/+$/, '') || '/';
  try {
    if (path === '/downloads') {
      if (method !== 'POST') return notAllowed(method, path, 'POST');
      const input = parseJsonBody(event.body, event.isBase64Encoded, rt.config.maxBodyBytes);
      const req = parseDownloadRequest(input, rt.config);
      const accepted = await acceptRequest(rt, req, ctx.remainingMs);
      if (accepted.kind === 'done') return json(200, accepted.body);
      const statusUrl = `/downloads/${accepted.jobId}`;
      return json(202, { jobId: accepted.jobId, status: 'running', statusUrl }, { location: statusUrl });
    }
    const match = /^\/downloads\/([^/]+)$/.exec(path);
    if (match?.[1] !== undefined) {
      if (method !== 'GET') return notAllowed(method, path, 'GET');
      const jobId = match[1]; // a UUID has nothing to percent-decode, and a bad escape must not throw
      if (!isJobId(jobId)) throw new RequestError('a job id is the UUID a 202 response gave, e.g. /downloads/3f0c…', 400);
      const job = await readJob(rt, jobId);
      if (!job) return json(404, { error: `no job ${jobId}: it may have never existed or been removed` });
      return json(200, job);
    }
    return json(404, { error: `no route ${method} ${truncate(path)}: use ${ROUTES}` });
  } catch (err) {
    if (err instanceof RequestError) return json(err.statusCode, { error: err.message });
    rt.log.error('unexpected failure', { requestId: ctx.requestId, error: err instanceof Error ? err.stack : String(err) });
    return json(500, { error: 'internal error', requestId: ctx.requestId });
  }
}

function notAllowed(method: string, path: string, allowed: string): HttpResult {
  return json(405, { error: `${method} is not allowed on ${truncate(path)}: use ${allowed}` }, { allow: allowed });
}

function truncate(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
