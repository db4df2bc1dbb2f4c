// `flagsync [CC ...] [options]` (bin/flagsync.ts): flags2's command line in front of the flagsync API.
// Without --endpoint it starts the local stack, talks to it over HTTP like any client, then stops it.
import cliProgress from 'cli-progress';
import { ApiClient, ApiError, type FinalBody } from './cli-api.ts';
import { HELP, USAGE, UsageError, parseCli, type CliOptions } from './cli-args.ts';
import { displayPath, finalReport, initialReport, localStackLines, resultLine, storageLine } from './cli-report.ts';
import { choosePorts } from './ports.ts';
import type { LocalStack } from './stack.ts';

export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

const PROGRAM = 'flagsync';

/** Runs one command; resolves to the exit status (0 served, 1 server/transport failure, 2 usage error). */
export async function main(argv: readonly string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const print = (...lines: string[]) => void io.out.write(lines.map((l) => `${l}\n`).join(''));
  const usageError = (message: string) => {
    io.err.write(`${USAGE}\n${PROGRAM}: error: ${message}\n`);
    return 2;
  };
  let cmd: CliOptions;
  try {
    const parsed = parseCli(argv);
    if (parsed.help) {
      print(HELP);
      return 0;
    }
    cmd = parsed;
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message);
    throw err;
  }

  let stack: LocalStack | undefined;
  let client: ApiClient | undefined;
  let bar: cliProgress.SingleBar | undefined;
  // Ctrl-C: everything this command started lives in this process, so leaving it stops it all.
  const onSignal = (signal: NodeJS.Signals) => {
    bar?.stop();
    io.err.write(`\n${PROGRAM}: ${signal}: stopped\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let site: string;
    // Loaded only when needed, so usage errors and --help answer at once.
    if (cmd.endpoint) {
      const { createSigner } = await import('./cli-sigv4.ts');
      client = new ApiClient(cmd.endpoint, await createSigner(cmd.endpoint, cmd.region));
      site = `${cmd.server ?? 'Default'} site: via ${cmd.endpoint.href.replace(/\/$/, '')}`;
    } else {
      const { optionsFromEnv, startLocalStack } = await import('./stack.ts');
      let env;
      try {
        env = optionsFromEnv();
      } catch (err) {
        io.err.write(`${PROGRAM}: error: ${(err as Error).message}\n`);
        return 2;
      }
      const ports = await choosePorts(env);
      for (const note of ports.notes) io.err.write(`${PROGRAM}: ${note}\n`);
      stack = await startLocalStack({ ...env, s3Port: ports.s3Port, endpointPort: ports.endpointPort });
      const label = cmd.server ?? 'LOCAL';
      const base = stack.origins[label];
      if (base === undefined) {
        return usageError(`-s/--server LABEL must be one of ${Object.keys(stack.origins).join(', ')}: got ${JSON.stringify(cmd.server)}`);
      }
      client = new ApiClient(new URL(stack.endpoint.url));
      site = `${label} site: ${base}`;
    }

    if (cmd.async) {
      const started = await client.startDownload({ ...cmd.body, async: true });
      if (cmd.json) print(JSON.stringify('job' in started ? started.job : started.done, null, 2));
      else if ('job' in started) print(`Job ${started.job.jobId} running: GET ${client.url(started.job.statusUrl).href}`);
      else print(...finalReport(started.done, started.done.elapsedSeconds), storageLine(started.done));
      return 0;
    }

    if (!cmd.json) print(...initialReport(site, cmd.codes, cmd.concurrency));
    // The bar moves on the job's progress, so a request with a bar always runs as a job (answered at once).
    if (!cmd.json && !cmd.verbose) {
      bar = new cliProgress.SingleBar(
        { format: ' {percentage}% |{bar}| {value}/{total} [{duration_formatted}<{eta_formatted}]', hideCursor: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(cmd.codes.length, 0);
    }
    const t0 = performance.now();
    const started = await client.startDownload(bar ? { ...cmd.body, async: true } : cmd.body);
    const final: FinalBody =
      'done' in started
        ? started.done
        : await client.waitForJob(
            started.job.statusUrl,
            (p) => {
              if (bar && p.total !== bar.getTotal()) bar.setTotal(p.total);
              bar?.update(p.done);
            },
          );
    const elapsed = (performance.now() - t0) / 1000;
    bar?.update(final.requested);
    bar?.stop();

    if (cmd.json) {
      print(JSON.stringify(final, null, 2));
      return 0;
    }
    if (cmd.verbose) print(...(final.results ?? final.errors.map((e) => ({ ...e, status: 'error' as const }))).map(resultLine));
    print(...finalReport(final, elapsed), storageLine(final));
    if (stack) {
      print(
        ...localStackLines({
          endpoint: stack.endpoint.url,
          s3: stack.s3.endpoint,
          dataDir: displayPath(stack.s3.directory),
          bucket: final.bucket,
          prefix: final.prefix,
        }),
      );
    }
    return 0;
  } catch (err) {
    bar?.stop();
    if (err instanceof UsageError) return usageError(err.message);
    if (err instanceof ApiError && err.status === 400) return usageError(err.message);
    // SigningError (cli-sigv4.ts, loaded lazily): no credentials or no region.
    if (err instanceof ApiError || (err instanceof Error && err.name === 'SigningError')) {
      io.err.write(`${PROGRAM}: error: ${err.message}\n`);
      return 1;
    }
    io.err.write(`${PROGRAM}: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client?.close().catch(() => undefined);
    await stack?.close();
  }
}
