// The download core against real servers: s3rver and the local flag origin, on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { ALL_CODES, EVERY_CODES, expandArgument } from '../functions/codes.ts';
import { HttpFlagOrigin } from '../functions/download.ts';
import { summarize } from '../functions/report.ts';
import { syncFlags, type SyncOptions } from '../functions/sync.ts';
import { md5, mismatches, startWorld, type World } from './fixtures.ts';

function countPuts(client: S3Client): { puts: number } {
  const counter = { puts: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') counter.puts++;
      return next(args);
    },
    { step: 'initialize', name: `countPuts${Math.random()}` },
  );
  return counter;
}

async function run(w: World, codes: readonly string[], concurrency: number, extra: Partial<SyncOptions> = {}) {
  const source = new HttpFlagOrigin(w.origin.baseUrl, { connections: concurrency, retry: { baseMs: 20, capMs: 200 } });
  try {
    const out = await syncFlags({ codes, concurrency, source, store: w.store, ...extra });
    return { ...out, summary: summarize(out.results, { concurrency, dryRun: extra.dryRun ?? false, elapsedSeconds: out.elapsedSeconds }) };
  } finally {
    await source.close();
  }
}

const okCodes = (results: { cc: string; status: string }[]) => results.filter((r) => r.status === 'ok').map((r) => r.cc);

describe('plain origin', () => {
  let w: World;
  before(async () => { w = await startWorld(); });
  after(() => w.close());

  test('every: 194 ok byte for byte, 482 not found, counts add up', async () => {
    const { summary } = await run(w, EVERY_CODES, 100);
    assert.deepEqual(summary.counts, { ok: 194, not_found: 482, error: 0 });
    assert.equal(summary.requested, 676);
    assert.equal(summary.written, 194);
    assert.deepEqual(await mismatches(w, okCodes(summary.results)), []);
  });

  test('a re-sync of unchanged flags makes 0 PUTs and downloads nothing (304)', async () => {
    const counter = countPuts(w.client);
    w.origin.resetStats();
    const { summary } = await run(w, ALL_CODES, 50);
    assert.deepEqual(summary.counts, { ok: 194, not_found: 0, error: 0 });
    assert.equal(summary.unchanged, 194);
    assert.equal(summary.written, 0);
    // only the sources record may be rewritten: no flag is PUT
    assert.ok(counter.puts <= 1, `PUTs: ${counter.puts}`);
    assert.equal(w.origin.stats().byStatus[304], 194);
  });

  test('a changed stored object is rewritten; the others stay', async () => {
    const tampered = Buffer.from('GIF89a tampered');
    await w.store.putFlag('BR', tampered, md5(tampered), { sourceUrl: 'x' });
    const { summary } = await run(w, ['AR', 'BR', 'US'], 3);
    const br = summary.results.find((r) => r.cc === 'BR');
    assert.equal(br?.action, 'written');
    assert.equal(summary.unchanged, 2);
    assert.deepEqual(await mismatches(w, ['AR', 'BR', 'US']), []);
  });

  test('dry run downloads and reports but writes nothing', async () => {
    const counter = countPuts(w.client);
    const { summary } = await run(w, expandArgument('x'), 5, { dryRun: true });
    assert.equal(summary.counts.ok + summary.counts.not_found + summary.counts.error, 26);
    assert.equal(counter.puts, 0);
  });

  test('a write whose ETag is not the body\'s MD5 is an error, never ok', async () => {
    // s3rver does not check Content-MD5 (S3 does): the one narrow path no local server produces,
    // so the PutObject response is altered on its way back.
    const name = 'corruptEtag';
    const tampered = Buffer.from('GIF89a stale copy');
    await w.store.putFlag('UY', tampered, md5(tampered), { sourceUrl: 'x' });
    w.client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'PutObjectCommand') (out.output as { ETag?: string }).ETag = '"0000"';
        return out;
      },
      { step: 'initialize', name },
    );
    try {
      const { summary } = await run(w, ['UY'], 1);
      assert.deepEqual(summary.counts, { ok: 0, not_found: 0, error: 1 });
      assert.match(summary.errors[0]!.reason, /storing failed: .*not the body's MD5/);
    } finally {
      w.client.middlewareStack.remove(name);
    }
  });
});

describe('concurrency is really min(maxReq, N)', () => {
  let w: World;
  before(async () => { w = await startWorld({ delayMs: 150 }); });
  after(() => w.close());

  for (const [maxReq, codes] of [[1, expandArgument('q')], [5, expandArgument('b')], [100, EVERY_CODES], [676, EVERY_CODES]] as const) {
    test(`maxReq ${maxReq} over ${codes.length} codes → peak ${Math.min(maxReq, codes.length)} in flight`, async () => {
      w.origin.resetStats();
      const { summary } = await run(w, codes, Math.min(maxReq, codes.length), { dryRun: true });
      assert.equal(summary.requested, codes.length);
      assert.equal(w.origin.stats().maxInFlight, Math.min(maxReq, codes.length));
    });
  }
});

describe('faults', () => {
  test('25 % 503s (some with Retry-After): every existing flag ends ok, byte for byte', async () => {
    const w = await startWorld({ errorRate: 0.25, retryAfterRate: 0.2, retryAfterSeconds: 1 });
    try {
      const { summary } = await run(w, ALL_CODES, 50);
      assert.deepEqual(summary.counts, { ok: 194, not_found: 0, error: 0 });
      assert.ok((w.origin.stats().byStatus[503] ?? 0) > 20, 'the origin did fail requests');
      assert.deepEqual(await mismatches(w, ALL_CODES), []);
    } finally {
      await w.close();
    }
  });

  test('truncated bodies are retried and never stored short', async () => {
    const w = await startWorld({ truncateRate: 0.3 });
    try {
      const { summary } = await run(w, ALL_CODES, 20);
      assert.equal(summary.counts.ok + summary.counts.error, 194);
      assert.deepEqual(await mismatches(w, okCodes(summary.results)), []);
      assert.ok(summary.counts.ok >= 190, JSON.stringify(summary.errors));
    } finally {
      await w.close();
    }
  });

  test('a stalled origin ends by the deadline with every code accounted for', async () => {
    const w = await startWorld({ stallRate: 1 });
    try {
      const t0 = performance.now();
      const { summary } = await run(w, expandArgument('c'), 5, { signal: AbortSignal.timeout(800) });
      const ms = performance.now() - t0;
      assert.deepEqual(summary.counts, { ok: 0, not_found: 0, error: 26 });
      assert.ok(ms < 2_500, `took ${ms} ms`);
      assert.match(summary.errors[0]!.reason, /deadline/);
    } finally {
      await w.close();
    }
  });

  test('S3 down: downloads that cannot be stored are errors, never ok', async () => {
    const w = await startWorld();
    try {
      await w.s3.stop();
      const { summary } = await run(w, ['AR', 'BR', 'QQ'], 3);
      assert.deepEqual(summary.counts, { ok: 0, not_found: 1, error: 2 });
      assert.match(summary.errors[0]!.reason, /storing failed/);
    } finally {
      await w.close();
    }
  });

  test('a handoff passes unfinished codes back instead of failing them', async () => {
    const w = await startWorld({ delayMs: 300 });
    try {
      const out = await run(w, expandArgument('d'), 2, { handoff: AbortSignal.timeout(700) });
      assert.ok(out.deferred.length > 0 && out.results.length > 0, `${out.results.length} done, ${out.deferred.length} deferred`);
      assert.equal(out.results.length + out.deferred.length, 26);
      assert.ok(out.results.every((r) => r.status !== 'error'));
    } finally {
      await w.close();
    }
  });
});
