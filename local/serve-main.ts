// `npm run serve [-- --schedule [--every-seconds N]]` (bin/serve.ts): the local stack on its usual ports until
// SIGINT/SIGTERM, with what it takes to use it (URLs, bucket, keys, curl and aws examples) printed at start.
import { parseArgs } from 'node:util';
import { displayPath } from './cli-report.ts';
import { LOCAL_CREDENTIALS } from './s3-server.ts';
import { readScheduleContext, startLocalSchedule, type LocalSchedule } from './local-schedule.ts';
import { DEFAULT_ENDPOINT_PORT, DEFAULT_S3_PORT, isPortFree } from './ports.ts';
import { optionsFromEnv, startLocalStack, type LocalStack } from './stack.ts';

const USAGE = 'usage: npm run serve -- [--schedule [--every-seconds N]]';
const HELP = `${USAGE}

Runs flagsync on this machine until Ctrl-C: the API's handler behind a local endpoint (PORT, default 3000),
S3 (s3rver, FLAGS_S3_PORT, default 4569, data in FLAGS_DATA_DIR or .flagsync/) and the flag origins
LOCAL / DELAY / ERROR. A port of 0 picks a free one.

options:
  --schedule           also run the scheduled sync (cdk.json schedulePayload) now and on an interval
  --every-seconds N    the interval (default 60)
  -h, --help           show this help and exit`;

export interface ServeIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export async function serve(argv: readonly string[], io: ServeIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  const print = (...lines: string[]) => void io.out.write(lines.map((l) => `${l}\n`).join(''));
  const fail = (message: string, code: number) => {
    io.err.write(`${code === 2 ? `${USAGE}\n` : ''}serve: error: ${message}\n`);
    return code;
  };

  let schedule = false;
  let everySeconds = 60;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { schedule: { type: 'boolean' }, 'every-seconds': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      print(HELP);
      return 0;
    }
    schedule = values.schedule ?? false;
    const every = values['every-seconds'];
    if (every !== undefined) {
      if (!/^\d+$/.test(every) || Number(every) < 1) return fail(`--every-seconds must be a whole number ≥ 1: got ${JSON.stringify(every)}`, 2);
      if (!schedule) return fail('--every-seconds goes with --schedule', 2);
      everySeconds = Number(every);
    }
  } catch (err) {
    return fail((err as Error).message, 2);
  }

  let env;
  try {
    env = optionsFromEnv();
  } catch (err) {
    return fail((err as Error).message, 2);
  }
  // s3rver cannot report a busy port (it would crash the process): ask first.
  for (const [port, variable] of [[env.s3Port ?? DEFAULT_S3_PORT, 'FLAGS_S3_PORT'], [env.endpointPort ?? DEFAULT_ENDPOINT_PORT, 'PORT']] as const) {
    if (!(await isPortFree(port))) return fail(`port ${port} is busy (another \`npm run serve\`?): stop it, or set ${variable}=0 for a free port`, 1);
  }

  const stack: LocalStack = await startLocalStack(env);
  const api = stack.endpoint.url;
  const s3 = stack.s3.endpoint;
  const bucket = stack.s3.bucket;
  const labels = Object.keys(stack.origins);
  const width = Math.max(...labels.map((l) => l.length));
  print(
    'flagsync is running on this machine (Ctrl-C to stop)',
    `  API endpoint  ${api}  (POST /downloads, GET /downloads/{jobId})`,
    `  S3 endpoint   ${s3}  bucket ${bucket}, flags under flags/, data in ${displayPath(stack.s3.directory)}`,
    `  S3 keys       ${LOCAL_CREDENTIALS.accessKeyId} / ${LOCAL_CREDENTIALS.secretAccessKey}`,
    ...labels.map((l, i) => `  ${i === 0 ? 'Flag origins ' : '             '} ${l.padEnd(width)} ${stack.origins[l]}`),
    '',
    'Try:',
    `  curl -s -X POST ${api}/downloads -H 'content-type: application/json' -d '{"cc":["br","us"]}'`,
    `  npm start -- --endpoint ${api} -s DELAY -m 100 b`,
    `  AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey} AWS_REGION=us-east-1 \\`,
    `    aws --endpoint-url ${s3} s3 ls s3://${bucket}/flags/`,
  );

  let scheduled: LocalSchedule | undefined;
  if (schedule) {
    const { payload, timeoutMs } = readScheduleContext();
    print('', `Scheduled sync every ${everySeconds}s with ${JSON.stringify(payload)} (cdk.json schedulePayload):`);
    scheduled = startLocalSchedule({ handler: stack.local.handler, payload, everyMs: everySeconds * 1000, timeoutMs, onLine: (l) => print(l) });
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // A second signal while draining: leave at once.
  const force = (s: NodeJS.Signals) => {
    io.err.write(`serve: ${s} again: exiting without waiting\n`);
    process.exit(1);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  const waiting = scheduled?.running ? ' (waiting for the scheduled sync in progress and any running job)' : '';
  print('', `${signal}: stopping${waiting}...`);
  await scheduled?.stop();
  await stack.close();
  process.off('SIGINT', force);
  process.off('SIGTERM', force);
  print('stopped.');
  return 0;
}
