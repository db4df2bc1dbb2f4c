// `npm run origin -- [--port N] [--delay MS] ...`: serves the local flag origin (local/origin.ts) until
// SIGINT/SIGTERM, for trying the downloader by hand with no internet. Prints the base URL on stdout.
import { parseArgs } from 'node:util';
import { startOrigin, type Origin, type OriginOptions } from './origin.ts';

const USAGE = `usage: npm run origin -- [--host H] [--port N] [--delay MS] [--jitter MS] [--error-rate R]
       [--retry-after-rate R] [--retry-after S] [--truncate-rate R] [--stall-rate R] [--slow-body MS] [--seed N]`;

const NUMERIC = {
  port: 'port', delay: 'delayMs', jitter: 'jitterMs', 'error-rate': 'errorRate', 'retry-after-rate': 'retryAfterRate',
  'retry-after': 'retryAfterSeconds', 'truncate-rate': 'truncateRate', 'stall-rate': 'stallRate', 'slow-body': 'slowBodyMs',
  seed: 'seed',
} as const satisfies Record<string, keyof OriginOptions>;

function parse(argv: string[]): OriginOptions {
  const numeric = Object.fromEntries(Object.keys(NUMERIC).map((k) => [k, { type: 'string' as const }]));
  const { values } = parseArgs({
    args: argv,
    options: { host: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...numeric },
  }) as { values: Record<string, string | boolean | undefined> };
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const options: Record<string, unknown> = {};
  if (typeof values.host === 'string') options.host = values.host;
  for (const [flag, key] of Object.entries(NUMERIC)) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`--${flag} must be a number: got ${JSON.stringify(raw)}`);
    options[key] = n;
  }
  return options as OriginOptions;
}

const started = performance.now();
let origin: Origin;
try {
  origin = await startOrigin(parse(process.argv.slice(2)));
} catch (e) {
  console.error(`${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
console.log(origin.baseUrl);
console.error(`flag origin ready in ${Math.round(performance.now() - started)} ms; Ctrl-C to stop`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  const { requests, byStatus, maxInFlight } = origin.stats();
  await origin.close();
  console.error(`${signal}: closed after ${requests} requests ${JSON.stringify(byStatus)}, max in flight ${maxInFlight}`);
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
