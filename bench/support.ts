// Shared pieces of the benchmark: the loopback servers, S3 verification, PUT counting, RSS sampling,
// the result rows and the one table printer. Nothing here is shipped; it only drives the real code.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type { FlagResult } from '../functions/report.ts';
import { startOrigin, type Origin } from '../local/origin.ts';
import { localS3Client, startLocalS3, type LocalS3 } from '../local/s3-server.ts';

/** The flag origins the scenarios use: DELAY (fixed 0.5 s before headers) and LOCAL (no delay). */
export const DELAY_MS = 500;

export interface Servers {
  s3: LocalS3;
  /** The S3 client the core scenarios and the verification use (maxSockets 1000, like buildRuntime). */
  client: S3Client;
  delay: Origin;
  local: Origin;
  close(): Promise<void>;
}

export async function startServers(): Promise<Servers> {
  const [s3, delay, local] = await Promise.all([startLocalS3(), startOrigin({ delayMs: DELAY_MS }), startOrigin()]);
  const client = localS3Client(s3, 1000);
  return {
    s3,
    client,
    delay,
    local,
    async close() {
      client.destroy();
      await Promise.all([delay.close(), local.close(), s3.close()]);
    },
  };
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
  origin: Origin,
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
export function printTable(rows: readonly Row[], title: string): void {
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
