// Runs the built Lambda bundle in a fresh Node process, as the function runs: import index.mjs once, then
// call handler(event, context) for each event bench/bench.ts sends, replying with time and memory over IPC.
// Plain JS on purpose: no tsx loader here, so this process's RSS is the bundle's own (what a Lambda
// container holds). The function's environment (bucket, origins, S3 endpoint) comes in env.
//   → { type: 'import', bundle }          ← { importMs, beforeImportMB, afterImportMB }
//   → { type: 'invoke', name, event }     ← { name, ms, statusCode, body, peakMB, heapUsedMB, heapTotalMB, rssMB }
//   → { type: 'exit' }
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Peak RSS (MB) of this address space: VmHWM (resourceUsage().maxRSS would include the parent's, see support.ts). */
const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const peakMB = () => Math.round((Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024) * 10) / 10;

let handler;
const steps = {
  async import({ bundle }) {
    const beforeImportMB = peakMB();
    const t0 = performance.now();
    ({ handler } = await import(pathToFileURL(bundle).href));
    return { importMs: performance.now() - t0, beforeImportMB, afterImportMB: peakMB() };
  },
  async invoke({ name, event }) {
    const started = performance.now();
    const end = Date.now() + 900_000;
    const res = await handler(event, { awsRequestId: `bench-${name}`, getRemainingTimeInMillis: () => end - Date.now() });
    const mem = process.memoryUsage();
    const heap = { heapUsedMB: mb(mem.heapUsed), heapTotalMB: mb(mem.heapTotal), rssMB: mb(mem.rss) };
    return { name, ms: performance.now() - started, statusCode: res.statusCode, body: JSON.parse(res.body), peakMB: peakMB(), ...heap };
  },
  exit() {
    process.exit(0);
  },
};

// The benchmark gone (even killed with SIGKILL), the IPC channel closes: never outlive it.
process.on('disconnect', () => process.exit(0));

process.on('message', async (m) => {
  try {
    process.send({ ok: true, ...(await steps[m.type](m)) });
  } catch (err) {
    process.send({ ok: false, error: err instanceof Error ? err.stack : String(err) });
  }
});
