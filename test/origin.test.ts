// Tests of the local flag origin (local/origin.ts): a real server on loopback, driven with undici.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { ALL_CODES, EVERY_CODES } from '../functions/codes.ts';
import { startOrigin, type OriginOptions } from '../local/origin.ts';

// Own connection pool (no per-origin connection cap by default), closed at the end.
const agent = new Agent({ keepAliveTimeout: 1_000 });
after(() => agent.close());

async function start(t: TestContext, options?: OriginOptions) {
  const origin = await startOrigin(options);
  t.after(() => origin.close());
  return origin;
}

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function get(url: string, init: { method?: 'GET' | 'HEAD'; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Got> {
  const res = await request(url, { dispatcher: agent, method: init.method ?? 'GET', headers: init.headers, signal: init.signal });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

const gifUrl = (base: string, cc: string) => `${base}/${cc.toLowerCase()}/${cc.toLowerCase()}.gif`;

async function until(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test('every (AA..ZZ): 194 found, 482 not found, exactly ALL_CODES', async (t) => {
  const origin = await start(t);
  const results = await Promise.all(EVERY_CODES.map(async (cc) => [cc, (await get(gifUrl(origin.baseUrl, cc))).status] as const));
  const found = results.filter(([, s]) => s === 200).map(([cc]) => cc);
  assert.equal(found.length, 194);
  assert.equal(results.filter(([, s]) => s === 404).length, 482);
  assert.deepEqual(found, [...ALL_CODES].sort());
  assert.deepEqual(origin.stats().byStatus, { 200: 194, 404: 482 });
  assert.equal(origin.stats().requests, 676);
});

test('a GIF: bytes, type, length, ETag = quoted MD5, Last-Modified, keep-alive; HEAD; metadata', async (t) => {
  const origin = await start(t);
  const r = await get(gifUrl(origin.baseUrl, 'BR'));
  assert.equal(r.status, 200);
  assert.equal(r.body.subarray(0, 4).toString('latin1'), 'GIF8');
  assert.deepEqual(r.body, origin.flag('br'));
  assert.deepEqual(origin.flag('BR'), origin.flag('br'));
  assert.equal(origin.flag('ZZ'), undefined);
  assert.equal(r.headers['content-type'], 'image/gif');
  assert.equal(r.headers['content-length'], String(r.body.length));
  assert.equal(r.headers['etag'], `"${createHash('md5').update(r.body).digest('hex')}"`);
  assert.ok(!Number.isNaN(Date.parse(String(r.headers['last-modified']))));
  assert.equal(r.headers['keep-alive'], 'timeout=65');
  assert.ok(r.body.length > 1_000 && r.body.length <= 40 * 1024, `size ${r.body.length}`);

  const h = await get(gifUrl(origin.baseUrl, 'br'), { method: 'HEAD' });
  assert.equal(h.status, 200);
  assert.equal(h.body.length, 0);
  assert.equal(h.headers['content-length'], r.headers['content-length']);
  assert.equal(h.headers['etag'], r.headers['etag']);

  const m = await get(`${origin.baseUrl}/br/metadata.json`);
  assert.equal(m.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(m.body.toString()), { tld_cc: '.br', iso_cc: 'BR', country: 'Brazil', gec_cc: 'BR' });
});

test('upper case, mismatched and unknown paths are 404', async (t) => {
  const origin = await start(t);
  for (const path of ['/BR/BR.gif', '/BR/br.gif', '/br/us.gif', '/zz/zz.gif', '/zz/metadata.json', '/br/', '/br', '']) {
    assert.equal((await get(origin.baseUrl + path)).status, 404, path);
  }
  assert.equal((await get(origin.baseUrl.replace('/flags', '/nope/br/br.gif'))).status, 404);
  assert.equal((await get(gifUrl(origin.baseUrl, 'br') + '?x=1')).status, 200);
});

test('If-None-Match and If-Modified-Since give 304 when they match, else 200', async (t) => {
  const origin = await start(t);
  const url = gifUrl(origin.baseUrl, 'jp');
  const first = await get(url);
  const etag = String(first.headers['etag']);
  const lastModified = String(first.headers['last-modified']);

  const same = await get(url, { headers: { 'if-none-match': etag } });
  assert.equal(same.status, 304);
  assert.equal(same.body.length, 0);
  assert.equal(same.headers['etag'], etag);
  assert.equal((await get(url, { headers: { 'if-none-match': `"nope", W/${etag}` } })).status, 304);
  assert.equal((await get(url, { headers: { 'if-none-match': '"nope"' } })).status, 200);

  assert.equal((await get(url, { headers: { 'if-modified-since': lastModified } })).status, 304);
  const before = new Date(Date.parse(lastModified) - 1_000).toUTCString();
  assert.equal((await get(url, { headers: { 'if-modified-since': before } })).status, 200);
  // If-None-Match wins over If-Modified-Since.
  assert.equal((await get(url, { headers: { 'if-none-match': '"nope"', 'if-modified-since': lastModified } })).status, 200);
  assert.deepEqual(origin.stats().byStatus, { 200: 4, 304: 3 });
});

test('delayMs is honoured, and setMode changes it while running', async (t) => {
  const origin = await start(t, { delayMs: 150 });
  const url = gifUrl(origin.baseUrl, 'fr');
  let t0 = performance.now();
  assert.equal((await get(url)).status, 200);
  assert.ok(performance.now() - t0 >= 150, 'answered before the delay');
  t0 = performance.now();
  assert.equal((await get(`${origin.baseUrl}/xx/xx.gif`)).status, 404);
  assert.ok(performance.now() - t0 >= 150, 'a 404 is delayed too');

  origin.setMode({ delayMs: 0, jitterMs: 100 });
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    t0 = performance.now();
    await get(url);
    times.push(performance.now() - t0);
  }
  assert.ok(Math.min(...times) < 150, `still delayed: ${times.join(', ')}`);
});

async function statuses(base: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(gifUrl(base, 'de'))).status);
  return out;
}

test('errorRate with a fixed seed gives the same sequence every time; another seed another one', async (t) => {
  const a = await start(t, { errorRate: 0.5, seed: 42 });
  const first = await statuses(a.baseUrl, 40);
  assert.ok(first.includes(200) && first.includes(503), first.join());
  assert.equal(first.filter((s) => s === 503).length, a.stats().faults.errors);

  const b = await start(t, { errorRate: 0.5, seed: 42 });
  assert.deepEqual(await statuses(b.baseUrl, 40), first);
  a.setMode({ seed: 42 }); // re-seeding restarts the sequence
  assert.deepEqual(await statuses(a.baseUrl, 40), first);
  a.setMode({ seed: 7 });
  assert.notDeepEqual(await statuses(a.baseUrl, 40), first);
  // Metadata requests never fail and do not shift the sequence.
  b.setMode({ seed: 42, errorRate: 1 });
  assert.equal((await get(`${b.baseUrl}/de/metadata.json`)).status, 200);
  b.setMode({ seed: 42, errorRate: 0.5 });
  await get(`${b.baseUrl}/de/metadata.json`);
  assert.deepEqual(await statuses(b.baseUrl, 40), first);
});

test('Retry-After comes on some 503s, with the configured value', async (t) => {
  const origin = await start(t, { errorRate: 1, retryAfterRate: 0.5, retryAfterSeconds: 2, seed: 3 });
  const results = [];
  for (let i = 0; i < 30; i++) results.push(await get(gifUrl(origin.baseUrl, 'it')));
  assert.ok(results.every((r) => r.status === 503));
  const values = results.map((r) => r.headers['retry-after']);
  assert.ok(values.includes('2'), 'no Retry-After at all');
  assert.ok(values.includes(undefined), 'Retry-After on every 503');
  assert.ok(values.every((v) => v === '2' || v === undefined));
  assert.throws(() => origin.setMode({ errorRate: 2 }), RangeError);
  assert.throws(() => origin.setMode({ delayMs: -1 }), RangeError);
});

test('a truncated body is shorter than its Content-Length and the socket is cut', async (t) => {
  const origin = await start(t, { truncateRate: 1 });
  const expected = origin.flag('cn')!;
  const res = await request(gifUrl(origin.baseUrl, 'cn'), { dispatcher: agent });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-length'], String(expected.length));
  let received = 0;
  await assert.rejects(async () => {
    for await (const chunk of res.body) received += (chunk as Buffer).length;
  });
  assert.equal(received, Math.floor(expected.length / 2), `got ${received} of ${expected.length}`);
  assert.equal(origin.stats().faults.truncated, 1);
  // Never applied to metadata.
  assert.equal((await get(`${origin.baseUrl}/cn/metadata.json`)).status, 200);
});

test('slowBodyMs spreads the body over time and it still arrives whole', async (t) => {
  const origin = await start(t, { slowBodyMs: 300 });
  const t0 = performance.now();
  const r = await get(gifUrl(origin.baseUrl, 'mx'));
  assert.ok(performance.now() - t0 >= 250, `too fast: ${performance.now() - t0} ms`);
  assert.deepEqual(r.body, origin.flag('mx'));
});

test('a stalled request never gets headers; giving up ends it on the server too', async (t) => {
  const origin = await start(t, { stallRate: 1 });
  await assert.rejects(get(gifUrl(origin.baseUrl, 'ar'), { signal: AbortSignal.timeout(300) }));
  await until('the stalled request to end', () => origin.stats().inFlight === 0);
  const s = origin.stats();
  assert.equal(s.faults.stalls, 1);
  assert.equal(s.aborted, 1);
  assert.deepEqual(s.byStatus, {});
});

test('maxInFlight equals the number of concurrent clients (50, delay 200 ms)', async (t) => {
  const origin = await start(t, { delayMs: 200 });
  const codes = ALL_CODES.slice(0, 50);
  const results = await Promise.all(codes.map((cc) => get(gifUrl(origin.baseUrl, cc))));
  assert.ok(results.every((r) => r.status === 200));
  const s = origin.stats();
  assert.equal(s.maxInFlight, 50);
  assert.equal(s.inFlight, 0);
  origin.resetStats();
  await Promise.all(codes.slice(0, 7).map((cc) => get(gifUrl(origin.baseUrl, cc))));
  assert.equal(origin.stats().maxInFlight, 7);
});

test('1000 connections at once are all in flight together', async (t) => {
  const origin = await start(t, { delayMs: 500 });
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => get(gifUrl(origin.baseUrl, EVERY_CODES[i % EVERY_CODES.length]!))),
  );
  assert.equal(results.length, 1000);
  assert.equal(origin.stats().maxInFlight, 1000);
  assert.equal(origin.stats().requests, 1000);
});

test('clients that abort leave the in-flight count correct', async (t) => {
  const origin = await start(t, { delayMs: 2_000 });
  const aborters = Array.from({ length: 20 }, () => new AbortController());
  const pending = aborters.map((a, i) => get(gifUrl(origin.baseUrl, ALL_CODES[i]!), { signal: a.signal }));
  await until('20 requests in flight', () => origin.stats().inFlight === 20);
  for (const a of aborters) a.abort();
  const settled = await Promise.allSettled(pending);
  assert.ok(settled.every((s) => s.status === 'rejected'));
  await until('in flight back to 0', () => origin.stats().inFlight === 0);
  const s = origin.stats();
  assert.equal(s.maxInFlight, 20);
  assert.equal(s.aborted, 20);
  assert.deepEqual(s.byStatus, {});
});

test('close() with requests in flight ends them at once and returns promptly', async (t) => {
  const origin = await start(t, { delayMs: 10_000 });
  const pending = ALL_CODES.slice(0, 10).map((cc) => get(gifUrl(origin.baseUrl, cc)));
  await until('10 requests in flight', () => origin.stats().inFlight === 10);
  const t0 = performance.now();
  await origin.close();
  const settled = await Promise.allSettled(pending);
  const took = performance.now() - t0;
  assert.ok(took < 1_000, `close took ${took} ms`);
  assert.ok(settled.every((s) => s.status === 'rejected'), 'a request survived close()');
  await assert.rejects(get(gifUrl(origin.baseUrl, 'br')), 'still accepting connections');
  await origin.close(); // idempotent
});
