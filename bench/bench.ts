// `npm run bench`: how fast and how lean flagsync is, on loopback only (s3rver + the local flag origins).
// The servers run in their own Node processes (bench/servers-child.ts: one for s3rver, one for the origins), as
// S3 and the origin are remote on AWS: this process holds only the client (syncFlags, or the local endpoint and
// the handler) and the verification, so its CPU rows are the client's alone.
// Every run that writes is checked in S3 afterwards (MD5 of each ok object = the origin's bytes); a mismatch,
// a wrong count or an unexpected 202 stops the benchmark with an error. Prints one table and writes
// bench/results/latest.json. Knobs: BENCH_ROUNDS (throughput rounds, default 5), BENCH_REPEAT (runs of
// each 0.5 s-delay scenario, median reported, default 3).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_CODES, EVERY_CODES, concurrencyFor } from '../functions/codes.ts';
import { HttpFlagOrigin } from '../functions/download.ts';
import { summarize, type RunSummary } from '../functions/report.ts';
import { S3Store } from '../functions/store.ts';
import { syncFlags } from '../functions/sync.ts';
import { toApiEvent } from '../local/apigw-event.ts';
import { startEndpoint, type LocalEndpoint } from '../local/endpoint.ts';
import { createLocalRuntime, type LocalRuntime } from '../local/runtime.ts';
import { buildBundle, bytesByPackage, bytesOfInputs, cdkBundling, importTimes, kb, type Bundle } from './bundle.ts';
import {
  DELAY_MS,
  atExit,
  atMost,
  countPuts,
  cpuMark,
  cpuSince,
  emptyPrefix,
  equals,
  expectCounts,
  info,
  median,
  okCodesOf,
  peakRssMB,
  printTable,
  round,
  startServers,
  track,
  verifyStored,
  withRssPeak,
  type Counts,
  type CpuMark,
  type CpuSpent,
  type RemoteOrigin,
  type Row,
  type Servers,
  type ServersCpu,
} from './support.ts';

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5) || 5);
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3) || 3);
/** maxReq of the no-delay throughput and re-sync scenarios. */
const THROUGHPUT_MAX_REQ = 100;
const TARGET = { ratio100: 1.1, ratio1000: 1.3, bundleKB: 600, importMs: 250, rssMB: 128 };
const EVERY_COUNTS: Counts = { ok: 194, not_found: 482, error: 0 };
const ALL_COUNTS: Counts = { ok: 194, not_found: 0, error: 0 };
const PREFIX = { core: 'bench/core/', e2e: 'bench/e2e/', lambda: 'bench/lambda/' };
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

type Where = 'core' | 'e2e';

/** What one run tells: the counter, the client-side wall time, the sync's own time, the CPU it took. */
interface Run {
  counts: Counts;
  written: number;
  unchanged: number;
  wallSeconds: number;
  /** The sync's own elapsedSeconds (server side, for e2e). */
  syncSeconds: number;
  /** This (the client's) process over the same span as wallSeconds; the verification is not in it. */
  cpu: CpuSpent;
  /** CPU each server process used meanwhile, ms: off the client, as on AWS. */
  serversCpuMs: ServersCpu;
  phases?: Phases;
}

/** When, from the start of syncFlags, each part of a core run ended (ms), and what the tail cost. */
interface Phases {
  /** listFlags + readSources done: the first download may start. */
  setupMs: number;
  lastGetMs: number;
  lastPutMs: number;
  writeSourcesMs: number;
  /** The first answer to a download of the last wave (the last of the ⌈N/C⌉ batches of C downloads). */
  lastWaveFirstMs: number;
  /** The client's CPU from that answer to the end of the sync: work that cannot overlap with waiting. */
  tailCpu?: CpuSpent;
  /** Each download's time (fetchFlag call to result), ms: median and max. */
  getMs: { median: number; max: number };
  /** Each PUT's time (putFlag call to result), ms: median and max; absent when nothing was written. */
  putMs?: { median: number; max: number };
}

const spread = (xs: number[]) => ({ median: round(median(xs), 1), max: round(Math.max(...xs), 1) });
const cpuDelta = (a: ServersCpu, b: ServersCpu): ServersCpu => ({ s3: round(b.s3 - a.s3, 1), origins: round(b.origins - a.origins, 1) });

// ---------------------------------------------------------------- the two ways to run a sync

class Bench {
  readonly rows: Row[] = [];
  readonly details: Record<string, unknown> = {};
  readonly rss: Record<string, number> = {};
  constructor(
    readonly s: Servers,
    readonly local: LocalRuntime,
    readonly endpoint: LocalEndpoint,
  ) {}

  get bucket() {
    return this.s.s3.bucket;
  }

  /**
   * The core, called directly as service.ts does, with its phases timed through thin wrappers. CPU marks: this
   * process at the start and the end, and at the first answer of the last wave (the tail after it is the
   * client's floor); the server processes' CPU is read over IPC outside the timed span.
   */
  async core(codes: readonly string[], maxReq: number, origin: RemoteOrigin, dryRun = false): Promise<Run> {
    const concurrency = concurrencyFor(maxReq, codes.length);
    const store = new S3Store(this.s.client, { bucket: this.bucket, prefix: PREFIX.core });
    const source = new HttpFlagOrigin(origin.baseUrl, { connections: concurrency });
    // p-limit starts downloads in order: the last wave is the downloads from index (⌈N/C⌉ − 1) × C on.
    const lastWaveFrom = (Math.ceil(codes.length / concurrency) - 1) * concurrency;
    let started = 0;
    let tailMark: CpuMark | undefined;
    const gets: number[] = [];
    const puts: number[] = [];
    const servers0 = await this.s.cpu();
    const cpu0 = cpuMark();
    const t0 = performance.now();
    const at = () => round(performance.now() - t0, 1);
    const p: Phases = { setupMs: 0, lastGetMs: 0, lastPutMs: 0, writeSourcesMs: 0, lastWaveFirstMs: 0, getMs: { median: 0, max: 0 } };
    let setup = 0;
    const setupDone = () => ++setup === 2 && (p.setupMs = at());
    const timedStore = {
      listFlags: (sig?: AbortSignal) => store.listFlags(sig).finally(setupDone),
      readSources: (sig?: AbortSignal) => store.readSources(sig).finally(setupDone),
      putFlag: (...a: Parameters<S3Store['putFlag']>) => {
        const t = performance.now();
        return store.putFlag(...a).finally(() => {
          p.lastPutMs = at();
          puts.push(performance.now() - t);
        });
      },
      writeSources: (v: Parameters<S3Store['writeSources']>[0]) => store.writeSources(v).finally(() => (p.writeSourcesMs = at())),
    };
    const timedSource = {
      fetchFlag: (...a: Parameters<HttpFlagOrigin['fetchFlag']>) => {
        const i = started++;
        const t = performance.now();
        return source.fetchFlag(...a).finally(() => {
          p.lastGetMs = at();
          gets.push(performance.now() - t);
          if (i >= lastWaveFrom && tailMark === undefined) {
            tailMark = cpuMark();
            p.lastWaveFirstMs = p.lastGetMs;
          }
        });
      },
      close: () => source.close(),
    };
    try {
      const out = await syncFlags({ codes, concurrency, source: timedSource, store: timedStore, dryRun });
      const wallSeconds = (performance.now() - t0) / 1000;
      const end = cpuMark();
      const cpu = cpuSince(cpu0, end);
      if (tailMark) p.tailCpu = cpuSince(tailMark, end);
      p.getMs = spread(gets);
      if (puts.length > 0) p.putMs = spread(puts);
      const serversCpuMs = cpuDelta(servers0, await this.s.cpu());
      const s = summarize(out.results, { concurrency, dryRun, elapsedSeconds: out.elapsedSeconds });
      if (!dryRun) await this.check('core', s, origin);
      return { counts: s.counts, written: s.written, unchanged: s.unchanged, wallSeconds, syncSeconds: out.elapsedSeconds, cpu, serversCpuMs, phases: p };
    } finally {
      await source.close();
    }
  }

  /** The same through the local endpoint: a real HTTP POST, the handler, S3; timed by the client. */
  async e2e(body: Record<string, unknown>, origin: RemoteOrigin): Promise<Run> {
    const servers0 = await this.s.cpu();
    const cpu0 = cpuMark();
    const t0 = performance.now();
    const res = await fetch(`${this.endpoint.url}/downloads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, verbose: true }),
    });
    const json = (await res.json()) as RunSummary;
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu = cpuSince(cpu0);
    const serversCpuMs = cpuDelta(servers0, await this.s.cpu());
    if (res.status !== 200) throw new Error(`POST /downloads answered ${res.status} (202: past the sync budget): ${JSON.stringify(json).slice(0, 300)}`);
    await this.check('e2e', json, origin);
    return { counts: json.counts, written: json.written, unchanged: json.unchanged, wallSeconds, syncSeconds: json.elapsedSeconds, cpu, serversCpuMs };
  }

  /** No errors, and the objects of every ok code are in S3 byte for byte; fails loudly otherwise. */
  async check(where: Where, s: Pick<RunSummary, 'results' | 'errors'>, origin: RemoteOrigin): Promise<void> {
    if (s.errors.length > 0) throw new Error(`${where}: ${s.errors.length} errors, e.g. ${JSON.stringify(s.errors.slice(0, 3))}`);
    await verifyStored(this.s.client, this.bucket, PREFIX[where], origin, okCodesOf(s.results));
  }

  run(where: Where, codes: 'every' | 'all', maxReq: number, server: 'DELAY' | 'LOCAL'): Promise<Run> {
    const origin = server === 'DELAY' ? this.s.delay : this.s.local;
    return where === 'core'
      ? this.core(codes === 'every' ? EVERY_CODES : ALL_CODES, maxReq, origin)
      : this.e2e({ [codes]: true, maxReq, server }, origin);
  }

  /** Empties the prefix: for the sync, a fresh bucket. */
  fresh(prefix: string) {
    return emptyPrefix(this.s.client, this.bucket, prefix);
  }

  /** Runs one scenario and records its RSS peak (this whole process: tsx, the client, the verification). */
  async scenario(name: string, f: () => Promise<Row[]>): Promise<void> {
    process.stdout.write(`… ${name}\n`);
    const { value, rssPeakMB } = await withRssPeak(f);
    this.rows.push(...value);
    this.rss[name] = rssPeakMB;
  }
}

// ---------------------------------------------------------------- scenarios

/** ⌈N/C⌉ × delay: what no client can beat. */
const physicalLimit = (n: number, c: number) => Math.ceil(n / c) * (DELAY_MS / 1000);

/** 1 and 2: `every` against the 0.5 s origin, REPEAT times; the median wall time against the physical limit. */
async function delayed(b: Bench, where: Where, maxReq: number): Promise<Row[]> {
  const name = `${where === 'core' ? '1 core' : '2 e2e'} every, 0.5 s delay, maxReq ${maxReq}`;
  const c = concurrencyFor(maxReq, EVERY_CODES.length);
  const limit = physicalLimit(EVERY_CODES.length, c);
  const runs: Run[] = [];
  let maxInFlight = 0;
  for (let i = 0; i < REPEAT; i++) {
    await b.fresh(PREFIX[where]);
    await b.s.delay.resetStats();
    const run = await b.run(where, 'every', maxReq, 'DELAY');
    expectCounts(`${name} run ${i + 1}`, run.counts, EVERY_COUNTS);
    if (run.written !== EVERY_COUNTS.ok) throw new Error(`${name} run ${i + 1}: ${run.written} written into a fresh prefix, expected ${EVERY_COUNTS.ok}`);
    maxInFlight = Math.max(maxInFlight, (await b.s.delay.stats()).maxInFlight);
    runs.push(run);
  }
  const walls = runs.map((r) => round(r.wallSeconds));
  const wall = median(walls);
  const mid = runs[walls.indexOf(wall)] ?? runs[0]!;
  const target = maxReq <= 100 ? TARGET.ratio100 : TARGET.ratio1000;
  const rows = [
    info(name, `wall time (median of ${REPEAT})`, wall, 's', `runs ${walls.join(', ')}`),
    info(name, 'physical limit ⌈N/C⌉×0.5 s', limit, 's', `N ${EVERY_CODES.length}, C ${c}`),
    atMost(name, 'ratio wall/limit', round(wall / limit), target, '×', mid.phases
      ? `median run: setup ${mid.phases.setupMs} ms, last GET ${mid.phases.lastGetMs}, last PUT ${mid.phases.lastPutMs}, sources written ${mid.phases.writeSourcesMs}`
      : `median run: sync ${mid.syncSeconds} s in the handler, +${round(mid.wallSeconds - mid.syncSeconds)} s HTTP and handler`),
    equals(name, 'origin maxInFlight', maxInFlight, c),
  ];
  // The same downloads with dryRun (no PUT, no sources record): how much of the gap the writes make.
  const dry: Run[] = [];
  if (where === 'core') {
    for (let i = 0; i < REPEAT; i++) {
      await b.fresh(PREFIX.core);
      const run = await b.core(EVERY_CODES, maxReq, b.s.delay, true);
      expectCounts(`${name} dryRun`, run.counts, EVERY_COUNTS);
      dry.push(run);
    }
    const dryWalls = dry.map((r) => round(r.wallSeconds));
    rows.push(info(name, 'ratio without writes (dryRun)', round(median(dryWalls) / limit), '×', `GETs only: median ${median(dryWalls)} s of ${dryWalls.join(', ')}; GET latency median ${median(dry.map((r) => r.phases?.getMs.median ?? 0))} ms, max ${median(dry.map((r) => r.phases?.getMs.max ?? 0))} ms`));
  }
  rows.push(...cpuRows(name, where, limit, runs, dry));
  b.details[name] = { concurrency: c, limitSeconds: limit, maxInFlight, runs, dryRuns: dry, dryRunWallSeconds: dry.map((r) => round(r.wallSeconds)) };
  return rows;
}

/**
 * The client's CPU in a 0.5 s-delay scenario (medians over the runs): this process's CPU during the run
 * (process.cpuUsage Δ, all threads), per PUT, and, for the core, its floor: the physical limit plus the JS
 * thread's CPU after the last wave's first answer, i.e. the time no client with this CPU cost can go below.
 */
function cpuRows(name: string, where: Where, limit: number, runs: readonly Run[], dry: readonly Run[]): Row[] {
  const puts = EVERY_COUNTS.ok;
  const cpuMs = round(median(runs.map((r) => r.cpu.processMs)), 1);
  const threadMs = round(median(runs.map((r) => r.cpu.threadMs ?? r.cpu.processMs)), 1);
  const waitMs = round(median(runs.map((r) => r.cpu.waitMs ?? 0)), 1);
  const wall = median(runs.map((r) => r.wallSeconds));
  const s3Ms = round(median(runs.map((r) => r.serversCpuMs.s3)), 0);
  const originsMs = round(median(runs.map((r) => r.serversCpuMs.origins)), 0);
  const rows = [
    info(name, 'client CPU during the run (process.cpuUsage Δ)', cpuMs, 'ms',
      `median of ${runs.map((r) => r.cpu.processMs).join(', ')}; JS thread ${threadMs} ms = ${round((threadMs / 1000 / wall) * 100, 0)} % of the wall, ` +
      `${waitMs} ms runnable but waiting for a CPU; meanwhile in their own processes s3rver ${s3Ms} ms (${round(s3Ms / puts, 1)} ms per PUT), origins ${originsMs} ms`),
  ];
  if (where === 'core' && dry.length > 0) {
    const dryMs = round(median(dry.map((r) => r.cpu.processMs)), 1);
    const putMs = runs.map((r) => r.phases?.putMs).filter((x) => x !== undefined);
    rows.push(info(name, 'client CPU per PUT', round(cpuMs / puts, 2), 'ms',
      `all of it / ${puts} PUTs; marginal ${round((cpuMs - dryMs) / puts, 2)} ms/PUT over dryRun (${dryMs} ms for the 676 GETs alone); ` +
      `PUT latency median ${median(putMs.map((x) => x.median))} ms, max ${median(putMs.map((x) => x.max))} ms`));
    const floors = runs.map((r) => {
      const tail = r.phases?.tailCpu;
      return { floor: limit + (tail?.threadMs ?? tail?.processMs ?? 0) / 1000, tail, first: r.phases?.lastWaveFirstMs ?? 0, run: r };
    });
    const byFloor = [...floors].sort((x, y) => x.floor - y.floor);
    const mid = byFloor[byFloor.length >> 1]!;
    const f = round(mid.floor);
    rows.push(info(name, "client floor: limit + JS-thread CPU after the last wave's 1st answer", f, 's',
      `${round(f / limit)}× the limit; that run: last wave answered from ${mid.first} ms, ${mid.tail?.threadMs ?? mid.tail?.processMs} ms CPU after it ` +
      `(${mid.tail?.waitMs ?? 0} ms waiting for a CPU), wall ${round(mid.run.wallSeconds)} s = floor + ${round(mid.run.wallSeconds - mid.floor)} s; ` +
      `GET latency median ${mid.run.phases?.getMs.median} ms, max ${mid.run.phases?.getMs.max} ms`));
  } else {
    rows.push(info(name, 'client CPU per PUT', round(cpuMs / puts, 2), 'ms',
      `all of it / ${puts} PUTs, the 676 GETs, the handler and the local endpoint included (the floor is measured in scenario 1)`));
  }
  return rows;
}

/** 3: no-delay throughput into a fresh bucket: ROUNDS writes of `every` and of `all`. */
async function throughput(b: Bench, where: Where, codes: 'every' | 'all'): Promise<Row[]> {
  const name = `3 ${where} ${codes}, no delay, maxReq ${THROUGHPUT_MAX_REQ}`;
  const n = codes === 'every' ? EVERY_CODES.length : ALL_CODES.length;
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await b.fresh(PREFIX[where]);
    const run = await b.run(where, codes, THROUGHPUT_MAX_REQ, 'LOCAL');
    expectCounts(`${name} round ${i + 1}`, run.counts, codes === 'every' ? EVERY_COUNTS : ALL_COUNTS);
    if (run.written !== 194) throw new Error(`${name} round ${i + 1}: ${run.written} written into a fresh bucket, expected 194`);
    rates.push(round(n / run.wallSeconds, 0));
  }
  b.details[name] = { codes: n, rounds: ROUNDS, flagsPerSecond: rates };
  return [info(name, `throughput (median of ${ROUNDS})`, median(rates), 'flags/s', `rounds ${rates.join(', ')}; 194 PUTs each`)];
}

/** 4: `all` once, then again: the second run must PUT no flag and be answered 304. */
async function unchanged(b: Bench, where: Where): Promise<Row[]> {
  const name = `4 ${where} re-sync unchanged all`;
  const store = where === 'core' ? undefined : b.local.runtime.store;
  if (store !== undefined && !(store instanceof S3Store)) throw new Error('the local runtime store is not an S3Store');
  const client = store?.client ?? b.s.client;
  await b.fresh(PREFIX[where]);
  const first = await b.run(where, 'all', THROUGHPUT_MAX_REQ, 'LOCAL');
  expectCounts(`${name} (first)`, first.counts, ALL_COUNTS);
  const puts = countPuts(client, `benchPuts-${where}`);
  try {
    await b.s.local.resetStats();
    const second = await b.run(where, 'all', THROUGHPUT_MAX_REQ, 'LOCAL');
    expectCounts(`${name} (second)`, second.counts, ALL_COUNTS);
    const stats = await b.s.local.stats();
    b.details[name] = { first, second, flagPuts: puts.flags, otherPuts: puts.other, byStatus: stats.byStatus };
    return [
      equals(name, 'flag PUTs in 2nd run', puts.flags, 0, '', `counted by an S3 client middleware; other PUTs ${puts.other}`),
      equals(name, 'origin 304s in 2nd run', stats.byStatus[304] ?? 0, ALL_CODES.length, '', `200s ${stats.byStatus[200] ?? 0}; unchanged ${second.unchanged}`),
      info(name, '2nd run wall time', round(second.wallSeconds), 's', `1st run ${round(first.wallSeconds)} s`),
    ];
  } finally {
    puts.remove();
  }
}

/** 5: the Lambda bundle: size, what it is made of, what leaving a package out would save, import time. */
async function bundle(b: Bench, dir: string): Promise<{ rows: Row[]; main: Bundle }> {
  const name = '5 Lambda bundle';
  const main = await buildBundle(join(dir, 'main'));
  const wasm = bytesOfInputs(main.metafile, /undici\/lib\/llhttp\/llhttp(_simd)?-wasm\.js$/);
  const rows: Row[] = [atMost(name, 'index.mjs size', kb(main.bytes), TARGET.bundleKB, 'KB', `+ source map ${kb(main.mapBytes)} KB`)];
  const byPkg = bytesByPackage(main.metafile);
  for (const { pkg, bytes } of byPkg.slice(0, 8)) {
    const extra = pkg === 'undici' ? `; ${kb(wasm)} KB of it is llhttp WASM twice (SIMD + fallback)` : '';
    rows.push(info(name, `  ${pkg}`, kb(bytes), 'KB', `${round((bytes / main.bytes) * 100, 1)} %${extra}`));
  }
  // What removing each dependency would save: the bundle rebuilt with it left out (code it shares with the
  // rest, e.g. @smithy/* for client-lambda, stays counted in the rest).
  const saved: Record<string, number> = {};
  for (const pkg of ['undici', '@aws-sdk/client-lambda', '@aws-lambda-powertools/*', 'zod']) {
    const alt = await buildBundle(join(dir, pkg.replace(/[@/*]/g, '_')), [pkg]);
    saved[pkg] = main.bytes - alt.bytes;
    rows.push(info(name, `  saved without ${pkg}`, kb(saved[pkg]), 'KB', `bundle would be ${kb(alt.bytes)} KB`));
  }
  // As deployed (NODE_OPTIONS from lib/esm-function.ts), and with no options for comparison.
  const { nodeOptions } = cdkBundling();
  const imp = importTimes(main.file, nodeOptions, 5);
  const plain = nodeOptions.length > 0 ? importTimes(main.file, [], 5) : imp;
  const how = nodeOptions.length > 0 ? nodeOptions.join(' ') : 'no options';
  rows.push(atMost(name, `import time, fresh node, ${how} (median of 5)`, imp.medianMs, TARGET.importMs, 'ms', `${imp.samples.join(', ')}; Node ${process.versions.node}`));
  if (plain !== imp) rows.push(info(name, 'import time, no Node options (median of 5)', plain.medianMs, 'ms', plain.samples.join(', ')));
  b.details[name] = { bytes: main.bytes, mapBytes: main.mapBytes, byPackage: byPkg, llhttpWasmBytes: wasm, savedWithout: saved, nodeOptions, importMs: imp, importMsNoOptions: plain };
  return { rows, main };
}

type Reply<T> = ({ ok: true } & T) | { ok: false; error: string };
type Invoked = { name: string; ms: number; statusCode: number; body: RunSummary; peakMB: number; heapUsedMB: number; heapTotalMB: number };

/** One request to the bundle's process, one reply. */
function ask<T>(child: ChildProcess, message: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the bundle's process exited (${code}) without replying`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      const r = m as Reply<T>;
      if (r.ok) resolve(r);
      else reject(new Error(`the bundle failed: ${r.error}`));
    });
    child.send(message);
  });
}

/**
 * 6: the download work's memory where only it runs: the built bundle in a fresh Node process (no tsx, no
 * servers) with the deployed NODE_OPTIONS, handling `every` at maxReq 1000 from the 0.5 s origin into an
 * empty prefix (cold, then warm), then the unchanged re-sync. The servers are the same out-of-process ones as
 * everywhere (s3rver and the origins each in their own process); objects are verified in S3 after each write. With `capMB`, V8's old space is capped: the rows then show the working
 * set (what the work needs when the heap may not grow lazily), for information.
 */
async function lambdaMemory(b: Bench, main: Bundle, capMB?: number): Promise<Row[]> {
  const name = capMB ? `6 memory: same, --max-old-space-size=${capMB}` : '6 memory: bundle in a fresh node';
  const execArgv = [...cdkBundling().nodeOptions, ...(capMB ? [`--max-old-space-size=${capMB}`] : [])];
  const env = {
    PATH: process.env.PATH,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: b.s.s3.clientOptions.credentials!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: b.s.s3.clientOptions.credentials!.secretAccessKey,
    FLAGS_BUCKET: b.bucket,
    FLAGS_PREFIX: PREFIX.lambda,
    FLAGS_ORIGINS: JSON.stringify({ DELAY: b.s.delay.baseUrl, LOCAL: b.s.local.baseUrl }),
    FLAGS_DEFAULT_SERVER: 'LOCAL',
    FLAGS_S3_ENDPOINT: b.s.s3.endpoint,
    FLAGS_SYNC_BUDGET_MS: '120000',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
  const event = toApiEvent({
    method: 'POST',
    url: '/downloads',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ every: true, maxReq: 1000, server: 'DELAY', verbose: true }),
  });
  const child = track(fork(fileURLToPath(new URL('./lambda-child.mjs', import.meta.url)), [], { execArgv, env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  try {
    const imported = await ask<{ importMs: number; beforeImportMB: number; afterImportMB: number }>(child, { type: 'import', bundle: main.file });
    const invoke = async (label: string, fresh: boolean) => {
      if (fresh) await b.fresh(PREFIX.lambda);
      const r = await ask<Invoked>(child, { type: 'invoke', name: label, event });
      if (r.statusCode !== 200) throw new Error(`bundle ${label}: HTTP ${r.statusCode} ${JSON.stringify(r.body).slice(0, 300)}`);
      expectCounts(`bundle ${label}`, r.body.counts, EVERY_COUNTS);
      await verifyStored(b.s.client, b.bucket, PREFIX.lambda, b.s.delay, okCodesOf(r.body.results));
      return r;
    };
    const cold = await invoke('cold', true);
    const warm = await invoke('warm', true);
    const resync = await invoke('resync', false);
    if (resync.body.written !== 0) throw new Error(`bundle re-sync wrote ${resync.body.written} flags`);
    b.details[name] = { execArgv, imported, runs: [cold, warm, resync].map(({ body, ...r }) => ({ ...r, counts: body.counts, written: body.written, elapsedSeconds: body.elapsedSeconds })) };
    const note = (r: Invoked) => `wall ${round(r.ms / 1000)} s = ${round(r.ms / 1000 / physicalLimit(EVERY_CODES.length, 676))}× the 0.5 s limit; heap ${r.heapUsedMB} of ${r.heapTotalMB} MB`;
    const row = (metric: string, r: Invoked) => (capMB ? info(name, metric, r.peakMB, 'MB', note(r)) : atMost(name, metric, r.peakMB, TARGET.rssMB, 'MB', note(r)));
    return [
      info(name, 'peak RSS after import', imported.afterImportMB, 'MB', `${imported.beforeImportMB} MB before; import ${round(imported.importMs, 0)} ms; ${execArgv.join(' ') || 'no Node options'}`),
      row('peak RSS, every@1000 cold (194 PUTs)', cold),
      row('peak RSS, every@1000 warm (194 PUTs)', warm),
      row('peak RSS, every@1000 re-sync (304s)', resync),
    ];
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    }
  }
}

/** This process's memory (tsx, the client, the local endpoint and handler, the verification) and the servers'. */
async function processMemory(b: Bench): Promise<Row[]> {
  const name = '6 memory: this process';
  const worst = Object.entries(b.rss).sort((x, y) => y[1] - x[1])[0];
  const servers = await b.s.peakRssMB();
  b.details[name] = { peakRssMB: peakRssMB(), scenarioRssPeaksMB: b.rss, serverProcessesPeakRssMB: servers };
  return [
    info(name, 'peak RSS (tsx + client + verification)', peakRssMB(), 'MB', `not the Lambda's: see the rows above; servers in their own processes: s3rver ${servers.s3} MB, origins ${servers.origins} MB`),
    info(name, 'highest scenario RSS peak', worst?.[1] ?? 0, 'MB', worst?.[0] ?? ''),
  ];
}

// ---------------------------------------------------------------- main

const load = () => loadavg().map((x) => round(x, 2));

async function main() {
  const started = new Date();
  const loadBefore = load();
  if ((loadBefore[0] ?? 0) > 1) console.warn(`warning: load average ${loadBefore.join(' ')} on ${cpus().length} cores: other work competes, timings will be noisy`);
  // The bundles' folder, made only when the bundle scenario starts (a SIGKILLed run can clean nothing up).
  let dir: string | undefined;
  const removeDir = atExit(() => dir && rmSync(dir, { recursive: true, force: true }));
  const s = await startServers();
  const local = createLocalRuntime({
    s3: s.s3,
    origins: { DELAY: s.delay.baseUrl, LOCAL: s.local.baseUrl },
    defaultServer: 'LOCAL',
    prefix: PREFIX.e2e,
    syncBudgetMs: 120_000,
    apiTimeoutMs: 180_000,
    logLevel: 'SILENT',
  });
  const endpoint = await startEndpoint(local, { port: 0 }).catch(async (err: unknown) => {
    await s.close();
    throw err;
  });
  const b = new Bench(s, local, endpoint);
  const serverNote = [
    `servers: each in its own Node process (bench/servers-child.ts): s3rver pid ${s.pids.s3}, flag origins pid ${s.pids.origins};`,
    `this process (pid ${process.pid}) runs only the client: syncFlags (scenarios 1, 3, 4 core) or the local endpoint + handler (e2e), and the verification.`,
  ];
  try {
    // Warm-up, not reported: JIT, keep-alive S3 connections, s3rver's folders (a warm Lambda container).
    for (const where of ['core', 'e2e'] as const) {
      await b.fresh(PREFIX[where]);
      await b.run(where, 'all', THROUGHPUT_MAX_REQ, 'LOCAL');
    }
    for (const where of ['core', 'e2e'] as const) {
      for (const maxReq of [100, 1000]) await b.scenario(`${where} delay ${maxReq}`, () => delayed(b, where, maxReq));
    }
    for (const where of ['core', 'e2e'] as const) {
      for (const codes of ['every', 'all'] as const) await b.scenario(`${where} throughput ${codes}`, () => throughput(b, where, codes));
    }
    for (const where of ['core', 'e2e'] as const) await b.scenario(`${where} re-sync`, () => unchanged(b, where));
    process.stdout.write('… bundle\n');
    dir = mkdtempSync(join(tmpdir(), 'flagsync-bench-'));
    const built = await bundle(b, dir);
    b.rows.push(...built.rows);
    process.stdout.write('… bundle in a fresh node\n');
    b.rows.push(...(await lambdaMemory(b, built.main)));
    b.rows.push(...(await lambdaMemory(b, built.main, 64)));
    b.rows.push(...(await processMemory(b)));
  } finally {
    await endpoint.close();
    await local.idle();
    await s.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    removeDir();
  }

  const loadAfter = load();
  printTable(b.rows, `flagsync bench, ${started.toISOString()}: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after`, serverNote);
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, 'latest.json');
  const report = {
    startedAt: started.toISOString(),
    durationSeconds: round((Date.now() - started.getTime()) / 1000, 1),
    node: process.version,
    cpus: cpus().length,
    loadAverage: { before: loadBefore, after: loadAfter },
    settings: { rounds: ROUNDS, repeat: REPEAT, throughputMaxReq: THROUGHPUT_MAX_REQ, delayMs: DELAY_MS, targets: TARGET },
    servers: { where: 'own processes (bench/servers-child.ts), one for s3rver, one for the flag origins', note: serverNote.join(' ') },
    rows: b.rows,
    details: b.details,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwritten ${file} (${report.durationSeconds} s)`);
}

main().catch((err: unknown) => {
  console.error('\nBENCH FAILED:', err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
