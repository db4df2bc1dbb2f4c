// `flagsync` (bin/flagsync.ts) and `npm run serve` (bin/serve.ts) run as a user runs them: child processes,
// each with its own data folder and free ports. Checks what they print, their exit codes, what lands in S3
// (read back through s3rver on the same folder, byte for byte against the origin's GIFs), and what they leave behind.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { request } from 'undici';
import { ALL_CODES, DEFAULT_CODES, EVERY_CODES } from '../functions/codes.ts';
import { regionFor } from '../local/cli-sigv4.ts';
import { loadFlagImages } from '../local/flag-images.ts';
import { localS3Client, startLocalS3 } from '../local/s3-server.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const temps: string[] = [];
const children = new Set<ChildProcess>();

after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'flagsync-cli-'));
  temps.push(d);
  return d;
}

/** The child's environment: its own data folder, free ports, and no AWS settings from the machine running the tests. */
function childEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FLAGS_DATA_DIR: dataDir, FLAGS_S3_PORT: '0', PORT: '0', ...extra };
  for (const k of Object.keys(env)) {
    // test/run.mjs sets the SDK warning switch; the entry points must set it themselves.
    if ((k.startsWith('AWS_') && !(k in extra)) || k === 'FLAGS_ORIGINS') delete env[k];
  }
  return env;
}

function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** `flagsync ARGS` to completion (killed after `timeoutMs`). */
function flagsync(args: string[], o: { dataDir?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  const started = performance.now();
  const child = spawnTs('bin/flagsync.ts', args, childEnv(o.dataDir ?? tempDir(), o.env));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 50_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** Objects under flags/ in the data folder, read through the S3 API of a fresh s3rver on it. */
async function storedFlags(dataDir: string): Promise<Map<string, Buffer>> {
  const s3 = await startLocalS3({ directory: dataDir });
  const client = localS3Client(s3);
  try {
    const out = new Map<string, Buffer>();
    const list = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'flags/' }));
    for (const o of list.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: o.Key }));
      out.set(o.Key!, Buffer.from(await got.Body!.transformToByteArray()));
    }
    return out;
  } finally {
    client.destroy();
    await s3.close();
  }
}

/** Asserts flags/ holds exactly these codes' GIFs, byte-identical to what the origins serve. */
async function assertStored(dataDir: string, codes: readonly string[]): Promise<void> {
  const stored = new Map([...(await storedFlags(dataDir))].filter(([key]) => key.endsWith('.gif')));
  const want = await loadFlagImages(codes);
  assert.deepEqual([...stored.keys()].sort(), [...want.keys()].map((cc) => `flags/${cc}.gif`).sort());
  for (const [cc, bytes] of want) assert.ok(stored.get(`flags/${cc}.gif`)?.equals(bytes), `flags/${cc}.gif differs from the origin's`);
}

const lines = (s: string) => s.split('\n');
const withFlag = (codes: readonly string[]) => codes.filter((c) => ALL_CODES.includes(c));
const clean = (r: Run) => assert.equal(r.stderr, '', 'nothing on stderr: no SDK warning, no handler logs, no leak warning');

/** `npm run serve` as a child: resolves once it printed its URLs. */
async function startServe(dataDir: string, args: string[] = []) {
  const child = spawnTs('bin/serve.ts', args, childEnv(dataDir));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stdout} ${stderr}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d;
      if (/^Try:$/m.test(stdout) && stdout.includes('s3 ls')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
  });
  const url = (re: RegExp) => re.exec(stdout)?.[1] ?? assert.fail(`no ${re} in:\n${stdout}`);
  return {
    child,
    exited,
    output: () => stdout,
    errors: () => stderr,
    api: url(/API endpoint +(http:\/\/\S+)/),
    s3: url(/S3 endpoint +(http:\/\/\S+)/),
    origins: [...stdout.matchAll(/(?:LOCAL|DELAY|ERROR) (http:\/\/\S+)\/flags/g)].map((m) => m[1]!),
  };
}

/** True when nothing accepts connections on the URL's port. */
function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

// The two groups run side by side: the serve tests are short and the long ERROR run mostly waits.
describe('command line', { concurrency: true }, () => {
  describe('flagsync', { concurrency: 3 }, () => {
    // First: it takes ~30 s (194 requests of 0.5 s, 5 at a time, plus retries); the others run beside it.
    test('-s ERROR -a: 25 % of requests fail, retries make every existing flag ok', async () => {
      const dataDir = tempDir();
      const r = await flagsync(['-s', 'ERROR', '-a'], { dataDir, timeoutMs: 55_000 });
      assert.equal(r.code, 0, r.stderr);
      clean(r);
      assert.match(r.stdout, /^Searching for 194 flags: from AD to ZW$/m);
      assert.match(r.stdout, /^194 flags downloaded\.\nElapsed time: /m);
      assert.doesNotMatch(r.stdout, /errors?\./);
      await assertStored(dataDir, ALL_CODES);
    });

    test('no arguments: the top 20 from LOCAL, the flags2 report, and the flags in S3', async () => {
      const dataDir = tempDir();
      const r = await flagsync([], { dataDir });
      assert.equal(r.code, 0, r.stderr);
      clean(r);
      const out = lines(r.stdout);
      assert.match(out[0]!, /^LOCAL site: http:\/\/127\.0\.0\.1:\d+\/flags$/);
      assert.equal(out[1], 'Searching for 20 flags: from BD to VN');
      assert.equal(out[2], '5 concurrent connections will be used.');
      assert.equal(out[3], '-'.repeat(20));
      assert.equal(out[4], '20 flags downloaded.');
      assert.match(out[5]!, /^Elapsed time: \d+\.\d\ds$/);
      assert.equal(out[6], 'Stored in s3://flagsync-local/flags/ (20 written, 0 unchanged)');
      assert.doesNotMatch(r.stdout, /not found|error/);
      await assertStored(dataDir, DEFAULT_CODES);
      // The data outlives the run: the same folder again finds everything already stored.
      const again = await flagsync([], { dataDir });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^Stored in s3:\/\/flagsync-local\/flags\/ \(0 written, 20 unchanged\)$/m);
    });

    test('-s DELAY -m 100 b: 26 concurrent connections (min of 100 and 26), found and not found', async () => {
      const dataDir = tempDir();
      const r = await flagsync(['-s', 'DELAY', '-m', '100', 'b'], { dataDir });
      assert.equal(r.code, 0, r.stderr);
      clean(r);
      const found = withFlag(EVERY_CODES.filter((c) => c.startsWith('B')));
      assert.equal(found.length, 17);
      assert.match(r.stdout, /^DELAY site: http:\/\/127\.0\.0\.1:\d+\/flags$/m);
      assert.match(r.stdout, /^Searching for 26 flags: from BA to BZ$/m);
      assert.match(r.stdout, /^26 concurrent connections will be used\.$/m);
      assert.match(r.stdout, /^17 flags downloaded\.\n9 not found\.\nElapsed time: (\d+\.\d\d)s$/m);
      // 26 requests of 0.5 s each at once: under the 26 × 0.5 s = 13 s they would take one by one (loose: CI is slow).
      const elapsed = Number(/Elapsed time: (\d+\.\d\d)s/.exec(r.stdout)![1]);
      assert.ok(elapsed >= 0.5 && elapsed < 13, `elapsed ${elapsed}s`);
      await assertStored(dataDir, found);
    });

    test('-e -l 30 --json: only the final body, as JSON', async () => {
      const dataDir = tempDir();
      const r = await flagsync(['-e', '-l', '30', '--json'], { dataDir });
      assert.equal(r.code, 0, r.stderr);
      clean(r);
      const body = JSON.parse(r.stdout) as { requested: number; counts: Record<string, number>; server: string; concurrency: number };
      const found = withFlag(EVERY_CODES.slice(0, 30));
      assert.equal(body.requested, 30);
      assert.equal(body.server, 'LOCAL');
      assert.equal(body.concurrency, 5);
      assert.deepEqual(body.counts, { ok: found.length, not_found: 30 - found.length, error: 0 });
      await assertStored(dataDir, found);
    });

    test('-v ar br qq: one flags2 line per code, no bar', async () => {
      const r = await flagsync(['-v', 'ar', 'br', 'qq']);
      assert.equal(r.code, 0, r.stderr);
      clean(r);
      assert.match(r.stdout, /^Searching for 3 flags: AR, BR, QQ\n3 concurrent connections will be used\.\nAR OK\nBR OK\nQQ not found\n-{20}\n2 flags downloaded\.\n1 not found\.\n/m);
    });

    test('zz1: usage error, exit 2, nothing started', async () => {
      const dataDir = tempDir();
      const r = await flagsync(['zz1'], { dataDir });
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^usage: flagsync /);
      assert.match(r.stderr, /^flagsync: error: each CC argument must be A to Z or AA to ZZ: got "zz1"$/m);
      assert.ok(!existsSync(join(dataDir, 'flagsync-local')), 'no local S3 was started');
    });

    test('-m 0 and other bad options: exit 2 with a clear message', async () => {
      const cases: [string[], RegExp][] = [
        [['-m', '0'], /-m\/--max_req CONCURRENT must be a whole number from 1 to 1000: got "0"/],
        [['--max-req', '1001'], /from 1 to 1000: got "1001"/],
        [['-l', 'x'], /-l\/--limit N must be a whole number ≥ 1: got "x"/],
        [['--bogus'], /Unknown option '--bogus'/],
        [['-s', 'nowhere'], /-s\/--server LABEL must be one of LOCAL, DELAY, ERROR: got "NOWHERE"/],
        [['--async'], /--async needs --endpoint/],
      ];
      const runs = await Promise.all(cases.map(([args]) => flagsync(args)));
      runs.forEach((r, i) => {
        assert.equal(r.code, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /^usage: flagsync /);
        assert.match(r.stderr, cases[i]![1]);
      });
    });

    test('--endpoint: every request signed with SigV4 for execute-api, a job polled to the end', async () => {
      const accessKeyId = 'AKIAIOSFODNN7EXAMPLE';
      const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
      const jobId = '3f0c6a6e-1111-4222-8333-444455556666';
      const seen: { method: string; url: string; authorization: string; verified: boolean; body: string }[] = [];
      const verifier = new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials: { accessKeyId, secretAccessKey }, sha256: Sha256, applyChecksum: false });
      // Recomputes the signature from what arrived: a wrong body hash, header or scope would not match.
      const verify = async (req: IncomingMessage, body: string, authorization: string) => {
        const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
        const headers = Object.fromEntries(signedHeaders.map((h) => [h, String(req.headers[h] ?? '')]));
        const amzDate = String(req.headers['x-amz-date']);
        const signingDate = new Date(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
        const url = new URL(req.url!, 'http://x');
        const again = await verifier.sign(
          { method: req.method!, protocol: 'http:', hostname: '127.0.0.1', path: url.pathname, query: {}, headers, body: body || undefined },
          { signingDate },
        );
        return again.headers.authorization === authorization;
      };
      const progress = { done: 0, total: 26 };
      const api = createServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d));
        req.on('end', async () => {
          const authorization = String(req.headers.authorization ?? '');
          seen.push({ method: req.method!, url: req.url!, authorization, verified: authorization !== '' && (await verify(req, body, authorization)), body });
          const send = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
          if (!authorization) return send(403, { message: 'Forbidden' });
          if (req.method === 'POST' && req.url === '/downloads') return send(202, { jobId, status: 'running', statusUrl: `/downloads/${jobId}` });
          if (req.method === 'GET' && req.url === `/downloads/${jobId}`) {
            progress.done = Math.min(26, progress.done + 13);
            const running = { jobId, status: progress.done < 26 ? 'running' : 'done', progress, createdAt: '', updatedAt: '' };
            if (progress.done < 26) return send(200, running);
            return send(200, {
              ...running, server: 'REMOTE', requested: 26, concurrency: 5, counts: { ok: 17, not_found: 9, error: 0 }, written: 17,
              unchanged: 0, dryRun: false, elapsedSeconds: 1.5, bucket: 'flagsync-flags-123', prefix: 'flags/', errors: [],
            });
          }
          send(404, { error: 'no route' });
        });
      });
      await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
      try {
        const endpoint = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
        const r = await flagsync(['--endpoint', endpoint, '--region', 'eu-west-1', '-s', 'remote', 'b'], {
          env: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey },
        });
        assert.equal(r.code, 0, r.stderr);
        clean(r);
        assert.match(r.stdout, new RegExp(`^REMOTE site: via ${endpoint}$`, 'm'));
        assert.match(r.stdout, /^17 flags downloaded\.\n9 not found\.\n/m);
        assert.match(r.stdout, /^Stored in s3:\/\/flagsync-flags-123\/flags\/ \(17 written, 0 unchanged\)$/m);
        assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), ['POST /downloads', `GET /downloads/${jobId}`, `GET /downloads/${jobId}`]);
        assert.deepEqual(JSON.parse(seen[0]!.body), { cc: ['b'], server: 'REMOTE', async: true });
        for (const s of seen) {
          assert.match(s.authorization, /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=\S*host\S*, Signature=[0-9a-f]{64}$/);
          assert.ok(s.verified, `${s.method} ${s.url}: the signature matches the request`);
        }
        // A refused request (here: an endpoint that 403s everything) is a failure, exit 1, with the gateway's message.
        const refused = await flagsync(['--endpoint', `${endpoint}/nowhere`, '--json']);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /^flagsync: error: POST \/downloads → (403: Forbidden|404: no route)$/m);
      } finally {
        await new Promise((resolve) => api.close(resolve));
      }
    });

    test('the signing region: --region, else the execute-api host, else AWS_REGION', () => {
      const url = new URL('https://abc123.execute-api.eu-west-1.amazonaws.com');
      assert.equal(regionFor(url, undefined, {}), 'eu-west-1');
      assert.equal(regionFor(url, 'us-east-2', { AWS_REGION: 'ap-south-1' }), 'us-east-2');
      assert.equal(regionFor(new URL('https://flags.example.com'), undefined, { AWS_REGION: 'ap-south-1' }), 'ap-south-1');
      assert.equal(regionFor(new URL('https://flags.example.com'), undefined, {}), undefined);
    });
  });

  describe('npm run serve', () => {
    test('serves the API until SIGINT, then exits 0 and closes every port', async () => {
      const dataDir = tempDir();
      const s = await startServe(dataDir);
      assert.equal(s.origins.length, 3);
      assert.ok(s.output().includes(`curl -s -X POST ${s.api}/downloads -H 'content-type: application/json' -d '{"cc":["br","us"]}'`));
      assert.ok(s.output().includes(`aws --endpoint-url ${s.s3} s3 ls s3://flagsync-local/flags/`));
      assert.match(s.output(), /S3 keys +S3RVER \/ S3RVER/);
      const res = await request(`${s.api}/downloads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"cc":["br","us"]}' });
      const body = (await res.body.json()) as { counts: object; requested: number };
      assert.equal(res.statusCode, 200);
      assert.equal(body.requested, 2);
      assert.deepEqual(body.counts, { ok: 2, not_found: 0, error: 0 });
      s.child.kill('SIGINT');
      assert.equal(await within(s.exited, 5_000, 'exit after SIGINT'), 0, s.errors());
      assert.equal(s.errors(), '');
      assert.match(s.output(), /SIGINT: stopping\.\.\.\nstopped\.\n$/);
      for (const url of [s.api, s.s3, ...s.origins]) assert.ok(await refused(url), `${url} is closed`);
      await assertStored(dataDir, ['BR', 'US']);
    });

    test('--schedule: the cdk.json payload as a Scheduler event, one line per run', async () => {
      const s = await startServe(tempDir(), ['--schedule', '--every-seconds', '1']);
      const runLine = /^\S+Z scheduled sync \{"all":true,"maxReq":20\}: 194 flags downloaded, 0 not found, 0 errors \((\d+) written, (\d+) unchanged\) in \d+\.\d\ds$/gm;
      await within(
        (async () => {
          while ([...s.output().matchAll(runLine)].length < 2) await new Promise((r) => setTimeout(r, 100));
        })(),
        20_000,
        'two scheduled runs',
      );
      const [first, second] = [...s.output().matchAll(runLine)];
      assert.equal(Number(first![1]) + Number(first![2]), 194);
      assert.deepEqual([second![1], second![2]], ['0', '194'], 'the second run finds every flag unchanged');
      s.child.kill('SIGTERM');
      assert.equal(await within(s.exited, 10_000, 'exit after SIGTERM'), 0, s.errors());
    });

    test('a busy port is reported, not crashed on', async () => {
      const first = await startServe(tempDir());
      const port = new URL(first.api).port;
      const child = spawnTs('bin/serve.ts', [], childEnv(tempDir(), { PORT: port }));
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d));
      const code = await within(new Promise((resolve) => child.once('exit', resolve)), 15_000, 'second serve exits');
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`serve: error: port ${port} is busy .*set PORT=0`));
      first.child.kill('SIGINT');
      assert.equal(await within(first.exited, 5_000, 'exit'), 0);
    });
  });
});
