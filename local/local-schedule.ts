// The deployed EventBridge Scheduler schedule, run on this machine by `npm run serve -- --schedule`: the same
// payload (cdk.json context `schedulePayload`) in the same event shape, handed to the local handler on an interval.
import { readFileSync } from 'node:fs';
import type { ScheduleEvent } from '../functions/handler.ts';
import type { RunBody } from '../functions/service.ts';
import { contextFor, type LocalRuntime } from './runtime.ts';

const CDK_JSON = new URL('../cdk.json', import.meta.url);

/** What cdk.json gives the deployed schedule: its payload and the function's timeout. */
export function readScheduleContext(path: URL | string = CDK_JSON): { payload: unknown; timeoutMs: number } {
  const context = (JSON.parse(readFileSync(path, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  const timeout = Number(context.timeoutSeconds ?? 900);
  return { payload: context.schedulePayload ?? {}, timeoutMs: (Number.isFinite(timeout) && timeout > 0 ? timeout : 900) * 1000 };
}

export interface LocalSchedule {
  /** Cancels the next run and waits for the one in progress, if any. */
  stop(): Promise<void>;
  /** True while a run is in progress. */
  readonly running: boolean;
}

export interface LocalScheduleOptions {
  handler: LocalRuntime['handler'];
  payload: unknown;
  /** From the start of one run to the start of the next; runs never overlap. */
  everyMs: number;
  timeoutMs: number;
  /** One line per run. */
  onLine: (line: string) => void;
}

/** Runs at once, then every `everyMs`. */
export function startLocalSchedule(o: LocalScheduleOptions): LocalSchedule {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let stopped = false;
  const event: ScheduleEvent = { source: 'flagsync.schedule', request: o.payload };

  const runOnce = async () => {
    const started = Date.now();
    const at = new Date(started).toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      const body = (await o.handler(event, contextFor(o.timeoutMs))) as RunBody;
      const { ok, not_found, error } = body.counts;
      o.onLine(
        `${at} scheduled sync ${JSON.stringify(o.payload)}: ${ok} flags downloaded, ${not_found} not found, ${error} errors ` +
          `(${body.written} written, ${body.unchanged} unchanged) in ${body.elapsedSeconds.toFixed(2)}s`,
      );
    } catch (err) {
      o.onLine(`${at} scheduled sync ${JSON.stringify(o.payload)} failed: ${(err as Error).message}`);
    }
    if (!stopped) timer = setTimeout(tick, Math.max(0, o.everyMs - (Date.now() - started)));
  };
  const tick = () => {
    current = runOnce().finally(() => (current = undefined));
  };
  tick();
  return {
    get running() {
      return current !== undefined;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
