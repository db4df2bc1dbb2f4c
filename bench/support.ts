// Shared pieces of the benchmark: the loopback servers (each kind in its own process), CPU marks, S3
// verification, PUT counting, RSS sampling, the result rows and the one table printer. Nothing here is shipped; it only drives the real code.
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { ALL_CODES } from '../functions/codes.ts';
import type { FlagResult } from '../functions/report.ts';
import { loadFlagImages } from '../local/flag-images.ts';
import type { OriginStats } from '../local/origin.ts';
import { LOCAL_CREDENTIALS, localS3Client, type LocalS3 } from '../local/s3-server.ts';

/** The flag origins the scenarios use: DELAY (fixed 0.5 s before headers) and LOCAL (no delay). */
export const DELAY_MS = 500;

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVERS_CHILD = fileURLToPath(new URL('./servers-child.ts', import.meta.url));

// ---------------------------------------------------------------- child processes: always ended

const children = new Set<ChildProcess>();
const exitCleanups = new Set<() => void>();
let guarded = false;

/**
 * Every child process the benchmark starts is registered here, and ended whatever way this process ends: normally
 * (the owners close them first), on an error (`process.exit(1)` runs the 'exit' hook: SIGKILL), and on
 * SIGINT / SIGTERM / SIGHUP (SIGTERM, 3 s to finish, then exit and SIGKILL for the rest). The server children also
 * exit on their own when the IPC channel closes, which covers this process being SIGKILLed.
 */
export function track(child: ChildProcess): ChildProcess {
  guard();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A synchronous cleanup run when this process exits (e.g. removing a temp folder); returns its remover. */
export function atExit(f: () => void): () => void {
  guard();
  exitCleanups.add(f);
  return () => exitCleanups.delete(f);
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

function guard(): void {
  if (guarded) return;
  guarded = true;
  process.on('exit', () => {
    for (const c of children) if (alive(c)) c.kill('SIGKILL');
    for (const f of exitCleanups) {
      try {
        f();
      } catch {
        // best effort
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: ending ${children.size} child process(es) and stopping`);
      const running = [...children].filter(alive);
      for (const c of running) c.kill('SIGTERM');
      const exited = Promise.all(running.map((c) => new Promise((resolve) => (alive(c) ? c.once('exit', resolve) : resolve(undefined)))));
      void Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3_000).unref())]).then(() =>
        process.exit(sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 129),
      );
    });
  }
}

/** One server process (bench/servers-child.ts): requests with ids over IPC, replies matched by id. */
class ServerProcess {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly role: string,
    readonly ready: Ready,
  ) {
    this.#exited = alive(child) ? new Promise((resolve) => child.once('exit', () => resolve())) : Promise.resolve();
    child.on('message', (raw) => {
      const m = raw as { id?: number; ok?: boolean; value?: unknown; error?: string };
      const p = m.id === undefined ? undefined : this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id!);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`${role} server process: ${m.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${role} server process exited (${signal ?? code}) before replying`));
      this.#pending.clear();
    });
  }

  /** Starts `node --import tsx bench/servers-child.ts <role>` and waits for its ready message (2 min: a cold flag cache converts PNGs). */
  static async start(role: 's3' | 'origins'): Promise<ServerProcess> {
    const child = track(
      fork(SERVERS_CHILD, [role, String(DELAY_MS)], {
        cwd: PROJECT_ROOT,
        execPath: process.execPath,
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'json',
      }),
    );
    try {
      const ready = await new Promise<Ready>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the ${role} server process did not start within 120 s`)), 120_000);
        const done = () => clearTimeout(timer);
        child.once('exit', (code, signal) => {
          done();
          reject(new Error(`the ${role} server process exited (${signal ?? code}) before it was ready`));
        });
        child.once('error', (err) => {
          done();
          reject(err);
        });
        child.once('message', (raw) => {
          done();
          const m = raw as Ready | { type: 'failed'; error: string };
          if (m.type === 'ready') resolve(m);
          else reject(new Error(`the ${role} server process failed to start: ${(m as { error?: string }).error}`));
        });
      });
      return new ServerProcess(child, role, ready);
    } catch (err) {
      if (alive(child)) child.kill('SIGKILL');
      throw err;
    }
  }

  ask<T>(message: Record<string, unknown>): Promise<T> {
    if (!alive(this.child) || !this.child.connected) return Promise.reject(new Error(`the ${this.role} server process is gone`));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...message, id }, (err) => {
        if (!err) return;
        this.#pending.delete(id);
        reject(err);
      });
    });
  }

  usage(): Promise<{ cpuMs: number; peakRssMB: number }> {
    return this.ask({ op: 'usage' });
  }

  /** Asks it to close its servers and exit; SIGKILL if it has not exited 6 s later. */
  async close(): Promise<void> {
    if (!alive(this.child)) return;
    await this.ask({ op: 'shutdown' }).catch(() => undefined);
    const killer = setTimeout(() => alive(this.child) && this.child.kill('SIGKILL'), 6_000);
    await this.#exited;
    clearTimeout(killer);
  }
}

interface Ready {
  type: 'ready';
  role: string;
  pid: number;
  s3?: { endpoint: string; port: number; bucket: string; directory: string };
  origins?: Record<'delay' | 'local', { baseUrl: string; port: number }>;
}

/** A flag origin running in the origins process: its URL, its stats over IPC, and the bytes it serves (loaded here). */
export interface RemoteOrigin {
  /** e.g. http://127.0.0.1:PORT/flags */
  baseUrl: string;
  port: number;
  stats(): Promise<OriginStats>;
  resetStats(): Promise<void>;
  /** The GIF bytes the origin serves for a code (any case), from the same cache it reads; undefined when it has none. */
  flag(cc: string): Buffer | undefined;
}

/** CPU milliseconds (user + system, all threads) each server process has used since it started. */
export interface ServersCpu {
  s3: number;
  origins: number;
}

export interface Servers {
  /** Where s3rver listens. Only the address fields are real: stop/start/close belong to its process. */
  s3: LocalS3;
  /** The S3 client the core scenarios and the verification use (maxSockets 1000, like buildRuntime). */
  client: S3Client;
  delay: RemoteOrigin;
  local: RemoteOrigin;
  pids: { s3: number; origins: number };
  cpu(): Promise<ServersCpu>;
  /** Peak RSS of each server process, MB. */
  peakRssMB(): Promise<ServersCpu>;
  close(): Promise<void>;
}

/**
 * s3rver and the two origins, each kind in its own Node process (bench/servers-child.ts): nothing they do runs
 * on the measured client's event loop or thread, as on AWS where S3 and the origin are remote. Both processes
 * are killed whatever way the benchmark ends (see `track`).
 */
export async function startServers(): Promise<Servers> {
  const started = await Promise.allSettled([ServerProcess.start('s3'), ServerProcess.start('origins')]);
  const [s3p, orp] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed || !s3p || !orp) {
    await Promise.all([s3p?.close(), orp?.close()]);
    throw failed?.reason ?? new Error('server processes did not start');
  }
  const r3 = s3p.ready.s3!;
  const ro = orp.ready.origins!;
  // s3rver's temp folder is removed by its process on close; this is the backstop when that process is killed.
  const removeDir = atExit(() => rmSync(r3.directory, { recursive: true, force: true }));
  // The origins' bytes, for the MD5 comparison: the same GIF cache the origins process just read (warm by now).
  const images = await loadFlagImages(ALL_CODES);
  const notHere = () => Promise.reject(new Error('s3rver runs in its own process: use Servers.close()'));
  const s3: LocalS3 = {
    endpoint: r3.endpoint,
    port: r3.port,
    bucket: r3.bucket,
    directory: r3.directory,
    clientOptions: { endpoint: r3.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS },
    stop: notHere,
    start: notHere,
    close: notHere,
  };
  const remote = (which: 'delay' | 'local'): RemoteOrigin => ({
    baseUrl: ro[which].baseUrl,
    port: ro[which].port,
    stats: () => orp.ask<OriginStats>({ op: 'stats', origin: which }),
    resetStats: () => orp.ask<null>({ op: 'resetStats', origin: which }).then(() => undefined),
    flag: (cc) => images.get(cc.toLowerCase()),
  });
  const client = localS3Client(s3, 1000);
  return {
    s3,
    client,
    delay: remote('delay'),
    local: remote('local'),
    pids: { s3: s3p.ready.pid, origins: orp.ready.pid },
    async cpu() {
      const [a, b] = await Promise.all([s3p.usage(), orp.usage()]);
      return { s3: a.cpuMs, origins: b.cpuMs };
    },
    async peakRssMB() {
      const [a, b] = await Promise.all([s3p.usage(), orp.usage()]);
      return { s3: a.peakRssMB, origins: b.peakRssMB };
    },
    async close() {
      client.destroy();
      await Promise.all([s3p.close(), orp.close()]);
      rmSync(r3.directory, { recursive: true, force: true });
      removeDir();
    },
  };
}

// ---------------------------------------------------------------- CPU of this (the client's) process

/** A point in this process's CPU time: all threads (process.cpuUsage) and the main (JS) thread from schedstat. */
export interface CpuMark {
  usage: NodeJS.CpuUsage;
  /** Main thread: ns on a CPU, ns waiting in a run queue (Linux /proc/self/task/<pid>/schedstat); absent elsewhere. */
  thread?: { runNs: number; waitNs: number };
}

/** CPU used between two marks, ms. */
export interface CpuSpent {
  /** User + system of every thread (process.cpuUsage delta): the JS thread, GC helpers, libuv's pool. */
  processMs: number;
  /** The main thread alone: what the event loop executed. */
  threadMs?: number;
  /** Time the main thread was runnable but waiting for a CPU (other processes, e.g. the servers or other tests). */
  waitMs?: number;
}

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

function threadSched(): CpuMark['thread'] {
  try {
    const [run, wait] = readFileSync(SCHEDSTAT, 'utf8').trim().split(/\s+/).map(Number);
    return run !== undefined && wait !== undefined && Number.isFinite(run) && Number.isFinite(wait) ? { runNs: run, waitNs: wait } : undefined;
  } catch {
    return undefined;
  }
}

export function cpuMark(): CpuMark {
  return { usage: process.cpuUsage(), thread: threadSched() };
}

export function cpuSince(from: CpuMark, to: CpuMark = cpuMark()): CpuSpent {
  const d: CpuSpent = { processMs: round((to.usage.user - from.usage.user + to.usage.system - from.usage.system) / 1000, 1) };
  if (from.thread && to.thread) {
    d.threadMs = round((to.thread.runNs - from.thread.runNs) / 1e6, 1);
    d.waitMs = round((to.thread.waitNs - from.thread.waitNs) / 1e6, 1);
  }
  return d;
}

/** Every key under a prefix (one page is 1000 keys; the benchmark never stores more than ~200 per prefix). */
export async function listKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Deletes everything under a prefix, so the next run writes into what is, for the sync, a fresh bucket. */
export async function emptyPrefix(client: S3Client, bucket: string, prefix: string): Promise<void> {
  const keys = await listKeys(client, bucket, prefix);
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }));
  }
  const left = await listKeys(client, bucket, prefix);
  if (left.length > 0) throw new Error(`could not empty ${prefix}: ${left.length} objects left`);
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

export interface Verified {
  objects: number;
  bytes: number;
}

/**
 * Reads every flag object under the prefix back through the S3 API and compares its MD5 with the bytes the
 * origin serves. Throws (the benchmark stops) if an ok code is missing or differs, or a flag is stored that
 * no ok result accounts for.
 */
export async function verifyStored(
  client: S3Client,
  bucket: string,
  prefix: string,
  origin: Pick<RemoteOrigin, 'flag'>,
  okCodes: readonly string[],
): Promise<Verified> {
  const keys = new Set((await listKeys(client, bucket, prefix)).filter((k) => k.endsWith('.gif')));
  const expected = new Set(okCodes.map((cc) => `${prefix}${cc.toLowerCase()}.gif`));
  const stray = [...keys].filter((k) => !expected.has(k));
  const limit = pLimit(32);
  let bytes = 0;
  const bad = await Promise.all(
    okCodes.map((cc) =>
      limit(async () => {
        const key = `${prefix}${cc.toLowerCase()}.gif`;
        const want = origin.flag(cc);
        if (!want) return `${cc}: the origin has no flag, yet it was reported ok`;
        if (!keys.has(key)) return `${cc}: not stored`;
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const body = await got.Body?.transformToByteArray();
        if (!body) return `${cc}: empty body`;
        bytes += body.length;
        return md5(body) === md5(want) ? undefined : `${cc}: MD5 ${md5(body)} ≠ origin ${md5(want)}`;
      }),
    ),
  );
  const problems = [...bad.filter((b): b is string => b !== undefined), ...stray.map((k) => `${k}: stored but not reported ok`)];
  if (problems.length > 0) {
    throw new Error(`S3 verification FAILED under ${prefix} (${problems.length} problems):\n  ${problems.slice(0, 20).join('\n  ')}`);
  }
  return { objects: okCodes.length, bytes };
}

export const okCodesOf = (results: readonly FlagResult[]) => results.filter((r) => r.status === 'ok').map((r) => r.cc);

export interface Counts {
  ok: number;
  not_found: number;
  error: number;
}

/** Fails loudly when a run's counter is not what the origin must give. */
export function expectCounts(what: string, got: Counts, want: Counts, extra = ''): void {
  if (got.ok !== want.ok || got.not_found !== want.not_found || got.error !== want.error) {
    throw new Error(`${what}: counts ${JSON.stringify(got)}, expected ${JSON.stringify(want)}${extra ? `\n  ${extra}` : ''}`);
  }
}

export interface PutCounter {
  /** PUTs of flag objects (`*.gif`). */
  flags: number;
  /** Other PUTs (the sources record, job states). */
  other: number;
  reset(): void;
  remove(): void;
}

/** Counts PutObjectCommand at the S3 client (a middleware at the initialize step, before any retry). */
export function countPuts(client: S3Client, name: string): PutCounter {
  const counter: PutCounter = {
    flags: 0,
    other: 0,
    reset() {
      counter.flags = 0;
      counter.other = 0;
    },
    remove() {
      client.middlewareStack.remove(name);
    },
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') {
        const key = (args.input as { Key?: string }).Key ?? '';
        if (key.endsWith('.gif')) counter.flags++;
        else counter.other++;
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  return counter;
}

/** Samples this process's RSS every few ms while `f` runs, and gives its peak (MB) with f's result. */
export async function withRssPeak<T>(f: () => Promise<T>, everyMs = 10): Promise<{ value: T; rssPeakMB: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, everyMs);
  try {
    const value = await f();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, rssPeakMB: toMB(peak) };
  } finally {
    clearInterval(timer);
  }
}

export const toMB = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/**
 * This process's peak RSS in MB: VmHWM from /proc/self/status (Linux), else resourceUsage().maxRSS. Not maxRSS
 * first: getrusage keeps the high-water mark across fork+exec, so a child started from a big process (tsx's
 * CLI, or this benchmark) reports its parent's size. VmHWM belongs to the address space and restarts at exec.
 */
export function peakRssMB(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Math.round((Number(kb) / 1024) * 10) / 10;
  } catch {
    // not Linux
  }
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/** One line of the table (and of the JSON). */
export interface Row {
  scenario: string;
  metric: string;
  value: number | string;
  unit?: string;
  /** Human-readable target, e.g. "≤ 1.1"; absent for information only. */
  target?: string;
  /** Whether the target is met; undefined for information only. */
  pass?: boolean;
  note?: string;
}

/** Builds a row whose pass/miss is `value <= max`. */
export function atMost(scenario: string, metric: string, value: number, max: number, unit = '', note?: string): Row {
  return { scenario, metric, value, unit, target: `≤ ${max}${unit ? ` ${unit}` : ''}`, pass: value <= max, note };
}

export function info(scenario: string, metric: string, value: number | string, unit = '', note?: string): Row {
  return { scenario, metric, value, unit, note };
}

export function equals(scenario: string, metric: string, value: number, want: number, unit = '', note?: string): Row {
  return { scenario, metric, value, unit, target: `= ${want}`, pass: value === want, note };
}

/** The one table printer: scenario | metric | value | target | result | note. */
export function printTable(rows: readonly Row[], title: string, notes: readonly string[] = []): void {
  const cells = rows.map((r) => [
    r.scenario,
    r.metric,
    `${typeof r.value === 'number' ? String(r.value) : r.value}${r.unit ? ` ${r.unit}` : ''}`,
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'pass' : 'MISS',
    r.note ?? '',
  ]);
  const head = ['scenario', 'metric', 'value', 'target', 'result', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((x, i) => (i === 2 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(`\n${title}`);
  for (const n of notes) console.log(n);
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  let last = '';
  for (const c of cells) {
    // the scenario name only where it changes, so groups stand out
    console.log(line([c[0] === last ? '' : c[0]!, ...c.slice(1)]));
    last = c[0]!;
  }
  const judged = rows.filter((r) => r.pass !== undefined);
  const missed = judged.filter((r) => r.pass === false);
  console.log(`\n${judged.length - missed.length} of ${judged.length} targets met${missed.length ? `; missed: ${missed.map((r) => `${r.scenario} / ${r.metric}`).join('; ')}` : ''}`);
}
