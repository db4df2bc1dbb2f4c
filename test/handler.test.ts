// The Lambda handler with real API Gateway v2 and Scheduler event shapes, against s3rver and the local origin.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ALL_CODES, EVERY_CODES } from '../functions/codes.ts';
import { toApiEvent } from '../local/apigw-event.ts';
import { contextFor, createLocalRuntime, type LocalRuntime } from '../local/runtime.ts';
import { startOrigin, type Origin } from '../local/origin.ts';
import { mismatches, startWorld, type World } from './fixtures.ts';

type Json = Record<string, any>;

let w: World;
let slow: Origin;
let local: LocalRuntime;

async function call(l: LocalRuntime, method: string, url: string, body?: unknown, raw?: string) {
  const event = toApiEvent({
    method,
    url,
    headers: { 'content-type': 'application/json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const res = (await l.handler(event)) as { statusCode: number; body: string; headers?: Record<string, string> };
  return { status: res.statusCode, body: JSON.parse(res.body) as Json, headers: res.headers ?? {} };
}

async function pollDone(l: LocalRuntime, statusUrl: string): Promise<Json> {
  for (let i = 0; i < 300; i++) {
    const got = await call(l, 'GET', statusUrl);
    assert.equal(got.status, 200);
    if (got.body.status !== 'running') return got.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('job did not finish');
}

before(async () => {
  w = await startWorld();
  slow = await startOrigin({ delayMs: 300 });
  local = createLocalRuntime({
    s3: w.s3,
    origins: { LOCAL: w.origin.baseUrl, DELAY: slow.baseUrl },
    defaultServer: 'LOCAL',
    syncBudgetMs: 1_000,
    logLevel: 'CRITICAL',
  });
});
after(async () => {
  await local.idle();
  await slow.close();
  await w.close();
});

describe('POST /downloads', () => {
  test('no body → the top 20 from the default server, stored byte for byte', async () => {
    const { status, body } = await call(local, 'POST', '/downloads');
    assert.equal(status, 200);
    assert.equal(body.server, 'LOCAL');
    assert.equal(body.requested, 20);
    assert.equal(body.concurrency, 5);
    assert.deepEqual(body.counts, { ok: 20, not_found: 0, error: 0 });
    assert.equal(body.written + body.unchanged, 20);
    assert.equal(body.bucket, w.s3.bucket);
    assert.equal(body.prefix, 'flags/');
    assert.deepEqual(body.errors, []);
    assert.equal(body.results, undefined);
    assert.equal(typeof body.elapsedSeconds, 'number');
    assert.deepEqual(await mismatches(w, ['BD', 'BR', 'CN', 'US']), []);
  });

  test('verbose adds one result per code; letters expand; server is case-insensitive', async () => {
    const { status, body } = await call(local, 'POST', '/downloads', { cc: ['z'], server: 'local', verbose: true, maxReq: 50 });
    assert.equal(status, 200);
    assert.equal(body.requested, 26);
    assert.equal(body.concurrency, 26);
    assert.deepEqual(body.counts, { ok: 3, not_found: 23, error: 0 }); // ZA ZM ZW
    assert.equal(body.results.length, 26);
    assert.deepEqual(body.results.find((r: Json) => r.cc === 'ZQ'), { cc: 'ZQ', status: 'not_found' });
  });

  test('async: 202 with a job, polled to done with the same body', async () => {
    const accepted = await call(local, 'POST', '/downloads', { cc: ['a'], async: true });
    assert.equal(accepted.status, 202);
    assert.equal(accepted.body.status, 'running');
    assert.equal(accepted.body.statusUrl, `/downloads/${accepted.body.jobId}`);
    assert.equal(accepted.headers.location, accepted.body.statusUrl);
    const done = await pollDone(local, accepted.body.statusUrl);
    assert.equal(done.status, 'done');
    assert.deepEqual(done.progress, { done: 26, total: 26 });
    assert.equal(done.requested, 26);
    assert.equal(done.counts.ok + done.counts.not_found + done.counts.error, 26);
    assert.equal(done.counts.ok, ALL_CODES.filter((c) => c.startsWith('A')).length);
    assert.ok(Array.isArray(done.errors));
  });

  test('a request longer than the sync budget becomes a job that finishes every code', async () => {
    const accepted = await call(local, 'POST', '/downloads', { every: true, limit: 40, maxReq: 4, server: 'DELAY' });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const done = await pollDone(local, accepted.body.statusUrl);
    assert.equal(done.status, 'done');
    assert.equal(done.requested, 40);
    const found = EVERY_CODES.slice(0, 40).filter((c) => ALL_CODES.includes(c)).length;
    assert.deepEqual(done.counts, { ok: found, not_found: 40 - found, error: 0 });
    assert.ok(done.elapsedSeconds >= 1, 'the handed-off part is counted in the elapsed time');
  });
});

describe('jobs', () => {
  test('unknown job → 404; malformed id → 400', async () => {
    const missing = await call(local, 'GET', '/downloads/3f0c6a6e-1111-4222-8333-444455556666');
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /no job/);
    const bad = await call(local, 'GET', '/downloads/..%2F..%2Fetc');
    assert.equal(bad.status, 400);
  });

  test('a job with too little time still accounts for every code', async () => {
    const short = createLocalRuntime({
      s3: w.s3,
      origins: { DELAY: slow.baseUrl },
      defaultServer: 'DELAY',
      jobTimeoutMs: 1_500,
      safetyMarginMs: 500,
      logLevel: 'CRITICAL',
    });
    const accepted = await call(short, 'POST', '/downloads', { cc: ['m'], maxReq: 2, async: true });
    assert.equal(accepted.status, 202);
    const done = await pollDone(short, accepted.body.statusUrl);
    await short.idle();
    assert.equal(done.status, 'done');
    assert.equal(done.counts.ok + done.counts.not_found + done.counts.error, 26);
    assert.ok(done.counts.error > 0, 'some codes ran out of time');
    assert.match(done.errors[0].reason, /deadline/);
  });
});

describe('scheduled sync', () => {
  test('a Scheduler event runs the payload and writes a report', async () => {
    const body = (await local.handler({ source: 'flagsync.schedule', request: { all: true, maxReq: 20 } }, contextFor(60_000))) as Json;
    assert.equal(body.requested, 194);
    assert.deepEqual(body.counts, { ok: 194, not_found: 0, error: 0 });
    const reports = await w.client.send(new ListObjectsV2Command({ Bucket: w.s3.bucket, Prefix: 'reports/' }));
    assert.equal(reports.Contents?.length, 1);
    assert.equal(local.runs.at(-1)?.kind, 'schedule');
  });

  test('a bad schedule payload fails loudly (a deployment mistake)', async () => {
    await assert.rejects(local.handler({ source: 'flagsync.schedule', request: { maxReq: 0 } }, contextFor(5_000)), /maxReq/);
  });
});

describe('bad requests → 4xx with a message a person can act on', () => {
  const cases: [string, string, string | undefined, number, RegExp][] = [
    ['POST', '/downloads', '{"cc": "br"}', 400, /cc must be an array/],
    ['POST', '/downloads', '{"cc": ["br", 7]}', 400, /each cc must be a string/],
    ['POST', '/downloads', '{"cc": ["bra"]}', 400, /each CC argument must be A to Z or AA to ZZ: got "bra"/],
    ['POST', '/downloads', '{"cc": ["http://evil.example/x"]}', 400, /A to Z or AA to ZZ/],
    ['POST', '/downloads', '{"maxReq": 0}', 400, /maxReq must be a whole number from 1 to 1000/],
    ['POST', '/downloads', '{"maxReq": 1001}', 400, /maxReq must be a whole number from 1 to 1000/],
    ['POST', '/downloads', '{"maxReq": 2.5}', 400, /maxReq must be a whole number/],
    ['POST', '/downloads', '{"maxReq": "5"}', 400, /maxReq must be a whole number/],
    ['POST', '/downloads', '{"limit": -1}', 400, /limit must be a whole number/],
    ['POST', '/downloads', '{"all": "yes"}', 400, /all must be true or false/],
    ['POST', '/downloads', '{"server": "EVIL"}', 400, /unknown server "EVIL": use one of LOCAL, DELAY/],
    ['POST', '/downloads', '{"server": "http://127.0.0.1:1/x"}', 400, /unknown server/],
    ['POST', '/downloads', '{"url": "http://x"}', 400, /unknown field "url": allowed are cc, all/],
    ['POST', '/downloads', '[1,2]', 400, /the body must be a JSON object/],
    ['POST', '/downloads', 'null', 400, /the body must be a JSON object/],
    ['POST', '/downloads', '{"cc": [', 400, /the body must be JSON/],
    ['POST', '/downloads', JSON.stringify({ cc: Array(1001).fill('br') }), 400, /at most 1000 codes/],
    ['POST', '/downloads', JSON.stringify({ cc: ['x'.repeat(70_000)] }), 413, /too large/],
    ['GET', '/downloads', undefined, 405, /GET is not allowed on \/downloads: use POST/],
    ['DELETE', '/downloads/3f0c6a6e-1111-4222-8333-444455556666', undefined, 405, /use GET/],
    ['GET', '/', undefined, 404, /no route GET \/: use POST \/downloads/],
    ['POST', '/flags', '{}', 404, /no route/],
  ];
  for (const [method, url, raw, status, message] of cases) {
    test(`${method} ${url} ${raw?.slice(0, 40) ?? ''} → ${status}`, async () => {
      const got = await call(local, method, url, undefined, raw);
      assert.equal(got.status, status, JSON.stringify(got.body));
      assert.match(got.body.error, message);
      assert.equal(Object.keys(got.body).length, 1, 'only the error, no stack');
    });
  }
});
