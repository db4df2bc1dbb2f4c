// A bad-input corpus against the local endpoint (real HTTP, undici): table-driven cases and fast-check
// generated ones (fixed seeds). Every bad request must get a 4xx (400, 404, 405, 413) whose JSON body is
// only `{ error }`: a non-empty message without a stack trace. Valid-ish requests (random subsets of the
// valid fields, sometimes one bad value) must never get a 5xx. The server must stay healthy throughout.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startStack, type Reply, type SendOptions, type Stack } from './endpoint-fixture.ts';

type Json = Record<string, unknown>;

let s: Stack;
before(async () => { s = await startStack(); });
after(() => s.close());

const FIELDS = ['cc', 'all', 'every', 'limit', 'maxReq', 'server', 'verbose', 'dryRun', 'async'];
const LABELS = ['LOCAL'];
const UUID = '3f0c6a6e-1111-4222-8333-444455556666';
const JSON_TYPE = { 'content-type': 'application/json' };

/** Everything sent by the corpus (not by the reported-bug tests near the end), by status. */
const sent: { what: string; status: number }[] = [];

/** Echoed input must not trip the stack-trace check: generated strings never contain these. */
const clean = (v: string) => !v.includes('at /') && !v.includes('.ts:');

async function send(method: string, path: string, o: SendOptions = {}): Promise<Reply> {
  const reply = await s.client.send(method, path, o);
  sent.push({ what: `${method} ${path} ${String(o.body ?? '').slice(0, 60)}`, status: reply.status });
  return reply;
}

const post = (body: unknown) => send('POST', '/downloads', { body: JSON.stringify(body), headers: JSON_TYPE });
const postRaw = (body: string | Buffer, contentType = 'application/json') =>
  send('POST', '/downloads', { body, headers: { 'content-type': contentType } });

/** The contract for every rejected request. */
function assertRejected(r: Reply, what: string, allowed: readonly number[] = [400, 404, 405, 413], method = 'POST'): void {
  const where = `${what} → ${r.status} ${r.text.slice(0, 200)}`;
  assert.ok(allowed.includes(r.status), where);
  assert.match(String(r.headers['content-type']), /^application\/json/, where);
  if (method === 'HEAD') {
    assert.equal(r.text, '', 'HEAD has no body');
    return;
  }
  assert.ok(r.json && typeof r.json === 'object' && !Array.isArray(r.json), where);
  assert.deepEqual(Object.keys(r.json), ['error'], `only { error }: ${where}`);
  const message = r.json.error;
  assert.equal(typeof message, 'string', where);
  assert.ok((message as string).trim().length > 0, `a non-empty message: ${where}`);
  assert.ok(!(message as string).includes('at /') && !(message as string).includes('.ts:'), `no stack trace: ${where}`);
  assert.doesNotMatch(message as string, /\n\s+at /, `no stack trace: ${where}`);
}

describe('table: bad bodies → 400 with { error }', () => {
  const bodies: [string, unknown, RegExp][] = [
    // wrong types and nulls
    ['cc as a string', { cc: 'br' }, /cc must be an array/],
    ['cc as a number', { cc: 7 }, /cc must be an array/],
    ['cc as an object', { cc: { br: true } }, /cc must be an array/],
    ['cc null', { cc: null }, /cc must be an array/],
    ['a number in cc', { cc: ['br', 7] }, /each cc must be a string/],
    ['null in cc', { cc: [null] }, /each cc must be a string/],
    ['an array in cc', { cc: [['br']] }, /each cc must be a string/],
    ['all as a string', { all: 'yes' }, /all must be true or false/],
    ['every as 1', { every: 1 }, /every must be true or false/],
    ['every null', { every: null }, /every must be true or false/],
    ['verbose "true"', { verbose: 'true' }, /verbose must be true or false/],
    ['dryRun 0', { dryRun: 0 }, /dryRun must be true or false/],
    ['async "false"', { async: 'false' }, /async must be true or false/],
    ['server as a number', { server: 5 }, /server must be a string/],
    ['server null', { server: null }, /server must be a string/],
    ['server as an array', { server: ['LOCAL'] }, /server must be a string/],
    // numbers: negative, zero, huge, fractional, NaN-ish strings
    ['maxReq 0', { maxReq: 0 }, /maxReq must be a whole number from 1 to 1000/],
    ['maxReq -5', { maxReq: -5 }, /maxReq must be a whole number/],
    ['maxReq 1001', { maxReq: 1001 }, /maxReq must be a whole number/],
    ['maxReq 1e9', { maxReq: 1e9 }, /maxReq must be a whole number/],
    ['maxReq 2.5', { maxReq: 2.5 }, /maxReq must be a whole number/],
    ['maxReq 1e-300', { maxReq: 1e-300 }, /maxReq must be a whole number/],
    ['maxReq "10"', { maxReq: '10' }, /maxReq must be a whole number/],
    ['maxReq "NaN"', { maxReq: 'NaN' }, /maxReq must be a whole number/],
    ['maxReq "Infinity"', { maxReq: 'Infinity' }, /maxReq must be a whole number/],
    ['maxReq "1e3"', { maxReq: '1e3' }, /maxReq must be a whole number/],
    ['maxReq null', { maxReq: null }, /maxReq must be a whole number/],
    ['maxReq true', { maxReq: true }, /maxReq must be a whole number/],
    ['limit 0', { limit: 0 }, /limit must be a whole number/],
    ['limit -1', { limit: -1 }, /limit must be a whole number/],
    ['limit 0.5', { limit: 0.5 }, /limit must be a whole number/],
    ['limit 1e7', { limit: 1e7 }, /limit must be a whole number/],
    ['limit Number.MAX_VALUE', { limit: Number.MAX_VALUE }, /limit must be a whole number/],
    ['limit "-Infinity"', { limit: '-Infinity' }, /limit must be a whole number/],
    // huge arrays
    ['1001 codes', { cc: Array(1001).fill('br') }, /at most 1000 codes/],
    ['5000 codes', { cc: Array(5000).fill('a') }, /at most 1000 codes/],
    // unicode and control characters
    ['NUL', { cc: ['\u0000'] }, /A to Z or AA to ZZ/],
    ['a newline after a code', { cc: ['br\n'] }, /A to Z or AA to ZZ/],
    ['a tab before a letter', { cc: ['\tb'] }, /A to Z or AA to ZZ/],
    ['right-to-left override', { cc: ['\u202ebr'] }, /A to Z or AA to ZZ/],
    ['a flag emoji', { cc: ['🇧🇷'] }, /A to Z or AA to ZZ/],
    ['full-width letters', { cc: ['ＢＲ'] }, /A to Z or AA to ZZ/],
    ['a combining accent', { cc: ['b\u0301'] }, /A to Z or AA to ZZ/],
    ['a lone surrogate', { cc: ['\ud800'] }, /A to Z or AA to ZZ/],
    ['a zero-width space', { cc: ['b\u200br'] }, /A to Z or AA to ZZ/],
    ['dotted capital I', { cc: ['İ'] }, /A to Z or AA to ZZ/],
    ['an empty code', { cc: [''] }, /A to Z or AA to ZZ/],
    ['three letters', { cc: ['bra'] }, /A to Z or AA to ZZ: got "bra"/],
    ['a 10 KB code', { cc: ['b'.repeat(10_000)] }, /A to Z or AA to ZZ: got "b{40}…"/],
    // codes with URLs or paths inside
    ['a URL', { cc: ['http://127.0.0.1:1/x'] }, /A to Z or AA to ZZ/],
    ['a file URL', { cc: ['file:///etc/passwd'] }, /A to Z or AA to ZZ/],
    ['a parent path', { cc: ['../../x'] }, /A to Z or AA to ZZ/],
    ['a code with a path', { cc: ['br/../us'] }, /A to Z or AA to ZZ/],
    ['an encoded parent', { cc: ['%2e%2e'] }, /A to Z or AA to ZZ/],
    ['a query', { cc: ['br?x=1'] }, /A to Z or AA to ZZ/],
    ['a fragment', { cc: ['br#x'] }, /A to Z or AA to ZZ/],
    ['a file name', { cc: ['br.gif'] }, /A to Z or AA to ZZ/],
    ['a UNC path', { cc: ['\\\\host\\share'] }, /A to Z or AA to ZZ/],
    // unknown fields and servers
    ['url', { url: 'http://127.0.0.1:1' }, /unknown field "url": allowed are cc, all, every/],
    ['origin', { cc: ['br'], origin: 'http://127.0.0.1:1' }, /unknown field "origin"/],
    ['host', { host: '127.0.0.1' }, /unknown field "host"/],
    ['__proto__', JSON.parse('{"__proto__": {"maxReq": 5}}'), /unknown field "__proto__"/],
    ['constructor', { constructor: { prototype: {} } }, /unknown field "constructor"/],
    ['CC in capitals', { CC: ['br'] }, /unknown field "CC"/],
    ['max_req', { max_req: 5 }, /unknown field "max_req"/],
    ['an empty key', { '': 1 }, /unknown field ""/],
    ['several unknown fields', { a: 1, b: 2, c: 3 }, /unknown fields "a", "b", "c"/],
    ['server EVIL', { server: 'EVIL' }, /unknown server "EVIL": use one of LOCAL/],
    ['server empty', { server: '' }, /unknown server ""/],
    ['server with a space', { server: 'LOCAL ' }, /unknown server "LOCAL "/],
    ['server with a NUL', { server: 'LOCAL\u0000' }, /unknown server/],
    ['server in full-width letters', { server: 'ＬＯＣＡＬ' }, /unknown server/],
    ['server __proto__', { server: '__proto__' }, /unknown server "__proto__"/],
    ['server constructor', { server: 'constructor' }, /unknown server "constructor"/],
    ['server toString', { server: 'toString' }, /unknown server "toString"/],
    ['server as a URL', { server: 'http://127.0.0.1:1/flags' }, /unknown server/],
    ['server of 65 characters', { server: 'L'.repeat(65) }, /at most 64 characters/],
    // a bad field next to good ones: nothing runs
    ['every with a bad maxReq', { every: true, maxReq: 0 }, /maxReq/],
    ['all with an unknown field', { all: true, verbose: true, sleep: 10 }, /unknown field "sleep"/],
  ];
  for (const [name, body, message] of bodies) {
    test(`${name} → 400`, async () => {
      const r = await post(body);
      assertRejected(r, name, [400]);
      assert.match(r.json!.error as string, message);
    });
  }
});

describe('table: not JSON, wrong JSON, odd encodings and content types → 400; oversize → 413', () => {
  const raws: [string, string | Buffer, string, number][] = [
    ['form-encoded as JSON', 'cc=br', 'application/json', 400],
    ['single quotes', "{'cc': ['br']}", 'application/json', 400],
    ['bare words', '{"cc": [br]}', 'application/json', 400],
    ['unquoted keys', '{cc: ["br"]}', 'application/json', 400],
    ['a trailing comma', '{"cc": ["br"],}', 'application/json', 400],
    ['undefined', 'undefined', 'application/json', 400],
    ['NaN', 'NaN', 'application/json', 400],
    ['a byte-order mark', '\ufeff{}', 'application/json', 400],
    ['garbage after the object', '{"cc": ["br"]} x', 'application/json', 400],
    ['two objects', '{}{}', 'application/json', 400],
    ['an unterminated array', '{"cc": [', 'application/json', 400],
    ['null', 'null', 'application/json', 400],
    ['a number', '42', 'application/json', 400],
    ['a string', '"cc"', 'application/json', 400],
    ['true', 'true', 'application/json', 400],
    ['an array', '[{"cc": ["br"]}]', 'application/json', 400],
    ['a 20 000-element array', `[${'1,'.repeat(19_999)}1]`, 'application/json', 400],
    ['30 000 nested arrays in cc', `{"cc":${'['.repeat(30_000)}${']'.repeat(30_000)}}`, 'application/json', 400],
    ['10 000 nested objects', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`, 'application/json', 400],
    ['1e400 (Infinity)', '{"maxReq": 1e400}', 'application/json', 400],
    ['-0', '{"limit": -0}', 'application/json', 400],
    ['a duplicate key, the last one bad', '{"maxReq": 5, "maxReq": 5000}', 'application/json', 400],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'application/json', 400],
    ['UTF-16 bytes declared as JSON', Buffer.from('{"cc":["br"]}', 'utf16le'), 'application/json; charset=utf-16le', 400],
    ['gzip bytes (Content-Encoding is not decoded)', gzipSync('{"cc":["br"]}'), 'application/json', 400],
    ['a form', 'cc=br&all=true', 'application/x-www-form-urlencoded', 400],
    ['plain text', 'br us', 'text/plain', 400],
    ['XML', '<request><cc>br</cc></request>', 'application/xml', 400],
    ['multipart', '--x\r\nContent-Disposition: form-data; name="cc"\r\n\r\nbr\r\n--x--', 'multipart/form-data; boundary=x', 400],
    ['binary bytes', Buffer.from([0, 1, 2, 3, 255, 254]), 'application/octet-stream', 400],
    ['an image', Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), 'image/gif', 400],
    ['an odd content type', 'not json', 'x/y; a="b"', 400],
    // oversize: the handler's limit is 64 KB (the gateway's 10 MB is not reached)
    ['64 KB + 1 of valid JSON', `{"cc":["br"]}${' '.repeat(64 * 1024 + 1 - 13)}`, 'application/json', 413],
    ['1 MB of codes', JSON.stringify({ cc: Array(200_000).fill('br') }), 'application/json', 413],
    ['4 MB of one string', JSON.stringify({ cc: ['x'.repeat(4 * 1024 * 1024)] }), 'application/json', 413],
    ['64 KB + 1 as binary (base64 on the way)', Buffer.alloc(64 * 1024 + 1, 0x20), 'application/octet-stream', 413],
  ];
  for (const [name, body, type, status] of raws) {
    test(`${name} (${type}) → ${status}`, async () => {
      const r = await postRaw(body, type);
      assertRejected(r, name, [status]);
      if (status === 413) assert.match(r.json!.error as string, /too large: \d+ bytes, at most 65536/);
    });
  }

  test('no Content-Type and a non-JSON body → 400', async () => {
    const r = await send('POST', '/downloads', { body: 'cc=br' });
    assertRejected(r, 'no content type', [400]);
  });
});

describe('table: wrong methods, routes, query strings, job ids', () => {
  const requests: [string, string, number][] = [
    ['GET', '/downloads', 405],
    ['PUT', '/downloads', 405],
    ['PATCH', '/downloads', 405],
    ['DELETE', '/downloads', 405],
    ['OPTIONS', '/downloads', 405],
    ['HEAD', '/downloads', 405],
    ['POST', `/downloads/${UUID}`, 405],
    ['PUT', `/downloads/${UUID}`, 405],
    ['DELETE', `/downloads/${UUID}`, 405],
    ['GET', '/', 404],
    ['POST', '/', 404],
    ['GET', '/download', 404],
    ['POST', '/DOWNLOADS', 404],
    ['POST', '/downloads.json', 404],
    ['POST', '/%64ownloads', 404],
    ['POST', '/downloads%2F', 404],
    ['GET', '/flags/br/br.gif', 404],
    ['GET', `/downloads/${UUID}/extra`, 404],
    ['GET', '/downloads/../etc/passwd', 404],
    ['GET', '//downloads', 404],
    ['GET', '/jobs/x.json', 404],
    // query strings do not change the route or the rules
    ['GET', '/downloads?cc=br', 405],
    ['POST', '/?cc=br', 404],
    ['GET', `/downloads?jobId=${UUID}`, 405],
    // path traversal and junk in the job id
    ['GET', '/downloads/..%2F..%2Fetc%2Fpasswd', 400],
    ['GET', '/downloads/%2e%2e', 404], // %2e%2e is a dot segment: resolved to / before routing
    ['GET', '/downloads/..%5C..%5Cwindows%5Cwin.ini', 400],
    ['GET', '/downloads/jobs%2F..%2Fflags%2Fbr.gif', 400],
    ['GET', `/downloads/${UUID}.json`, 400],
    ['GET', `/downloads/${UUID.toUpperCase()}`, 400],
    ['GET', `/downloads/${UUID}%00`, 400],
    ['GET', `/downloads/${UUID}%20`, 400],
    ['GET', '/downloads/%00', 400],
    ['GET', '/downloads/x', 400],
    ['GET', `/downloads/${'a'.repeat(5_000)}`, 400],
    ['GET', `/downloads/${UUID}?x=../../`, 404],
    ['GET', `/downloads/${UUID}`, 404],
  ];
  for (const [method, path, status] of requests) {
    test(`${method} ${path.slice(0, 70)} → ${status}`, async () => {
      const r = await send(method, path);
      assertRejected(r, `${method} ${path}`, [status], method);
      if (status === 405) assert.ok(['POST', 'GET'].includes(String(r.headers.allow)), `Allow: ${r.headers.allow}`);
    });
  }

  test('a bad body with a query string that names valid fields → still 400 (the query is ignored)', async () => {
    const r = await send('POST', '/downloads?cc=br&server=LOCAL', { body: '{"cc": "br"}', headers: JSON_TYPE });
    assertRejected(r, 'query + bad body', [400]);
  });
});

// fast-check: generated bad requests

const letterOrPair = fc.stringMatching(/^[A-Za-z]{1,2}$/);
/** Strings whose upper case is not A..Z or AA..ZZ (so never a code, whatever the Unicode case rules). */
const badCode = fc.string({ unit: 'binary', maxLength: 12 }).filter((v) => !/^[A-Z]{1,2}$/.test(v.toUpperCase()) && clean(v));
const encodable = (v: string) => {
  try {
    encodeURIComponent(v);
    return true;
  } catch {
    return false; // a lone surrogate
  }
};
const anyString = fc.string({ unit: 'binary', maxLength: 30 }).filter(clean);
const notBoolean = fc.oneof(fc.integer(), anyString, fc.constant(null), fc.array(fc.boolean(), { maxLength: 2 }), fc.constant({}));
const badWhole = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ max: min - 1 }),
    fc.integer({ min: max + 1 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
    fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e3', '0x10', '5', '', ' 1'),
    fc.constant(null),
    fc.boolean(),
    fc.array(fc.integer({ min, max }), { minLength: 1, maxLength: 2 }),
  );
const badCc = fc.oneof(
  anyString,
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.tuple(fc.array(letterOrPair, { maxLength: 3 }), badCode).map(([good, bad]) => [...good, bad]),
  fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.array(letterOrPair, { maxLength: 1 })), { minLength: 1, maxLength: 3 }),
  fc.integer({ min: 1001, max: 3000 }).map((n) => Array(n).fill('br')),
);
const badServer = fc.oneof(
  anyString.filter((v) => !LABELS.includes(v.toUpperCase())),
  fc.string({ minLength: 65, maxLength: 100 }).filter(clean),
  fc.integer(),
  fc.constant(null),
  fc.array(fc.constant('LOCAL'), { minLength: 1, maxLength: 1 }),
);
const unknownKey = anyString.filter((k) => !FIELDS.includes(k));
/** One bad entry: a wrong value for a known field, or an unknown field. */
const badEntry: fc.Arbitrary<[string, unknown]> = fc.oneof(
  badCc.map((v) => ['cc', v] as [string, unknown]),
  fc.tuple(fc.constantFrom('all', 'every', 'verbose', 'dryRun', 'async'), notBoolean),
  badWhole(1, 1_000_000).map((v) => ['limit', v] as [string, unknown]),
  badWhole(1, 1000).map((v) => ['maxReq', v] as [string, unknown]),
  badServer.map((v) => ['server', v] as [string, unknown]),
  fc.tuple(unknownKey, fc.jsonValue({ maxDepth: 2 })),
);
/** Valid fields (any subset): what a bad entry is mixed into. */
const validFields = fc.record(
  {
    cc: fc.array(letterOrPair, { maxLength: 4 }),
    all: fc.boolean(),
    every: fc.boolean(),
    limit: fc.integer({ min: 1, max: 1_000_000 }),
    maxReq: fc.integer({ min: 1, max: 1000 }),
    server: fc.constantFrom('LOCAL', 'local', 'Local'),
    verbose: fc.boolean(),
    dryRun: fc.boolean(),
    async: fc.boolean(),
  },
  { requiredKeys: [] },
);

describe('generated (fast-check, fixed seeds)', () => {
  test('valid fields plus at least one bad entry → 400, nothing runs', async () => {
    await fc.assert(
      fc.asyncProperty(validFields, fc.array(badEntry, { minLength: 1, maxLength: 3 }), async (good, bad) => {
        const body: Json = { ...good };
        for (const [k, v] of bad) Object.defineProperty(body, k, { value: v, enumerable: true, configurable: true, writable: true });
        const r = await post(body);
        assertRejected(r, JSON.stringify(body).slice(0, 200), [400]);
      }),
      { numRuns: 120, seed: 20_240_601 },
    );
  });

  test('JSON that is not an object → 400 "the body must be a JSON object"', async () => {
    const notObject = fc.jsonValue({ maxDepth: 3 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v));
    await fc.assert(
      fc.asyncProperty(notObject, async (v) => {
        const r = await postRaw(JSON.stringify(v));
        assertRejected(r, JSON.stringify(v).slice(0, 100), [400]);
        assert.equal(r.json!.error, 'the body must be a JSON object');
      }),
      { numRuns: 30, seed: 7 },
    );
  });

  test('text that is not JSON, with any content type → 400', async () => {
    const notJson = anyString.filter((v) => {
      if (v.trim() === '') return false; // an empty body is a valid request (no options)
      try {
        JSON.parse(v);
        return false;
      } catch {
        return true;
      }
    });
    const type = fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded', 'text/html; charset=utf-8');
    await fc.assert(
      fc.asyncProperty(notJson, type, async (body, contentType) => {
        const r = await postRaw(body, contentType);
        assertRejected(r, JSON.stringify(body), [400]);
      }),
      { numRuns: 40, seed: 99 },
    );
  });

  test('random paths and methods → 404/405 (or 400 for a job id), never 5xx', async () => {
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS');
    // Filtered on the path as the server sees it (dot segments and %2e resolved): never one of the two routes.
    const path = fc.webPath().filter((p) => {
      if (p.startsWith('//')) return false; // a network-path reference: not a path the client can send as such
      const seen = new URL(p || '/', 'http://x').pathname.replace(/\/+$/, '');
      return seen !== '/downloads' && !seen.startsWith('/downloads/') && clean(p);
    });
    await fc.assert(
      fc.asyncProperty(method, path, async (m, p) => {
        const r = await send(m, p || '/');
        assertRejected(r, `${m} ${p}`, [404, 405], m);
      }),
      { numRuns: 40, seed: 1_234 },
    );
  });

  test('random job ids (percent-encoded) → 400, or 404 for a well-formed unknown id', async () => {
    const id = fc.oneof(
      anyString.filter((v) => v !== '' && v !== '.' && v !== '..' && encodable(v)),
      fc.uuid(),
      fc.constantFrom('...', '%', '\\', '/etc/passwd', `${UUID}/..`, `../${UUID}`),
    );
    await fc.assert(
      fc.asyncProperty(id, async (raw) => {
        const path = `/downloads/${encodeURIComponent(raw)}`;
        const r = await send('GET', path);
        const wellFormed = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(raw);
        assertRejected(r, path, wellFormed ? [404] : [400, 404], 'GET');
      }),
      { numRuns: 40, seed: 4_321 },
    );
  });

  test('valid-ish requests (random subsets of valid fields, some with one bad value) → 200, 202 or 400; never 5xx', async () => {
    const validIsh = fc.oneof(
      { weight: 4, arbitrary: validFields.map((b): [Json, boolean] => [b, true]) },
      { weight: 1, arbitrary: fc.tuple(validFields, badEntry).map(([b, [k, v]]): [Json, boolean] => [{ ...b, [k]: v }, false]) },
    );
    const jobs: string[] = [];
    await fc.assert(
      fc.asyncProperty(validIsh, async ([body, valid]) => {
        const r = await post(body);
        assert.ok(r.status < 500, `${JSON.stringify(body).slice(0, 200)} → ${r.status} ${r.text.slice(0, 200)}`);
        if (!valid) assertRejected(r, JSON.stringify(body).slice(0, 200), [400]);
        else assert.ok([200, 202].includes(r.status), `${JSON.stringify(body)} → ${r.status} ${r.text.slice(0, 200)}`);
        if (r.status === 200) {
          const c = r.json!.counts as { ok: number; not_found: number; error: number };
          assert.equal(c.ok + c.not_found + c.error, r.json!.requested);
          assert.equal(c.error, 0, JSON.stringify(r.json!.errors));
        }
        if (r.status === 202) jobs.push(r.json!.statusUrl as string);
      }),
      { numRuns: 40, seed: 5_150 },
    );
    for (const url of jobs) {
      const job = await s.client.pollJob(url, 60_000);
      assert.equal(job.status, 'done', url);
    }
  });
});

describe('reported bugs (each fails while its bug is there)', () => {
  test('a malformed percent-encoding in the job id → 400, not 500 (functions/api.ts decodeURIComponent)', async () => {
    for (const path of ['/downloads/%', '/downloads/%E0%A4%A', '/downloads/%zz', '/downloads/%C0%AF']) {
      const r = await s.client.send('GET', path);
      assertRejected(r, `GET ${path}`, [400], 'GET');
    }
  });

  test('letters that become A..Z only by Unicode case mapping (ß → SS, ſ → S, ı → I, ﬁ → FI) are not codes → 400', async () => {
    for (const code of ['ß', 'ſ', 'ı', 'ﬁ', 'ﬀ', 'ﬆ']) {
      const r = await s.client.post({ cc: [code], dryRun: true });
      assertRejected(r, `cc ${JSON.stringify(code)} → ${r.json?.requested ?? ''} code(s)`, [400]);
    }
  });
});

describe('afterwards', () => {
  test('at least 100 requests were sent, none answered 5xx', (t) => {
    const byStatus: Record<number, number> = {};
    for (const x of sent) byStatus[x.status] = (byStatus[x.status] ?? 0) + 1;
    t.diagnostic(`${sent.length} requests, by status: ${JSON.stringify(byStatus)}`);
    assert.ok(sent.length >= 100, `${sent.length} requests`);
    const fiveXX = sent.filter((x) => x.status >= 500);
    assert.deepEqual(fiveXX, []);
  });

  test('the server is still healthy: a valid request → 200 with the flag', async () => {
    const r = await post({ cc: ['br', 'zz'], verbose: true });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json!.counts, { ok: 1, not_found: 1, error: 0 });
  });
});
