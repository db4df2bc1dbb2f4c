// What `flagsync` prints, flags2's wording: the initial report, one line per code (-v), the final report,
// and where the flags went. Pure functions returning lines.
import { isAbsolute, relative } from 'node:path';
import { describeCodes } from '../functions/codes.ts';
import type { FlagResult } from '../functions/report.ts';
import type { FinalBody } from './cli-api.ts';

const s = (n: number) => (n === 1 ? '' : 's');

/** `LOCAL site: http://…/flags`, `Searching for 20 flags: from BD to VN`, `5 concurrent connections will be used.` */
export function initialReport(site: string, codes: readonly string[], concurrency: number): string[] {
  return [
    site,
    `Searching for ${codes.length} flag${s(codes.length)}: ${describeCodes(codes)}`,
    `${concurrency} concurrent connection${s(concurrency)} will be used.`,
  ];
}

/** flags2's verbose lines: `BR OK`, `QQ not found`, `*** Error for XX: reason`. */
export function resultLine(r: FlagResult): string {
  if (r.status === 'ok') return `${r.cc} OK`;
  if (r.status === 'not_found') return `${r.cc} not found`;
  return `*** Error for ${r.cc}: ${r.reason ?? 'unknown error'}`;
}

export function finalReport(body: FinalBody, elapsedSeconds: number): string[] {
  const { ok, not_found, error } = body.counts;
  const lines = ['-'.repeat(20), `${ok} flag${s(ok)} downloaded.`];
  if (not_found) lines.push(`${not_found} not found.`);
  if (error) lines.push(`${error} error${s(error)}.`);
  lines.push(`Elapsed time: ${elapsedSeconds.toFixed(2)}s`);
  return lines;
}

/** `Stored in s3://bucket/flags/ (N written, M unchanged)`, or what a dry run would have written. */
export function storageLine(body: FinalBody): string {
  const where = `s3://${body.bucket}/${body.prefix}`;
  if (body.dryRun) return `Dry run: nothing stored in ${where} (${body.written} would be written, ${body.unchanged} unchanged)`;
  return `Stored in ${where} (${body.written} written, ${body.unchanged} unchanged)`;
}

/** When the request ran against the stack this process started: where it was, and how to look again. */
export function localStackLines(o: { endpoint: string; s3: string; dataDir: string; bucket: string; prefix: string }): string[] {
  return [
    `Local API ${o.endpoint} and S3 ${o.s3} (data in ${o.dataDir}) stopped with flagsync. To browse the flags:`,
    `  npm run serve, then: aws --endpoint-url http://127.0.0.1:4569 s3 ls s3://${o.bucket}/${o.prefix}`,
  ];
}

/** `.flagsync/` for a folder under the current one, else the absolute path. */
export function displayPath(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? `${rel}/` : dir;
}
