#!/usr/bin/env -S npx tsx
// `npm run serve [-- --schedule [--every-seconds N]]`: flagsync on this machine until SIGINT/SIGTERM.
// The SDK warns on Node < 22 when a client is built; set before any of it loads.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { serve } = await import('../local/serve-main.ts');
const code = await serve(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now and the process ends on its own; if something still holds it, that is a bug: say so.
setTimeout(() => {
  process.stderr.write('serve: error: something was still running 5 s after shutdown; exiting\n');
  process.exit(1);
}, 5_000).unref();
