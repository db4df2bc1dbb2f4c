// The benchmark's servers, out of the measured process: on AWS, S3 and the flag origin are remote, so their CPU
// must not land on the client's event loop. bench/support.ts starts this file twice with `node --import tsx`,
// once per role, so s3rver's work cannot delay the origin's answers either:
//   role `s3`      : s3rver (local/s3-server.ts) on a free loopback port, objects in a temp folder
//   role `origins` : two flag origins (local/origin.ts): DELAY (fixed delay before the headers) and LOCAL (none)
// argv: <role> <delayMs>. Talks to its parent over the IPC channel only:
//   ← { type: 'ready', role, pid, s3?: { endpoint, port, bucket, directory }, origins?: { delay, local: { baseUrl, port } } }
//   ← { type: 'failed', error }                                    (could not start; the process then exits 1)
//   → { id, op: 'stats' | 'resetStats', origin: 'delay' | 'local' } ← { id, ok: true, value: OriginStats | null }
//   → { id, op: 'usage' }                                           ← { id, ok: true, value: { cpuMs, peakRssMB } }
//   → { id, op: 'shutdown' }                                        ← { id, ok: true }, then the process exits 0
// It also shuts down (servers closed, temp folder removed) when the channel closes (the parent is gone, even
// killed with SIGKILL) and on SIGINT / SIGTERM / SIGHUP, so it never outlives the benchmark.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { readFileSync } from 'node:fs';
import { startOrigin, type Origin } from '../local/origin.ts';
import { startLocalS3, type LocalS3 } from '../local/s3-server.ts';

type Role = 's3' | 'origins';
type Request = { id: number; op: 'stats' | 'resetStats'; origin: 'delay' | 'local' } | { id: number; op: 'usage' | 'shutdown' };

const role = process.argv[2] as Role;
const delayMs = Number(process.argv[3] ?? 500);

const send = (m: object) =>
  new Promise<void>((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });

/** Peak RSS of this process (VmHWM, see peakRssMB in support.ts). */
const peakRssMB = () => {
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb ? Math.round((Number(kb) / 1024) * 10) / 10 : Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
};

let s3: LocalS3 | undefined;
let origins: { delay: Origin; local: Origin } | undefined;
let closing: Promise<void> | undefined;

/** Closes the servers (at most 5 s, then gives up waiting) and removes s3rver's temp folder. */
function closeServers(): Promise<void> {
  closing ??= Promise.race([
    Promise.allSettled([s3?.close(), origins?.delay.close(), origins?.local.close()]).then(() => undefined),
    new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref()),
  ]);
  return closing;
}

async function shutdown(code: number): Promise<never> {
  await closeServers();
  process.exit(code);
}

process.on('disconnect', () => void shutdown(0));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(0));

process.on('message', async (raw) => {
  const m = raw as Request;
  try {
    switch (m.op) {
      case 'stats':
      case 'resetStats': {
        const o = origins?.[m.origin];
        if (!o) throw new Error(`no origin ${m.origin} in the ${role} process`);
        if (m.op === 'resetStats') o.resetStats();
        await send({ id: m.id, ok: true, value: m.op === 'stats' ? o.stats() : null });
        return;
      }
      case 'usage': {
        const u = process.cpuUsage();
        await send({ id: m.id, ok: true, value: { cpuMs: (u.user + u.system) / 1000, peakRssMB: peakRssMB() } });
        return;
      }
      case 'shutdown':
        await closeServers();
        await send({ id: m.id, ok: true });
        process.exit(0);
    }
  } catch (err) {
    await send({ id: m.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});

try {
  if (role === 's3') {
    s3 = await startLocalS3();
    await send({ type: 'ready', role, pid: process.pid, s3: { endpoint: s3.endpoint, port: s3.port, bucket: s3.bucket, directory: s3.directory } });
  } else if (role === 'origins') {
    const [delay, local] = await Promise.all([startOrigin({ delayMs }), startOrigin()]);
    origins = { delay, local };
    await send({
      type: 'ready',
      role,
      pid: process.pid,
      origins: { delay: { baseUrl: delay.baseUrl, port: delay.port }, local: { baseUrl: local.baseUrl, port: local.port } },
    });
  } else {
    throw new Error(`unknown role ${String(role)} (s3 | origins)`);
  }
} catch (err) {
  await send({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  await shutdown(1);
}
