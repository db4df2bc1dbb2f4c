// `flagsync` command line: flags2's options (plus --dry-run, --json, --async, --endpoint, --region) parsed
// with node:util parseArgs and checked with the same selection rules the API applies (functions/codes.ts).
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_REQ, MAX_CONCUR_REQ, SelectionError, concurrencyFor, expandArgument, selectCodes } from '../functions/codes.ts';
import type { DownloadBody } from '../functions/request.ts';

export const USAGE =
  'usage: flagsync [-h] [-a] [-e] [-l N] [-m CONCURRENT] [-s LABEL] [-v] [--dry-run] [--json] [--async]\n' +
  '                [--endpoint URL] [--region REGION] [CC ...]';

export const HELP = `${USAGE}

Download flags for country codes into S3, through the flagsync API. Default: top 20 countries by population.
Without --endpoint, runs the whole product on this machine (local S3, flag origins LOCAL / DELAY / ERROR and
the API's handler behind a local endpoint), sends the request over HTTP, then stops it all.

positional arguments:
  CC                      country code or 1st letter (eg. B for BA...BZ)

options:
  -h, --help              show this help message and exit
  -a, --all               get all available flags (AD to ZW)
  -e, --every             get flags for every possible code (AA...ZZ)
  -l, --limit N           limit to N first codes
  -m, --max_req CONCURRENT, --max-req CONCURRENT
                          maximum concurrent requests (default=${DEFAULT_MAX_REQ}, at most ${MAX_CONCUR_REQ})
  -s, --server LABEL      server to hit: LOCAL, DELAY or ERROR locally; a label the API knows with --endpoint
                          (default: the API's default, LOCAL locally)
  -v, --verbose           one line per code instead of a progress bar
  --dry-run               download and compare, store nothing
  --json                  print only the API's final response body, as JSON
  --async                 with --endpoint: start a job, print its id and status URL, do not wait
  --endpoint URL          a deployed API (e.g. https://abc.execute-api.eu-west-1.amazonaws.com), requests signed
                          with SigV4 using the default AWS credential chain; or \`npm run serve\`'s URL
  --region REGION         the API's region for signing (default: from the URL's host, else AWS_REGION)`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliOptions {
  /** The JSON body for POST /downloads (only what was given; async is decided by the caller). */
  body: Omit<DownloadBody, 'async'>;
  /** The codes the request selects (the same rules as the API), for the header lines. */
  codes: string[];
  /** The concurrency the API will use for them. */
  concurrency: number;
  /** Upper-case label, when -s was given. */
  server?: string;
  verbose: boolean;
  json: boolean;
  async: boolean;
  endpoint?: URL;
  region?: string;
}

export type ParsedCommand = { help: true } | ({ help: false } & CliOptions);

/** Parses argv (without node and script); throws UsageError with a message a person can act on. */
export function parseCli(argv: readonly string[]): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        all: { type: 'boolean', short: 'a' },
        every: { type: 'boolean', short: 'e' },
        limit: { type: 'string', short: 'l' },
        max_req: { type: 'string', short: 'm' },
        'max-req': { type: 'string' },
        server: { type: 'string', short: 's' },
        verbose: { type: 'boolean', short: 'v' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        async: { type: 'boolean' },
        endpoint: { type: 'string' },
        region: { type: 'string' },
      },
    });
  } catch (err) {
    // ERR_PARSE_ARGS_UNKNOWN_OPTION, ..._INVALID_OPTION_VALUE, ..._UNEXPECTED_POSITIONAL: their messages are clear.
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { help: true };

  const limit = whole(v.limit, '-l/--limit N', 1, Number.MAX_SAFE_INTEGER);
  if (v.max_req !== undefined && v['max-req'] !== undefined) throw new UsageError('give -m/--max_req or --max-req, not both');
  const maxReq = whole(v.max_req ?? v['max-req'], '-m/--max_req CONCURRENT', 1, MAX_CONCUR_REQ);
  for (const arg of positionals) {
    try {
      expandArgument(arg);
    } catch (err) {
      if (err instanceof SelectionError) throw new UsageError(err.message);
      throw err;
    }
  }
  const server = v.server === undefined ? undefined : v.server.trim().toUpperCase();
  if (server !== undefined && !/^[A-Z0-9_-]{1,64}$/.test(server)) {
    throw new UsageError(`-s/--server LABEL must be a server label such as LOCAL, DELAY or ERROR: got ${JSON.stringify(v.server)}`);
  }
  const endpoint = v.endpoint === undefined ? undefined : parseEndpoint(v.endpoint);
  if (v.async && !endpoint) {
    throw new UsageError('--async needs --endpoint: the local stack stops when flagsync exits (run `npm run serve` and pass its URL)');
  }
  if (v.region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(v.region)) {
    throw new UsageError(`--region must be an AWS region such as eu-west-1: got ${JSON.stringify(v.region)}`);
  }

  const body: CliOptions['body'] = {};
  if (positionals.length) body.cc = positionals;
  if (v.all) body.all = true;
  if (v.every) body.every = true;
  if (limit !== undefined) body.limit = limit;
  if (maxReq !== undefined) body.maxReq = maxReq;
  if (server !== undefined) body.server = server;
  if (v.verbose) body.verbose = true;
  if (v['dry-run']) body.dryRun = true;

  const codes = selectCodes(body);
  return {
    help: false,
    body,
    codes,
    concurrency: concurrencyFor(maxReq ?? DEFAULT_MAX_REQ, codes.length),
    server,
    verbose: v.verbose ?? false,
    json: v.json ?? false,
    async: v.async ?? false,
    endpoint,
    region: v.region,
  };
}

function whole(raw: string | undefined, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${name} must be a whole number ${range}: got ${JSON.stringify(raw)}`);
  }
  return n;
}

function parseEndpoint(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--endpoint must be a URL such as https://abc.execute-api.eu-west-1.amazonaws.com: got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--endpoint must be http(s): got ${raw}`);
  if (url.search || url.hash) throw new UsageError(`--endpoint must be the API's base URL, without ?query or #fragment: got ${raw}`);
  return url;
}
